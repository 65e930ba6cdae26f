"""Changes to the desk's configuration made by a person (the admin web): routing rules, SLA
policies and the working-day calendar.

Each function checks its input first (nothing changes on bad input; a Chinese
:class:`~desk.errors.InvalidInput` says what is wrong), then makes the change and records one
audit entry (:mod:`desk.audit`) in the same transaction. Reloading what a running process keeps
in memory (the router, the calendar) is the caller's job, after the commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tortoise.exceptions import IntegrityError

from models.calendar import CalendarDay
from models.department import Department
from models.routing import RoutingRule
from models.sla import SlaPolicy

from . import audit, routing, sla, worktime
from .audit import Editor
from .db import atomic
from .errors import InvalidInput, NotFound

MAX_DAY_NAME = 64
_SAME_ROW = "时限设置有误：\n已有一条相同的规则，请刷新页面后修改那一条。"
FIRST_YEAR, LAST_YEAR = 2000, 2100


# ---------------------------------------------------------------- routing rules


async def save_rule(*, editor: Editor, code: str, texts: dict[str, str]) -> dict[str, Any]:
    """Replace one department's rule with what was typed in the editing boxes.

    Args:
        editor: who saves.
        code: the department code (an existing rule row).
        texts: the boxes' text per :data:`desk.routing.SECTIONS`.

    Returns:
        What changed per section (empty when nothing did; then nothing is written).

    Raises:
        NotFound: no rule for ``code``.
        InvalidInput: the text has problems (listed).
    """
    current = await routing.department_rule(code=code)
    spec = routing.spec_from_text(base=current.spec, texts=texts)
    async with atomic():
        row = await RoutingRule.filter(id=current.id).select_for_update().first()
        if row is None:
            raise NotFound(f"没有部门“{code}”的分拨规则。")
        diff = routing.spec_diff(row.spec, spec)
        if not diff:
            return {}
        row.spec, row.source, row.updated_by = spec, "admin", editor.name
        await row.save()
        await audit.log(editor, "rule.update", code, diff)
    return diff


# ---------------------------------------------------------------- SLA policies


async def _check_policy(policy: sla.PolicyInput, *, exclude_id: int | None) -> None:
    code = policy.department_code
    if code is not None and not await Department.exists(code=code):
        raise InvalidInput(f"时限设置有误：\n部门“{code}”不存在。")
    clash = SlaPolicy.filter(type=policy.type, urgent=policy.urgent, department_code=code)
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        where = f"部门 {code}" if code else "通用"
        raise InvalidInput(
            f"时限设置有误：\n已有一条相同的规则（{where}，{policy.type}，"
            f"{'紧急' if policy.urgent else '一般'}），请直接修改那一条。"
        )


async def create_policy(*, editor: Editor, policy: sla.PolicyInput) -> SlaPolicy:
    """Add a policy (a general one, or a department's override).

    Raises:
        InvalidInput: unknown department, or the same type/urgency/department exists.
    """
    try:
        async with atomic():
            await _check_policy(policy, exclude_id=None)
            row = await SlaPolicy.create(**policy.as_fields())
            await audit.log(editor, "sla.create", f"#{row.id}", {"after": policy.as_fields()})
    except IntegrityError:  # the same row added at the same moment by someone else
        raise InvalidInput(_SAME_ROW) from None
    return row


async def update_policy(*, editor: Editor, policy_id: int, policy: sla.PolicyInput) -> SlaPolicy:
    """Change a policy.

    Raises:
        NotFound: no such policy.
        InvalidInput: unknown department, or another row has the same type/urgency/department.
    """
    async with atomic():
        row = await SlaPolicy.get_or_none(id=policy_id)
        if row is None:
            raise NotFound("该时限规则不存在（可能已被删除）。")
        await _check_policy(policy, exclude_id=policy_id)
        before = sla.policy_fields(row)
        after = policy.as_fields()
        if before == after:
            return row
        try:
            async with atomic():
                await SlaPolicy.filter(id=policy_id).update(**after)
        except IntegrityError:
            raise InvalidInput(_SAME_ROW) from None
        await audit.log(editor, "sla.update", f"#{policy_id}", {"before": before, "after": after})
        return await SlaPolicy.get(id=policy_id)


async def delete_policy(*, editor: Editor, policy_id: int) -> dict[str, object]:
    """Delete a policy; tickets opened later use the next one that applies (the general row,
    then the built-in default).

    Returns:
        The deleted policy's fields.

    Raises:
        NotFound: no such policy.
    """
    async with atomic():
        row = await SlaPolicy.get_or_none(id=policy_id)
        if row is None:
            raise NotFound("该时限规则不存在（可能已被删除）。")
        before = sla.policy_fields(row)
        await row.delete()
        await audit.log(editor, "sla.delete", f"#{policy_id}", {"before": before})
    return before


# ---------------------------------------------------------------- working-day calendar


def parse_day(text: str) -> dt.date:
    """A date typed as ``YYYY-MM-DD`` (years 2000–2100).

    Raises:
        InvalidInput: not such a date.
    """
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"日期“{text.strip()[:20]}”无效，应为 年-月-日，如 2026-10-10。"
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(f"日期应在 {FIRST_YEAR} 年到 {LAST_YEAR} 年之间。")
    return day


def _day_fields(row: CalendarDay | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "workday": row.workday,
        "kind": str(row.kind),
        "name": row.name,
        "source": str(row.source),
    }


async def set_calendar_day(
    *, editor: Editor, day: dt.date, workday: bool, name: str
) -> CalendarDay:
    """Override one day: a workday (e.g. 调休上班) or a day off, with a name.

    Raises:
        InvalidInput: the name is too long or has line breaks.
    """
    name = name.strip()
    if len(name) > MAX_DAY_NAME:
        raise InvalidInput(f"名称最多 {MAX_DAY_NAME} 个字。")
    if "\n" in name or "\r" in name:
        raise InvalidInput("名称不能换行。")
    async with atomic():
        before = _day_fields(await CalendarDay.get_or_none(day=day))
        row = await worktime.set_day(day, workday=workday, name=name, by=editor.name)
        await audit.log(
            editor,
            "calendar.set",
            day.isoformat(),
            {"before": before, "after": _day_fields(row)},
        )
    return row


async def clear_calendar_day(*, editor: Editor, day: dt.date) -> None:
    """Remove the admin override of one day (the official entry, if any, comes back).

    Raises:
        NotFound: the day has no admin override.
    """
    async with atomic():
        before = _day_fields(await CalendarDay.get_or_none(day=day))
        if not await worktime.clear_day(day):
            raise NotFound(f"{day.isoformat()} 没有管理员设置，无需撤销。")
        after = _day_fields(await CalendarDay.get_or_none(day=day))
        await audit.log(
            editor, "calendar.clear", day.isoformat(), {"before": before, "after": after}
        )
