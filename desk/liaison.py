"""Liaison officers (联络员) and their departments' monthly reports (联络员信息报送).

Each department has one or more liaison officers: Telegram users holding the ``liaison`` role
with the department of the group where it was granted (``/grant liaison`` in reply to them in
the department's bound group, or from the admin web). By the 25th each department reports the
month's work in seven parts; one report per department and month, which any of its liaisons
may fill (the last one to edit a part is recorded, the one who submits is the author).

The report is filled in the liaison's private chat as a guided dialog (``/liaison``): the seven
parts one at a time (``无`` skips a part, a photo or document attaches to the part being
asked), then a review with buttons to re-ask one part, submit (提交) or keep the draft (暂存).
The dialog's state is a ``LiaisonSession`` row, so any worker continues it. A submitted report
is locked; the hotline office may reopen it from the admin web.

:func:`tick` (the scheduler, once a minute) reminds each liaison whose department has not
submitted, privately, from the 20th, on working days, once a day from 09:00 (``JobRun`` keys
make it idempotent across ticks and workers); on the first working day from the 26th it tells
the screening group (TRIAGE) which departments are late. :func:`briefing_section` gives the
monthly briefing its section 联络员信息报送.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError

from models.department import TRIAGE_CODE, Department, GroupBinding
from models.liaison import LiaisonReport, LiaisonSession
from models.staff import Role, RoleGrant
from models.system import JobRun

from . import audit
from .actors import Actor
from .audit import Editor
from .context import DeskConfig
from .db import atomic
from .errors import Conflict, InvalidInput, NotAllowed, NotFound
from .notify import enqueue, group_chat
from .validators import check_upload, strip_controls
from .worktime import parse_month

#: The seven parts of a report: (title, what belongs there).
PARTS: tuple[tuple[str, str], ...] = (
    ("指标推进情况", "本月推进的营商环境指标、采取的措施和取得的进展"),
    ("任务推进情况", "本月承担的重点任务的推进情况和完成节点"),
    ("改革创新举措", "本月推出或落地的改革、创新举措及成效"),
    ("学习宣传情况", "组织的学习、政策宣传和培训（时间、形式、覆盖企业）"),
    ("组织开展活动", "本月开展的政企活动（时间、内容、参加企业）"),
    ("走访企业情况", "走访的企业，了解到的扩产计划，收集和解决的问题"),
    ("学习借鉴经验", "在其他地区或部门看到、值得借鉴的好做法"),
)
SKIP_WORDS = frozenset({"无", "没有", "暂无", "跳过", "skip"})
PART_MAX = 2000  # characters of text per part
FILES_MAX = 10  # attachments per part
DUE_DAY = 25  # reports are due by the 25th
REMIND_FROM = 20  # reminders from the 20th
LATE_FROM = 26  # the screening group hears of late departments from the 26th
REMIND_AT = dt.time(9, 0)  # local time, like the daily digest
DRAFT, SUBMITTED = "draft", "submitted"
STATUS_LABELS = {
    "missing": "未提交",
    DRAFT: "草稿",
    SUBMITTED: "已提交",
    "late": "逾期提交",
}
NOT_LIAISON = "此功能仅限各部门联络员使用；如需开通，请联系热线办。"


# ---------------------------------------------------------------- months and roles


def month_key(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def month_label(month: str) -> str:
    year, mon = parse_month(month)
    return f"{year}年{mon}月"


def due_label(month: str) -> str:
    _, mon = parse_month(month)
    return f"{mon}月{DUE_DAY}日"


def _local(moment: dt.datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(tz).strftime(fmt) if moment else ""


def is_late(report: LiaisonReport, tz: ZoneInfo) -> bool:
    """Submitted after the 25th of its month (local time)."""
    if report.submitted_at is None:
        return False
    year, mon = parse_month(report.month)
    return report.submitted_at.astimezone(tz).date() > dt.date(year, mon, DUE_DAY)


def status_of(report: LiaisonReport | None, tz: ZoneInfo) -> str:
    """``missing``, ``draft``, ``submitted`` or ``late`` (submitted after the 25th)."""
    if report is None:
        return "missing"
    if report.status != SUBMITTED:
        return DRAFT
    return "late" if is_late(report, tz) else SUBMITTED


async def grant_department(chat_id: int) -> str:
    """The department of the group where ``/grant liaison`` was sent.

    Raises:
        InvalidInput: not a department's bound group.
    """
    binding = await GroupBinding.get_or_none(chat_id=chat_id)
    if binding is None or binding.code == TRIAGE_CODE:
        raise InvalidInput(
            "请在部门工作群中回复联络员的消息发送 /grant liaison（联络员属于该群绑定的部门）。"
        )
    return binding.code


async def check_department(code: str | None) -> str:
    """An active department's code for a liaison granted from the admin web.

    Raises:
        InvalidInput: no code, or no active department with it.
    """
    clean = (code or "").strip().upper()
    if not clean:
        raise InvalidInput("联络员须选择所属部门。")
    if clean == TRIAGE_CODE or not await Department.exists(code=clean, active=True):
        raise InvalidInput(f"没有代码为 {clean} 的在用部门。")
    return clean


async def liaison_grant(user_id: int | None) -> RoleGrant | None:
    if user_id is None:
        return None
    return await RoleGrant.get_or_none(
        user_id=user_id, role=Role.LIAISON.value, department_code__isnull=False
    )


async def _require(actor: Actor) -> RoleGrant:
    grant = await liaison_grant(actor.user_id)
    if grant is None or grant.department_code is None:
        raise NotAllowed(NOT_LIAISON)
    return grant


# ---------------------------------------------------------------- the dialog


async def _dept_name(code: str) -> str:
    dept = await Department.get_or_none(code=code)
    return dept.short if dept else code


def _part(report: LiaisonReport, n: int) -> dict[str, Any]:
    raw = (report.parts or {}).get(str(n)) or {}
    return {"text": str(raw.get("text") or ""), "files": list(raw.get("files") or [])}


def _ask_params(report: LiaisonReport, n: int, **extra: Any) -> dict[str, Any]:
    title, hint = PARTS[n - 1]
    part = _part(report, n)
    return {
        "report_id": report.id,
        "n": n,
        "total": len(PARTS),
        "title": title,
        "hint": hint,
        "current": part["text"][:PART_MAX],
        "files": len(part["files"]),
        "month": month_label(report.month),
        **extra,
    }


async def _review_params(report: LiaisonReport, *, tz: ZoneInfo, **extra: Any) -> dict[str, Any]:
    parts = []
    for n, (title, _) in enumerate(PARTS, 1):
        part = _part(report, n)
        parts.append([title, part["text"][:PART_MAX], len(part["files"])])
    return {
        "report_id": report.id,
        "department": await _dept_name(report.department_code),
        "month": month_label(report.month),
        "due": due_label(report.month),
        "parts": parts,
        "locked": report.status == SUBMITTED,
        "submitted_at": _local(report.submitted_at, tz),
        "author": report.author_name,
        **extra,
    }


def _month_for(text: str, today: dt.date) -> str:
    text = text.strip()
    if not text:
        return month_key(today)
    try:
        year, mon = parse_month(text)
    except ValueError:
        raise InvalidInput("用法：/liaison 或 /liaison 2026-12（本月或以前的月份）。") from None
    if (year, mon) > (today.year, today.month) or year < 2000:
        raise InvalidInput("只能填写本月或以前月份的报告。")
    return f"{year:04d}-{mon:02d}"


async def start(cfg: DeskConfig, *, actor: Actor, month: str = "") -> None:
    """``/liaison [YYYY-MM]`` in the private chat: begin or continue the department's report.

    An empty draft starts at part one; a draft with content shows the review; a submitted
    report is shown locked.

    Raises:
        NotAllowed: the user is not a liaison officer.
        InvalidInput: a bad or future month.
    """
    assert actor.user_id is not None and actor.chat_id is not None
    grant = await _require(actor)
    assert grant.department_code is not None
    key = _month_for(month, cfg.now().astimezone(cfg.tz).date())
    async with atomic():
        report = await LiaisonReport.get_or_none(department_code=grant.department_code, month=key)
        if report is None:
            try:
                async with atomic():
                    report = await LiaisonReport.create(
                        department_code=grant.department_code, month=key
                    )
            except IntegrityError:  # another liaison of the department began it just now
                report = await LiaisonReport.get(department_code=grant.department_code, month=key)
        await LiaisonSession.filter(user_id=actor.user_id).delete()
        if report.status == SUBMITTED:
            await enqueue(
                chat_id=actor.chat_id,
                kind="liaison_review",
                params=await _review_params(report, tz=cfg.tz),
            )
            return
        step = 0 if _filled(report) else 1
        await LiaisonSession.create(
            user_id=actor.user_id, chat_id=actor.chat_id, report=report, step=step
        )
        if step:
            await enqueue(
                chat_id=actor.chat_id,
                kind="liaison_ask",
                params=_ask_params(
                    report, 1, first=True, department=await _dept_name(report.department_code)
                ),
            )
        else:
            await enqueue(
                chat_id=actor.chat_id,
                kind="liaison_review",
                params=await _review_params(report, tz=cfg.tz),
            )


async def in_progress(user_id: int | None) -> bool:
    """Whether the user is in the report dialog (their private texts belong to it)."""
    return user_id is not None and await LiaisonSession.exists(user_id=user_id)


async def _session(user_id: int) -> tuple[LiaisonSession, LiaisonReport] | None:
    session = await LiaisonSession.filter(user_id=user_id).select_for_update().first()
    if session is None:
        return None
    report = await LiaisonReport.filter(id=session.report_id).select_for_update().first()
    if report is None:
        return None
    return session, report


async def _closed(session: LiaisonSession, report: LiaisonReport, chat_id: int) -> bool:
    """A session on a report submitted meanwhile (by a colleague) ends with a word."""
    if report.status != SUBMITTED:
        return False
    await session.delete()
    await enqueue(
        chat_id=chat_id,
        kind="info",
        params={"message": "本部门本月的报告已由其他联络员提交，无需再填写。"},
    )
    return True


async def _still_liaison(user_id: int) -> None:
    """End the dialog of someone whose role was revoked (or moved) since it began.

    Raises:
        NotAllowed: no longer a liaison of the report's department (the draft stays).
    """
    session = await LiaisonSession.get_or_none(user_id=user_id)
    if session is None:
        return
    report = await LiaisonReport.get_or_none(id=session.report_id)
    grant = await liaison_grant(user_id)
    if report is None or grant is None or grant.department_code != report.department_code:
        await LiaisonSession.filter(user_id=user_id).delete()
        raise NotAllowed(NOT_LIAISON)


async def answer(cfg: DeskConfig, *, actor: Actor, text: str) -> None:
    """A text in the dialog: the answer to the part being asked (``无`` leaves it empty).

    Raises:
        NotAllowed: the role was revoked since the dialog began (the dialog ends).
    """
    assert actor.user_id is not None and actor.chat_id is not None
    await _still_liaison(actor.user_id)
    async with atomic():
        found = await _session(actor.user_id)
        if found is None:
            return
        session, report = found
        if await _closed(session, report, actor.chat_id):
            return
        if session.step == 0:
            await enqueue(
                chat_id=actor.chat_id,
                kind="liaison_review",
                params=await _review_params(
                    report, tz=cfg.tz, note="请使用下方按钮修改某一部分、提交或暂存草稿。"
                ),
            )
            return
        n = session.step
        clean = strip_controls(text).strip()
        if len(clean) > PART_MAX:
            await enqueue(
                chat_id=actor.chat_id,
                kind="liaison_ask",
                params=_ask_params(
                    report,
                    n,
                    error=f"每部分不超过 {PART_MAX} 字（本次 {len(clean)} 字），"
                    "请精简后重新发送。",
                ),
            )
            return
        parts = dict(report.parts or {})
        part = _part(report, n)
        if clean.lower() not in SKIP_WORDS:
            part["text"] = clean
        elif not part["files"]:  # 无 after attachments keeps their caption as the text
            part["text"] = ""
        parts[str(n)] = part
        report.parts = parts
        report.author_user_id, report.author_name = actor.user_id, actor.name
        await report.save(update_fields=["parts", "author_user_id", "author_name", "updated_at"])
        if session.single or n >= len(PARTS):
            session.step, session.single = 0, False
            await session.save(update_fields=["step", "single", "updated_at"])
            await enqueue(
                chat_id=actor.chat_id,
                kind="liaison_review",
                params=await _review_params(report, tz=cfg.tz),
            )
            return
        session.step = n + 1
        await session.save(update_fields=["step", "updated_at"])
        await enqueue(chat_id=actor.chat_id, kind="liaison_ask", params=_ask_params(report, n + 1))


async def attach(
    cfg: DeskConfig, *, actor: Actor, file: dict[str, Any], caption: str = ""
) -> None:
    """A photo or document in the dialog: attached to the part being asked.

    Raises:
        InvalidInput: a file the desk does not take, too many files, or no part being asked.
        NotAllowed: the role was revoked since the dialog began (the dialog ends).
    """
    assert actor.user_id is not None and actor.chat_id is not None
    await _still_liaison(actor.user_id)
    check_upload(file)
    async with atomic():
        found = await _session(actor.user_id)
        if found is None:
            return
        session, report = found
        if await _closed(session, report, actor.chat_id):
            return
        if session.step == 0:
            raise InvalidInput("请先点击「修改」选择要附上附件的部分，再发送图片或文件。")
        n = session.step
        part = _part(report, n)
        if len(part["files"]) >= FILES_MAX:
            raise InvalidInput(f"每部分最多 {FILES_MAX} 个附件。")
        part["files"].append(
            {
                "kind": str(file.get("kind") or ""),
                "file_id": str(file.get("file_id") or ""),
                "message_id": file.get("message_id"),
                "chat_id": actor.chat_id,
                "name": str(
                    file.get("name") or ("图片" if file.get("kind") == "photo" else "文件")
                ),
            }
        )
        note = strip_controls(caption).strip()[:PART_MAX]
        if note and not part["text"]:
            part["text"] = note
        parts = dict(report.parts or {})
        parts[str(n)] = part
        report.parts = parts
        report.author_user_id, report.author_name = actor.user_id, actor.name
        await report.save(update_fields=["parts", "author_user_id", "author_name", "updated_at"])
        title = PARTS[n - 1][0]
        await enqueue(
            chat_id=actor.chat_id,
            kind="info",
            params={
                "message": f"📎 已附到第{n}部分「{title}」"
                f"（本部分共 {len(part['files'])} 个附件）。"
                "可继续发送附件或文字说明；没有文字说明请发送「无」进入下一部分。"
            },
        )


async def cancel(*, actor: Actor) -> bool:
    """``/cancel`` in the dialog: leave it, keeping the draft. Returns whether there was one."""
    assert actor.user_id is not None and actor.chat_id is not None
    async with atomic():
        gone = await LiaisonSession.filter(user_id=actor.user_id).delete()
        if gone:
            await enqueue(
                chat_id=actor.chat_id,
                kind="info",
                params={"message": "已暂停填写，草稿已保存；发送 /liaison 可继续。"},
            )
    return bool(gone)


async def press(
    cfg: DeskConfig, *, actor: Actor, report_id: int, action: str, arg: str | None
) -> str:
    """A button of the dialog: ``start`` (from a reminder), ``edit`` a part, ``submit``,
    ``draft`` (keep the draft and leave). Returns the toast.

    Raises:
        NotAllowed: not a liaison of the report's department.
        NotFound: no such report.
        Conflict: the report was submitted already.
        InvalidInput: a bad part number, or submitting an empty report.
    """
    assert actor.user_id is not None and actor.chat_id is not None
    if action == "start":
        await start(cfg, actor=actor)
        return "请在对话中填写。"
    if action not in ("edit", "submit", "draft"):
        raise InvalidInput("无效的操作。")
    grant = await _require(actor)
    async with atomic():
        report = await LiaisonReport.filter(id=report_id).select_for_update().first()
        if report is None:
            raise NotFound("找不到该报告。")
        if report.department_code != grant.department_code:
            raise NotAllowed("只能填写本部门的报告。")
        if report.status == SUBMITTED:
            await LiaisonSession.filter(user_id=actor.user_id).delete()
            raise Conflict("该报告已提交，不能再修改；如需修改请联系热线办退回。")
        if action == "edit":
            n = int(arg) if arg and arg.isdigit() else 0
            if not 1 <= n <= len(PARTS):
                raise InvalidInput("无效的部分。")
            parts = dict(report.parts or {})
            part = _part(report, n)
            had_files = len(part["files"])
            part["files"] = []  # re-asking a part replaces its attachments too
            parts[str(n)] = part
            report.parts = parts
            await report.save(update_fields=["parts", "updated_at"])
            await LiaisonSession.filter(user_id=actor.user_id).delete()
            await LiaisonSession.create(
                user_id=actor.user_id, chat_id=actor.chat_id, report=report, step=n, single=True
            )
            await enqueue(
                chat_id=actor.chat_id,
                kind="liaison_ask",
                params=_ask_params(report, n, editing=True, dropped=had_files),
            )
            return f"请重新填写第{n}部分。"
        if action == "draft":
            await LiaisonSession.filter(user_id=actor.user_id).delete()
            await enqueue(
                chat_id=actor.chat_id,
                kind="info",
                params={
                    "message": f"💾 草稿已保存。请于{due_label(report.month)}前提交；"
                    "发送 /liaison 可继续填写。"
                },
            )
            return "草稿已保存。"
        if not _filled(report):
            raise InvalidInput("七个部分均为空，请至少填写一项后再提交。")
        now = cfg.now()
        report.status, report.submitted_at = SUBMITTED, now
        report.author_user_id, report.author_name = actor.user_id, actor.name
        await report.save(
            update_fields=["status", "submitted_at", "author_user_id", "author_name", "updated_at"]
        )
        await LiaisonSession.filter(report_id=report.id).delete()
        late = is_late(report, cfg.tz)
        await enqueue(
            chat_id=actor.chat_id,
            kind="info",
            params={
                "message": f"✅ {month_label(report.month)}联络员信息报送已提交"
                f"（{_local(now, cfg.tz)}{'，逾期提交' if late else ''}），谢谢！"
            },
        )
        return "已提交。"


# ---------------------------------------------------------------- reminders


def first_late_day(cal: Any, year: int, mon: int) -> dt.date | None:
    """The first working day from the 26th of the month, if the month has one."""
    day = dt.date(year, mon, LATE_FROM)
    while day.month == mon:
        if cal.is_workday(day):
            return day
        day += dt.timedelta(days=1)
    return None


async def tick(cfg: DeskConfig, *, now: dt.datetime | None = None) -> int:
    """Reminders and the late list, for the scheduler. Returns how many messages were queued.

    From 09:00 on working days: from the 20th, each liaison whose department has not submitted
    this month's report, once a day; on the first working day from the 26th (or the next one
    the scheduler sees), the screening group, once a month.
    """
    now = now or cfg.now()
    local = now.astimezone(cfg.tz)
    today = local.date()
    if today.day < REMIND_FROM or local.time() < REMIND_AT or not cfg.calendar.is_workday(today):
        return 0
    month = month_key(today)
    grants = await RoleGrant.filter(
        role=Role.LIAISON.value, department_code__isnull=False
    ).order_by("id")
    if not grants:
        return 0
    depts = {
        d.code: d
        for d in await Department.filter(
            code__in=list({g.department_code for g in grants}), active=True
        )
    }
    reports = {r.department_code: r for r in await LiaisonReport.filter(month=month)}
    done = {code for code, r in reports.items() if r.status == SUBMITTED}
    sent = 0
    for g in grants:
        code = g.department_code or ""
        if code not in depts or code in done:
            continue
        draft = reports.get(code)
        try:
            async with atomic():
                await JobRun.create(key=f"liaison:remind:{today:%Y-%m-%d}:{g.user_id}")
                await enqueue(
                    chat_id=g.user_id,
                    kind="liaison_remind",
                    params={
                        "department": depts[code].short,
                        "month": month_label(month),
                        "due": due_label(month),
                        "late": today.day > DUE_DAY,
                        "draft": draft is not None,
                    },
                )
            sent += 1
        except IntegrityError:
            continue  # reminded today already
    first = first_late_day(cfg.calendar, today.year, today.month)
    if first is not None and today >= first:
        sent += await _tell_office(month=month, depts=depts, grants=grants, done=done)
    return sent


async def _tell_office(
    *, month: str, depts: dict[str, Department], grants: list[RoleGrant], done: set[str]
) -> int:
    triage = await group_chat(TRIAGE_CODE)
    if triage is None:
        return 0
    names: dict[str, list[str]] = {}
    for g in grants:
        if g.department_code in depts:
            names.setdefault(g.department_code or "", []).append(g.name or str(g.user_id))
    missing = [
        [depts[code].short, "、".join(people)]
        for code, people in sorted(names.items(), key=lambda kv: (depts[kv[0]].sort, kv[0]))
        if code not in done
    ]
    try:
        async with atomic():
            await JobRun.create(key=f"liaison:late:{month}")
            await enqueue(
                chat_id=triage,
                kind="liaison_late",
                params={
                    "month": month_label(month),
                    "due": due_label(month),
                    "missing": missing,
                    "total": len(names),
                },
            )
    except IntegrityError:
        return 0
    return 1


# ---------------------------------------------------------------- reading (web, briefing)


@dataclass(frozen=True)
class ReportRow:
    department_code: str
    department: str
    liaisons: str
    report_id: int | None
    status: str
    status_label: str
    author: str
    submitted_at: str
    filled: int  # parts with text or attachments


@dataclass(frozen=True)
class ReportDetail:
    row: ReportRow
    month: str
    month_label: str
    parts: list[dict[str, Any]] = field(default_factory=list)


def _filled(report: LiaisonReport | None) -> int:
    if report is None:
        return 0
    return sum(
        1
        for n in range(1, len(PARTS) + 1)
        if _part(report, n)["text"] or _part(report, n)["files"]
    )


def _row(
    code: str,
    dept: Department | None,
    people: list[str],
    report: LiaisonReport | None,
    tz: ZoneInfo,
) -> ReportRow:
    status = status_of(report, tz)
    return ReportRow(
        department_code=code,
        department=dept.short if dept else code,
        liaisons="、".join(people),
        report_id=report.id if report else None,
        status=status,
        status_label=STATUS_LABELS[status],
        author=report.author_name if report and report.status == SUBMITTED else "",
        submitted_at=_local(report.submitted_at, tz) if report else "",
        filled=_filled(report),
    )


def parse_month_arg(text: str | None, *, today: dt.date) -> str:
    """A month typed into the admin web (``YYYY-MM``); the current month when empty.

    Raises:
        InvalidInput: not a month.
    """
    if not (text or "").strip():
        return month_key(today)
    try:
        year, mon = parse_month((text or "").strip())
    except ValueError:
        raise InvalidInput("月份格式应为 YYYY-MM，例如 2026-12。") from None
    return f"{year:04d}-{mon:02d}"


async def month_reports(
    *, month: str, tz: ZoneInfo, department_code: str | None = None
) -> list[ReportRow]:
    """The month's reports: every department with a liaison or a report, in department order.

    Four queries whatever the number of departments.
    """
    grants = RoleGrant.filter(role=Role.LIAISON.value, department_code__isnull=False)
    reports = LiaisonReport.filter(month=month)
    if department_code is not None:
        grants = grants.filter(department_code=department_code)
        reports = reports.filter(department_code=department_code)
    people: dict[str, list[str]] = {}
    for g in await grants.order_by("id"):
        people.setdefault(g.department_code or "", []).append(g.name or str(g.user_id))
    by_code = {r.department_code: r for r in await reports}
    codes = set(people) | set(by_code)
    depts = {d.code: d for d in await Department.filter(code__in=list(codes))}
    order = sorted(codes, key=lambda c: (depts[c].sort if c in depts else 10**6, c))
    return [_row(c, depts.get(c), people.get(c, []), by_code.get(c), tz) for c in order]


async def report_detail(*, report_id: int, tz: ZoneInfo) -> ReportDetail:
    """One report with its seven parts.

    Raises:
        NotFound: no such report.
    """
    report = await LiaisonReport.get_or_none(id=report_id)
    if report is None:
        raise NotFound("找不到该报告。")
    dept = await Department.get_or_none(code=report.department_code)
    people = [
        g.name or str(g.user_id)
        for g in await RoleGrant.filter(
            role=Role.LIAISON.value, department_code=report.department_code
        ).order_by("id")
    ]
    parts = []
    for n, (title, hint) in enumerate(PARTS, 1):
        part = _part(report, n)
        parts.append(
            {
                "n": n,
                "title": title,
                "hint": hint,
                "text": part["text"],
                "files": [str(f.get("name") or f.get("kind") or "附件") for f in part["files"]],
            }
        )
    return ReportDetail(
        row=_row(report.department_code, dept, people, report, tz),
        month=report.month,
        month_label=month_label(report.month),
        parts=parts,
    )


async def reopen(*, who: Editor, report_id: int) -> None:
    """The hotline office reopens a submitted report (``liaison.reopen``): a draft again.

    Raises:
        NotFound: no such report.
        Conflict: the report is not submitted.
    """
    async with atomic():
        report = await LiaisonReport.filter(id=report_id).select_for_update().first()
        if report is None:
            raise NotFound("找不到该报告。")
        if report.status != SUBMITTED:
            raise Conflict("该报告尚未提交，无需退回。")
        report.status, report.submitted_at = DRAFT, None
        await report.save(update_fields=["status", "submitted_at", "updated_at"])
        await audit.log(
            who, "liaison.reopen", f"{report.department_code} {report.month}", {"id": report.id}
        )
        for g in await RoleGrant.filter(
            role=Role.LIAISON.value, department_code=report.department_code
        ):
            await enqueue(
                chat_id=g.user_id,
                kind="info",
                params={
                    "message": f"↩️ 热线办已退回{month_label(report.month)}联络员信息报送，"
                    "请发送 /liaison 修改后重新提交。"
                },
            )


async def briefing_rows(*, month: str, tz: ZoneInfo) -> tuple[list[str], list[list[str]]] | None:
    """The briefing section's text: a summary line, the reports in brief, and a status table.

    Returns ``(paragraphs, rows)`` or ``None`` when the month has no liaisons and no reports.
    """
    rows = await month_reports(month=month, tz=tz)
    if not rows:
        return None
    counts = {k: 0 for k in STATUS_LABELS}
    for r in rows:
        counts[r.status] += 1
    unsent = [r.department for r in rows if r.status in ("missing", DRAFT)]
    late = [r.department for r in rows if r.status == "late"]
    paragraphs = [
        f"本月应报送 {len(rows)} 个部门：按时提交 {counts[SUBMITTED]} 个，"
        f"逾期提交 {counts['late']} 个，未提交 {len(unsent)} 个。"
    ]
    if late:
        paragraphs.append(f"逾期提交：{'、'.join(late)}。")
    if unsent:
        paragraphs.append(f"未提交：{'、'.join(unsent)}。")
    submitted = {
        r.department_code: r for r in await LiaisonReport.filter(month=month, status=SUBMITTED)
    }
    for row in rows:
        report = submitted.get(row.department_code)
        if report is None:
            continue
        paragraphs.append(f"【{row.department}】（联络员：{report.author_name}）")
        for n, (title, _) in enumerate(PARTS, 1):
            part = _part(report, n)
            if not part["text"] and not part["files"]:
                continue
            text = " ".join(part["text"].split())
            if len(text) > 200:
                text = text[:199] + "…"
            extra = f"（附件 {len(part['files'])} 个）" if part["files"] else ""
            paragraphs.append(f"{n}. {title}：{text or '见附件'}{extra}")
    table = [[r.department, r.liaisons, r.status_label, r.submitted_at or "—"] for r in rows]
    return paragraphs, table
