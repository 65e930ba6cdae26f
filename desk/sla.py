"""SLA policies and deadlines in working time.

Each ticket gets a first-response deadline (claim) and a resolution deadline from the policy of
its request type and urgency (a department may override). Deadlines are computed on the
working-time calendar (holidays, 调休, office hours) and flagged ``estimated`` when a year has no
official calendar data. While a ticket waits for the enterprise the clock is paused; on resume
both deadlines move by the working time that passed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from models.sla import SlaPolicy

from .worktime import WorkCalendar

ONE_DAY_HOURS = 7.0  # one working day of working time (09:00–12:00, 13:30–17:30)


@dataclass(frozen=True)
class Policy:
    """Targets: respond (claim) within ``respond_hours``; resolve within days + hours."""

    respond_hours: float
    respond_clock: bool
    resolve_days: int
    resolve_hours: float = 0.0

    def describe(self) -> str:
        respond = (
            f"{self.respond_hours:g}小时"
            if self.respond_clock
            else (
                f"{self.respond_hours / ONE_DAY_HOURS:g}个工作日"
                if self.respond_hours % ONE_DAY_HOURS == 0
                else f"{self.respond_hours:g}个工作小时"
            )
        )
        resolve = (
            f"{self.resolve_days}个工作日"
            if self.resolve_days
            else f"{self.resolve_hours / ONE_DAY_HOURS:g}个工作日"
        )
        return f"响应{respond}，办结{resolve}"


# Chinese hotline practice (12345-style): 咨询 4 working hours / 2 working days; 求助 and 建议
# one working day / 10; 投诉 and 举报 one / 15; urgent: 2 clock hours / one working day.
DEFAULTS: dict[tuple[str, bool], Policy] = {
    ("咨询", False): Policy(4, False, 2),
    ("求助", False): Policy(ONE_DAY_HOURS, False, 10),
    ("建议", False): Policy(ONE_DAY_HOURS, False, 10),
    ("表扬", False): Policy(ONE_DAY_HOURS, False, 10),
    ("投诉", False): Policy(ONE_DAY_HOURS, False, 15),
    ("举报", False): Policy(ONE_DAY_HOURS, False, 15),
    ("*", True): Policy(2, True, 0, ONE_DAY_HOURS),
}


async def seed_policies() -> int:
    """Write the default policies (general rows, no department); keep edited ones."""
    created = 0
    for (type_, urgent), p in DEFAULTS.items():
        _, was_created = await SlaPolicy.get_or_create(
            type=type_,
            urgent=urgent,
            department_code=None,
            defaults={
                "respond_hours": p.respond_hours,
                "respond_clock": p.respond_clock,
                "resolve_days": p.resolve_days,
                "resolve_hours": p.resolve_hours,
            },
        )
        created += was_created
    return created


async def policy_for(*, type: str, urgent: bool, department: str | None) -> Policy:
    """The policy that applies: department row over general row over the built-in default."""
    rows = await SlaPolicy.filter(type__in=[type, "*"], urgent=urgent)

    def rank(row: SlaPolicy) -> tuple[int, int]:
        return (row.department_code == department, row.type == type)

    usable = [r for r in rows if r.department_code in (None, department)]
    if usable:
        best = max(usable, key=rank)
        return Policy(
            best.respond_hours, best.respond_clock, best.resolve_days, best.resolve_hours
        )
    return DEFAULTS.get((type, urgent)) or DEFAULTS.get(("*", urgent)) or DEFAULTS[("求助", False)]


@dataclass(frozen=True)
class Deadlines:
    respond: dt.datetime
    resolve: dt.datetime
    estimated: bool


def deadlines(cal: WorkCalendar, *, start: dt.datetime, policy: Policy) -> Deadlines:
    """Both deadlines for a ticket whose clock starts at ``start``."""
    if policy.respond_clock:
        respond, est1 = start + dt.timedelta(hours=policy.respond_hours), False
    else:
        r = cal.add_working_time(start, hours=policy.respond_hours)
        respond, est1 = r.at, r.estimated
    d = cal.add_working_time(start, days=policy.resolve_days, hours=policy.resolve_hours)
    return Deadlines(respond=respond, resolve=d.at, estimated=est1 or d.estimated)


def shift(
    cal: WorkCalendar, moment: dt.datetime | None, *, working_seconds: float
) -> dt.datetime | None:
    """``moment`` moved later by an amount of working time (the clock was paused)."""
    if moment is None or working_seconds <= 0:
        return moment
    return cal.add_working_time(moment, hours=working_seconds / 3600).at


def end_of_day(cal: WorkCalendar, day: dt.date) -> dt.datetime:
    """The end of office hours on ``day`` (an extension's new deadline), in UTC."""
    office = cal.office
    local = dt.datetime.combine(day, office.day_end, tzinfo=office.zone)
    return local.astimezone(dt.UTC)
