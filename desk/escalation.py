"""Reminders and the escalation ladder: 催办 → 会商 → 专题会 → 领导小组.

``scan`` is one pass over the open tickets at a given moment (an injected clock in tests, the
scheduler in ``desk run``, ``desk sla scan`` by hand). Every step is recorded as an ``SlaMark``
(unique per ticket and key) in the same transaction as its event and its outbox messages, so
two schedulers never send the same step twice: the second one's insert fails and its
transaction rolls back.

Catch-up after downtime: of the deadline warnings (50 %, 80 %, 2 working hours before) only the
latest that still matters is sent, the others are recorded silently; every escalation rung that
was passed is recorded and announced once, in order.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError

from models.department import TRIAGE_CODE, Department
from models.sla import ExtensionRequest, SlaMark
from models.system import ProcessedUpdate
from models.ticket import Ticket, TicketEvent, TicketStatus

from .actors import Actor
from .context import DeskConfig
from .db import atomic
from .errors import InvalidInput, NotAllowed, NotFound
from .notify import enqueue, fmt_deadline, group_chat, ticket_params
from .tickets import record_event
from .worktime import missing_years

log = logging.getLogger(__name__)

WARNINGS = (("w50", "已用时过半"), ("w80", "已用时80%"), ("w2h", "距截止不足2个工作小时"))
RUNGS = (
    ("urge", 0, "催办"),
    ("consult", 1, "会商"),
    ("topic", 2, "专题会"),
    ("leaders", 3, "领导小组"),
)
LEVEL_NAMES = {0: "部门办理", 1: "会商", 2: "专题会", 3: "领导小组"}
TWO_HOURS = 2 * 3600.0
ACTIVE = (TicketStatus.DISPATCHED, TicketStatus.CLAIMED, TicketStatus.REOPENED)


@dataclass
class Action:
    """What a scan did (or would do) to one ticket."""

    ref: str
    step: str
    label: str
    sent: bool = True
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        quiet = "" if self.sent else "（补记，不发送）"
        return f"{self.ref} {self.label}{quiet}"


class _Rollback(Exception):
    pass


def _cycle(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M") if moment else "-"


def rung_times(cfg: DeskConfig, due: dt.datetime) -> list[tuple[str, int, str, dt.datetime]]:
    """When each rung of the ladder is reached for a resolution deadline ``due``."""
    cal = cfg.calendar
    consult = cal.add_working_time(due, days=cfg.consult_after_days).at
    topic = cal.add_working_time(consult, days=cfg.escalate_after_days).at
    leaders = cal.add_working_time(topic, days=cfg.escalate_after_days).at
    times = (due, consult, topic, leaders)
    return [(key, level, label, at) for (key, level, label), at in zip(RUNGS, times, strict=True)]


async def scan(
    cfg: DeskConfig, *, now: dt.datetime | None = None, dry_run: bool = False
) -> list[Action]:
    """One pass: warnings, nudges and escalation for every open ticket, as of ``now``."""
    now = now or cfg.now()
    actions: list[Action] = []
    tickets = await Ticket.filter(status__in=ACTIVE).prefetch_related(
        "department", "member", "enterprise"
    )
    for listed in tickets:
        try:
            async with atomic():
                # Re-read under a row lock: the ticket may have been resolved, paused,
                # transferred or extended since the listing. SKIP LOCKED (PostgreSQL): a ticket
                # someone is acting on right now is left for the next pass, not waited for.
                ticket = (
                    await Ticket.filter(id=listed.id, status__in=ACTIVE)
                    .select_for_update(skip_locked=True)
                    .first()
                )
                if ticket is None:
                    continue
                await ticket.fetch_related("department", "member", "enterprise")
                found = await _scan_ticket(cfg, ticket, now)
                if dry_run and found:
                    actions.extend(found)
                    raise _Rollback
        except _Rollback:
            continue
        except IntegrityError:
            # Another scheduler recorded this step first; its messages are the ones sent.
            log.info("sla step of %s already taken by another process", listed.ref)
            continue
        actions.extend(found)
    return actions


async def _mark(ticket: Ticket, key: str) -> None:
    await SlaMark.create(ticket_id=ticket.id, key=key)


async def _scan_ticket(cfg: DeskConfig, ticket: Ticket, now: dt.datetime) -> list[Action]:
    marks = set(await SlaMark.filter(ticket_id=ticket.id).values_list("key", flat=True))
    actions: list[Action] = []
    dept_chat = await group_chat(ticket.department.code) if ticket.department else None
    params = await ticket_params(ticket, tz=cfg.tz)

    # An unclaimed ticket is nudged once its response target passes.
    unclaimed = ticket.status in (TicketStatus.DISPATCHED, TicketStatus.REOPENED)
    if unclaimed and ticket.response_due_at and now >= ticket.response_due_at:
        key = f"respond@{_cycle(ticket.response_due_at)}"
        if key not in marks:
            await _mark(ticket, key)
            if dept_chat is not None:
                await enqueue(
                    chat_id=dept_chat,
                    kind="sla_nudge",
                    ticket_id=ticket.id,
                    params={
                        **params,
                        "respond_by": fmt_deadline(ticket.response_due_at, cfg.tz),
                        "reply_role": "card",
                    },
                )
            actions.append(Action(ticket.ref, "respond", "响应超时提醒"))

    due = ticket.due_at
    if due is None:
        return actions
    cycle = _cycle(due)
    if now < due:
        # Warnings belong to a clock: a reopen or an approved extension starts a new one, a
        # pause and resume does not (the same clock, moved).
        extensions = await ExtensionRequest.filter(ticket_id=ticket.id, status="approved").count()
        clock = f"r{ticket.reopen_count}e{extensions}"
        start = ticket.sla_start_at or ticket.created_at
        total = cfg.calendar.working_seconds_between(start, due)
        elapsed = cfg.calendar.working_seconds_between(start, now)
        remaining = cfg.calendar.working_seconds_between(now, due)
        crossed = []
        if total > 0 and elapsed >= 0.5 * total:
            crossed.append("w50")
        if total > 0 and elapsed >= 0.8 * total:
            crossed.append("w80")
        if remaining <= TWO_HOURS:
            crossed.append("w2h")
        pending = [s for s in crossed if f"{s}@{clock}" not in marks]
        for step in pending:
            await _mark(ticket, f"{step}@{clock}")
        if pending:
            latest = pending[-1]
            label = dict(WARNINGS)[latest]
            # Only the latest warning that still matters is sent; earlier ones are only noted.
            if latest == crossed[-1] and dept_chat is not None:
                await enqueue(
                    chat_id=dept_chat,
                    kind="sla_warn",
                    ticket_id=ticket.id,
                    params={**params, "label": label, "reply_role": "card"},
                )
            actions.extend(
                Action(ticket.ref, s, dict(WARNINGS)[s], sent=s == latest) for s in pending
            )
        return actions

    # Overdue: every rung passed is recorded and announced once, in order.
    for key, level, label, at in rung_times(cfg, due):
        if now < at:
            break
        mark = f"{key}@{cycle}"
        if mark in marks:
            continue
        await _mark(ticket, mark)
        if level and level <= ticket.escalation_level:
            # Reached by hand already (/escalate): recorded, not announced a second time.
            actions.append(Action(ticket.ref, key, label, sent=False))
            continue
        await _announce(
            cfg,
            ticket,
            key=key,
            level=level,
            label=label,
            due=due,
            params=params,
            dept_chat=dept_chat,
            actor=Actor.system(),
            reason="超过办理时限",
        )
        actions.append(Action(ticket.ref, key, label))
    return actions


async def _involved(ticket: Ticket) -> list[str]:
    """Departments that handled the ticket: the lead one and every transfer or return."""
    codes: list[str] = []
    for event in await TicketEvent.filter(
        ticket_id=ticket.id, action__in=["create", "dispatch", "transfer", "return"]
    ):
        for k in ("from", "to", "department"):
            code = (event.data or {}).get(k)
            if isinstance(code, str) and code not in codes:
                codes.append(code)
    if ticket.department and ticket.department.code not in codes:
        codes.insert(0, ticket.department.code)
    return codes


async def _announce(
    cfg: DeskConfig,
    ticket: Ticket,
    *,
    key: str,
    level: int,
    label: str,
    due: dt.datetime,
    params: dict[str, Any],
    dept_chat: int | None,
    actor: Actor,
    reason: str,
) -> None:
    """Record the step (event, level) and write its messages to the outbox."""
    if level > ticket.escalation_level:
        await Ticket.filter(id=ticket.id).update(escalation_level=level)
        ticket.escalation_level = level
    times = {k: at for k, _, _, at in rung_times(cfg, due)}
    codes = await _involved(ticket)
    names = {d.code: d.short for d in await Department.filter(code__in=codes)}
    record = {
        **params,
        "step": key,
        "label": label,
        "level": level,
        "level_name": LEVEL_NAMES[level],
        "reason": reason,
        "overdue_since": fmt_deadline(due, cfg.tz),
        "departments": codes,
        "department_names": [names.get(c, c) for c in codes],
        "next_deadline": fmt_deadline(
            times.get(
                {"urge": "consult", "consult": "topic", "topic": "leaders"}.get(key, ""), None
            ),
            cfg.tz,
        )
        if key != "leaders"
        else "—",
    }
    await record_event(
        ticket,
        actor,
        "escalate" if level else "urge",
        note=f"{label}：{reason}",
        data={"step": key, "level": level},
    )
    if key == "urge":
        if dept_chat is not None:
            await enqueue(
                chat_id=dept_chat,
                kind="sla_urge",
                ticket_id=ticket.id,
                params={**record, "reply_role": "card"},
            )
        leader = ticket.department.leader_user_id if ticket.department else None
        if leader:
            await enqueue(chat_id=leader, kind="sla_urge", ticket_id=ticket.id, params=record)
        return
    if key == "consult":
        esb = await group_chat("ESB") or await group_chat(TRIAGE_CODE)
        if esb is not None:
            await enqueue(chat_id=esb, kind="sla_consult", ticket_id=ticket.id, params=record)
        if dept_chat is not None and dept_chat != esb:
            await enqueue(
                chat_id=dept_chat,
                kind="sla_level",
                ticket_id=ticket.id,
                params={**record, "reply_role": "card"},
            )
        return
    managers = await group_chat(TRIAGE_CODE)
    if managers is not None:
        await enqueue(chat_id=managers, kind="sla_agenda", ticket_id=ticket.id, params=record)
    for admin in sorted(cfg.admin_ids):
        await enqueue(chat_id=admin, kind="sla_agenda", ticket_id=ticket.id, params=record)
    if dept_chat is not None:
        await enqueue(
            chat_id=dept_chat,
            kind="sla_level",
            ticket_id=ticket.id,
            params={**record, "reply_role": "card"},
        )


async def escalate_by_hand(cfg: DeskConfig, *, actor: Actor, ref: str, reason: str) -> str:
    """A manager lifts a ticket to the next rung now (``/escalate REF 原因``)."""
    if not cfg.is_admin(actor.user_id):
        raise NotAllowed("只有管理员可以手动升级工单。")
    reason = reason.strip() or "管理员手动升级"
    async with atomic():
        ticket = await Ticket.filter(ref=ref.upper()).select_for_update().first()
        if ticket is None:
            raise NotFound(f"找不到工单 {ref}。")
        await ticket.fetch_related("department", "member", "enterprise")
        if ticket.status not in (*ACTIVE, TicketStatus.WAITING):
            raise InvalidInput("只能升级办理中的工单。")
        level = ticket.escalation_level + 1
        if level > 3:
            raise InvalidInput("工单已在领导小组层级，不能再升级。")
        key, _, label = RUNGS[level]
        now = cfg.now()
        await SlaMark.create(ticket_id=ticket.id, key=f"manual{level}@{_cycle(now)}")
        dept_chat = await group_chat(ticket.department.code) if ticket.department else None
        params = await ticket_params(ticket, tz=cfg.tz)
        await _announce(
            cfg,
            ticket,
            key=key,
            level=level,
            label=label,
            due=ticket.due_at or now,
            params=params,
            dept_chat=dept_chat,
            actor=actor,
            reason=reason,
        )
        return f"{ticket.ref} 已升级至{label}"


async def warn_missing_calendar(cfg: DeskConfig, *, now: dt.datetime | None = None) -> list[int]:
    """From 1 December, tell the hotline office once a day which year lacks calendar data."""
    now = now or cfg.now()
    today = now.astimezone(cfg.tz).date()
    years = missing_years(cfg.calendar, today)
    chat = await group_chat(TRIAGE_CODE)
    if not years or chat is None:
        return years
    async with atomic():
        _, created = await ProcessedUpdate.get_or_create(key=f"calendar:{today.isoformat()}")
        if created:
            await enqueue(
                chat_id=chat,
                kind="calendar_missing",
                params={"years": years, "today": today.isoformat()},
            )
    return years
