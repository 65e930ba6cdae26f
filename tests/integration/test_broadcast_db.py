"""Broadcasts: topics and opt-outs, and a 2,000-contact broadcast that never delays a ticket.

The delivery test runs the real ``Sender`` against the fake Bot API with Telegram's limits
enforced on arrival (``StrictLimits`` of bench/outbox.py: a 429 for any send that breaks 30/s,
20/min per group or 1/s per chat): while 2,000 broadcast messages go out, tickets' messages
(an acknowledgement to an enterprise, a card to a group) keep arriving and each goes out at
once, ahead of the broadcast; nothing meets a 429 and every broadcast message is delivered.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import telegram
from fakebot import FakeBotAPI

from bot.sender import Sender
from desk import audit, broadcast
from desk.errors import InvalidInput, NotAllowed
from desk.notify import enqueue
from models.broadcast import Broadcast, TopicOptOut
from models.enterprise import Enterprise, Member
from models.outbox import OutboxMessage, OutboxStatus

ROOT = Path(__file__).resolve().parents[2]


async def contacts(n: int, *, start: int = 800_000) -> list[Member]:
    ent = await Enterprise.create(name="泰达广播测试有限公司")
    await Member.bulk_create(
        [
            Member(
                enterprise=ent,
                tg_user_id=start + i,
                chat_id=start + i,
                contact_name=f"联系人{i}",
                phone=f"137{i:08d}",
            )
            for i in range(n)
        ],
        batch_size=500,
    )
    return list(await Member.filter(enterprise=ent).order_by("id"))


async def test_opt_out_per_topic_and_bad_input(db: str) -> None:
    a, b, c = await contacts(3)
    assert await broadcast.subscriptions(user_id=a.tg_user_id) == {
        "policy": True,
        "event": True,
        "notice": True,
    }
    after = await broadcast.set_subscription(user_id=b.tg_user_id, topic="event", on=False)
    assert after == {"policy": True, "event": False, "notice": True}
    # Twice is harmless; opting in again removes the opt-out.
    await broadcast.set_subscription(user_id=b.tg_user_id, topic="event", on=False)
    assert await TopicOptOut.filter(member=b).count() == 1
    assert "已退订「政策解读」" in await broadcast.toggle(user_id=c.tg_user_id, index=1, on=False)

    sent = await broadcast.send(
        topic="event", title="政策宣讲会", text="本周五下午两点", editor=audit.shell()
    )
    rows = await OutboxMessage.filter(kind="broadcast").order_by("chat_id")
    assert sent.recipients == 2 and [r.chat_id for r in rows] == [a.chat_id, c.chat_id]
    assert all(r.bulk and r.params["title"] == "政策宣讲会" for r in rows)
    policy = await broadcast.send(
        topic="policy", title="新政解读", text="……", editor=audit.shell()
    )
    assert policy.recipients == 2  # c opted out of policy only

    for bad in (
        dict(topic="sports", title="x", text="y"),
        dict(topic="policy", title="", text="y"),
        dict(topic="policy", title="x" * 65, text="y"),
        dict(topic="policy", title="x", text="  "),
    ):
        with pytest.raises(InvalidInput):
            await broadcast.send(**bad, editor=audit.shell())  # type: ignore[arg-type]
    assert await Broadcast.all().count() == 2  # nothing kept of the refused ones
    with pytest.raises(InvalidInput):
        await broadcast.toggle(user_id=a.tg_user_id, index=9, on=True)
    with pytest.raises(NotAllowed):
        await broadcast.subscriptions(user_id=123)


async def test_a_broadcast_never_blocks_its_chats_ticket_messages(db: str) -> None:
    """A chat's broadcast and its ticket messages queue apart: the ack is claimed first."""
    (member,) = await contacts(1)
    await broadcast.send(topic="notice", title="停水通知", text="周六停水", editor=audit.shell())
    from desk import outbox

    ack = await enqueue(chat_id=member.chat_id, kind="x")
    taken = await outbox.claim_batch(now=datetime.now(UTC), limit=5, bulk_limit=0)
    assert [r.id for r in taken] == [ack.id]
    taken = await outbox.claim_batch(now=datetime.now(UTC), limit=5)
    assert [r.kind for r in taken] == ["broadcast"]


def strict_limits(fake: FakeBotAPI) -> Any:
    spec = importlib.util.spec_from_file_location("bench_outbox", ROOT / "bench" / "outbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StrictLimits(fake)


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_2000_broadcast_messages_while_tickets_arrive(db: str) -> None:
    members = await contacts(2000)
    groups = [-1_002_000_000_000 - i for i in range(4)]
    async with FakeBotAPI(token="424242:BROADCAST") as fake:
        limits = strict_limits(fake)
        fake.add_method("sendMessage", limits)
        tg = telegram.Bot(fake.token, base_url=fake.base_url)
        async with tg:
            sender = Sender(bot=tg, clock=lambda: datetime.now(UTC), interval=0.05)
            task = asyncio.create_task(sender.run())
            try:
                sent = await broadcast.send(
                    topic="policy",
                    title="研发费用加计扣除政策解读",
                    text="政策要点……",
                    editor=audit.shell(),
                )
                assert sent.recipients == 2000
                start = time.monotonic()
                queued: dict[str, float] = {}  # a ticket message's text → when it was queued
                # Tickets arrive while the broadcast goes out: an ack to an enterprise and a
                # card to a department group, two a second for 12 s.
                for i in range(24):
                    await asyncio.sleep(0.5)
                    chat = members[(i * 37) % 2000].chat_id
                    assert chat is not None
                    for to, what in (
                        (chat, f"受理回执{i:02d}"),
                        (groups[i % 4], f"工单卡片{i:02d}"),
                    ):
                        await enqueue(chat_id=to, kind="error", params={"message": what})
                        queued[what] = time.monotonic()
                deadline = time.monotonic() + 150
                while time.monotonic() < deadline:
                    pending = await OutboxMessage.filter(
                        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
                    ).count()
                    if pending == 0:
                        break
                    await asyncio.sleep(0.5)
                took = time.monotonic() - start
            finally:
                sender.stop()
                await task

        assert limits.refused == [], f"429s: {limits.refused[:5]}"
        rows = await OutboxMessage.filter(kind="broadcast")
        assert len(rows) == 2000 and {r.status for r in rows} == {OutboxStatus.SENT}
        assert {r.status for r in await OutboxMessage.filter(kind="error")} == {OutboxStatus.SENT}
        # Each ticket message reached the fake soon after it was queued, broadcast or not.
        arrived = {
            what: call.ts
            for call in fake.calls
            if call.method == "sendMessage" and call.status == 200
            for what in queued
            if what in str(call.params.get("text", ""))
        }
        assert set(arrived) == set(queued)
        delays = sorted(arrived[what] - queued[what] for what in queued)
        broadcast_rate = 2000 / took
        print(
            f"\n2000 broadcast messages in {took:.1f} s ({broadcast_rate:.1f}/s); ticket "
            f"messages p50 {delays[len(delays) // 2]:.2f} s, max {delays[-1]:.2f} s"
        )
        assert delays[-1] < 1.5, delays  # never behind the broadcast (which takes a minute)
        assert took > 60  # the broadcast was spread out within the bot's budget
