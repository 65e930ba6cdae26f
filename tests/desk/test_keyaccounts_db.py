"""Key projects / key enterprises and their butlers (``desk.keyaccounts``), on SQLite and
PostgreSQL: marking (checked, audited), the butler's private card copies, what a butler may do
from its private chat and what everyone else may not, and the stricter SLA."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from desk import audit, keyaccounts, tickets
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import InvalidInput, NotAllowed, NotFound
from desk.sla import Policy
from models.audit import AuditEntry
from models.enterprise import Enterprise, Member
from models.keyaccount import KeyAccount
from models.outbox import OutboxMessage
from models.ticket import Ticket, TicketEvent, TicketStatus
from nlp import Router

START = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Tianjin
TAX_TEXT = "出口退税申报后一直没到账，我们公司的退税款卡住了怎么办"
TAX_CHAT, TRIAGE_CHAT = -100, -200
BUTLER_ID = 7001
BUTLER = Actor(kind="staff", user_id=BUTLER_ID, name="王管家", chat_id=BUTLER_ID)
OTHER = Actor(kind="staff", user_id=7002, name="李路人", chat_id=7002)
ADMIN = Actor(kind="staff", user_id=1, name="管理员", chat_id=TAX_CHAT)
TRIAGE_1 = Actor(kind="staff", user_id=31, name="热线办小刘", chat_id=TRIAGE_CHAT)


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.from_default()


@pytest.fixture
def cfg(router: Router) -> DeskConfig:
    return DeskConfig(admin_ids=frozenset({1}), clock=lambda: START, router=router)


def editor() -> audit.Editor:
    return audit.Editor(name="office", role="office", ip="127.0.0.1", at=START)


def key_input(**over: str) -> keyaccounts.KeyInput:
    fields: dict[str, Any] = {
        "kind": "enterprise",
        "project": "",
        "butler_user_id": str(BUTLER_ID),
        "butler_name": "王管家",
        "respond_hours": "",
        "resolve_days": "",
    }
    fields.update(over)
    return keyaccounts.parse_key(**fields)


async def setup_desk(cfg: DeskConfig) -> Member:
    await tickets.bind_group(cfg, actor=ADMIN, code="TAX", title="税务局工作群")
    await tickets.bind_group(
        cfg, actor=Actor("staff", 1, "管理员", chat_id=TRIAGE_CHAT), code="triage"
    )
    ent = await Enterprise.create(name="天津泰达重点科技有限公司")
    return await Member.create(
        enterprise=ent, tg_user_id=501, chat_id=501, contact_name="张三", phone="13812345678"
    )


async def open_tax(cfg: DeskConfig, member: Member) -> Ticket:
    ticket = await tickets.open_ticket(cfg, member=member, text=TAX_TEXT)
    if ticket.status == TicketStatus.TRIAGE:
        await tickets.card_action(
            cfg, actor=TRIAGE_1, ticket_id=ticket.id, action="dispatch", arg="TAX"
        )
    return await Ticket.get(id=ticket.id)


def test_parse_key_lists_every_problem() -> None:
    with pytest.raises(InvalidInput) as exc:
        keyaccounts.parse_key(
            kind="vip",
            project="x" * 129,
            butler_user_id="abc",
            butler_name="  ",
            respond_hours="-1",
            resolve_days="1.5",
        )
    message = exc.value.message
    for words in (
        "重点项目或重点企业",
        "项目名称",
        "Telegram 用户 ID",
        "管家姓名",
        "响应时限",
        "办结时限",
    ):
        assert words in message, words
    ok = key_input(project=" 新材料 基地 ", respond_hours="2", resolve_days="5")
    assert (ok.project, ok.butler_user_id, ok.respond_hours, ok.resolve_days) == (
        "新材料 基地",
        BUTLER_ID,
        2.0,
        5,
    )


def test_stricter_keeps_the_stricter_target() -> None:
    policy = Policy(7.0, False, 10)
    row = KeyAccount(respond_hours=2.0, resolve_days=5)
    assert keyaccounts.stricter(policy, row) == Policy(2.0, False, 5, 0.0)
    lax = KeyAccount(respond_hours=20.0, resolve_days=30)
    assert keyaccounts.stricter(policy, lax) == policy  # never looser than the policy
    assert keyaccounts.stricter(policy, None) == policy


async def test_marking_is_audited_and_the_butler_told(db: str, cfg: DeskConfig) -> None:
    member = await setup_desk(cfg)
    with pytest.raises(NotFound):
        await keyaccounts.set_key(who=editor(), enterprise_id=999999, data=key_input())
    await keyaccounts.set_key(
        who=editor(), enterprise_id=member.enterprise_id, data=key_input(project="新材料基地")
    )
    entry = await AuditEntry.filter(action="enterprise.key").get()
    assert entry.actor == "office" and entry.data["after"]["butler_user_id"] == BUTLER_ID
    notice = await OutboxMessage.filter(chat_id=BUTLER_ID, kind="key_assigned").get()
    assert notice.params["flag"] == "【重点企业·新材料基地】"
    info = await keyaccounts.key_info(member.enterprise_id)
    assert info is not None and info.label == "重点企业" and info.notice == "通知待发送"

    # A new butler: the old one is told and loses the enterprise.
    await keyaccounts.set_key(
        who=editor(),
        enterprise_id=member.enterprise_id,
        data=key_input(butler_user_id="7003", butler_name="赵管家"),
    )
    assert await OutboxMessage.filter(chat_id=BUTLER_ID, kind="key_removed").exists()
    assert not await keyaccounts.is_butler(BUTLER_ID)
    await keyaccounts.clear_key(who=editor(), enterprise_id=member.enterprise_id)
    assert await keyaccounts.for_enterprise(member.enterprise_id) is None
    assert await AuditEntry.filter(action="enterprise.unkey").count() == 1
    with pytest.raises(NotFound):
        await keyaccounts.clear_key(who=editor(), enterprise_id=member.enterprise_id)


async def test_butler_copy_claim_and_role_checks(db: str, cfg: DeskConfig) -> None:
    member = await setup_desk(cfg)
    plain = await open_tax(cfg, member)
    assert not await OutboxMessage.filter(chat_id=BUTLER_ID).exists()  # not key yet
    await keyaccounts.set_key(
        who=editor(),
        enterprise_id=member.enterprise_id,
        data=key_input(resolve_days="3", respond_hours="2"),
    )
    ticket = await open_tax(cfg, member)

    # Both the group and the butler get the card, flagged; the butler's copy says so.
    cards = await OutboxMessage.filter(ticket_id=ticket.id, kind="card").order_by("id")
    group = [c for c in cards if c.chat_id == TAX_CHAT]
    copy = [c for c in cards if c.chat_id == BUTLER_ID]
    assert group and copy and copy[-1].link_role == "card"
    assert group[-1].params["key"] == copy[-1].params["key"] == "【重点企业】"
    assert copy[-1].params["butler"] is True and copy[-1].params["actions"][0] == "claim"
    ack = await OutboxMessage.filter(ticket_id=ticket.id, kind="ack").get()
    assert ack.params["key"] == "【重点企业】"

    # The stricter SLA: 3 working days instead of the policy's 10 (and 2 hours to respond).
    assert ticket.due_at is not None and plain.due_at is not None
    assert ticket.due_at < plain.due_at
    assert ticket.response_due_at is not None and plain.response_due_at is not None
    assert ticket.response_due_at < plain.response_due_at

    # Someone else in a private chat, or the butler from a group it is not bound to: refused.
    with pytest.raises(NotAllowed):
        await tickets.card_action(cfg, actor=OTHER, ticket_id=ticket.id, action="claim")
    astray = Actor(kind="staff", user_id=BUTLER_ID, name="王管家", chat_id=-999)
    with pytest.raises(NotAllowed):
        await tickets.card_action(cfg, actor=astray, ticket_id=ticket.id, action="claim")
    # Nor another enterprise's ticket.
    other_ent = await Enterprise.create(name="另一家公司")
    other_member = await Member.create(
        enterprise=other_ent, tg_user_id=601, chat_id=601, contact_name="钱五", phone="13912345678"
    )
    foreign = await open_tax(cfg, other_member)
    with pytest.raises(NotAllowed):
        await tickets.card_action(cfg, actor=BUTLER, ticket_id=foreign.id, action="claim")
    assert (await Ticket.get(id=foreign.id)).status == TicketStatus.DISPATCHED

    # The butler claims from its private chat: recorded by name, both cards edited.
    mark = await OutboxMessage.all().order_by("-id").first()
    assert await tickets.card_action(cfg, actor=BUTLER, ticket_id=ticket.id, action="claim") == (
        "认领成功"
    )
    fresh = await Ticket.get(id=ticket.id)
    assert fresh.status == TicketStatus.CLAIMED and fresh.claimed_by_name == "王管家"
    event = await TicketEvent.filter(ticket_id=ticket.id, action="claim").get()
    assert (event.actor_name, event.actor_kind) == ("王管家", "staff")
    assert mark is not None
    edits = await OutboxMessage.filter(id__gt=mark.id, kind="card", ticket_id=ticket.id)
    assert {e.chat_id for e in edits} == {TAX_CHAT, BUTLER_ID}
    assert all(e.params["edit"] and e.params["claimant"] == "王管家" for e in edits)

    # 办结 from the private chat: the prompt comes to the butler, its next text is the result.
    assert "请发送" in await tickets.card_action(
        cfg, actor=BUTLER, ticket_id=ticket.id, action="resolve"
    )
    prompt = await OutboxMessage.filter(chat_id=BUTLER_ID, kind="ask_resolve").get()
    assert prompt.params["private"] is True
    assert await tickets.group_message(cfg, actor=BUTLER, text="已协调税务局完成退税。")
    done = await Ticket.get(id=ticket.id)
    assert done.status == TicketStatus.RESOLVED and done.resolved_by_name == "王管家"

    # Removed as butler: loses the enterprise at once.
    second = await open_tax(cfg, member)
    await keyaccounts.clear_key(who=editor(), enterprise_id=member.enterprise_id)
    with pytest.raises(NotAllowed):
        await tickets.card_action(cfg, actor=BUTLER, ticket_id=second.id, action="claim")
    assert (await Ticket.get(id=second.id)).status == TicketStatus.DISPATCHED
    third = await open_tax(cfg, member)
    assert not await OutboxMessage.filter(chat_id=BUTLER_ID, ticket_id=third.id).exists()
