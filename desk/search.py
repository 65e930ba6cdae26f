"""What the workbench reads: finding tickets, a ticket's timeline, and the list as a workbook.

``TicketFilter`` is what the list page's filter form asks for, parsed from query parameters
with a clear Chinese error for anything malformed. ``find_tickets`` answers it one page at a
time, always within what the viewer may see (staff: their own department only), with each
row's department and enterprise loaded in the same query. ``timeline`` merges a ticket's event
log and its conversation (attachments included) in the order things happened.
``export_workbook`` writes rows in the column layout of the monthly workbook
(``desk.briefing``), so both exports read alike.

Free-text search is ``icontains`` (``LIKE``/``ILIKE``) on the reference, the request, the
enterprise's name and the ticket's messages (text and attachment names): the same on SQLite
and PostgreSQL, fine at the desk's scale (thousands of tickets a month).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet

from models.department import Department
from models.keyaccount import KeyAccount
from models.sla import ExtensionRequest
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent, TicketMessage, TicketStatus
from nlp import REQUEST_TYPES

from . import briefing, keyaccounts
from .errors import InvalidInput, NotAllowed
from .notify import card_actions
from .workbench import DECIDE_EXTENSIONS, INTAKE_CHANNELS, Viewer
from .workflow import STATUS_LABELS, TRANSITIONS

OPEN = "open"  # the filter value for every state still being handled
STATE_CHOICES: dict[str, str] = {
    OPEN: "未办结（全部）",
    **{status.value: label for status, label in STATUS_LABELS.items()},
}
URGENCY_CHOICES = {"urgent": "紧急", "normal": "一般"}
# The list page's query parameters (TicketFilter.from_query / to_query).
QUERY_KEYS = (
    "state",
    "dept",
    "type",
    "urgency",
    "overdue",
    "key",
    "from",
    "to",
    "enterprise",
    "q",
)
CHANNEL_LABELS = {"telegram": "Telegram", "web": "网页", **INTAKE_CHANNELS}
PER_PAGE = 20
PER_PAGE_CHOICES = (20, 50, 100)
EXPORT_MAX = 5000  # rows in one download; more asks the user to narrow the filter
TEXT_MAX = 100  # characters of a search term

_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,15}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Events whose content is a message of the conversation (shown once, as the message).
_MESSAGE_EVENTS = frozenset({"progress", "followup"})
EVENT_LABELS = {**briefing.EVENT_LABELS, "extend_reject": "驳回延期"}


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """What the list is narrowed to; empty fields do not narrow.

    Attributes:
        state: a ``TicketStatus`` value, or ``open`` for every open state.
        department: a department code (``TAX``).
        type: a request type (咨询 … 表扬).
        urgency: ``urgent`` or ``normal``.
        overdue: only tickets past their deadline (open ones, or resolved late).
        created_from: created on or after this local day.
        created_to: created on or before this local day.
        enterprise: part of the enterprise's name.
        text: part of the reference, the request, the enterprise's name or a message.
        key: only tickets of key projects / key enterprises (``desk.keyaccounts``).
    """

    state: str = ""
    department: str = ""
    type: str = ""
    urgency: str = ""
    overdue: bool = False
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    enterprise: str = ""
    text: str = ""
    key: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> TicketFilter:
        """Parse the list page's query parameters.

        Keys: ``state``, ``dept``, ``type``, ``urgency``, ``overdue`` (``1``), ``from`` and
        ``to`` (``2026-12-01``), ``enterprise``, ``q``; others are ignored.

        Raises:
            InvalidInput: a value the form cannot have sent (the message says which).
        """
        state = query.get("state", "").strip()
        if state and state not in STATE_CHOICES:
            raise InvalidInput("工单状态无效，请从列表中选择。")
        department = query.get("dept", "").strip().upper()
        if department and not _CODE.fullmatch(department):
            raise InvalidInput("部门代码无效，请从列表中选择。")
        type_ = query.get("type", "").strip()
        if type_ and type_ not in REQUEST_TYPES:
            raise InvalidInput(f"诉求类型无效，应为{'、'.join(REQUEST_TYPES)}之一。")
        urgency = query.get("urgency", "").strip()
        if urgency and urgency not in URGENCY_CHOICES:
            raise InvalidInput("紧急程度无效，请从列表中选择。")
        overdue = query.get("overdue", "").strip()
        if overdue not in ("", "0", "1"):
            raise InvalidInput("“仅看超期”的取值无效。")
        key = query.get("key", "").strip()
        if key not in ("", "0", "1"):
            raise InvalidInput("“仅看重点企业”的取值无效。")
        created_from = _day(query.get("from", ""), what="开始日期")
        created_to = _day(query.get("to", ""), what="结束日期")
        if created_from and created_to and created_from > created_to:
            raise InvalidInput("开始日期不能晚于结束日期。")
        return cls(
            state=state,
            department=department,
            type=type_,
            urgency=urgency,
            overdue=overdue == "1",
            created_from=created_from,
            created_to=created_to,
            enterprise=_term(query.get("enterprise", ""), what="企业名称"),
            text=_term(query.get("q", ""), what="搜索内容"),
            key=key == "1",
        )

    def to_query(self) -> dict[str, str]:
        """The query parameters that give this filter back (empty ones left out)."""
        out = {
            "state": self.state,
            "dept": self.department,
            "type": self.type,
            "urgency": self.urgency,
            "overdue": "1" if self.overdue else "",
            "from": f"{self.created_from:%Y-%m-%d}" if self.created_from else "",
            "to": f"{self.created_to:%Y-%m-%d}" if self.created_to else "",
            "enterprise": self.enterprise,
            "q": self.text,
            "key": "1" if self.key else "",
        }
        return {k: v for k, v in out.items() if v}

    @property
    def empty(self) -> bool:
        return all(not getattr(self, f.name) for f in fields(self))


def _day(raw: str, *, what: str) -> dt.date | None:
    raw = raw.strip()
    if not raw:
        return None
    if not _DATE.fullmatch(raw):
        raise InvalidInput(f"{what}格式不正确，请按 2026-12-01 的格式填写。")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{what}不是有效的日期：{raw}。") from None


def _term(raw: str, *, what: str) -> str:
    term = " ".join(raw.split())
    if len(term) > TEXT_MAX:
        raise InvalidInput(f"{what}过长，请控制在{TEXT_MAX}字以内。")
    return term


def parse_page(query: Mapping[str, str]) -> tuple[int, int]:
    """The page number and page size asked for (``page``, ``per_page``).

    Raises:
        InvalidInput: not a positive number, or a page size the form does not offer.
    """
    try:
        page = int(query.get("page", "1") or "1")
        per_page = int(query.get("per_page", str(PER_PAGE)) or PER_PAGE)
    except ValueError:
        raise InvalidInput("页码必须是正整数。") from None
    if page < 1:
        raise InvalidInput("页码必须是正整数。")
    if per_page not in PER_PAGE_CHOICES:
        raise InvalidInput(f"每页条数应为 {'、'.join(map(str, PER_PAGE_CHOICES))} 之一。")
    return page, per_page


@dataclass(frozen=True, slots=True)
class TicketPage:
    """One page of the list.

    Attributes:
        rows: the page's tickets, newest first, with ``department`` and ``enterprise`` loaded.
        total: how many tickets match in all.
        page: this page's number (1-based; past the end it is the last page).
        per_page: the page size.
    """

    rows: list[Ticket]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _scoped(viewer: Viewer) -> QuerySet[Ticket]:
    if viewer.reads_all:
        return Ticket.all()
    if viewer.role == "staff" and viewer.department_code:
        return Ticket.filter(department__code=viewer.department_code)
    raise NotAllowed("账号未关联有效部门，请联系管理员。")


def _query(
    flt: TicketFilter, *, viewer: Viewer, now: dt.datetime, tz: ZoneInfo
) -> QuerySet[Ticket]:
    qs = _scoped(viewer)
    if flt.state == OPEN:
        qs = qs.filter(status__in=list(OPEN_STATUSES))
    elif flt.state:
        qs = qs.filter(status=TicketStatus(flt.state))
    if flt.department:
        qs = qs.filter(department__code=flt.department)
    if flt.type:
        qs = qs.filter(type=flt.type)
    if flt.urgency:
        qs = qs.filter(urgent=flt.urgency == "urgent")
    if flt.overdue:
        qs = qs.filter(
            Q(status__in=list(OPEN_STATUSES), due_at__lt=now)
            | Q(resolved_at__isnull=False, resolved_at__gt=F("due_at"))
        )
    if flt.created_from:
        qs = qs.filter(created_at__gte=_midnight(flt.created_from, tz))
    if flt.created_to:
        qs = qs.filter(created_at__lt=_midnight(flt.created_to + dt.timedelta(days=1), tz))
    if flt.enterprise:
        qs = qs.filter(enterprise__name__icontains=flt.enterprise)
    if flt.key:
        qs = qs.filter(enterprise_id__in=Subquery(KeyAccount.all().values("enterprise_id")))
    if flt.text:
        term = flt.text
        in_messages = TicketMessage.filter(
            Q(text__icontains=term) | Q(file_name__icontains=term)
        ).values("ticket_id")
        qs = qs.filter(
            Q(ref__icontains=term)
            | Q(text__icontains=term)
            | Q(enterprise__name__icontains=term)
            | Q(id__in=Subquery(in_messages))
        )
    return qs


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


async def find_tickets(
    *,
    filter: TicketFilter,
    viewer: Viewer,
    now: dt.datetime,
    tz: ZoneInfo,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> TicketPage:
    """One page of the tickets matching ``filter`` that ``viewer`` may see, newest first.

    Args:
        filter: what to narrow to.
        viewer: who is looking; staff only ever get their own department's tickets.
        now: the current time (for 超期).
        tz: the office time zone (the date range is in local days).
        page: the page number, 1-based; past the end gives the last page.
        per_page: the page size.

    Raises:
        NotAllowed: a staff account without a department.
    """
    qs = _query(filter, viewer=viewer, now=now, tz=tz)
    total = await qs.count()
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    rows = (
        await qs.order_by("-id")
        .offset((page - 1) * per_page)
        .limit(per_page)
        .select_related("department", "enterprise")
    )
    return TicketPage(rows=list(rows), total=total, page=page, per_page=per_page)


async def export_rows(
    *,
    filter: TicketFilter,
    viewer: Viewer,
    now: dt.datetime,
    tz: ZoneInfo,
) -> list[Ticket]:
    """Every ticket of the filtered list (what ``find_tickets`` pages through), for export.

    Raises:
        InvalidInput: more than ``EXPORT_MAX`` tickets match.
        NotAllowed: a staff account without a department.
    """
    qs = _query(filter, viewer=viewer, now=now, tz=tz)
    total = await qs.count()
    if total > EXPORT_MAX:
        raise InvalidInput(
            f"符合条件的工单有 {total} 件，超过单次导出上限 {EXPORT_MAX} 件，请缩小筛选范围。"
        )
    return list(await qs.order_by("-id").select_related("department", "enterprise"))


def is_overdue(ticket: Ticket, *, now: dt.datetime) -> bool:
    """Past its deadline: still open after it, or resolved after it."""
    if ticket.due_at is None:
        return False
    if ticket.status in OPEN_STATUSES:
        return now > ticket.due_at
    return ticket.resolved_at is not None and ticket.resolved_at > ticket.due_at


def ticket_actions(*, ticket: Ticket, viewer: Viewer) -> list[str]:
    """The workbench actions to offer ``viewer`` on ``ticket`` now (the forms to show).

    The same choice as the buttons of the group's card (``notify.card_actions``), plus 回复
    wherever a progress message is allowed. Only a hint for the page: every action is checked
    again by ``desk.workbench`` when it arrives.
    """
    if not viewer.may_act(ticket):
        return []
    offered = {"claim", "transfer", "return", "resolve", "wait"}
    actions = [a for a in card_actions(ticket) if a in offered]
    if ticket.status in TRANSITIONS["progress"][0]:
        actions.append("reply")
    if "extend" in card_actions(ticket):
        actions.append("extend")
    return actions


async def pending_extensions(*, ticket: Ticket) -> list[ExtensionRequest]:
    """The ticket's extension requests still waiting for a decision."""
    return list(await ExtensionRequest.filter(ticket_id=ticket.id, status="pending"))


def may_decide_extensions(viewer: Viewer) -> bool:
    return viewer.role in DECIDE_EXTENSIONS


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (Telegram keeps the bytes; the desk keeps the file id)."""

    name: str
    mime: str
    size: int | None

    @property
    def size_label(self) -> str:
        return file_size_label(self.size)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a ticket's history.

    Attributes:
        at: when it happened.
        kind: ``event`` (a step of the workflow) or ``message`` (the conversation).
        title: what it was, in Chinese (认领, 企业留言, 回复企业…).
        actor: who did it or wrote it.
        note: the event's note or the message's text.
        from_label: an event's state before (Chinese), if it changed the state.
        to_label: an event's state after (Chinese), if it changed the state.
        direction: a message's ``in`` (from the enterprise) or ``out`` (to it).
        attachment: a message's file.
    """

    at: dt.datetime
    kind: str
    title: str
    actor: str
    note: str
    from_label: str = ""
    to_label: str = ""
    direction: str = ""
    attachment: Attachment | None = None


async def timeline(*, ticket: Ticket) -> list[TimelineEntry]:
    """The ticket's events and messages merged, oldest first.

    Progress replies and the enterprise's additions are logged both as an event and as a
    message; they appear once, as the message (which carries the attachment).
    """
    entries: list[tuple[dt.datetime, int, int, TimelineEntry]] = []
    for e in await TicketEvent.filter(ticket_id=ticket.id).order_by("id"):
        if e.action in _MESSAGE_EVENTS:
            continue
        note = briefing.RATING_NOTES.get(e.note, e.note) if e.action == "rate" else e.note
        changed = e.from_status != e.to_status
        entry = TimelineEntry(
            at=e.at,
            kind="event",
            title=EVENT_LABELS.get(e.action, e.action),
            actor=e.actor_name,
            note=note,
            from_label=_status_label(e.from_status) if changed else "",
            to_label=_status_label(e.to_status) if changed else "",
        )
        entries.append((e.at, 0, e.id, entry))
    for m in await TicketMessage.filter(ticket_id=ticket.id).order_by("id"):
        attachment = None
        if m.kind != "text" or m.file_id or m.file_name:
            attachment = Attachment(
                name=m.file_name or ("图片" if m.kind == "photo" else "附件"),
                mime=m.file_mime or "",
                size=m.file_size,
            )
        entry = TimelineEntry(
            at=m.at,
            kind="message",
            title="企业留言" if m.direction == "in" else "回复企业",
            actor=m.author_name,
            note=m.text,
            direction=m.direction,
            attachment=attachment,
        )
        entries.append((m.at, 1, m.id, entry))
    entries.sort(key=lambda x: (x[0], x[1], x[2]))
    return [entry for *_, entry in entries]


def _status_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return STATUS_LABELS[TicketStatus(value)]
    except ValueError:
        return value


def file_size_label(size: int | None) -> str:
    """1.5 MB, 820 KB, 312 B; an unknown size is 「大小未知」."""
    if size is None:
        return "大小未知"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _row(t: Ticket, *, tz: ZoneInfo, key: str | None) -> list[Any]:
    def naive(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else value.astimezone(tz).replace(tzinfo=None)

    dept = t.department
    return [
        t.ref,
        naive(t.created_at),
        dept.short if isinstance(dept, Department) else briefing.TRIAGE_LABEL,
        t.type,
        "是" if t.urgent else None,
        briefing._status(t.status.value),
        t.enterprise.name,
        key or None,
        naive(t.due_at),
        naive(t.claimed_at),
        naive(t.resolved_at),
        briefing._on_time(t.resolved_at, t.due_at),
        briefing._rating(t.rating_solved, t.rating_satisfaction) or None,
        briefing._cell_text(t.text),
    ]


async def export_workbook(*, rows: Sequence[Ticket], tz: ZoneInfo) -> bytes:
    """``rows`` as an xlsx workbook: sheet 工单, the columns of the monthly workbook.

    Args:
        rows: tickets with ``department`` and ``enterprise`` loaded (``export_rows``).
        tz: times are written in local time, without a zone.
    """
    from openpyxl import Workbook

    keyed = await keyaccounts.flags()
    values = [_row(t, tz=tz, key=keyed.get(t.enterprise_id)) for t in rows]

    def build() -> bytes:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("工单")
        ws.freeze_panes = "A2"
        for column, width in zip("ABCDEFGHIJKLMN", briefing.TICKET_WIDTHS, strict=False):
            ws.column_dimensions[column].width = width
        ws.append(list(briefing.TICKET_COLUMNS))
        for line in values:
            ws.append(line)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    return await asyncio.to_thread(build)
