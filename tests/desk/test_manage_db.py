"""The 09:00 daily digest and the manager role checks, on SQLite and PostgreSQL.

The digest goes to each department group with something to act on, once per working day from
09:00, never on holidays or weekends, and on make-up workdays (调休) too.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from desk import manage
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import NotAllowed
from models.department import Department, GroupBinding
from models.enterprise import Enterprise, Member
from models.outbox import OutboxMessage
from models.staff import RoleGrant
from models.ticket import Ticket, TicketEvent, TicketStatus
from nlp import RouteDecision

SH = ZoneInfo("Asia/Shanghai")
TAX_CHAT, ENV_CHAT, MSA_CHAT = -100200, -100300, -100600


class NoRouter:
    def route(self, text: str) -> RouteDecision:  # pragma: no cover - never asked here
        raise AssertionError("not used")


def local(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


def cfg_at(moment: dt.datetime) -> DeskConfig:
    return DeskConfig(admin_ids=frozenset({1}), router=NoRouter(), clock=lambda: moment)


async def ticket(code: str, status: TicketStatus, due: dt.datetime, n: int) -> Ticket:
    dept = await Department.get(code=code)
    ent = await Enterprise.create(name=f"企业{code}{n}")
    member = await Member.create(enterprise=ent, contact_name="张三", phone="13800000000")
    return await Ticket.create(
        ref=f"TD20261130-{n:04d}",
        enterprise=ent,
        member=member,
        text="诉求",
        department=dept,
        status=status,
        due_at=due,
    )


@pytest.fixture
async def groups(db: str) -> None:
    for code, chat in (("TAX", TAX_CHAT), ("ENV", ENV_CHAT), ("MSA", MSA_CHAT)):
        await GroupBinding.create(code=code, chat_id=chat)
    monday = local(2026, 11, 30)
    await ticket("TAX", TicketStatus.DISPATCHED, monday + dt.timedelta(days=3), 1)  # unclaimed
    await ticket("TAX", TicketStatus.CLAIMED, local(2026, 11, 30, 17, 30), 2)  # due today
    await ticket("TAX", TicketStatus.CLAIMED, local(2026, 11, 27, 17, 30), 3)  # overdue
    await ticket("ENV", TicketStatus.CLAIMED, monday + dt.timedelta(days=5), 4)  # nothing due
    await ticket("MSA", TicketStatus.CLOSED, local(2026, 11, 1), 5)  # closed: not open


async def digests() -> dict[int, dict]:
    return {row.chat_id: row.params for row in await OutboxMessage.filter(kind="daily_digest")}


async def test_once_per_working_day_from_nine(groups: None) -> None:
    monday = local(2026, 11, 30, 8, 59)
    assert await manage.daily_digests(cfg_at(monday)) == 0  # before 09:00
    nine = local(2026, 11, 30, 9, 0)
    assert await manage.daily_digests(cfg_at(nine)) == 1
    sent = await digests()
    assert set(sent) == {TAX_CHAT}  # ENV has nothing due, MSA nothing open
    tax = sent[TAX_CHAT]
    assert (tax["open"], tax["unclaimed"], tax["today"], tax["late"]) == (3, 1, 1, 1)
    assert [i["ref"] for i in tax["items"]] == ["TD20261130-0003", "TD20261130-0002"]
    # Later ticks the same day, and a second worker, send nothing more.
    assert await manage.daily_digests(cfg_at(local(2026, 11, 30, 15))) == 0
    assert await OutboxMessage.filter(kind="daily_digest").count() == 1
    # The next working day: again.
    assert await manage.daily_digests(cfg_at(local(2026, 12, 1, 9, 5))) == 1
    assert await OutboxMessage.filter(kind="daily_digest").count() == 2


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (local(2026, 10, 1, 10), 0),  # National Day: a holiday
        (local(2026, 12, 5, 10), 0),  # an ordinary Saturday
        (local(2026, 10, 10, 10), 1),  # Saturday made a workday (调休)
    ],
)
async def test_holidays_and_make_up_workdays(
    groups: None, day: dt.datetime, expected: int
) -> None:
    assert await manage.daily_digests(cfg_at(day)) == expected


async def test_only_managers_and_admins_see_figures(db: str) -> None:
    cfg = cfg_at(local(2026, 11, 30, 10))
    staff = Actor("staff", 11, "王税务", chat_id=TAX_CHAT)
    for call in (
        manage.show_stats(cfg, actor=staff, period=None),
        manage.show_rank(cfg, actor=staff, period=None),
        manage.show_overdue(cfg, actor=staff),
        manage.request_report(cfg, actor=staff, period=None),
        manage.supervise(cfg, actor=staff, ticket_id=1),
    ):
        with pytest.raises(NotAllowed):
            await call
    assert await OutboxMessage.all().count() == 0
    await RoleGrant.create(user_id=11, role="manager")
    await manage.show_stats(cfg, actor=staff, period="month")
    admin = Actor("staff", 1, "管理员", chat_id=1)
    await manage.show_stats(cfg, actor=admin, period="week")
    assert await OutboxMessage.filter(kind="stats").count() == 2


async def test_supervision_is_logged_as_the_managers_act_at_the_desks_time(groups: None) -> None:
    moment = local(2026, 11, 30, 10, 15)
    cfg = cfg_at(moment)
    await RoleGrant.create(user_id=11, role="manager")
    manager = Actor("staff", 11, "刘主任", chat_id=11)
    overdue = await Ticket.get(ref="TD20261130-0003")
    await manage.supervise(cfg, actor=manager, ticket_id=overdue.id)
    event = await TicketEvent.get(ticket_id=overdue.id, action="supervise")
    assert (event.actor_kind, event.actor_id, event.actor_name) == ("manager", 11, "刘主任")
    assert (event.note, event.data) == ("刘主任 督办", {})
    assert event.department_id == overdue.department_id and event.at == moment
    assert await OutboxMessage.filter(kind="supervision", chat_id=TAX_CHAT).count() == 1
