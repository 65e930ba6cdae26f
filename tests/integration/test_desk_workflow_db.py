"""The desk as a dialog, on SQLite and PostgreSQL: groups, registration, a ticket's whole life.

"Enterprise sends X, group receives Y": the outbox is what each chat would receive.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import pytest

from desk import registration, tickets
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import Conflict, IllegalTransition, InvalidInput, NotAllowed, NotFound
from desk.validators import uscc_check_char
from models.department import GroupBinding
from models.enterprise import Enterprise, Member, Registration
from models.outbox import OutboxMessage
from models.ticket import Draft, PendingInput, Ticket, TicketEvent, TicketMessage, TicketStatus
from nlp import Router

START = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.UTC)  # Mon 10:00 in Tianjin (端午 holiday)
TAX_TEXT = "出口退税申报后一直没到账，我们公司的退税款卡住了怎么办"
CODE_A = "91120116MA05XXXXX" + uscc_check_char("91120116MA05XXXXX")
CODE_B = "91120116MA06B1E0P" + uscc_check_char("91120116MA06B1E0P")

TAX_CHAT, TRIAGE_CHAT, ENV_CHAT = -100, -200, -300

ADMIN = Actor(kind="staff", user_id=1, name="管理员", chat_id=TAX_CHAT)
TAX_1 = Actor(kind="staff", user_id=11, name="王税务", chat_id=TAX_CHAT)
TAX_2 = Actor(kind="staff", user_id=12, name="赵税务", chat_id=TAX_CHAT)
ENV_1 = Actor(kind="staff", user_id=21, name="李环保", chat_id=ENV_CHAT)
TRIAGE_1 = Actor(kind="staff", user_id=31, name="热线办小刘", chat_id=TRIAGE_CHAT)
ENT_A = Actor(kind="enterprise", user_id=501, name="张三", chat_id=501)
ENT_A2 = Actor(kind="enterprise", user_id=502, name="张四", chat_id=502)
ENT_B = Actor(kind="enterprise", user_id=601, name="钱五", chat_id=601)


class Clock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.from_default()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cfg(router: Router, clock: Clock) -> DeskConfig:
    return DeskConfig(admin_ids=frozenset({1}), clock=clock, router=router)


class Box:
    """What the chats receive: the outbox rows written since the last look."""

    def __init__(self) -> None:
        self.seen = 0

    async def take(self) -> list[OutboxMessage]:
        rows = await OutboxMessage.filter(id__gt=self.seen).order_by("id")
        if rows:
            self.seen = rows[-1].id
        return rows

    async def skip(self) -> None:
        await self.take()


def to(rows: list[OutboxMessage], chat: int, kind: str | None = None) -> list[OutboxMessage]:
    return [r for r in rows if r.chat_id == chat and (kind is None or r.kind == kind)]


def one(rows: list[OutboxMessage], chat: int, kind: str) -> dict[str, Any]:
    found = to(rows, chat, kind)
    assert len(found) == 1, [(r.chat_id, r.kind) for r in rows]
    return found[0].params


async def bind_all(cfg: DeskConfig) -> None:
    await tickets.bind_group(cfg, actor=ADMIN, code="TAX", title="税务局工作群")
    await tickets.bind_group(
        cfg, actor=Actor("staff", 1, "管理员", chat_id=TRIAGE_CHAT), code="triage"
    )
    await tickets.bind_group(cfg, actor=Actor("staff", 1, "管理员", chat_id=ENV_CHAT), code="ENV")


async def register(actor: Actor, *answers: str) -> None:
    await registration.start(actor=actor)
    for text in answers:
        await registration.answer(actor=actor, text=text)


async def register_a() -> None:
    await register(ENT_A, "天津泰达示例科技有限公司", CODE_A, "张三", "138 1234 5678")


async def register_b() -> None:
    await register(ENT_B, "天津另一家贸易有限公司", CODE_B, "钱五", "13912345678")


async def submit(cfg: DeskConfig, actor: Actor, text: str) -> Ticket:
    await tickets.draft_request(cfg, actor=actor, text=text)
    draft = await Draft.filter(member__tg_user_id=actor.user_id).order_by("-id").first()
    assert draft is not None
    answer = await tickets.decide_draft(cfg, actor=actor, draft_id=draft.id, action="ok")
    ticket = await Ticket.get(id=(await Draft.get(id=draft.id)).ticket_id)
    assert answer == f"已提交：{ticket.ref}"
    return ticket


async def to_tax(cfg: DeskConfig, ticket: Ticket) -> Ticket:
    """The TAX request is dispatched to TAX: by the router, or by the hotline office."""
    if ticket.status == TicketStatus.TRIAGE:
        await tickets.card_action(
            cfg, actor=TRIAGE_1, ticket_id=ticket.id, action="dispatch", arg="TAX"
        )
    ticket = await Ticket.get(id=ticket.id).prefetch_related("department")
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.department is not None and ticket.department.code == "TAX"
    return ticket


async def reload(ticket: Ticket) -> Ticket:
    return await Ticket.get(id=ticket.id).prefetch_related("department")


async def actions(ticket: Ticket) -> list[str]:
    return [e.action for e in await TicketEvent.filter(ticket_id=ticket.id).order_by("id")]


# ---------------------------------------------------------------- groups


async def test_bind_groups(db: str, cfg: DeskConfig) -> None:
    box = Box()
    await tickets.bind_group(cfg, actor=ADMIN, code=" tax ", title="税务局工作群")
    binding = await GroupBinding.get(code="TAX")
    assert binding.chat_id == TAX_CHAT and binding.bound_by == 1
    assert binding.title == "税务局工作群"
    (row,) = await box.take()
    assert row.chat_id == TAX_CHAT and row.kind == "bound"
    assert row.params["code"] == "TAX" and "税务" in row.params["name"]

    await tickets.bind_group(
        cfg, actor=Actor("staff", 1, "管理员", chat_id=TRIAGE_CHAT), code="TRIAGE"
    )
    (row,) = await box.take()
    assert (row.chat_id, row.kind, row.params) == (
        TRIAGE_CHAT,
        "bound",
        {"code": "TRIAGE", "name": "热线办分拨群"},
    )

    with pytest.raises(NotAllowed, match="管理员"):
        await tickets.bind_group(cfg, actor=TAX_1, code="ENV")
    with pytest.raises(InvalidInput) as info:
        await tickets.bind_group(
            cfg, actor=Actor("staff", 1, "管理员", chat_id=ENV_CHAT), code="XYZ"
        )
    assert "XYZ" in info.value.message and "TRIAGE" in info.value.message
    assert "TAX" in info.value.message
    assert await box.take() == []
    assert {b.code for b in await GroupBinding.all()} == {"TAX", "TRIAGE"}

    # The same chat rebound to another code leaves the old code unbound.
    await tickets.bind_group(cfg, actor=ADMIN, code="ENV")
    assert await GroupBinding.get_or_none(code="TAX") is None
    assert (await GroupBinding.get(code="ENV")).chat_id == TAX_CHAT


async def test_binding_posts_the_waiting_tickets(db: str, cfg: DeskConfig) -> None:
    await register_a()
    ticket = await submit(cfg, ENT_A, TAX_TEXT)  # no group bound yet: nothing posted to groups
    box = Box()
    await box.skip()
    await tickets.bind_group(
        cfg, actor=Actor("staff", 1, "管理员", chat_id=TRIAGE_CHAT), code="TRIAGE"
    )
    await tickets.bind_group(cfg, actor=ADMIN, code="TAX")
    rows = await box.take()
    if ticket.status == TicketStatus.TRIAGE:
        assert one(rows, TRIAGE_CHAT, "triage_card")["ticket_id"] == ticket.id
    else:
        assert one(rows, TAX_CHAT, "card")["ticket_id"] == ticket.id
        assert to(rows, TRIAGE_CHAT, "triage_card") == []


# ---------------------------------------------------------------- registration


async def test_registration_dialog(db: str) -> None:
    box = Box()
    await registration.start(actor=ENT_A)
    (row,) = await box.take()
    assert (row.chat_id, row.kind, row.params) == (501, "reg_ask_name", {"first": True})
    assert await registration.in_progress(501)

    await registration.answer(actor=ENT_A, text="/start")
    (row,) = await box.take()
    assert row.kind == "reg_ask_name" and "/" in row.params["error"]

    await registration.answer(actor=ENT_A, text="  天津泰达示例科技有限公司 ")
    (row,) = await box.take()
    assert row.kind == "reg_ask_code" and row.params == {}

    bad_check = CODE_A[:17] + ("0" if CODE_A[17] != "0" else "1")
    for bad, words in [(bad_check, "校验位"), ("9112011", "18位"), ("91120116MA05OOOOOO", "O")]:
        await registration.answer(actor=ENT_A, text=bad)
        (row,) = await box.take()
        assert row.kind == "reg_ask_code", "a bad code keeps the step"
        assert words in row.params["error"]
        assert (await Registration.get(tg_user_id=501)).step == "code"

    await registration.answer(actor=ENT_A, text=CODE_A.lower())
    assert (await box.take())[0].kind == "reg_ask_contact"
    await registration.answer(actor=ENT_A, text="张三")
    assert (await box.take())[0].kind == "reg_ask_phone"

    for bad in ("12812345678", "1381234567", "电话"):
        await registration.answer(actor=ENT_A, text=bad)
        (row,) = await box.take()
        assert row.kind == "reg_ask_phone" and "手机号码格式不正确" in row.params["error"]
    await registration.answer(actor=ENT_A, phone="+86 138-1234-5678")
    (row,) = await box.take()
    assert row.kind == "reg_done"
    assert row.params == {
        "enterprise": "天津泰达示例科技有限公司",
        "credit_code": CODE_A,
        "contact": "张三",
        "phone": "138****5678",
        "joined": False,
    }
    assert not await registration.in_progress(501)
    member = await registration.member_for(501)
    assert member is not None and member.phone == "13812345678" and member.chat_id == 501
    assert member.enterprise.credit_code == CODE_A

    # /start again: a welcome back, no new registration
    await registration.start(actor=ENT_A)
    (row,) = await box.take()
    assert row.kind == "welcome_back" and row.params["contact"] == "张三"
    assert not await registration.in_progress(501)


async def test_registration_skip_and_join(db: str) -> None:
    box = Box()
    await register(ENT_A, "天津无码公司", "跳过", "张三", "13812345678")
    rows = await box.take()
    assert rows[-1].kind == "reg_done"
    assert rows[-1].params["credit_code"] is None and rows[-1].params["joined"] is False
    # a colleague with the same name and no code joins the same enterprise
    await register(ENT_A2, "天津无码公司", "skip", "张四", "13912345678")
    rows = await box.take()
    assert rows[-1].kind == "reg_done" and rows[-1].params["joined"] is True
    assert await Enterprise.all().count() == 1
    assert await Member.filter(enterprise__name="天津无码公司").count() == 2


async def test_registration_join_by_credit_code(db: str) -> None:
    await register_a()
    box = Box()
    await register(ENT_A2, "泰达示例科技（简称）", CODE_A, "张四", "13912345678")
    rows = await box.take()
    assert rows[-1].params["joined"] is True
    assert rows[-1].params["enterprise"] == "天津泰达示例科技有限公司"


async def test_registration_cancel(db: str) -> None:
    await registration.start(actor=ENT_A)
    assert await registration.cancel(actor=ENT_A) is True
    assert not await registration.in_progress(501)
    assert await registration.cancel(actor=ENT_A) is False


# ---------------------------------------------------------------- drafts


async def test_draft_needs_registration_and_text(db: str, cfg: DeskConfig) -> None:
    with pytest.raises(NotAllowed, match="/start"):
        await tickets.draft_request(cfg, actor=ENT_A, text=TAX_TEXT)
    await register_a()
    with pytest.raises(InvalidInput, match="不能为空"):
        await tickets.draft_request(cfg, actor=ENT_A, text="   ")
    with pytest.raises(InvalidInput, match="过长"):
        await tickets.draft_request(cfg, actor=ENT_A, text="长" * (tickets.MAX_TEXT + 1))
    assert await Draft.all().count() == 0


async def test_draft_cancel_and_add(db: str, cfg: DeskConfig) -> None:
    await bind_all(cfg)
    await register_a()
    await register_b()
    ticket = await submit(cfg, ENT_A, TAX_TEXT)
    box = Box()
    await box.skip()

    await tickets.draft_request(cfg, actor=ENT_A, text="补充：申报日期是5月20日")
    confirm = one(await box.take(), 501, "draft_confirm")
    assert confirm["open"] == [[ticket.id, ticket.ref]]
    draft_id = confirm["draft_id"]
    with pytest.raises(NotFound, match="草稿不存在"):
        await tickets.decide_draft(cfg, actor=ENT_B, draft_id=draft_id, action="ok")
    answer = await tickets.decide_draft(
        cfg, actor=ENT_A, draft_id=draft_id, action="add", ticket_id=ticket.id
    )
    assert answer == f"已补充到 {ticket.ref}"
    rows = await box.take()
    ticket = await reload(ticket)
    group = TRIAGE_CHAT if ticket.status == TicketStatus.TRIAGE else TAX_CHAT
    followup = one(rows, group, "followup")
    assert followup["text"] == "补充：申报日期是5月20日" and followup["label"] == "企业补充"
    assert one(rows, 501, "followup_ok")["ref"] == ticket.ref
    with pytest.raises(Conflict):
        await tickets.decide_draft(cfg, actor=ENT_A, draft_id=draft_id, action="ok")

    await tickets.draft_request(cfg, actor=ENT_A, text="算了")
    draft_id = one(await box.take(), 501, "draft_confirm")["draft_id"]
    assert await tickets.decide_draft(cfg, actor=ENT_A, draft_id=draft_id, action="no") == "已取消"
    assert one(await box.take(), 501, "draft_cancelled") == {}
    assert (await Draft.get(id=draft_id)).state == "cancelled"
    assert await Ticket.all().count() == 1


# ---------------------------------------------------------------- a ticket's whole life


async def test_ticket_lifecycle(db: str, cfg: DeskConfig, clock: Clock) -> None:
    await bind_all(cfg)
    await register_a()
    box = Box()
    await box.skip()

    # The enterprise sends its request and confirms it.
    await tickets.draft_request(cfg, actor=ENT_A, text=TAX_TEXT)
    confirm = one(await box.take(), 501, "draft_confirm")
    assert confirm["text"] == TAX_TEXT and confirm["open"] == []
    answer = await tickets.decide_draft(
        cfg, actor=ENT_A, draft_id=confirm["draft_id"], action="ok"
    )
    assert answer == "已提交：TD20250602-0001"
    ticket = await Ticket.get(ref="TD20250602-0001").prefetch_related("department")
    assert ticket.status in (TicketStatus.DISPATCHED, TicketStatus.TRIAGE)
    if ticket.status == TicketStatus.DISPATCHED:
        assert ticket.department is not None and ticket.department.code == "TAX"
    # The SLA policy of its type: 求助 resolves in 10 working days (the 2nd of June 2025 is the
    # 端午 holiday, so counting starts on the 3rd), 咨询 in 2, ending at 17:30 local.
    expected = {
        "求助": dt.datetime(2025, 6, 16, 9, 30, tzinfo=dt.UTC),
        "咨询": dt.datetime(2025, 6, 4, 9, 30, tzinfo=dt.UTC),
    }[ticket.type]
    assert ticket.due_at == expected
    rows = await box.take()
    ack = one(rows, 501, "ack")
    assert ack["ref"] == ticket.ref
    assert (
        ack["deadline"]
        == {
            "求助": "2025-06-16（周一）17:30",
            "咨询": "2025-06-04（周三）17:30",
        }[ticket.type]
    )
    assert ack["phone"] == "138****5678" and ack["contact"] == "张*"
    group = TAX_CHAT if ticket.status == TicketStatus.DISPATCHED else TRIAGE_CHAT
    card = to(rows, group)[0]
    assert card.ticket_id == ticket.id
    assert card.params["text"] == TAX_TEXT
    assert "13812345678" not in str(card.params)  # personal data masked in groups
    ticket = await to_tax(cfg, ticket)
    await box.skip()

    # Staff in another group cannot claim it.
    for outsider in (ENV_1, TRIAGE_1, Actor("enterprise", 501, "张三", chat_id=501)):
        with pytest.raises(NotAllowed):
            await tickets.card_action(cfg, actor=outsider, ticket_id=ticket.id, action="claim")

    # Two colleagues press 认领 at the same moment: exactly one wins.
    results = await asyncio.gather(
        tickets.card_action(cfg, actor=TAX_1, ticket_id=ticket.id, action="claim"),
        tickets.card_action(cfg, actor=TAX_2, ticket_id=ticket.id, action="claim"),
        return_exceptions=True,
    )
    wins = [r for r in results if r == "认领成功"]
    losses = [r for r in results if isinstance(r, Conflict | IllegalTransition)]
    assert len(wins) == 1 and len(losses) == 1, results
    winner = TAX_1 if results[0] == "认领成功" else TAX_2
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.CLAIMED
    assert ticket.claimed_by_id == winner.user_id and ticket.claimed_by_name == winner.name
    rows = await box.take()
    claimed_card = one(rows, TAX_CHAT, "card")
    assert claimed_card["edit"] is True and claimed_card["status"] == "claimed"
    assert claimed_card["actions"] == ["resolve", "wait", "extend", "transfer", "return"]
    assert claimed_card["claimant"] == winner.name
    assert one(rows, 501, "claimed")["ref"] == ticket.ref

    # Transfer to ENV: the TAX card is edited, the ENV group gets a new card.
    answer = await tickets.card_action(cfg, actor=winner, ticket_id=ticket.id, action="transfer")
    assert answer == "请选择转办部门"
    picker = one(await box.take(), TAX_CHAT, "card")["picker"]
    codes = [code for code, _name in picker]
    assert "ENV" in codes and "TAX" not in codes
    assert len(codes) == 18  # every other active department
    with pytest.raises(InvalidInput, match="本部门"):
        await tickets.card_action(cfg, actor=winner, ticket_id=ticket.id, action="to", arg="TAX")
    with pytest.raises(InvalidInput):
        await tickets.card_action(cfg, actor=winner, ticket_id=ticket.id, action="to", arg="NOPE")
    answer = await tickets.card_action(
        cfg, actor=winner, ticket_id=ticket.id, action="to", arg="env"
    )
    assert answer.startswith("已转办至")
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.department is not None and ticket.department.code == "ENV"
    assert ticket.claimed_by_id is None
    rows = await box.take()
    old_card = one(rows, TAX_CHAT, "card")
    assert old_card["edit"] is True and old_card["actions"] == [] and "转办" in old_card["note"]
    new_card = one(rows, ENV_CHAT, "card")
    assert new_card["edit"] is False and new_card["actions"] == ["claim", "transfer", "return"]
    assert new_card["department_code"] == "ENV" and "转来" in new_card["note"]
    assert one(rows, 501, "transferred")["department_code"] == "ENV"
    # the TAX group no longer holds it
    with pytest.raises(NotAllowed):
        await tickets.card_action(cfg, actor=TAX_1, ticket_id=ticket.id, action="claim")

    # ENV says "not ours": 退回 asks for a reason, the next message in the group gives it.
    answer = await tickets.card_action(cfg, actor=ENV_1, ticket_id=ticket.id, action="return")
    assert "退回原因" in answer
    pending = await PendingInput.get(chat_id=ENV_CHAT, user_id=21)
    assert pending.kind == "return"
    ask = one(await box.take(), ENV_CHAT, "ask_return")
    assert ask == {"ref": ticket.ref, "who": "李环保", "ticket_id": ticket.id}
    # another ENV staffer chatting in the group does not answer it
    assert (
        await tickets.group_message(
            cfg, actor=Actor("staff", 22, "周环保", chat_id=ENV_CHAT), text="收到"
        )
        is False
    )
    reason = "该事项属于税务部门职责，非我局办理范围"
    assert await tickets.group_message(cfg, actor=ENV_1, text=reason) is True
    assert await PendingInput.all().count() == 0
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.TRIAGE and ticket.department is None
    rows = await box.take()
    env_card = one(rows, ENV_CHAT, "card")
    assert env_card["edit"] is True and reason in env_card["note"]
    triage = one(rows, TRIAGE_CHAT, "triage_card")
    assert triage["actions"] == ["dispatch"] and reason in triage["note"]
    event = await TicketEvent.filter(ticket_id=ticket.id, action="return").get()
    assert event.note == reason and event.actor_name == "李环保"
    assert (event.from_status, event.to_status) == ("dispatched", "triage")
    assert event.data == {"from": "ENV"}

    # The hotline office dispatches it back to TAX.
    with pytest.raises(NotAllowed):
        await tickets.card_action(
            cfg, actor=TAX_1, ticket_id=ticket.id, action="dispatch", arg="TAX"
        )
    assert (
        await tickets.card_action(cfg, actor=TRIAGE_1, ticket_id=ticket.id, action="pick")
        == "请选择部门"
    )
    assert one(await box.take(), TRIAGE_CHAT, "triage_card")["picker"]
    answer = await tickets.card_action(
        cfg, actor=TRIAGE_1, ticket_id=ticket.id, action="dispatch", arg="TAX"
    )
    assert answer.startswith("已分拨至")
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.DISPATCHED and ticket.department.code == "TAX"
    rows = await box.take()
    assert one(rows, TRIAGE_CHAT, "triage_card")["edit"] is True
    assert one(rows, TAX_CHAT, "card")["actions"] == ["claim", "transfer", "return"]
    assert one(rows, 501, "dispatched")["department_code"] == "TAX"
    with pytest.raises(IllegalTransition):  # a stale 分拨 button
        await tickets.card_action(
            cfg, actor=TRIAGE_1, ticket_id=ticket.id, action="dispatch", arg="ENV"
        )

    # TAX resolves it with /done; the enterprise gets the result and the return visit.
    clock.advance(hours=3)
    with pytest.raises(NotAllowed):
        await tickets.done_command(cfg, actor=ENV_1, ref=ticket.ref, result="已办")
    result1 = "已联系企业核实，退税款将于三个工作日内退付。"
    await tickets.done_command(cfg, actor=TAX_1, ref=ticket.ref.lower(), result=result1)
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.RESOLVED and ticket.result == result1
    assert ticket.claimed_by_id == 11 and ticket.resolved_by_name == "王税务"
    assert ticket.resolved_at == clock.now
    rows = await box.take()
    visit = to(rows, 501, "visit")[0]
    assert visit.link_role == "visit" and visit.params["result"] == result1
    assert one(rows, TAX_CHAT, "card")["status"] == "resolved"
    assert await TicketMessage.filter(ticket_id=ticket.id, direction="out").count() == 1

    # Rated 未解决: reopened, back to TAX as a 重办, and the enterprise is asked why.
    with pytest.raises(NotAllowed):
        await tickets.rate(cfg, actor=ENT_B, ticket_id=ticket.id, choice="s0")
    with pytest.raises(InvalidInput):
        await tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="s9")
    assert await tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="s0") == "已退回重办"
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.REOPENED and ticket.reopen_count == 1
    assert ticket.claimed_by_id is None and ticket.department.code == "TAX"
    rows = await box.take()
    reopened_card = one(rows, TAX_CHAT, "card")
    assert reopened_card["status"] == "reopened" and reopened_card["reopen_count"] == 1
    assert reopened_card["edit"] is False
    assert reopened_card["actions"] == ["claim", "transfer", "return"]
    assert one(rows, 501, "reopened_ack")["ref"] == ticket.ref
    assert one(rows, 501, "visit")["done"] is True
    pending = await PendingInput.get(chat_id=501, user_id=501)
    assert pending.kind == "reason"
    await tickets.enterprise_message(cfg, actor=ENT_A, text="退税款至今仍未到账")
    ticket = await reload(ticket)
    assert ticket.rating_reason == "退税款至今仍未到账"
    rows = await box.take()
    followup = one(rows, TAX_CHAT, "followup")
    assert followup["label"] == "重办原因" and followup["text"] == "退税款至今仍未到账"

    # Resolved again, this time with the 办结 button and a message in the group.
    await tickets.card_action(cfg, actor=TAX_2, ticket_id=ticket.id, action="claim")
    assert "办理结果" in await tickets.card_action(
        cfg, actor=TAX_2, ticket_id=ticket.id, action="resolve"
    )
    await box.skip()
    result2 = "退税款已于今日退付到账，请查收。"
    assert await tickets.group_message(cfg, actor=TAX_2, text=result2) is True
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.RESOLVED and ticket.result == result2
    assert ticket.rating_solved is None and ticket.rating_satisfaction is None
    await box.skip()

    # Rated 已解决 + 满意: closed as 已评价.
    assert await tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="s1") == (
        "已记录，请继续评价"
    )
    partial = one(await box.take(), 501, "visit")
    assert partial["edit"] is True and partial["solved"] is True
    assert partial["satisfaction"] is None
    assert (await reload(ticket)).status == TicketStatus.RESOLVED
    assert await tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="m3") == (
        "感谢您的评价！"
    )
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.CLOSED and ticket.close_reason == "已评价"
    assert ticket.rating_solved is True and ticket.rating_satisfaction == "满意"
    assert ticket.closed_at == clock.now
    rows = await box.take()
    assert one(rows, 501, "visit")["done"] is True
    assert one(rows, TAX_CHAT, "card")["status"] == "closed"
    with pytest.raises(IllegalTransition):
        await tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="m1")

    # Every step is in the log, and the transitions chain up.
    assert await actions(ticket) == [
        "create",
        "claim",
        "transfer",
        "return",
        "dispatch",
        "resolve",
        "rate",
        "reopen",
        "followup",
        "claim",
        "resolve",
        "rate",
        "rate",
        "close",
    ]
    moves = [
        e
        for e in await TicketEvent.filter(ticket_id=ticket.id).order_by("id")
        if e.to_status is not None
    ]
    assert moves[0].from_status is None and moves[0].to_status == "dispatched"
    for before, after in itertools.pairwise(moves):
        assert after.from_status == before.to_status, (before.action, after.action)
    assert moves[-1].to_status == "closed"


async def test_cancel_only_by_the_owner(db: str, cfg: DeskConfig) -> None:
    await bind_all(cfg)
    await register_a()
    await register_b()
    ticket = await to_tax(cfg, await submit(cfg, ENT_A, TAX_TEXT))
    box = Box()
    await box.skip()
    with pytest.raises(NotAllowed, match="不是贵单位"):
        await tickets.cancel_ticket(cfg, actor=ENT_B, ticket_id=ticket.id)
    with pytest.raises(NotAllowed):
        await tickets.cancel_ticket(
            cfg, actor=Actor("enterprise", 999, "?", chat_id=999), ticket_id=ticket.id
        )
    assert (await reload(ticket)).status == TicketStatus.DISPATCHED
    assert await box.take() == []
    # a colleague of the same enterprise may cancel it
    await register(ENT_A2, "泰达示例", CODE_A, "张四", "13912345678")
    await box.skip()
    assert await tickets.cancel_ticket(cfg, actor=ENT_A2, ticket_id=ticket.id) == (
        f"{ticket.ref} 已撤销"
    )
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.CANCELLED and ticket.close_reason == "已撤销"
    rows = await box.take()
    assert one(rows, 501, "cancelled")["ref"] == ticket.ref  # the ticket's member hears it
    assert "撤销" in one(rows, TAX_CHAT, "card")["note"]
    assert (await actions(ticket))[-1] == "cancel"
    with pytest.raises(IllegalTransition):
        await tickets.cancel_ticket(cfg, actor=ENT_A, ticket_id=ticket.id)


async def test_unbound_department_goes_to_triage(db: str, cfg: DeskConfig) -> None:
    await tickets.bind_group(
        cfg, actor=Actor("staff", 1, "管理员", chat_id=TRIAGE_CHAT), code="TRIAGE"
    )
    await register_a()
    ticket = await submit(cfg, ENT_A, TAX_TEXT)
    if ticket.status == TicketStatus.TRIAGE:
        pytest.skip("the router sent the request to triage")
    rows = await OutboxMessage.filter(chat_id=TRIAGE_CHAT, kind="card")
    assert len(rows) == 1
    assert "尚未绑定群组" in rows[0].params["note"] and rows[0].params["actions"] == []


async def test_unrated_tickets_close_after_the_visit_window(
    db: str, cfg: DeskConfig, clock: Clock, router: Router
) -> None:
    await bind_all(cfg)
    await register_a()
    ticket = await to_tax(cfg, await submit(cfg, ENT_A, TAX_TEXT))
    clock.now = dt.datetime(2025, 6, 3, 2, 0, tzinfo=dt.UTC)  # Tue 10:00
    await tickets.done_command(cfg, actor=TAX_1, ref=ticket.ref, result="已办结")
    box = Box()
    await box.skip()

    # Three working days (Wed, Thu, Fri) are the window: still open on Friday.
    friday = DeskConfig(
        admin_ids=cfg.admin_ids,
        router=router,
        clock=lambda: dt.datetime(2025, 6, 6, 9, 0, tzinfo=dt.UTC),
    )
    assert await tickets.close_unrated(friday) == 0
    assert (await reload(ticket)).status == TicketStatus.RESOLVED

    later = dt.datetime(2025, 6, 13, 2, 0, tzinfo=dt.UTC)  # ten days later
    assert (
        await tickets.close_unrated(
            DeskConfig(admin_ids=cfg.admin_ids, router=router, clock=lambda: later)
        )
        == 1
    )
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.CLOSED and ticket.close_reason == "未评价"
    assert ticket.closed_at == later
    event = (await TicketEvent.filter(ticket_id=ticket.id).order_by("-id"))[0]
    assert (event.action, event.actor_kind, event.from_status, event.to_status) == (
        "close",
        "system",
        "resolved",
        "closed",
    )
    rows = await box.take()
    visit = one(rows, 501, "visit")
    assert visit["expired"] is True and visit["done"] is True and visit["edit"] is True
    assert "未评价" in one(rows, TAX_CHAT, "card")["note"]
    # nothing left to close; a closed ticket cannot be rated
    assert (
        await tickets.close_unrated(
            DeskConfig(admin_ids=cfg.admin_ids, router=router, clock=lambda: later)
        )
        == 0
    )
    with pytest.raises(IllegalTransition):
        await tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="s1")


# ---------------------------------------------------------------- races between workers


def meet_at(monkeypatch: pytest.MonkeyPatch, name: str, *, before: bool) -> None:
    """Make two concurrent calls of a desk step wait for each other there (a race made certain).

    On SQLite the second transaction cannot start before the first ends, so the wait times
    out and the calls simply run one after the other.
    """
    barrier = asyncio.Barrier(2)
    original = getattr(tickets, name)

    async def meet() -> None:
        try:
            await asyncio.wait_for(barrier.wait(), timeout=0.5)
        except (TimeoutError, asyncio.BrokenBarrierError):
            pass

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before:
            await meet()
        result = await original(*args, **kwargs)
        if not before:
            await meet()
        return result

    monkeypatch.setattr(tickets, name, wrapped)


async def test_double_confirm_opens_one_ticket(
    db: str,
    db_kind: str,
    cfg: DeskConfig,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await bind_all(cfg)
    await register_a()
    await tickets.draft_request(cfg, actor=ENT_A, text=TAX_TEXT)
    draft = await Draft.get(member__tg_user_id=501)
    meet_at(monkeypatch, "_open", before=True)  # both presses have read the draft as pending
    results = await asyncio.gather(
        *(
            tickets.decide_draft(cfg, actor=ENT_A, draft_id=draft.id, action="ok")
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    assert [isinstance(r, Conflict) for r in results].count(True) == 1, results
    assert await Ticket.all().count() == 1


async def test_quick_ratings_are_both_kept(
    db: str,
    db_kind: str,
    cfg: DeskConfig,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await bind_all(cfg)
    await register_a()
    ticket = await to_tax(cfg, await submit(cfg, ENT_A, TAX_TEXT))
    await tickets.done_command(cfg, actor=TAX_1, ref=ticket.ref, result="已办结")
    meet_at(monkeypatch, "_require_owner", before=False)  # both presses have read the ticket
    await asyncio.gather(
        tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="m3"),
        tickets.rate(cfg, actor=ENT_A, ticket_id=ticket.id, choice="s1"),
        return_exceptions=True,
    )
    ticket = await reload(ticket)
    assert (ticket.rating_solved, ticket.rating_satisfaction) == (True, "满意")
    assert ticket.status == TicketStatus.CLOSED


async def test_simultaneous_claims_one_wins(
    db: str, db_kind: str, cfg: DeskConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both presses read the ticket as 待认领 before either writes: the status CAS decides."""
    await bind_all(cfg)
    await register_a()
    ticket = await to_tax(cfg, await submit(cfg, ENT_A, TAX_TEXT))
    meet_at(monkeypatch, "_require_dept_group", before=False)
    results = await asyncio.gather(
        tickets.card_action(cfg, actor=TAX_1, ticket_id=ticket.id, action="claim"),
        tickets.card_action(cfg, actor=TAX_2, ticket_id=ticket.id, action="claim"),
        return_exceptions=True,
    )
    assert results.count("认领成功") == 1, results
    (loss,) = [r for r in results if r != "认领成功"]
    # PostgreSQL: the loser's compare-and-set finds the status changed; SQLite: it reads it.
    assert isinstance(loss, Conflict if db_kind == "postgres" else IllegalTransition), loss
    assert await TicketEvent.filter(ticket_id=ticket.id, action="claim").count() == 1
    ticket = await reload(ticket)
    assert ticket.status == TicketStatus.CLAIMED and ticket.claimed_by_id in (11, 12)
    claimed = await OutboxMessage.filter(chat_id=501, kind="claimed").count()
    assert claimed == 1  # the enterprise hears it once
