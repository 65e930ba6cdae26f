"""Reminders and the escalation ladder on SQLite and PostgreSQL: ``desk.escalation``.

A scan is run at chosen moments (the injected ``now``); what each chat would receive is read
from the outbox. Times are Tianjin wall-clock times in March 2026 (no holidays):

    咨询 opened Mon 03-09 10:00: respond by Mon 15:30 (4 working hours), resolve by Wed 03-11
    17:30 (2 working days); 20 working hours in all (Mon 6 h, Tue 7 h, Wed 7 h), so 50 % is
    Tue 14:30, 80 % Wed 12:00, 2 working hours before the deadline Wed 15:30.
    The ladder (consult after 1 working day, then 3 and 3): 催办 Wed 03-11 17:30, 会商 Thu 03-12
    17:30, 专题会 Tue 03-17 17:30, 领导小组 Fri 03-20 17:30.
    求助 opened at the same moment: 10 working days, due Mon 03-23 17:30 (76 working hours).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tortoise.exceptions import IntegrityError

from desk import escalation, registration, tickets
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import InvalidInput, NotAllowed
from desk.escalation import Action, scan
from desk.worktime import WorkCalendar, missing_years
from handlers.render import render
from models.department import Department, GroupBinding
from models.outbox import OutboxMessage
from models.sla import SlaMark
from models.ticket import Draft, Ticket, TicketEvent, TicketStatus
from nlp import RouteDecision

SH = ZoneInfo("Asia/Shanghai")
KNOWN = range(2004, 2027)  # pinned: 2027 is the year without official data

TAX_CHAT, ENV_CHAT, TRIAGE_CHAT, ESB_CHAT = -100200, -100300, -100400, -100500
ADMIN_ID = 1
LEADER_ID = 777
STAFF = Actor("staff", 11, "王税务", chat_id=TAX_CHAT)
ENT = Actor("enterprise", 501, "张三", chat_id=501)
TEXT = "我们公司出口退税申报后退税款一直没到账，请帮忙查一下进度"


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


START = at(2026, 3, 9, 10)
RESPOND = at(2026, 3, 9, 15, 30)
DUE = at(2026, 3, 11, 17, 30)
CONSULT_AT = at(2026, 3, 12, 17, 30)
TOPIC_AT = at(2026, 3, 17, 17, 30)
LEADERS_AT = at(2026, 3, 20, 17, 30)
HELP_DUE = at(2026, 3, 23, 17, 30)


class Clock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class FixedRouter:
    """Every request goes to TAX, confidently; type and urgency set by the test."""

    def __init__(self) -> None:
        self.type = "咨询"
        self.urgent = False

    def route(self, text: str) -> RouteDecision:
        return RouteDecision(
            department="TAX",
            confidence=0.97,
            candidates=(("TAX", 0.97), ("CUS", 0.02)),
            type=self.type,
            urgent=self.urgent,
            auto=True,
            matched_terms=("出口退税",),
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def router() -> FixedRouter:
    return FixedRouter()


@pytest.fixture
def cfg(clock: Clock, router: FixedRouter) -> DeskConfig:
    return DeskConfig(
        admin_ids=frozenset({ADMIN_ID}),
        clock=clock,
        router=router,
        calendar=WorkCalendar(package_years=KNOWN),
    )


def admin_in(chat: int) -> Actor:
    return Actor("staff", ADMIN_ID, "管理员", chat_id=chat)


@pytest.fixture
async def desk(db: str, cfg: DeskConfig) -> DeskConfig:
    """Groups bound (TRIAGE, TAX, ESB), one registered enterprise, the TAX leader known."""
    for code, chat in (("TRIAGE", TRIAGE_CHAT), ("TAX", TAX_CHAT), ("ESB", ESB_CHAT)):
        await tickets.bind_group(cfg, actor=admin_in(chat), code=code)
    await registration.start(actor=ENT)
    for answer in ("天津泰达示例科技有限公司", "跳过", "张三", "13812345678"):
        await registration.answer(actor=ENT, text=answer)
    await Department.filter(code="TAX").update(leader_user_id=LEADER_ID)
    return cfg


async def open_tax(
    cfg: DeskConfig, *, type: str = "咨询", when: dt.datetime = START, claim: bool = False
) -> Ticket:
    """The enterprise submits and confirms a request at ``when``; it lands in TAX."""
    assert isinstance(cfg.clock, Clock) and isinstance(cfg.router, FixedRouter)
    cfg.clock.now = when
    cfg.router.type = type
    await tickets.draft_request(cfg, actor=ENT, text=TEXT)
    draft = await Draft.filter(member__tg_user_id=ENT.user_id).order_by("-id").first()
    assert draft is not None
    await tickets.decide_draft(cfg, actor=ENT, draft_id=draft.id, action="ok")
    ticket = await Ticket.get(id=(await Draft.get(id=draft.id)).ticket_id)
    if ticket.status == TicketStatus.TRIAGE:
        await tickets.card_action(
            cfg, actor=admin_in(TRIAGE_CHAT), ticket_id=ticket.id, action="dispatch", arg="TAX"
        )
    if claim:
        assert (
            await tickets.card_action(cfg, actor=STAFF, ticket_id=ticket.id, action="claim")
            == "认领成功"
        )
    ticket = await Ticket.get(id=ticket.id).prefetch_related("department")
    assert ticket.department is not None and ticket.department.code == "TAX"
    return ticket


async def pause(cfg: DeskConfig, ticket: Ticket, when: dt.datetime) -> None:
    """Staff ask the enterprise for more (请企业补充): the ticket waits, its clock stops."""
    assert isinstance(cfg.clock, Clock)
    cfg.clock.now = when
    await tickets.card_action(cfg, actor=STAFF, ticket_id=ticket.id, action="wait")
    assert await tickets.group_message(cfg, actor=STAFF, text="请补充出口报关单号")
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.WAITING


async def resume(cfg: DeskConfig, ticket: Ticket, when: dt.datetime) -> Ticket:
    """The enterprise adds what was asked (补充到 TD…): the clock runs again."""
    assert isinstance(cfg.clock, Clock)
    cfg.clock.now = when
    await tickets.draft_request(cfg, actor=ENT, text="报关单号是 020220260001")
    draft = await Draft.filter(member__tg_user_id=ENT.user_id).order_by("-id").first()
    assert draft is not None
    await tickets.decide_draft(
        cfg, actor=ENT, draft_id=draft.id, action="add", ticket_id=ticket.id
    )
    ticket = await Ticket.get(id=ticket.id)
    assert ticket.status == TicketStatus.CLAIMED and ticket.paused_at is None
    return ticket


async def out(ticket: Ticket, *kinds: str, after: int = 0) -> list[OutboxMessage]:
    query = OutboxMessage.filter(ticket_id=ticket.id, id__gt=after)
    if kinds:
        query = query.filter(kind__in=kinds)
    return await query.order_by("id")


async def last_id() -> int:
    row = await OutboxMessage.all().order_by("-id").first()
    return row.id if row else 0


async def mark_keys(ticket: Ticket) -> list[str]:
    return [m.key.split("@")[0] for m in await SlaMark.filter(ticket_id=ticket.id).order_by("id")]


def steps(actions: list[Action]) -> list[tuple[str, bool]]:
    return [(a.step, a.sent) for a in actions]


async def level(ticket: Ticket) -> int:
    return (await Ticket.get(id=ticket.id)).escalation_level


async def snapshot() -> tuple[int, int, int, list[int]]:
    """Everything a scan may write: outbox rows, marks, events, levels."""
    return (
        await OutboxMessage.all().count(),
        await SlaMark.all().count(),
        await TicketEvent.all().count(),
        [t.escalation_level for t in await Ticket.all().order_by("id")],
    )


# ---------------------------------------------------------------- response nudge


async def test_an_unclaimed_ticket_is_nudged_once_a_claimed_one_never(desk: DeskConfig) -> None:
    waiting = await open_tax(desk)
    claimed = await open_tax(desk, claim=True)
    # The deadlines come from the 咨询 policy in working time.
    assert waiting.sla_start_at == START
    assert (waiting.response_due_at, waiting.due_at) == (RESPOND, DUE)
    assert not waiting.due_estimated

    assert await scan(desk, now=at(2026, 3, 9, 15, 29)) == []
    found = await scan(desk, now=RESPOND)
    assert [(a.ref, a.step, a.sent) for a in found] == [(waiting.ref, "respond", True)]
    (nudge,) = await out(waiting, "sla_nudge")
    assert nudge.chat_id == TAX_CHAT
    assert nudge.params["ref"] == waiting.ref
    assert nudge.params["respond_by"] == "2026-03-09（周一）15:30"

    assert await scan(desk, now=at(2026, 3, 9, 16)) == []
    assert await scan(desk, now=at(2026, 3, 10, 9)) == []
    assert len(await out(waiting, "sla_nudge")) == 1
    assert await out(claimed, "sla_nudge") == []
    assert await mark_keys(claimed) == []


# ---------------------------------------------------------------- deadline warnings


async def test_warnings_at_50_and_80_percent_and_two_hours_before(desk: DeskConfig) -> None:
    ticket = await open_tax(desk, claim=True)
    cal = desk.calendar
    total = cal.working_seconds_between(START, DUE)
    assert total == 20 * 3600

    assert await scan(desk, now=at(2026, 3, 10, 14)) == []  # 47.5 %
    now = at(2026, 3, 10, 15, 30)  # 55 %
    assert cal.working_seconds_between(START, now) / total == pytest.approx(0.55)
    assert steps(await scan(desk, now=now)) == [("w50", True)]
    assert steps(await scan(desk, now=at(2026, 3, 10, 15, 45))) == []
    assert steps(await scan(desk, now=at(2026, 3, 10, 17))) == []

    now = at(2026, 3, 11, 14, 30)  # 85 %, 3 working hours left
    assert cal.working_seconds_between(START, now) / total == pytest.approx(0.85)
    assert steps(await scan(desk, now=now)) == [("w80", True)]
    assert steps(await scan(desk, now=at(2026, 3, 11, 15))) == []
    assert steps(await scan(desk, now=at(2026, 3, 11, 15, 30))) == [("w2h", True)]
    assert steps(await scan(desk, now=at(2026, 3, 11, 17))) == []

    warns = await out(ticket, "sla_warn")
    assert [(w.chat_id, w.params["label"]) for w in warns] == [
        (TAX_CHAT, "已用时过半"),
        (TAX_CHAT, "已用时80%"),
        (TAX_CHAT, "距截止不足2个工作小时"),
    ]
    assert all(w.params["ref"] == ticket.ref for w in warns)
    assert await mark_keys(ticket) == ["w50", "w80", "w2h"]
    assert await out(ticket, "sla_urge", "sla_nudge") == []


async def test_catch_up_after_an_outage_sends_one_warning(desk: DeskConfig) -> None:
    """The scheduler is down for more than three days; its first scan sends the latest only."""
    for first_scan, expected, label in (
        (
            at(2026, 3, 20, 10),  # 63 of 76 working hours: past 80 %, 13 h left
            [("w50", False), ("w80", True)],
            "已用时80%",
        ),
        (
            at(2026, 3, 23, 16),  # 1.5 working hours left
            [("w50", False), ("w80", False), ("w2h", True)],
            "距截止不足2个工作小时",
        ),
    ):
        ticket = await open_tax(desk, type="求助", claim=True)
        assert ticket.due_at == HELP_DUE
        assert await scan(desk, now=at(2026, 3, 11, 10)) == []  # 18 %: nothing yet
        assert steps(await scan(desk, now=first_scan)) == expected
        warns = await out(ticket, "sla_warn")
        assert [w.params["label"] for w in warns] == [label]
        assert await mark_keys(ticket) == [step for step, _ in expected]
        # The skipped warnings were recorded: scanning again sends nothing more.
        assert await scan(desk, now=first_scan + dt.timedelta(minutes=30)) == []
        assert len(await out(ticket, "sla_warn")) == 1
        await Ticket.filter(id=ticket.id).update(status=TicketStatus.CLOSED)  # next scenario


# ---------------------------------------------------------------- the ladder


async def test_the_ladder_step_by_step(desk: DeskConfig) -> None:
    ticket = await open_tax(desk, claim=True)
    minute = dt.timedelta(minutes=1)
    # First seen a minute before the deadline: the earlier warnings are only recorded.
    assert steps(await scan(desk, now=DUE - minute)) == [
        ("w50", False),
        ("w80", False),
        ("w2h", True),
    ]
    before = await last_id()

    # 催办 at the deadline, to the department's group and its leader; still level 0.
    assert steps(await scan(desk, now=DUE)) == [("urge", True)]
    urges = await out(ticket, "sla_urge", after=before)
    assert [u.chat_id for u in urges] == [TAX_CHAT, LEADER_ID]  # the group and its leader
    params = urges[0].params
    assert params["ref"] == ticket.ref and params["level"] == 0
    assert params["overdue_since"] == "2026-03-11（周三）17:30"
    assert params["next_deadline"] == "2026-03-12（周四）17:30"  # when 会商 follows
    assert "13812345678" not in str(params)  # personal data masked
    assert await level(ticket) == 0
    (event,) = await TicketEvent.filter(ticket_id=ticket.id, action="urge")
    assert (event.actor_kind, event.data) == ("system", {"step": "urge", "level": 0})
    assert await out(ticket, "sla_consult") == []

    # 会商 one working day later, to the ESB group, with a consultation record; level 1.
    assert await scan(desk, now=CONSULT_AT - minute) == []
    assert steps(await scan(desk, now=CONSULT_AT)) == [("consult", True)]
    assert await level(ticket) == 1
    (consult,) = await out(ticket, "sla_consult")
    assert consult.chat_id == ESB_CHAT
    record = consult.params
    assert record["ref"] == ticket.ref
    assert (record["level"], record["level_name"], record["step"]) == (1, "会商", "consult")
    assert record["departments"] == ["TAX"]
    assert record["next_deadline"] == "2026-03-17（周二）17:30"  # when 专题会 follows
    # The department's group hears that its ticket went up a level.
    (lifted,) = await out(ticket, "sla_level")
    assert (lifted.chat_id, lifted.params["level_name"]) == (TAX_CHAT, "会商")
    events = await TicketEvent.filter(ticket_id=ticket.id, action="escalate")
    assert [e.data for e in events] == [{"step": "consult", "level": 1}]
    assert await scan(desk, now=at(2026, 3, 13, 10)) == []

    # 专题会 and 领导小组 three working days apart each, as agenda items for the managers.
    for when, step, lvl in ((TOPIC_AT, "topic", 2), (LEADERS_AT, "leaders", 3)):
        before = await last_id()
        assert await scan(desk, now=when - minute) == []
        assert steps(await scan(desk, now=when)) == [(step, True)]
        assert await level(ticket) == lvl
        agenda = await out(ticket, "sla_agenda", after=before)
        assert [(r.chat_id, r.params["step"]) for r in agenda] == [
            (TRIAGE_CHAT, step),
            (ADMIN_ID, step),
        ]
    assert await scan(desk, now=LEADERS_AT + dt.timedelta(days=60)) == []


async def test_consultation_names_every_department_involved(desk: DeskConfig) -> None:
    await tickets.bind_group(desk, actor=admin_in(ENV_CHAT), code="ENV")
    ticket = await open_tax(desk, claim=True)
    await tickets.card_action(desk, actor=STAFF, ticket_id=ticket.id, action="to", arg="ENV")
    await scan(desk, now=CONSULT_AT)
    (consult,) = await out(ticket, "sla_consult")
    assert consult.chat_id == ESB_CHAT
    assert set(consult.params["departments"]) == {"TAX", "ENV"}
    (urge,) = await out(ticket, "sla_urge")
    assert urge.chat_id == ENV_CHAT  # the department holding it now


@pytest.mark.parametrize("db_kind", ["sqlite"])  # a logic bug: one database shows it
async def test_the_consultation_record_reads_department_names(desk: DeskConfig) -> None:
    ticket = await open_tax(desk, claim=True)
    await scan(desk, now=CONSULT_AT)
    (consult,) = await out(ticket, "sla_consult")
    text = "".join(op.text for op in render("sla_consult", consult.params))
    assert "主办部门：税务局" in text
    assert "涉及部门：税务局" in text


async def test_a_scan_long_after_climbs_the_whole_ladder_once(desk: DeskConfig) -> None:
    ticket = await open_tax(desk)
    late = desk.calendar.add_working_time(DUE, days=30).at
    found = await scan(desk, now=late)
    assert steps(found) == [
        ("respond", True),
        ("urge", True),
        ("consult", True),
        ("topic", True),
        ("leaders", True),
    ]
    assert [a.label for a in found[1:]] == ["催办", "会商", "专题会", "领导小组"]
    assert await level(ticket) == 3
    assert await mark_keys(ticket) == ["respond", "urge", "consult", "topic", "leaders"]

    events = await TicketEvent.filter(ticket_id=ticket.id, action__in=["urge", "escalate"])
    assert [(e.action, e.data["step"], e.data["level"]) for e in events] == [
        ("urge", "urge", 0),
        ("escalate", "consult", 1),
        ("escalate", "topic", 2),
        ("escalate", "leaders", 3),
    ]
    sent = [
        (r.kind, r.chat_id, r.params.get("step"))
        for r in await out(ticket, "sla_urge", "sla_consult", "sla_agenda", "sla_level")
    ]
    assert sent == [
        ("sla_urge", TAX_CHAT, "urge"),
        ("sla_urge", LEADER_ID, "urge"),
        ("sla_consult", ESB_CHAT, "consult"),
        ("sla_level", TAX_CHAT, "consult"),
        ("sla_agenda", TRIAGE_CHAT, "topic"),
        ("sla_agenda", ADMIN_ID, "topic"),
        ("sla_level", TAX_CHAT, "topic"),
        ("sla_agenda", TRIAGE_CHAT, "leaders"),
        ("sla_agenda", ADMIN_ID, "leaders"),
        ("sla_level", TAX_CHAT, "leaders"),
    ]
    agenda = [r.params for r in await out(ticket, "sla_agenda")]
    assert [p["label"] for p in agenda] == ["专题会", "专题会", "领导小组", "领导小组"]
    assert agenda[0]["next_deadline"] == "2026-03-20（周五）17:30"
    assert agenda[-1]["next_deadline"] == "—"
    assert all(p["ref"] == ticket.ref for p in agenda)

    state = await snapshot()
    assert await scan(desk, now=late) == []
    assert await scan(desk, now=late + dt.timedelta(days=40)) == []
    assert await snapshot() == state


# ---------------------------------------------------------------- dry run


async def test_dry_run_reports_but_writes_nothing(desk: DeskConfig) -> None:
    ticket = await open_tax(desk)
    late = LEADERS_AT + dt.timedelta(hours=1)
    state = await snapshot()
    dry = await scan(desk, now=late, dry_run=True)
    assert steps(dry) == [
        ("respond", True),
        ("urge", True),
        ("consult", True),
        ("topic", True),
        ("leaders", True),
    ]
    assert all(a.ref == ticket.ref for a in dry)
    assert await snapshot() == state
    assert await SlaMark.all().count() == 0
    assert await level(ticket) == 0
    # A second dry run says the same; the real pass then does exactly that.
    assert steps(await scan(desk, now=late, dry_run=True)) == steps(dry)
    assert steps(await scan(desk, now=late)) == steps(dry)
    assert await level(ticket) == 3


# ---------------------------------------------------------------- two schedulers


async def test_two_schedulers_never_send_a_step_twice(
    desk: DeskConfig, db_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both passes read a ticket's marks before either writes (a race made certain).

    On PostgreSQL the second insert of the same SlaMark fails on the unique constraint and
    that pass's messages roll back; on SQLite transactions run one after the other.
    """
    first = await open_tax(desk)
    second = await open_tax(desk, type="求助", claim=True)
    barrier = asyncio.Barrier(2)
    original = escalation.ticket_params  # called once per ticket, after its marks are read

    async def meet_then(*args: Any, **kwargs: Any) -> Any:
        try:
            await asyncio.wait_for(barrier.wait(), timeout=0.5)
        except (TimeoutError, asyncio.BrokenBarrierError):
            pass
        return await original(*args, **kwargs)

    if db_kind == "postgres":  # SQLite runs one transaction at a time: they could never meet
        monkeypatch.setattr(escalation, "ticket_params", meet_then)

    moments = (at(2026, 3, 10, 15, 30), at(2026, 3, 12, 17, 30), at(2026, 4, 30, 10))
    for now in moments:
        results = await asyncio.gather(scan(desk, now=now), scan(desk, now=now))
        done = [(a.ref, a.step) for r in results for a in r]
        assert len(done) == len(set(done)), done

    rows = await OutboxMessage.filter(ticket_id__in=[first.id, second.id], kind__startswith="sla_")
    keys = Counter(
        (r.ticket_id, r.chat_id, r.kind, r.params.get("step"), r.params.get("label")) for r in rows
    )
    assert [k for k, n in keys.items() if n > 1] == []
    # Everything due was done exactly once: the whole ladder, the nudge, the warnings.
    assert await mark_keys(first) == ["respond", "w50", "urge", "consult", "topic", "leaders"]
    # The 求助 ticket was first seen overdue: no warnings then, straight up the ladder.
    assert await mark_keys(second) == ["urge", "consult", "topic", "leaders"]
    assert Counter(r.kind for r in rows if r.ticket_id == first.id) == {
        "sla_nudge": 1,
        "sla_warn": 1,
        "sla_urge": 2,
        "sla_consult": 1,
        "sla_level": 3,
        "sla_agenda": 4,
    }
    # The guard underneath: a step can be recorded only once per ticket.
    mark = await SlaMark.filter(ticket_id=first.id).first()
    assert mark is not None
    with pytest.raises(IntegrityError):
        await SlaMark.create(ticket_id=first.id, key=mark.key)


# ---------------------------------------------------------------- by hand


async def test_escalate_by_hand(desk: DeskConfig, clock: Clock) -> None:
    ticket = await open_tax(desk, claim=True)
    clock.now = at(2026, 3, 10, 10)  # before any deadline
    with pytest.raises(NotAllowed):
        await escalation.escalate_by_hand(desk, actor=STAFF, ref=ticket.ref, reason="太慢")
    assert await level(ticket) == 0

    admin = admin_in(ADMIN_ID)
    before = await last_id()
    answer = await escalation.escalate_by_hand(
        desk, actor=admin, ref=ticket.ref.lower(), reason="企业多次来电"
    )
    assert ticket.ref in answer and "会商" in answer
    assert await level(ticket) == 1
    (consult,) = await out(ticket, "sla_consult", after=before)
    assert consult.chat_id == ESB_CHAT
    assert consult.params["reason"] == "企业多次来电"
    assert consult.params["level"] == 1
    (event,) = await TicketEvent.filter(ticket_id=ticket.id, action="escalate")
    assert (event.actor_kind, event.actor_id) == ("staff", ADMIN_ID)
    assert event.data == {"step": "consult", "level": 1}

    before = await last_id()
    assert "专题会" in await escalation.escalate_by_hand(
        desk, actor=admin, ref=ticket.ref, reason=""
    )
    assert await level(ticket) == 2
    agenda = await out(ticket, "sla_agenda", after=before)
    assert sorted(r.chat_id for r in agenda) == sorted([TRIAGE_CHAT, ADMIN_ID])
    assert agenda[0].params["reason"] == "管理员手动升级"

    assert "领导小组" in await escalation.escalate_by_hand(
        desk, actor=admin, ref=ticket.ref, reason="仍未解决"
    )
    assert await level(ticket) == 3
    state = await snapshot()
    with pytest.raises(InvalidInput):
        await escalation.escalate_by_hand(desk, actor=admin, ref=ticket.ref, reason="再升")
    assert await snapshot() == state
    assert await level(ticket) == 3


@pytest.mark.parametrize("db_kind", ["sqlite"])  # a logic bug: one database shows it
async def test_a_rung_reached_by_hand_is_not_announced_again(
    desk: DeskConfig, clock: Clock
) -> None:
    ticket = await open_tax(desk, claim=True)
    clock.now = at(2026, 3, 10, 10)
    await escalation.escalate_by_hand(
        desk, actor=admin_in(ADMIN_ID), ref=ticket.ref, reason="企业多次来电"
    )
    assert len(await out(ticket, "sla_consult")) == 1
    await scan(desk, now=CONSULT_AT)
    assert await level(ticket) == 1
    assert len(await out(ticket, "sla_consult")) == 1
    assert len(await out(ticket, "sla_level")) == 1


# ---------------------------------------------------------------- what is not scanned


async def test_waiting_and_finished_tickets_are_not_scanned(desk: DeskConfig) -> None:
    waiting = await open_tax(desk, claim=True)
    resolved = await open_tax(desk, claim=True)
    active = await open_tax(desk, claim=True)
    await Ticket.filter(id=waiting.id).update(status=TicketStatus.WAITING)
    await Ticket.filter(id=resolved.id).update(status=TicketStatus.RESOLVED)
    found = await scan(desk, now=LEADERS_AT + dt.timedelta(days=1))
    assert {a.ref for a in found} == {active.ref}  # the control ticket is escalated
    for ticket in (waiting, resolved):
        assert await mark_keys(ticket) == []
        assert await out(ticket, "sla_warn", "sla_urge", "sla_consult", "sla_agenda") == []
        assert await level(ticket) == 0


@pytest.mark.parametrize("db_kind", ["sqlite"])  # a logic bug: one database shows it
async def test_a_ticket_resolved_during_the_pass_is_not_urged(
    desk: DeskConfig, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await open_tax(desk, claim=True)
    second = await open_tax(desk, claim=True)
    await scan(desk, now=DUE - dt.timedelta(minutes=1))  # warnings out of the way
    clock.now = DUE
    real_atomic = escalation.atomic
    resolved = False

    @asynccontextmanager
    async def staff_resolve_first() -> AsyncIterator[Any]:
        nonlocal resolved
        if not resolved:
            resolved = True
            # The pass has listed its tickets; staff resolve the second one just now.
            await tickets.done_command(desk, actor=STAFF, ref=second.ref, result="已办结")
        async with real_atomic() as conn:
            yield conn

    monkeypatch.setattr(escalation, "atomic", staff_resolve_first)
    found = await scan(desk, now=DUE)
    assert first.ref in {a.ref for a in found}  # the control ticket is urged
    assert (await Ticket.get(id=second.id)).status == TicketStatus.RESOLVED
    assert await out(second, "sla_urge") == []
    assert await TicketEvent.filter(ticket_id=second.id, action="urge").count() == 0


async def test_pause_and_resume_move_the_ladder(desk: DeskConfig) -> None:
    ticket = await open_tax(desk, claim=True)
    await pause(desk, ticket, at(2026, 3, 10, 16))  # 11.5 of 20 working hours used
    # Waiting for the enterprise past the original deadline: nobody is chased.
    assert await scan(desk, now=DUE) == []
    assert await scan(desk, now=CONSULT_AT) == []
    # Back on Thu 10:00 after 9.5 working hours (Tue 1.5, Wed 7, Thu 1): due Fri 11:30.
    ticket = await resume(desk, ticket, at(2026, 3, 12, 10))
    new_due = at(2026, 3, 13, 11, 30)
    assert ticket.due_at == new_due
    found = await scan(desk, now=new_due - dt.timedelta(minutes=1))
    assert "urge" not in [a.step for a in found]
    assert steps(await scan(desk, now=new_due)) == [("urge", True)]
    urges = await out(ticket, "sla_urge")
    assert [u.chat_id for u in urges] == [TAX_CHAT, LEADER_ID]
    assert urges[0].params["overdue_since"] == "2026-03-13（周五）11:30"
    # 会商 one working day after the moved deadline: Mon 03-16 17:30.
    assert await scan(desk, now=at(2026, 3, 16, 17, 29)) == []
    assert steps(await scan(desk, now=at(2026, 3, 16, 17, 30))) == [("consult", True)]


@pytest.mark.parametrize("db_kind", ["sqlite"])  # a logic bug: one database shows it
async def test_warnings_count_only_working_time_not_paused(desk: DeskConfig) -> None:
    ticket = await open_tax(desk, claim=True)
    assert steps(await scan(desk, now=at(2026, 3, 10, 15, 30))) == [("w50", True)]  # 11 h
    await pause(desk, ticket, at(2026, 3, 10, 16))  # 11.5 h used
    ticket = await resume(desk, ticket, at(2026, 3, 12, 10))
    assert ticket.due_at == at(2026, 3, 13, 11, 30)
    # 12 h used (60 %): the half-time warning was already sent before the pause.
    assert await scan(desk, now=at(2026, 3, 12, 10, 30)) == []
    assert await scan(desk, now=at(2026, 3, 12, 15, 30)) == []  # 15.5 h: 77.5 %
    assert steps(await scan(desk, now=at(2026, 3, 12, 16, 15))) == [("w80", True)]  # 81 %
    assert [w.params["label"] for w in await out(ticket, "sla_warn")] == [
        "已用时过半",
        "已用时80%",
    ]


# ---------------------------------------------------------------- the calendar warning


async def test_missing_calendar_year_is_announced_once_a_day(desk: DeskConfig) -> None:
    warn = escalation.warn_missing_calendar
    assert await warn(desk, now=at(2026, 11, 30, 10)) == []
    # Without a TRIAGE group the years are still reported, but nothing can be queued …
    triage = await GroupBinding.get(code="TRIAGE")
    await triage.delete()
    assert await warn(desk, now=at(2026, 11, 30, 23)) == []
    assert await warn(desk, now=at(2026, 12, 1, 8)) == [2027]
    assert await OutboxMessage.filter(kind="calendar_missing").count() == 0
    # … and that does not use up the day: once the group is bound, it is told.
    await tickets.bind_group(desk, actor=admin_in(TRIAGE_CHAT), code="TRIAGE")
    first = at(2026, 12, 1, 0, 30)  # already 1 December in Tianjin (still 30 November in UTC)
    assert await warn(desk, now=first) == [2027]
    assert await warn(desk, now=at(2026, 12, 1, 10)) == [2027]
    assert await warn(desk, now=at(2026, 12, 1, 23, 50)) == [2027]
    rows = await OutboxMessage.filter(kind="calendar_missing").order_by("id")
    assert [(r.chat_id, r.params) for r in rows] == [
        (TRIAGE_CHAT, {"years": [2027], "today": "2026-12-01"})
    ]
    assert await warn(desk, now=at(2026, 12, 2, 10)) == [2027]
    assert await OutboxMessage.filter(kind="calendar_missing").count() == 2
    # The installed calendar says the same thing the pinned one does, whatever it knows.
    default = WorkCalendar()
    assert missing_years(default, dt.date(2026, 12, 1)) == (
        [] if default.has_official_data(2027) else [2027]
    )


# ---------------------------------------------------------------- return visit window


async def test_unrated_ticket_closes_after_three_working_days(
    desk: DeskConfig, clock: Clock
) -> None:
    ticket = await open_tax(desk, claim=True)
    clock.now = at(2026, 3, 12, 15)  # resolved on a Thursday
    await tickets.done_command(desk, actor=STAFF, ref=ticket.ref, result="退税款已于今日到账")
    # Window: Fri 03-13, (weekend), Mon 03-16, Tue 03-17 until 17:30.
    for when in (
        at(2026, 3, 13, 17, 31),
        at(2026, 3, 15, 12),
        at(2026, 3, 16, 17, 31),
        at(2026, 3, 17, 17, 29),
        at(2026, 3, 17, 17, 30),
    ):
        clock.now = when
        assert await tickets.close_unrated(desk) == 0, when
        assert (await Ticket.get(id=ticket.id)).status == TicketStatus.RESOLVED
    clock.now = at(2026, 3, 17, 17, 31)
    assert await tickets.close_unrated(desk) == 1
    closed = await Ticket.get(id=ticket.id)
    assert closed.status == TicketStatus.CLOSED and closed.close_reason == "未评价"
    assert closed.closed_at == clock.now
    assert await tickets.close_unrated(desk) == 0
