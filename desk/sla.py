"""SLA policies and deadlines in working time.

Each ticket gets a first-response deadline (claim) and a resolution deadline from the policy of
its request type and urgency (a department may override). Deadlines are computed on the
working-time calendar (holidays, 调休, office hours) and flagged ``estimated`` when a year has no
official calendar data. While a ticket waits for the enterprise the clock is paused; on resume
both deadlines move by the working time that passed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from models.sla import SlaPolicy
from nlp import REQUEST_TYPES

from .errors import InvalidInput
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
    # Read on every new ticket: plain tuples of the columns used, no model instances.
    rows = await SlaPolicy.filter(type__in=[type, "*"], urgent=urgent).values_list(
        "department_code",
        "type",
        "respond_hours",
        "respond_clock",
        "resolve_days",
        "resolve_hours",
    )

    def rank(row: tuple[Any, ...]) -> tuple[bool, bool]:
        return (row[0] == department, row[1] == type)

    usable = [r for r in rows if r[0] in (None, department)]
    if usable:
        _, _, respond_hours, respond_clock, resolve_days, resolve_hours = max(usable, key=rank)
        return Policy(respond_hours, respond_clock, resolve_days, resolve_hours)
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


# -- editing the policies (admin web) ---------------------------------------------------------

ANY_TYPE = "*"
POLICY_TYPES: tuple[str, ...] = (ANY_TYPE, *REQUEST_TYPES)
MAX_RESPOND_HOURS = 720.0
MAX_RESOLVE_DAYS = 365
MAX_RESOLVE_HOURS = 70.0


@dataclass(frozen=True)
class PolicyInput:
    """A policy as an administrator entered it, checked (see :func:`parse_policy`)."""

    type: str
    urgent: bool
    department_code: str | None
    respond_hours: float
    respond_clock: bool
    resolve_days: int
    resolve_hours: float

    def as_fields(self) -> dict[str, Any]:
        """The model fields, for ``SlaPolicy`` and for the audit log."""
        return {
            "type": self.type,
            "urgent": self.urgent,
            "department_code": self.department_code,
            "respond_hours": self.respond_hours,
            "respond_clock": self.respond_clock,
            "resolve_days": self.resolve_days,
            "resolve_hours": self.resolve_hours,
        }


def policy_fields(row: SlaPolicy) -> dict[str, object]:
    """A stored policy's fields (the audit log's before/after)."""
    return {
        "type": row.type,
        "urgent": row.urgent,
        "department_code": row.department_code,
        "respond_hours": row.respond_hours,
        "respond_clock": row.respond_clock,
        "resolve_days": row.resolve_days,
        "resolve_hours": row.resolve_hours,
    }


def _number(text: str, label: str, problems: list[str]) -> float | None:
    text = text.strip()
    if not text:
        problems.append(f"请填写{label}。")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{label}“{text}”不是数字。")
        return None
    if not math.isfinite(value):
        problems.append(f"{label}“{text}”不是有效数字。")
        return None
    return value


def parse_policy(
    *,
    type: str,
    urgent: bool,
    department_code: str,
    respond_hours: str,
    respond_clock: bool,
    resolve_days: str,
    resolve_hours: str,
) -> PolicyInput:
    """Check a policy typed into a form (numbers as text). ``department_code`` "" means the
    general policy; whether the department exists is the caller's check (it needs the
    database).

    Raises:
        InvalidInput: the message lists every problem, in Chinese.
    """
    problems: list[str] = []
    if type not in POLICY_TYPES:
        problems.append(f"诉求类型“{type}”无效，应为 {'、'.join(POLICY_TYPES)} 之一。")
    respond = _number(respond_hours, "响应时限（小时）", problems)
    if respond is not None and not 0 < respond <= MAX_RESPOND_HOURS:
        problems.append(f"响应时限应大于 0 小时、不超过 {MAX_RESPOND_HOURS:g} 小时。")
    days_value = _number(resolve_days or "0", "办结时限（工作日）", problems)
    days = 0
    if days_value is not None:
        if not days_value.is_integer() or not 0 <= days_value <= MAX_RESOLVE_DAYS:
            problems.append(f"办结工作日应为 0 到 {MAX_RESOLVE_DAYS} 之间的整数。")
        else:
            days = int(days_value)
    extra = _number(resolve_hours or "0", "办结附加工作小时", problems)
    if extra is not None and not 0 <= extra <= MAX_RESOLVE_HOURS:
        problems.append(f"办结附加工作小时应在 0 到 {MAX_RESOLVE_HOURS:g} 之间。")
    if days_value is not None and extra is not None and days == 0 and extra == 0 and not problems:
        problems.append("办结时限不能为 0：请填写工作日或工作小时。")
    code = department_code.strip()
    if len(code) > 16:
        problems.append("部门代码过长。")
    if problems:
        raise InvalidInput("时限设置有误：\n" + "\n".join(problems))
    assert respond is not None and extra is not None
    return PolicyInput(
        type=type,
        urgent=urgent,
        department_code=code or None,
        respond_hours=respond,
        respond_clock=respond_clock,
        resolve_days=days,
        resolve_hours=extra,
    )


async def list_policies() -> list[SlaPolicy]:
    """Every stored policy: the general ones first, then each department's overrides."""
    rows = await SlaPolicy.all()
    order = {t: i for i, t in enumerate(POLICY_TYPES)}
    rows.sort(
        key=lambda r: (
            r.department_code is not None,
            r.department_code or "",
            r.urgent,
            order.get(r.type, 99),
        )
    )
    return rows


def describe_row(row: SlaPolicy) -> str:
    """A stored policy in words, e.g. ``响应4个工作小时，办结2个工作日``."""
    return Policy(
        row.respond_hours, row.respond_clock, row.resolve_days, row.resolve_hours
    ).describe()
