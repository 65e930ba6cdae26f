"""Grid workers' services on SQLite and PostgreSQL: the enterprise list (validated, audited),
the /submit dialog's refusals (nothing changes), and a ticket for an enterprise whose contacts
have no chat (it still opens; the grid worker is told to pass the news on)."""

from __future__ import annotations

import datetime as dt

import pytest

from desk import grid
from desk.actors import Actor
from desk.audit import Editor
from desk.context import DeskConfig
from desk.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models.audit import AuditEntry
from models.enterprise import Enterprise, Member
from models.grid import GridAssignment, GridDraft
from models.outbox import OutboxMessage
from models.staff import RoleGrant
from models.ticket import Ticket, TicketMessage
from nlp import RouteDecision

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
OFFICE = Editor(name="office1", role="office", ip="10.0.0.9", at=NOW)
GID = 6001


class TaxRouter:
    def route(self, text: str) -> RouteDecision:
        return RouteDecision(
            department="TAX",
            confidence=0.97,
            candidates=(("TAX", 0.97),),
            type="求助",
            urgent=False,
            auto=True,
            matched_terms=("出口退税",),
        )


def cfg() -> DeskConfig:
    return DeskConfig(admin_ids=frozenset({1}), router=TaxRouter(), clock=lambda: NOW)


def worker(user_id: int = GID) -> Actor:
    return Actor(kind="enterprise", user_id=user_id, name="张网格（Telegram）", chat_id=user_id)


async def outbox(chat_id: int) -> list[OutboxMessage]:
    return await OutboxMessage.filter(chat_id=chat_id).order_by("id")


async def test_list_is_validated_and_audited(db: str) -> None:
    ent = await Enterprise.create(
        name="天津泰达测试科技有限公司", credit_code="91120116MA05ABCD1X"
    )
    twin_a = await Enterprise.create(name="同名公司")
    await Enterprise.create(name="同名公司")

    # Not a grid worker: nothing to put a list on.
    with pytest.raises(NotFound, match="不是网格员"):
        await grid.assign(who=OFFICE, user_id=GID, enterprise=str(ent.id))
    await RoleGrant.create(user_id=GID, role="grid", name="张网格")

    for bad, error in (("", InvalidInput), ("   ", InvalidInput), ("不存在的公司", NotFound)):
        with pytest.raises(error):
            await grid.assign(who=OFFICE, user_id=GID, enterprise=bad)
    with pytest.raises(InvalidInput, match="有多家企业"):
        await grid.assign(who=OFFICE, user_id=GID, enterprise="同名公司")
    assert await GridAssignment.all().count() == 0
    assert await AuditEntry.all().count() == 0

    # By id, by credit code (any case), by exact name.
    row = await grid.assign(who=OFFICE, user_id=GID, enterprise="91120116ma05abcd1x")
    assert row.id == ent.id and row.added_by == "office1"
    with pytest.raises(Conflict, match="已在该网格员的名单中"):
        await grid.assign(who=OFFICE, user_id=GID, enterprise=str(ent.id))
    await grid.assign(who=OFFICE, user_id=GID, enterprise=str(twin_a.id))
    (w,) = await grid.list_workers()
    assert (w.user_id, w.name) == (GID, "张网格")
    assert sorted(e.id for e in w.enterprises) == sorted([ent.id, twin_a.id])
    assert (await grid.worker(GID)).enterprises == w.enterprises
    with pytest.raises(NotFound):
        await grid.worker(424242)

    await grid.unassign(who=OFFICE, user_id=GID, enterprise_id=twin_a.id)
    with pytest.raises(NotFound):
        await grid.unassign(who=OFFICE, user_id=GID, enterprise_id=twin_a.id)
    entries = await AuditEntry.all().order_by("id")
    assert [e.action for e in entries] == ["grid.assign", "grid.assign", "grid.unassign"]
    assert entries[0].actor == "office1" and entries[0].target == f"tg:{GID}"
    assert entries[0].data == {"enterprise_id": ent.id, "enterprise": ent.name}


async def test_refusals_change_nothing(db: str) -> None:
    mine = await Enterprise.create(name="名单内企业")
    await Member.create(
        enterprise=mine, tg_user_id=5001, chat_id=5001, contact_name="王经理", phone="13812345678"
    )
    other = await Enterprise.create(name="名单外企业")

    # Not a grid worker.
    with pytest.raises(NotAllowed, match="仅限网格员"):
        await grid.start(actor=worker())
    assert not await GridDraft.exists(user_id=GID)

    await RoleGrant.create(user_id=GID, role="grid", name="张网格")
    with pytest.raises(InvalidInput, match="还没有企业"):
        await grid.start(actor=worker())
    await GridAssignment.create(user_id=GID, enterprise=mine)
    await grid.start(actor=worker())

    # Outside the list, and an empty description.
    with pytest.raises(NotAllowed, match="不在您的网格名单中"):
        await grid.pick(actor=worker(), enterprise_id=other.id)
    with pytest.raises(NotAllowed):
        await grid.pick(actor=worker(), enterprise_id=999999)
    draft = await GridDraft.get(user_id=GID)
    assert draft.step == "pick" and draft.enterprise_id is None
    with pytest.raises(Conflict, match="请先选择企业"):
        await grid.decide(cfg(), actor=worker(), draft_id=draft.id, confirm=True)
    await grid.pick(actor=worker(), enterprise_id=mine.id)
    with pytest.raises(InvalidInput, match="不能为空"):
        await grid.answer(actor=worker(), text="   ")
    await grid.answer(actor=worker(), text="企业反映出口退税迟迟未到账")
    draft = await GridDraft.get(user_id=GID)
    assert draft.step == "confirm"

    # Someone else's draft, and the enterprise taken off the list before 确认.
    await RoleGrant.create(user_id=GID + 1, role="grid", name="李网格")
    with pytest.raises(NotFound):
        await grid.decide(cfg(), actor=worker(GID + 1), draft_id=draft.id, confirm=True)
    await GridAssignment.filter(user_id=GID).delete()
    with pytest.raises(NotAllowed, match="不在您的网格名单中"):
        await grid.decide(cfg(), actor=worker(), draft_id=draft.id, confirm=True)
    assert await Ticket.all().count() == 0
    assert await GridDraft.exists(id=draft.id)

    # The role revoked: the dialog refuses too.
    await RoleGrant.filter(user_id=GID).delete()
    with pytest.raises(NotAllowed, match="仅限网格员"):
        await grid.answer(actor=worker(), text="再补充一句")
    # /cancel still closes it.
    assert await grid.cancel(actor=worker())
    assert not await grid.cancel(actor=worker())


async def test_enterprise_without_chat_still_gets_its_ticket(db: str) -> None:
    await RoleGrant.create(user_id=GID, role="grid", name="张网格")
    ent = await Enterprise.create(name="只有电话的企业")
    member = await Member.create(enterprise=ent, contact_name="刘会计", phone="13700000000")
    empty = await Enterprise.create(name="没有联系人的企业")
    for e in (ent, empty):
        await GridAssignment.create(user_id=GID, enterprise=e)

    # No contact at all: refused, nothing opens.
    await grid.start(actor=worker())
    await grid.pick(actor=worker(), enterprise_id=empty.id)
    await grid.answer(actor=worker(), text="企业反映出口退税迟迟未到账")
    draft = await GridDraft.get(user_id=GID)
    with pytest.raises(InvalidInput, match="尚无登记的联系人"):
        await grid.decide(cfg(), actor=worker(), draft_id=draft.id, confirm=True)
    assert await Ticket.all().count() == 0

    # A contact without a chat: the ticket opens, the grid worker is told to pass it on.
    await grid.start(actor=worker())
    await grid.pick(actor=worker(), enterprise_id=ent.id)
    photo = {"kind": "photo", "file_id": "AgAD-1", "message_id": 77, "size": 1000}
    await grid.answer(actor=worker(), text="", file=photo)  # a file first: the words still due
    assert (await outbox(GID))[-1].params.get("file_kept") is True
    await grid.answer(actor=worker(), text="企业反映出口退税迟迟未到账，附现场照片")
    draft = await GridDraft.get(user_id=GID)
    confirm = (await outbox(GID))[-1]
    assert confirm.kind == "grid_confirm" and confirm.params["file"] == "图片"
    answer = await grid.decide(cfg(), actor=worker(), draft_id=draft.id, confirm=True)
    ticket = await Ticket.get(enterprise_id=ent.id)
    assert answer == f"已提交：{ticket.ref}"
    assert ticket.member_id == member.id and ticket.channel == "grid"
    files = await TicketMessage.filter(ticket_id=ticket.id, file_id="AgAD-1")
    assert len(files) == 1 and files[0].author_name == "张网格"
    copies = [m for m in await outbox(GID) if m.kind == "grid_copy"]
    assert [c.params["notice"] for c in copies] == ["ack"]
    assert copies[0].params["reachable"] is False and copies[0].params["ref"] == ticket.ref
    assert not await GridDraft.exists(user_id=GID)
