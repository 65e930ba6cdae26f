"""The hotline's figures: volumes and the rates departments are ranked on (三率 and more).

Every figure is a SQL aggregate over an indexed timestamp range (no Python loop over tickets),
so a month of a million-ticket database answers in well under a second. Periods follow the
office calendar (Asia/Shanghai by default): a period is ``[start, end)`` in local time.

Definitions (README "Figures" says the same):

* 受理 received: tickets created in the period.
* 派发 dispatched: tickets that first reached a department in the period.
* 响应率: of the tickets dispatched in the period, the share claimed by their response deadline.
* 办结 resolved: tickets whose (latest) result was given in the period;
  按时办结率: the share of those resolved by their deadline (extensions included).
* 解决率: 已解决 answers / all 已解决-or-未解决 answers given in return visits in the period;
  满意率: (满意 + 基本满意) / all satisfaction answers given in the period.
* 重办率: reopenings / results given in the period; 退回率: (退回 + 转办) / tickets dispatched
  in the period, counted against the department that returned or transferred.
* 超期 overdue: tickets whose deadline fell in the period and were not resolved by it, plus, for
  periods reaching now, open tickets already past their deadline.
* Average working hours to claim and to resolve (pauses excluded), of the tickets claimed and
  resolved in the period.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Case, F, Q, When
from tortoise.functions import Avg, Count

from models.department import Department
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent, TicketStatus

from .errors import InvalidInput

PERIOD_HELP = "时间范围请写 today（今日）、week（本周）、month（本月）或 2026-11 这样的月份。"
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, with the words managers read."""

    label: str
    start: dt.datetime
    end: dt.datetime
    key: str  # today | week | month | YYYY-MM


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The instant a local day begins, in UTC (SQLite compares times as UTC text)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def month_period(year: int, month: int, tz: ZoneInfo) -> Period:
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return Period(
        f"{year}年{month}月",
        local_midnight(first, tz),
        local_midnight(nxt, tz),
        f"{first:%Y-%m}",
    )


def parse_period(arg: str | None, *, now: dt.datetime, tz: ZoneInfo) -> Period:
    """``today`` (default), ``week``, ``month`` or ``YYYY-MM`` (also 今日/本周/本月/上月).

    Raises:
        InvalidInput: anything else, or a month not yet begun.
    """
    word = (arg or "today").strip().lower()
    today = now.astimezone(tz).date()
    if word in ("today", "今日", "今天"):
        return Period(
            f"今日（{today:%m月%d日}）",
            local_midnight(today, tz),
            local_midnight(today + dt.timedelta(days=1), tz),
            "today",
        )
    if word in ("week", "本周"):
        monday = today - dt.timedelta(days=today.weekday())
        return Period(
            f"本周（{monday:%m月%d日}起）",
            local_midnight(monday, tz),
            local_midnight(monday + dt.timedelta(days=7), tz),
            "week",
        )
    if word in ("month", "本月"):
        return month_period(today.year, today.month, tz)
    if word in ("lastmonth", "上月"):
        last = today.replace(day=1) - dt.timedelta(days=1)
        return month_period(last.year, last.month, tz)
    m = _MONTH.fullmatch(word)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise InvalidInput(PERIOD_HELP)
    period = month_period(int(m.group(1)), int(m.group(2)), tz)
    if period.start > now:
        raise InvalidInput(f"{period.label}尚未开始。")
    return period


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def percent(rate: float | None) -> str:
    """A rate as people read it: ``12.5%`` (one decimal), or ``—`` when there is no data."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


@dataclass
class Figures:
    """Counts for one department (or all) over one period; rates are derived."""

    received: int = 0
    dispatched: int = 0
    responded: int = 0  # of dispatched: claimed by the response deadline
    claimed: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    solved_yes: int = 0
    solved_no: int = 0
    satisfied: int = 0  # 满意
    basically: int = 0  # 基本满意
    unsatisfied: int = 0
    reopened: int = 0
    returned: int = 0
    transferred: int = 0
    supervised: int = 0
    overdue: int = 0
    open_overdue: int = 0
    claim_hours_sum: float = 0.0
    resolve_hours_sum: float = 0.0

    @property
    def response_rate(self) -> float | None:
        return _rate(self.responded, self.dispatched)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.solved_yes, self.solved_yes + self.solved_no)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(
            self.satisfied + self.basically, self.satisfied + self.basically + self.unsatisfied
        )

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.resolved_on_time, self.resolved)

    @property
    def reopen_rate(self) -> float | None:
        return _rate(self.reopened, self.resolved)

    @property
    def return_rate(self) -> float | None:
        return _rate(self.returned + self.transferred, self.dispatched)

    @property
    def avg_claim_hours(self) -> float | None:
        return self.claim_hours_sum / self.claimed if self.claimed else None

    @property
    def avg_resolve_hours(self) -> float | None:
        return self.resolve_hours_sum / self.resolved if self.resolved else None

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, Any]:
        base = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in RATE_NAMES:
            base[name] = getattr(self, name)
        return base


RATE_NAMES = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_rate",
    "reopen_rate",
    "return_rate",
    "avg_claim_hours",
    "avg_resolve_hours",
)


@dataclass
class Report:
    """Figures of every department and of the whole hotline for one period."""

    period: Period
    total: Figures
    by_department: dict[int | None, Figures] = field(default_factory=dict)


def _in(column: str, period: Period) -> dict[str, dt.datetime]:
    return {f"{column}__gte": period.start, f"{column}__lt": period.end}


async def compute(period: Period, *, now: dt.datetime, department_id: int | None = None) -> Report:
    """All figures for ``period``, per department and in total (one query per source)."""
    by: dict[int | None, Figures] = defaultdict(Figures)
    scope: dict[str, Any] = {} if department_id is None else {"department_id": department_id}

    def rows(query: Any, *aggregates: str) -> Any:
        return query.group_by("department_id").values("department_id", *aggregates)

    for r in await rows(
        Ticket.filter(**_in("created_at", period), **scope).annotate(n=Count("id")), "n"
    ):
        by[r["department_id"]].received += r["n"]

    # A request the enterprise withdrew is no department's response to measure.
    dispatched = Ticket.filter(
        **_in("dispatched_at", period), **scope, status__not=TicketStatus.CANCELLED
    ).annotate(
        n=Count("id"),
        ok=Count("id", _filter=Q(claimed_at__lte=F("response_due_at"))),
    )
    for r in await rows(dispatched, "n", "ok"):
        f = by[r["department_id"]]
        f.dispatched += r["n"]
        f.responded += r["ok"]

    claimed = Ticket.filter(**_in("claimed_at", period), **scope).annotate(
        n=Count("id"), hours=Avg("claim_hours")
    )
    for r in await rows(claimed, "n", "hours"):
        f = by[r["department_id"]]
        f.claimed += r["n"]
        f.claim_hours_sum += float(r["hours"] or 0) * r["n"]

    resolved = Ticket.filter(
        **_in("resolved_at", period), **scope, status__not=TicketStatus.CANCELLED
    ).annotate(
        n=Count("id"),
        ok=Count("id", _filter=Q(resolved_at__lte=F("due_at"))),
        hours=Avg("resolve_hours"),
    )
    for r in await rows(resolved, "n", "ok", "hours"):
        f = by[r["department_id"]]
        f.resolved += r["n"]
        f.resolved_on_time += r["ok"]
        f.resolve_hours_sum += float(r["hours"] or 0) * r["n"]

    late = Ticket.filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gt=F("due_at")),
        **_in("due_at", period),
        **scope,
        status__not=TicketStatus.CANCELLED,
    ).annotate(n=Count("id"))
    for r in await rows(late, "n"):
        by[r["department_id"]].overdue += r["n"]
    if period.end > now:
        open_late = Ticket.filter(
            status__in=list(OPEN_STATUSES), due_at__lt=now, **scope
        ).annotate(n=Count("id"))
        for r in await rows(open_late, "n"):
            by[r["department_id"]].open_overdue += r["n"]

    events = (
        TicketEvent.filter(
            **_in("at", period),
            **scope,
            action__in=["rate", "reopen", "return", "transfer", "supervise"],
        )
        .annotate(n=Count("id"))
        .group_by("department_id", "action", "note")
        .values("department_id", "action", "note", "n")
    )
    for r in await events:
        f = by[r["department_id"]]
        action, n = r["action"], r["n"]
        if action == "rate":
            attr = {
                "s1": "solved_yes",
                "s0": "solved_no",
                "m3": "satisfied",
                "m2": "basically",
                "m1": "unsatisfied",
            }.get(r["note"])
            if attr:
                setattr(f, attr, getattr(f, attr) + n)
        elif action == "reopen":
            f.reopened += n
        elif action == "return":
            f.returned += n
        elif action == "transfer":
            f.transferred += n
        else:
            f.supervised += n

    total = Figures()
    for f in by.values():
        total.add(f)
    return Report(period=period, total=total, by_department=dict(by))


@dataclass(frozen=True)
class Ranked:
    code: str
    name: str
    figures: Figures
    score: float | None


def _score(f: Figures) -> float | None:
    """The league score: the mean of the three rates a department has data for (三率)."""
    rates = [r for r in (f.response_rate, f.resolution_rate, f.satisfaction_rate) if r is not None]
    return sum(rates) / len(rates) if rates else None


async def league(report: Report) -> list[Ranked]:
    """Departments ranked by 三率 (mean of 响应率, 解决率, 满意率), then 按时办结率, then volume.

    Departments without any ticket in the period are listed last, unranked.
    """
    rows = []
    for dept in await Department.filter(active=True):
        f = report.by_department.get(dept.id, Figures())
        rows.append(Ranked(dept.code, dept.short, f, _score(f)))
    rows.sort(
        key=lambda r: (
            r.score is None,
            -(r.score or 0),
            -(r.figures.on_time_rate or 0),
            -r.figures.dispatched,
            r.code,
        )
    )
    return rows


# ---------------------------------------------------------------- the admin dashboard


@dataclass(frozen=True)
class Dashboard:
    """What the admin dashboard shows, for the whole hotline or for one department."""

    today: Report
    month: Report
    league: list[Ranked]  # this month's table; only the department's own row when scoped
    open_by_code: dict[str, int]  # open tickets per department code (a code absent: none)
    open_total: int  # open tickets in scope, those without a department (triage) included
    triage_waiting: int | None  # tickets waiting for dispatch; None when scoped to a department


async def dashboard_figures(
    *, now: dt.datetime, tz: ZoneInfo, department: Department | None = None
) -> Dashboard:
    """Today's and this month's figures, the league and the open tickets, for the dashboard.

    Args:
        now: the current moment; "today" and "this month" are taken in ``tz``.
        tz: the desk's time zone.
        department: only this department's tickets and league row; all when None.

    Returns:
        The dashboard's figures.
    """
    department_id = department.id if department is not None else None
    today = await compute(
        parse_period("today", now=now, tz=tz), now=now, department_id=department_id
    )
    month = await compute(
        parse_period("month", now=now, tz=tz), now=now, department_id=department_id
    )
    table = await league(month)
    if department is not None:
        table = [r for r in table if r.code == department.code]
    open_query = Ticket.filter(status__in=list(OPEN_STATUSES))
    if department_id is not None:
        open_query = open_query.filter(department_id=department_id)
    open_counts = {
        r["department_id"]: r["n"]
        for r in await open_query.annotate(n=Count("id"))
        .group_by("department_id")
        .values("department_id", "n")
    }
    codes = {d.id: d.code for d in await Department.all()}
    triage_waiting = (
        await Ticket.filter(status=TicketStatus.TRIAGE).count() if department is None else None
    )
    return Dashboard(
        today=today,
        month=month,
        league=table,
        open_by_code={codes[i]: n for i, n in open_counts.items() if i in codes},
        open_total=sum(open_counts.values()),
        triage_waiting=triage_waiting,
    )


@dataclass(frozen=True)
class Trend:
    """Tickets received and resolved per local day, oldest day first."""

    days: list[dt.date]
    received: list[int]
    resolved: list[int]


async def intake_trend(
    *, now: dt.datetime, tz: ZoneInfo, days: int, department_id: int | None = None
) -> Trend:
    """Tickets received and resolved per local day over the last ``days`` days, today last.

    One grouped query per series, whatever the number of days.

    Args:
        now: the current moment; it fixes "today" in ``tz``.
        tz: the desk's time zone: each day runs from one local midnight to the next.
        days: how many days, today included.
        department_id: only this department's tickets; all tickets when None.

    Returns:
        The days with the tickets created (received) and resolved on each.
    """
    today = now.astimezone(tz).date()
    dates = [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
    # In UTC: SQLite keeps times as UTC text and compares text, so a +08:00 boundary would
    # cut the day at 08:00 local time there (PostgreSQL compares instants either way).
    bounds = [local_midnight(day, tz) for day in [*dates, today + dt.timedelta(days=1)]]
    scope: dict[str, Any] = {} if department_id is None else {"department_id": department_id}
    return Trend(
        days=dates,
        received=await _per_day("created_at", bounds, scope),
        resolved=await _per_day("resolved_at", bounds, scope),
    )


async def _per_day(column: str, bounds: list[dt.datetime], scope: dict[str, Any]) -> list[int]:
    """Tickets with ``column`` in each ``[bounds[i], bounds[i + 1])``, in one grouped query.

    A row's day is a ``CASE`` over the boundaries (local midnights, computed here), so the
    query needs no date or time-zone function of the database: it reads the same on SQLite and
    PostgreSQL and compares exactly as one range filter per day would.
    """
    whens = []
    for i, end in enumerate(bounds[1:]):
        before: dict[str, Any] = {f"{column}__lt": end}
        whens.append(When(then=str(i), **before))  # the first WHEN that holds names the day
    rows = (
        await Ticket.filter(**{f"{column}__gte": bounds[0], f"{column}__lt": bounds[-1]}, **scope)
        .annotate(day=Case(*whens), n=Count("id"))
        .group_by("day")
        .values("day", "n")
    )
    counts = [0] * (len(bounds) - 1)
    for r in rows:
        counts[int(r["day"])] = int(r["n"])
    return counts
