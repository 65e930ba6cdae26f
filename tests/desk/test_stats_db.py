"""The figures on a hand-made month where every rate is known (SQLite and PostgreSQL).

November 2026, Tianjin time. TAX: t1 claimed and resolved on time; t2 claimed late, resolved
late, rated 未解决/不满意 and reopened; t3 never claimed, overdue and still open; t4 came in
October and was claimed and resolved in November; c1 was cancelled. ENV: e1 claimed on time,
transferred in by TAX. x1 is still in triage, returned there by TAX.

    TAX  received 4 (t1 t2 t3 c1), dispatched 3 (cancelled c1 left out), responded 1 → 响应率 1/3
         claimed 3 (t1 1 h, t2 8 h, t4 3 h) → 4 h on average
         resolved 3 (t1 on time 10 h, t2 late 50 h, t4 on time 6 h) → 按时 2/3, 22 h on average
         return visits s1 s1 s0 → 解决率 2/3; m3 m2 m1 → 满意率 2/3
         1 reopening / 3 results → 重办率 1/3; 1 return + 1 transfer / 3 → 退回率 2/3
         overdue: t2 (late) and t3 (open) → 2
    ENV  received 1, dispatched 1, responded 1 → 响应率 1
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from desk import stats
from desk.errors import InvalidInput
from models.department import Department
from models.enterprise import Enterprise, Member
from models.ticket import Ticket, TicketEvent, TicketStatus

SH = ZoneInfo("Asia/Shanghai")


def at(m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(2026, m, d, h, tzinfo=SH)


NOV = stats.month_period(2026, 11, SH)
AFTER = at(12, 1, 9)


async def make(ref: str, dept: Department | None, **kw: object) -> Ticket:
    ent = await Enterprise.create(name=f"企业{ref}")
    member = await Member.create(enterprise=ent, contact_name="张三", phone="13800000000")
    kw.setdefault("status", TicketStatus.DISPATCHED)
    return await Ticket.create(
        ref=ref, enterprise=ent, member=member, text="诉求", department=dept, **kw
    )


async def event(
    ticket: Ticket, action: str, when: dt.datetime, dept: Department, note: str = ""
) -> None:
    await TicketEvent.create(
        ticket_id=ticket.id,
        actor_kind="x",
        action=action,
        at=when,
        note=note,
        department_id=dept.id,
    )


@pytest.fixture
async def month(db: str) -> dict[str, Department]:
    tax = await Department.get(code="TAX")
    env = await Department.get(code="ENV")
    t1 = await make(
        "T1",
        tax,
        created_at=at(11, 2, 9),
        dispatched_at=at(11, 2, 9),
        response_due_at=at(11, 2, 15),
        claimed_at=at(11, 2, 11),
        claim_hours=1.0,
        resolved_at=at(11, 4),
        due_at=at(11, 10),
        resolve_hours=10.0,
        status=TicketStatus.CLOSED,
    )
    t2 = await make(
        "T2",
        tax,
        created_at=at(11, 3),
        dispatched_at=at(11, 3),
        response_due_at=at(11, 3, 12),
        claimed_at=at(11, 4),
        claim_hours=8.0,
        resolved_at=at(11, 20),
        due_at=at(11, 12),
        resolve_hours=50.0,
        status=TicketStatus.RESOLVED,
    )
    await make(
        "T3",
        tax,
        created_at=at(11, 5),
        dispatched_at=at(11, 5),
        response_due_at=at(11, 5, 12),
        due_at=at(11, 15),
    )
    t4 = await make(
        "T4",
        tax,
        created_at=at(10, 30),
        dispatched_at=at(10, 30),
        response_due_at=at(10, 30, 15),
        claimed_at=at(11, 2),
        claim_hours=3.0,
        resolved_at=at(11, 3),
        due_at=at(11, 6),
        resolve_hours=6.0,
        status=TicketStatus.CLOSED,
    )
    await make(
        "C1",
        tax,
        created_at=at(11, 12),
        dispatched_at=at(11, 12),
        response_due_at=at(11, 12, 15),
        due_at=at(11, 20),
        status=TicketStatus.CANCELLED,
    )
    e1 = await make(
        "E1",
        env,
        created_at=at(11, 10),
        dispatched_at=at(11, 10),
        response_due_at=at(11, 10, 15),
        claimed_at=at(11, 10, 14),
        claim_hours=2.0,
        due_at=at(12, 5),
        status=TicketStatus.CLAIMED,
    )
    x1 = await make("X1", None, created_at=at(11, 11), status=TicketStatus.TRIAGE)
    for ticket, notes in ((t1, ("s1", "m3")), (t4, ("s1", "m2")), (t2, ("s0", "m1"))):
        for note in notes:
            await event(ticket, "rate", at(11, 25), tax, note)
    await event(t2, "reopen", at(11, 25), tax)
    await event(x1, "return", at(11, 11, 11), tax)
    await event(e1, "transfer", at(11, 10, 11), tax)
    await event(t1, "rate", at(10, 31), tax, "s0")  # October: not in November's figures
    return {"TAX": tax, "ENV": env}


async def test_every_rate_of_the_month(month: dict[str, Department]) -> None:
    report = await stats.compute(NOV, now=AFTER)
    tax = report.by_department[month["TAX"].id]
    assert (tax.received, tax.dispatched, tax.responded) == (4, 3, 1)
    assert tax.response_rate == pytest.approx(1 / 3)
    assert (tax.claimed, tax.avg_claim_hours) == (3, pytest.approx(4.0))
    assert (tax.resolved, tax.resolved_on_time) == (3, 2)
    assert tax.on_time_rate == pytest.approx(2 / 3)
    assert tax.avg_resolve_hours == pytest.approx(22.0)
    assert tax.resolution_rate == pytest.approx(2 / 3)
    assert tax.satisfaction_rate == pytest.approx(2 / 3)
    assert tax.reopen_rate == pytest.approx(1 / 3)
    assert tax.return_rate == pytest.approx(2 / 3)
    assert (tax.overdue, tax.open_overdue) == (2, 0)  # a past month: nothing "open now"
    env = report.by_department[month["ENV"].id]
    assert (env.received, env.dispatched, env.response_rate) == (1, 1, 1.0)
    assert env.resolution_rate is None and env.satisfaction_rate is None
    assert report.by_department[None].received == 1  # still in triage
    assert report.total.received == 6 and report.total.dispatched == 4
    assert report.total.response_rate == pytest.approx(2 / 4)


async def test_open_overdue_counts_while_the_period_runs(month: dict[str, Department]) -> None:
    report = await stats.compute(NOV, now=at(11, 25))
    assert report.by_department[month["TAX"].id].open_overdue == 1  # t3, due 11-15


async def test_one_department_only(month: dict[str, Department]) -> None:
    report = await stats.compute(NOV, now=AFTER, department_id=month["ENV"].id)
    assert set(report.by_department) == {month["ENV"].id}
    assert report.total.received == 1


async def test_league_ranks_by_the_three_rates(month: dict[str, Department]) -> None:
    table = await stats.league(await stats.compute(NOV, now=AFTER))
    assert [r.code for r in table[:2]] == ["ENV", "TAX"]
    assert table[1].score == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert all(r.score is None for r in table[2:])  # no tickets: unranked, listed last
    assert len(table) == await Department.filter(active=True).count()


def test_periods_follow_the_office_calendar() -> None:
    now = dt.datetime(2026, 11, 29, 1, 0, tzinfo=dt.UTC)  # Sunday 09:00 in Tianjin
    today = stats.parse_period(None, now=now, tz=SH)
    assert today.start == dt.datetime(2026, 11, 29, tzinfo=SH)
    assert today.end - today.start == dt.timedelta(days=1)
    week = stats.parse_period("week", now=now, tz=SH)
    assert week.start == dt.datetime(2026, 11, 23, tzinfo=SH)  # Monday
    month = stats.parse_period("本月", now=now, tz=SH)
    assert (month.start, month.end) == (
        dt.datetime(2026, 11, 1, tzinfo=SH),
        dt.datetime(2026, 12, 1, tzinfo=SH),
    )
    dec = stats.parse_period("2025-12", now=now, tz=SH)
    assert dec.end == dt.datetime(2026, 1, 1, tzinfo=SH) and dec.label == "2025年12月"
    assert stats.parse_period("上月", now=now, tz=SH).key == "2026-10"
    for bad in ("2026-13", "yesterday", "2026-12", "2026/11", "9999-01"):
        with pytest.raises(InvalidInput):
            stats.parse_period(bad, now=now, tz=SH)


def _by_local_day(
    moments: list[dt.datetime | None], days: list[dt.date], tz: ZoneInfo
) -> list[int]:
    """The expected trend, worked out in Python: each moment counts on its own local date."""
    dates = [m.astimezone(tz).date() for m in moments if m is not None]
    return [dates.count(day) for day in days]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
async def test_the_trend_counts_each_ticket_on_its_local_day(db: str, zone: str) -> None:
    """Grouped by day in one query per series, each ticket counts on its local date: around
    midnights, and across a change of UTC offset (New York leaves daylight saving time on
    2026-11-01). (SQLite compares times as UTC text: local-time boundaries would be wrong.)"""
    tz = ZoneInfo(zone)
    tax = await Department.get(code="TAX")
    env = await Department.get(code="ENV")
    moments = [
        dt.datetime(2026, 10, 29, 23, 59, 59, tzinfo=tz),  # the day before the first
        dt.datetime(2026, 10, 30, 0, 0, tzinfo=tz),
        dt.datetime(2026, 10, 31, 7, 59, tzinfo=tz),
        dt.datetime(2026, 10, 31, 8, 0, tzinfo=tz),
        dt.datetime(2026, 10, 31, 23, 59, 59, tzinfo=tz),
        dt.datetime(2026, 11, 1, 0, 30, tzinfo=tz),
        dt.datetime(2026, 11, 1, 1, 30, tzinfo=tz),
        dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=tz),
        dt.datetime(2026, 11, 1, 16, 0, tzinfo=tz),
        dt.datetime(2026, 11, 2, 0, 0, tzinfo=tz),
        dt.datetime(2026, 11, 3, 11, 0, tzinfo=tz),
        dt.datetime(2026, 11, 3, 23, 59, tzinfo=tz),  # today, after "now"
        dt.datetime(2026, 11, 4, 0, 0, tzinfo=tz),  # tomorrow
    ]
    made: list[tuple[bool, dt.datetime, dt.datetime | None]] = []  # (TAX?, created, resolved)
    for i, created in enumerate(moments):
        resolved = moments[(i + 3) % len(moments)] if i % 4 else None
        await make(
            f"D{i}",
            tax if i % 3 else env,
            created_at=created,
            resolved_at=resolved,
            status=TicketStatus.RESOLVED if i % 4 else TicketStatus.DISPATCHED,
        )
        made.append((bool(i % 3), created, resolved))
    now = dt.datetime(2026, 11, 3, 12, 0, tzinfo=tz)
    today = dt.date(2026, 11, 3)
    for scope in ({}, {"department_id": tax.id}):
        trend = await stats.intake_trend(now=now, tz=tz, days=5, **scope)  # type: ignore[arg-type]
        assert trend.days == [today - dt.timedelta(days=n) for n in range(4, -1, -1)]
        mine = [m for m in made if m[0] or not scope]
        assert trend.received == _by_local_day([m[1] for m in mine], trend.days, tz)
        assert trend.resolved == _by_local_day([m[2] for m in mine], trend.days, tz)
    assert sum(trend.received) > 0 and sum(trend.resolved) > 0


async def test_dashboard_figures_in_all_and_one_department(month: dict[str, Department]) -> None:
    env = month["ENV"]
    everything = await stats.dashboard_figures(now=AFTER, tz=SH)
    # Open now: t3 of TAX, e1 of ENV, and x1 waiting in triage without a department.
    assert everything.open_by_code == {"TAX": 1, "ENV": 1}
    assert everything.open_total == 3
    assert everything.triage_waiting == 1
    assert [r.code for r in everything.league] == [
        r.code for r in await stats.league(everything.month)
    ]
    assert (everything.today.period.key, everything.month.period.key) == ("today", "2026-12")
    own = await stats.dashboard_figures(now=AFTER, tz=SH, department=env)
    assert [r.code for r in own.league] == ["ENV"]
    assert own.open_by_code == {"ENV": 1} and own.open_total == 1
    assert own.triage_waiting is None
