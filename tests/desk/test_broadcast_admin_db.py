"""What the admin web reads of broadcasts and the guide, on SQLite and PostgreSQL: the newest
broadcasts with each one's outbox rows by state, and the catalog with inactive items."""

from __future__ import annotations

import dataclasses

from desk import audit, broadcast, guide
from desk.db import atomic
from desk.notify import enqueue
from models.enterprise import Enterprise, Member
from models.outbox import OutboxMessage, OutboxStatus


async def contacts(n: int) -> list[Member]:
    ent = await Enterprise.create(name="泰达群发统计测试有限公司")
    for i in range(n):
        await Member.create(
            enterprise=ent,
            tg_user_id=700_000 + i,
            chat_id=700_000 + i,
            contact_name=f"联系人{i}",
            phone=f"136{i:08d}",
        )
    return list(await Member.filter(enterprise=ent).order_by("id"))


async def test_delivery_counts_per_broadcast(db: str) -> None:
    await contacts(3)
    as_office = dataclasses.replace(audit.shell(), name="office")
    as_admin = dataclasses.replace(audit.shell(), name="admin")
    first = await broadcast.send(topic="policy", title="第一条", text="正文一", editor=as_office)
    second = await broadcast.send(topic="event", title="第二条", text="正文二", editor=as_admin)
    async with atomic():  # a ticket message in the same chats is never counted
        await enqueue(chat_id=700_000, kind="ack", params={"ref": "TD1"})
    rows = await OutboxMessage.filter(kind="broadcast").order_by("id")
    assert len(rows) == 6
    mine = [r for r in rows if r.params["broadcast_id"] == first.id]
    await OutboxMessage.filter(id=mine[0].id).update(status=OutboxStatus.SENT)
    await OutboxMessage.filter(id=mine[1].id).update(status=OutboxStatus.FAILED)
    await OutboxMessage.filter(id=mine[2].id).update(status=OutboxStatus.SENDING)

    counts = await broadcast.delivery_counts(broadcast_ids=[first.id, second.id, 999])
    assert counts[first.id] == broadcast.Delivery(sent=1, pending=1, failed=1)
    assert counts[second.id] == broadcast.Delivery(sent=0, pending=3, failed=0)
    assert counts[999] == broadcast.Delivery()
    assert await broadcast.delivery_counts(broadcast_ids=[]) == {}

    newest = await broadcast.recent(limit=10)
    assert [b.id for b in newest] == [second.id, first.id]
    assert [b.id for b in await broadcast.recent(limit=1)] == [second.id]


async def test_list_items_with_inactive_ones(db: str) -> None:
    active = await guide.list_items(department="TAX")
    code = active[0].code
    item = await guide.get_item(code=code)
    await guide.upsert_items(items=[{**guide._item_dict(item), "active": False}], source="admin")
    assert code not in [i.code for i in await guide.list_items(department="TAX")]
    every = await guide.list_items(department="TAX", include_inactive=True)
    assert code in [i.code for i in every] and len(every) == len(active)
    assert len(await guide.list_items(include_inactive=True)) == len(guide.default_items())
