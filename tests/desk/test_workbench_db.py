"""The admin web's workbench actions, on SQLite and PostgreSQL.

A web account acts with the rules of the Telegram buttons: staff only on their department's
tickets, managers read only; each action moves the ticket, logs an event, edits the card in the
department's group and tells the enterprise, exactly like a button press there.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from desk import workbench
from desk.context import DeskConfig
from desk.errors import Conflict, IllegalTransition, InvalidInput, NotAllowed
from desk.workbench import Viewer
from models.department import Department, GroupBinding
from models.enterprise import Enterprise, Member
from models.outbox import OutboxMessage
from models.sla import ExtensionRequest
from models.ticket import Ticket, TicketEvent, TicketMessage, TicketStatus
from nlp import RouteDecision

SH = ZoneInfo("Asia/Shanghai")
TAX_CHAT, ENV_CHAT, TRIAGE_CHAT, ENT_CHAT = -100200, -100300, -100900, 5001
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SH)  # a Tuesday, a working day

OFFICE = Viewer(username="王敏", role="office")
TAX_STAFF = Viewer(username="李税", role="staff", department_code="TAX")
ENV_STAFF = Viewer(username="赵环", role="staff", department_code="ENV")
MANAGER = Viewer(username="周主任", role="manager")


class TaxRouter:
    """Sends everything to the tax bureau, sure of it."""

    def route(self, text: str) -> RouteDecision:
        return RouteDecision("TAX", 0.97, (("TAX", 0.97),), "咨询", False, True, ("退税",))


@pytest.fixture
def cfg() -> DeskConfig:
    return DeskConfig(router=TaxRouter(), clock=lambda: NOW)


@pytest.fixture
async def tax_ticket(db: str) -> Ticket:
    for code, chat in (("TAX", TAX_CHAT), ("ENV", ENV_CHAT), ("TRIAGE", TRIAGE_CHAT)):
        await GroupBinding.create(code=code, chat_id=chat)
    ent = await Enterprise.create(name="天津滨海某某科技有限公司")
    member = await Member.create(
        enterprise=ent, tg_user_id=501, chat_id=ENT_CHAT, contact_name="张三", phone="13800000001"
    )
    return await Ticket.create(
        ref="TD20261130-0099",
        enterprise=ent,
        member=member,
        text="出口退税什么时候到账",
        department=await Department.get(code="TAX"),
        status=TicketStatus.DISPATCHED,
        created_at=NOW - dt.timedelta(hours=1),
        sla_start_at=NOW - dt.timedelta(hours=1),
        due_at=NOW + dt.timedelta(days=5),
    )


async def sent_to(chat: int) -> list[OutboxMessage]:
    return await OutboxMessage.filter(chat_id=chat).order_by("id")


async def test_staff_claim_reply_and_resolve_like_in_the_group(
    cfg: DeskConfig, tax_ticket: Ticket
) -> None:
    assert await workbench.claim(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id) == "认领成功"
    ticket = await Ticket.get(id=tax_ticket.id)
    assert ticket.status == TicketStatus.CLAIMED and ticket.claimed_by_name == "李税（网页）"
    # The group's card is edited and the enterprise is told, as after a press on 认领.
    card = (await sent_to(TAX_CHAT))[-1]
    assert card.kind == "card" and card.params["edit"] is True
    assert [m.kind for m in await sent_to(ENT_CHAT)] == ["claimed"]
    # A second claim (web or Telegram) loses.
    with pytest.raises(IllegalTransition):
        await workbench.claim(cfg, viewer=OFFICE, ticket_id=tax_ticket.id)

    answer = await workbench.reply(
        cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, text="正在核对您的申报数据"
    )
    assert answer == "已发送给企业"
    progress = (await sent_to(ENT_CHAT))[-1]
    assert progress.kind == "progress" and "正在核对" in progress.params["text"]

    await workbench.resolve(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, result="已到账")
    ticket = await Ticket.get(id=tax_ticket.id)
    assert ticket.status == TicketStatus.RESOLVED and ticket.result == "已到账"
    assert (await sent_to(ENT_CHAT))[-1].kind == "visit"  # the result with the 回访 questions
    actions = [e.action for e in await TicketEvent.filter(ticket_id=tax_ticket.id).order_by("id")]
    assert actions == ["claim", "progress", "resolve"]
    out = await TicketMessage.filter(ticket_id=tax_ticket.id, direction="out").count()
    assert out == 2


async def test_roles_and_departments_are_checked_on_every_action(
    cfg: DeskConfig, tax_ticket: Ticket
) -> None:
    before = await OutboxMessage.all().count()
    with pytest.raises(NotAllowed, match="其他部门"):
        await workbench.visible_ticket(viewer=ENV_STAFF, ticket_id=tax_ticket.id)
    with pytest.raises(NotAllowed, match="其他部门"):
        await workbench.claim(cfg, viewer=ENV_STAFF, ticket_id=tax_ticket.id)
    with pytest.raises(NotAllowed, match="只能查看"):
        await workbench.claim(cfg, viewer=MANAGER, ticket_id=tax_ticket.id)
    assert (await workbench.visible_ticket(viewer=MANAGER, ticket_id=tax_ticket.id)).id
    ticket = await Ticket.get(id=tax_ticket.id)
    assert ticket.status == TicketStatus.DISPATCHED  # nothing changed
    assert await OutboxMessage.all().count() == before
    with pytest.raises(InvalidInput):
        await workbench.reply(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, text="   ")


async def test_transfer_and_return(cfg: DeskConfig, tax_ticket: Ticket) -> None:
    with pytest.raises(InvalidInput, match="本部门"):
        await workbench.transfer(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, code="TAX")
    answer = await workbench.transfer(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, code="ENV")
    assert answer.startswith("已转办至")
    ticket = await Ticket.get(id=tax_ticket.id).prefetch_related("department")
    assert ticket.department.code == "ENV"
    assert (await sent_to(TAX_CHAT))[-1].params["edit"] is True  # the old card says where
    assert (await sent_to(ENV_CHAT))[-1].params["edit"] is False  # a fresh card there
    # Now it is ENV's: TAX staff can no longer act on it, ENV staff can return it.
    with pytest.raises(NotAllowed):
        await workbench.reply(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, text="还在吗")
    await workbench.return_to_triage(
        cfg, viewer=ENV_STAFF, ticket_id=tax_ticket.id, reason="不属于本局职责"
    )
    ticket = await Ticket.get(id=tax_ticket.id)
    assert ticket.status == TicketStatus.TRIAGE and ticket.department_id is None
    assert (await sent_to(TRIAGE_CHAT))[-1].kind == "triage_card"


async def test_extension_asked_on_the_web_and_decided_by_a_manager(
    cfg: DeskConfig, tax_ticket: Ticket
) -> None:
    with pytest.raises(IllegalTransition):  # not claimed yet
        await workbench.request_extension(
            cfg,
            viewer=TAX_STAFF,
            ticket_id=tax_ticket.id,
            day=dt.date(2026, 12, 15),
            reason="需要现场核查",
        )
    await workbench.claim(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id)
    answer = await workbench.request_extension(
        cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, day=dt.date(2026, 12, 15), reason="核查"
    )
    assert "已提交" in answer
    with pytest.raises(Conflict):
        await workbench.request_extension(
            cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, day=dt.date(2026, 12, 16), reason="再"
        )
    request = await ExtensionRequest.get(ticket_id=tax_ticket.id)
    with pytest.raises(NotAllowed):
        await workbench.decide_extension(
            cfg, viewer=TAX_STAFF, request_id=request.id, approve=True
        )
    assert "批准" in await workbench.decide_extension(
        cfg, viewer=MANAGER, request_id=request.id, approve=True
    )
    ticket = await Ticket.get(id=tax_ticket.id)
    assert ticket.due_at is not None and ticket.due_at.astimezone(SH).date() == dt.date(
        2026, 12, 15
    )


async def test_operator_intake_records_the_channel_and_reaches_linked_enterprises(
    cfg: DeskConfig, tax_ticket: Ticket
) -> None:
    ent = await Enterprise.get(id=tax_ticket.enterprise_id)
    await Enterprise.filter(id=ent.id).update(credit_code="91120116MA05JY4X2W")
    with pytest.raises(NotAllowed):
        await workbench.open_for_enterprise(
            cfg,
            viewer=TAX_STAFF,
            enterprise_name="x公司",
            credit_code="",
            contact_name="张三",
            phone="13800000001",
            text="问题",
            channel="phone",
        )
    with pytest.raises(InvalidInput, match="电话号码"):
        await workbench.open_for_enterprise(
            cfg,
            viewer=OFFICE,
            enterprise_name="某公司",
            credit_code="",
            contact_name="张三",
            phone="12345",
            text="问题",
            channel="phone",
        )
    # A call from a contact the desk does not know, of an enterprise linked on Telegram.
    ticket = await workbench.open_for_enterprise(
        cfg,
        viewer=OFFICE,
        enterprise_name="天津滨海某某科技有限公司",
        credit_code="91120116MA05JY4X2W",
        contact_name="李四",
        phone="022-25201111",
        text="出口退税申报系统登录不上",
        channel="phone",
    )
    assert ticket.channel == "phone" and ticket.enterprise_id == ent.id
    assert ticket.status == TicketStatus.DISPATCHED
    assert (await sent_to(ENT_CHAT))[-1].kind == "ack"  # the linked contact hears of it
    create = await TicketEvent.get(ticket_id=ticket.id, action="create")
    assert create.actor_name == "王敏（网页）"
    # An enterprise new to the desk, no Telegram: created, the ticket routed, nobody to tell.
    visit = await workbench.open_for_enterprise(
        cfg,
        viewer=OFFICE,
        enterprise_name="天津某新材料有限公司",
        credit_code="",
        contact_name="王五",
        phone="139 0000 0002",
        text="想了解研发费用加计扣除",
        channel="grid",
    )
    member = await Member.get(id=visit.member_id)
    assert member.phone == "13900000002" and member.chat_id is None
    assert visit.channel == "grid"


async def test_asking_the_enterprise_pauses_the_clock(cfg: DeskConfig, tax_ticket: Ticket) -> None:
    await workbench.claim(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id)
    with pytest.raises(InvalidInput):
        await workbench.ask_enterprise(cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, need=" ")
    answer = await workbench.ask_enterprise(
        cfg, viewer=TAX_STAFF, ticket_id=tax_ticket.id, need="请提供出口报关单号"
    )
    assert "暂停" in answer
    ticket = await Ticket.get(id=tax_ticket.id)
    assert ticket.status == TicketStatus.WAITING and ticket.paused_at == NOW
    asked = (await sent_to(ENT_CHAT))[-1]
    assert asked.kind == "need_info" and "报关单号" in asked.params["need"]
