"""The managers' view in the chat: roles, figures, overdue lists with 督办, timelines, briefings.

Managers are users an admin granted the ``manager`` role (``/grant manager`` in reply to them);
admins count as managers. Every function here checks the role first, so a hidden command is not
the only guard. Answers go through the outbox like everything else. Figures come from
``desk.stats`` (SQL aggregates); the monthly briefing is built by a background worker from a
stored ``ReportJob`` (building takes seconds and must not hold up other updates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from tortoise.exceptions import IntegrityError

from models.department import TRIAGE_CODE, Department
from models.staff import ROLE_LABELS, Role, RoleGrant
from models.system import ReportJob
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent

from . import audit, liaison, stats
from .actors import Actor
from .context import DeskConfig
from .db import atomic, claim_rows
from .errors import Conflict, InvalidInput, NotAllowed, NotFound
from .notify import enqueue, fmt_deadline, group_chat
from .tickets import record_event
from .workflow import ACTION_LABELS, STATUS_LABELS, check

OVERDUE_LIST_MAX = 20
SOON_HOURS = 24  # "soon due": within this many hours (calendar time)

EVENT_LABELS = {
    **ACTION_LABELS,
    "create": "受理",
    "urge": "催办",
    "escalate": "升级",
    "extend_request": "申请延期",
    "extend": "延期",
    "extension": "延期审批",
}


# ---------------------------------------------------------------- roles


async def is_manager(cfg: DeskConfig, user_id: int | None) -> bool:
    if user_id is None:
        return False
    if cfg.is_admin(user_id):
        return True
    return await RoleGrant.exists(user_id=user_id, role=Role.MANAGER)


async def require_manager(cfg: DeskConfig, actor: Actor) -> None:
    if not await is_manager(cfg, actor.user_id):
        raise NotAllowed("此功能仅限热线办管理人员使用；如需开通，请联系管理员。")


def _role(word: str) -> Role:
    try:
        return Role(word.strip().lower())
    except ValueError:
        names = "、".join(r.value for r in Role)
        raise InvalidInput(f"没有「{word}」这个角色；可授予的角色：{names}。") from None


async def grant(cfg: DeskConfig, *, actor: Actor, role: str, user_id: int, name: str) -> None:
    """An admin grants ``role`` to a user (``/grant manager`` in reply to their message)."""
    assert actor.chat_id is not None
    if not cfg.is_admin(actor.user_id):
        raise NotAllowed("只有管理员可以授予角色。")
    granted = _role(role)
    # A liaison officer belongs to the department of the group where the role is granted.
    dept = await liaison.grant_department(actor.chat_id) if granted == Role.LIAISON else None
    async with atomic():
        try:
            async with atomic():
                await RoleGrant.create(
                    user_id=user_id,
                    role=granted,
                    name=name[:128],
                    granted_by=actor.user_id,
                    department_code=dept,
                )
                await audit.record(
                    at=cfg.now(),
                    actor=f"{actor.name}（Telegram {actor.user_id}）",
                    role="admin",
                    action="role.grant",
                    target=f"{name}（Telegram {user_id}）",
                    data={"role": granted.value, "via": "telegram"}
                    | ({"department_code": dept} if dept else {}),
                )
            message = f"已授予 {name} {ROLE_LABELS[granted]}（{granted.value}）角色。"
            if dept:
                message += f"所属部门：{dept}。请其私聊机器人发送 /liaison 报送每月信息。"
        except IntegrityError:
            message = f"{name} 已是{ROLE_LABELS[granted]}，无需重复授予。"
        await enqueue(chat_id=actor.chat_id, kind="info", params={"message": message})


async def revoke(cfg: DeskConfig, *, actor: Actor, role: str, user_id: int, name: str) -> None:
    assert actor.chat_id is not None
    if not cfg.is_admin(actor.user_id):
        raise NotAllowed("只有管理员可以收回角色。")
    revoked = _role(role)
    async with atomic():
        gone = await RoleGrant.filter(user_id=user_id, role=revoked).delete()
        if gone:
            await audit.record(
                at=cfg.now(),
                actor=f"{actor.name}（Telegram {actor.user_id}）",
                role="admin",
                action="role.revoke",
                target=f"{name}（Telegram {user_id}）",
                data={"role": revoked.value, "via": "telegram"},
            )
        message = (
            f"已收回 {name} 的{ROLE_LABELS[revoked]}角色。"
            if gone
            else f"{name} 没有{ROLE_LABELS[revoked]}角色。"
        )
        await enqueue(chat_id=actor.chat_id, kind="info", params={"message": message})


# ---------------------------------------------------------------- figures


async def show_stats(
    cfg: DeskConfig, *, actor: Actor, period: str | None, department: str | None = None
) -> None:
    """``/stats [today|week|month|YYYY-MM]`` (and ``/dept CODE``): counts and rates."""
    assert actor.chat_id is not None
    await require_manager(cfg, actor)
    now = cfg.now()
    p = stats.parse_period(period, now=now, tz=cfg.tz)
    dept = await _dept(department) if department else None
    report = await stats.compute(p, now=now, department_id=dept.id if dept else None)
    params: dict[str, Any] = {
        "label": p.label,
        "scope": dept.name if dept else "全区",
        "figures": report.total.as_dict(),
    }
    if dept is not None:
        open_now = Ticket.filter(department_id=dept.id, status__in=list(OPEN_STATUSES))
        params["open"] = await open_now.count()
        params["open_overdue"] = await open_now.filter(due_at__lt=now).count()
        params["code"] = dept.code
    async with atomic():
        await enqueue(chat_id=actor.chat_id, kind="stats", params=params)


async def show_rank(cfg: DeskConfig, *, actor: Actor, period: str | None) -> None:
    """``/rank [YYYY-MM]``: the department league table (this month by default)."""
    assert actor.chat_id is not None
    await require_manager(cfg, actor)
    now = cfg.now()
    p = stats.parse_period(period or "month", now=now, tz=cfg.tz)
    table = await stats.league(await stats.compute(p, now=now))
    rows = [
        {
            "code": r.code,
            "name": r.name,
            "score": r.score,
            **{k: v for k, v in r.figures.as_dict().items() if k in _RANK_FIELDS},
        }
        for r in table
    ]
    async with atomic():
        await enqueue(chat_id=actor.chat_id, kind="rank", params={"label": p.label, "rows": rows})


_RANK_FIELDS = (
    "dispatched",
    "resolved",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_rate",
    "open_overdue",
)


async def _dept(code: str) -> Department:
    dept = await Department.get_or_none(code=code.strip().upper(), active=True)
    if dept is None:
        raise InvalidInput(f"没有代码为 {code} 的部门；部门代码如 TAX、ENV、MSA。")
    return dept


# ---------------------------------------------------------------- overdue and 督办


async def show_overdue(cfg: DeskConfig, *, actor: Actor) -> None:
    """``/overdue``: open tickets past their deadline or due within a day, each with 督办."""
    assert actor.chat_id is not None
    await require_manager(cfg, actor)
    now = cfg.now()
    soon = now + dt.timedelta(hours=SOON_HOURS)
    query = Ticket.filter(status__in=list(OPEN_STATUSES), due_at__lt=soon)
    total = await query.count()
    overdue = await query.filter(due_at__lt=now).count()
    items = []
    for t in await query.order_by("due_at").limit(OVERDUE_LIST_MAX).prefetch_related("department"):
        assert t.due_at is not None
        late = t.due_at <= now
        hours = (
            cfg.calendar.working_seconds_between(*((t.due_at, now) if late else (now, t.due_at)))
            / 3600
        )
        items.append(
            {
                "ticket_id": t.id,
                "ref": t.ref,
                "department": t.department.short if t.department else "待分拨",
                "status_label": STATUS_LABELS[t.status],
                "deadline": fmt_deadline(t.due_at, cfg.tz),
                "late": late,
                "hours": round(hours, 1),
                "urgent": t.urgent,
                "level": t.escalation_level,
            }
        )
    async with atomic():
        await enqueue(
            chat_id=actor.chat_id,
            kind="overdue_list",
            params={"items": items, "total": total, "overdue": overdue},
        )


async def supervise(cfg: DeskConfig, *, actor: Actor, ticket_id: int) -> str:
    """督办: a supervision notice (督办单) to the department, recorded on the ticket.

    At most once per ticket per day: a second press the same day changes nothing.

    Returns:
        The toast for the button press.
    """
    await require_manager(cfg, actor)
    async with atomic():
        ticket = await Ticket.filter(id=ticket_id).select_for_update().first()
        if ticket is None:
            raise NotFound("找不到该工单。")
        await ticket.fetch_related("department")
        check("supervise", ticket.status)
        now = cfg.now()
        local = now.astimezone(cfg.tz)
        day_start = stats.local_midnight(local.date(), cfg.tz)
        if await TicketEvent.exists(ticket_id=ticket.id, action="supervise", at__gte=day_start):
            raise Conflict(f"{ticket.ref} 今日已督办，请明日再催。")
        dept = ticket.department
        manager = replace(actor, kind="manager")  # logged as a manager's act
        await record_event(ticket, manager, "supervise", note=f"{actor.name} 督办", at=now)
        late = ticket.due_at is not None and ticket.due_at <= now
        params = {
            "ticket_id": ticket.id,
            "ref": ticket.ref,
            "department": dept.short if dept else "热线办（待分拨）",
            "deadline": fmt_deadline(ticket.due_at, cfg.tz),
            "late": late,
            "by": actor.name,
            "status_label": STATUS_LABELS[ticket.status],
            "text": ticket.text[:300],
            "reply_role": "card",
        }
        chat = await group_chat(dept.code if dept else TRIAGE_CODE)
        if chat is None:
            raise InvalidInput("该部门尚未绑定工作群，督办单无法送达；请先绑定群组。")
        await enqueue(chat_id=chat, kind="supervision", params=params, ticket_id=ticket.id)
        if dept is not None and dept.leader_user_id:
            await enqueue(
                chat_id=dept.leader_user_id,
                kind="supervision",
                params={**params, "reply_role": None},
                ticket_id=ticket.id,
            )
    return f"已向{params['department']}发送督办单"


# ---------------------------------------------------------------- one ticket


async def show_ticket(cfg: DeskConfig, *, actor: Actor, ref: str) -> None:
    """``/ticket REF``: where a ticket stands and everything that happened to it."""
    assert actor.chat_id is not None
    await require_manager(cfg, actor)
    ticket = await Ticket.get_or_none(ref=ref.upper()).prefetch_related("department", "enterprise")
    if ticket is None:
        raise NotFound(f"找不到工单 {ref}。")
    events = await TicketEvent.filter(ticket_id=ticket.id).order_by("at", "id")
    params = {
        "ticket_id": ticket.id,
        "ref": ticket.ref,
        "status_label": STATUS_LABELS[ticket.status],
        "department": ticket.department.short if ticket.department else "待分拨",
        "enterprise": ticket.enterprise.name,
        "type": ticket.type,
        "urgent": ticket.urgent,
        "deadline": fmt_deadline(ticket.due_at, cfg.tz),
        "text": ticket.text[:500],
        "events": [
            {
                "at": e.at.astimezone(cfg.tz).strftime("%m-%d %H:%M"),
                "who": e.actor_name,
                "what": EVENT_LABELS.get(e.action, e.action),
                "note": e.note[:120],
            }
            for e in events
        ],
    }
    async with atomic():
        await enqueue(chat_id=actor.chat_id, kind="timeline", params=params, ticket_id=ticket.id)


# ---------------------------------------------------------------- the monthly briefing


async def request_report(cfg: DeskConfig, *, actor: Actor, period: str | None) -> None:
    """``/report [YYYY-MM]``: queue the monthly briefing (last month by default)."""
    assert actor.chat_id is not None
    await require_manager(cfg, actor)
    p = stats.parse_period(period or "上月", now=cfg.now(), tz=cfg.tz)
    if p.key in ("today", "week"):
        raise InvalidInput("简报按月生成：请写月份，例如 /report 2026-11。")
    async with atomic():
        await ReportJob.create(chat_id=actor.chat_id, user_id=actor.user_id, period=p.key)
        await enqueue(
            chat_id=actor.chat_id,
            kind="info",
            params={"message": f"正在生成{p.label}营商环境简报，完成后发送到这里（约需数十秒）。"},
        )


REPORT_ATTEMPTS = 3


async def claim_report_job(*, now: dt.datetime, lease_seconds: float = 300) -> ReportJob | None:
    """Lease the oldest waiting briefing request (compare-and-set: one worker builds it)."""
    from tortoise.expressions import Q

    due = Q(status="pending") | Q(status="working", locked_until__lt=now)
    won = await claim_rows(
        await ReportJob.filter(due).order_by("id").limit(5),
        status="working",
        until=now + dt.timedelta(seconds=lease_seconds),
        limit=1,
    )
    return won[0] if won else None


async def run_report_job(cfg: DeskConfig, job: ReportJob) -> None:
    """Build the briefing and its ticket workbook; both go out through the outbox."""
    from models.outbox import OutboxFile

    from . import briefing  # heavy (python-docx, matplotlib): loaded when first needed

    year, month = (int(x) for x in job.period.split("-"))
    period = stats.month_period(year, month, cfg.tz)
    try:
        doc = await briefing.monthly_briefing(period=period, now=cfg.now(), tz=cfg.tz)
        book = await briefing.tickets_workbook(period=period, tz=cfg.tz)
    except Exception as exc:
        status = "failed" if job.attempts >= REPORT_ATTEMPTS else "pending"
        async with atomic():
            await ReportJob.filter(id=job.id).update(
                status=status, locked_until=None, error=repr(exc)[:2000]
            )
            if status == "failed":
                await enqueue(
                    chat_id=job.chat_id,
                    kind="info",
                    params={"message": f"{period.label}简报生成失败，请稍后重试或联系管理员。"},
                )
        raise
    async with atomic():
        files = [
            await OutboxFile.create(
                name=doc.filename,
                mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                data=doc.docx,
            ),
            await OutboxFile.create(
                name=f"工单明细-{job.period}.xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                data=book,
            ),
        ]
        captions = [f"{period.label}营商环境简报", f"{period.label}工单及办理过程明细"]
        for file, caption in zip(files, captions, strict=True):
            await enqueue(
                chat_id=job.chat_id,
                kind="document",
                params={"file_id": file.id, "name": file.name, "caption": caption},
            )
        await ReportJob.filter(id=job.id).update(
            status="done", done_at=cfg.now(), locked_until=None, error=None
        )


# ---------------------------------------------------------------- the morning digest

DIGEST_AT = dt.time(9, 0)
DIGEST_ITEMS = 10


async def daily_digests(cfg: DeskConfig, *, now: dt.datetime | None = None) -> int:
    """From 09:00 on working days, once a day: each department group's open work.

    Sent only to groups with something to act on (unclaimed, due today or overdue); never on
    holidays and weekends (make-up workdays, 调休, count as working days). Returns how many
    digests were queued by this call.
    """
    from tortoise.expressions import Q
    from tortoise.functions import Count

    from models.department import GroupBinding
    from models.system import JobRun

    now = now or cfg.now()
    local = now.astimezone(cfg.tz)
    if local.time() < DIGEST_AT or not cfg.calendar.is_workday(local.date()):
        return 0
    day_end = stats.local_midnight(local.date() + dt.timedelta(days=1), cfg.tz)
    chats = {b.code: b.chat_id for b in await GroupBinding.all() if b.code != TRIAGE_CODE}
    depts = {d.id: d for d in await Department.filter(code__in=list(chats), active=True)}
    if not depts:
        return 0
    in_hand = [s for s in OPEN_STATUSES if s.value != "triage"]
    counts = (
        await Ticket.filter(department_id__in=list(depts), status__in=in_hand)
        .annotate(
            n=Count("id"),
            unclaimed=Count("id", _filter=Q(status__in=["dispatched", "reopened"])),
            today=Count("id", _filter=Q(due_at__gte=now, due_at__lt=day_end)),
            late=Count("id", _filter=Q(due_at__lt=now)),
        )
        .group_by("department_id")
        .values("department_id", "n", "unclaimed", "today", "late")
    )
    sent = 0
    for row in counts:
        if not (row["unclaimed"] or row["today"] or row["late"]):
            continue  # nothing to act on: no message
        dept = depts[row["department_id"]]
        items = [
            {
                "ticket_id": t.id,
                "ref": t.ref,
                "deadline": fmt_deadline(t.due_at, cfg.tz),
                "late": t.due_at is not None and t.due_at < now,
                "status_label": STATUS_LABELS[t.status],
            }
            for t in await Ticket.filter(
                department_id=dept.id, status__in=in_hand, due_at__lt=day_end
            )
            .order_by("due_at")
            .limit(DIGEST_ITEMS)
        ]
        try:
            async with atomic():
                await JobRun.create(key=f"digest:{local.date():%Y-%m-%d}:{dept.code}")
                await enqueue(
                    chat_id=chats[dept.code],
                    kind="daily_digest",
                    params={
                        "date": f"{local:%m月%d日}",
                        "department": dept.short,
                        "open": row["n"],
                        "unclaimed": row["unclaimed"],
                        "today": row["today"],
                        "late": row["late"],
                        "items": items,
                    },
                )
            sent += 1
        except IntegrityError:
            continue  # this group's digest for today went out already
    return sent
