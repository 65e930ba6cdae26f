"""The monthly briefing (营商环境简报) as a Word document, and the month's tickets as a workbook.

``monthly_briefing`` reads the month in a handful of SQL aggregates (``desk.stats`` for the
figures, one grouped query for six months of volume by department, capped lists for overdue,
escalated and commented tickets), clusters the month's requests for “每月一题” candidates
(``desk.topics``), then renders charts (matplotlib, Agg, no pyplot) and the document
(python-docx) in a worker thread so the event loop keeps serving other updates.

Sections: 一、总体情况 · 二、各部门受理量及趋势 · 三、部门考核排名 · 四、超期及升级督办工单 ·
五、企业评价与意见 · 六、“每月一题”候选 · then any section from :func:`liaison_section`
(七、联络员信息报送, when the month has liaison officers or reports).

``tickets_workbook`` writes the month's tickets and their events to an xlsx file (openpyxl in
write-only mode, read and written in pages).

Charts need a Chinese font. :func:`chart_font` looks for one through matplotlib's font
manager (WenQuanYi Micro Hei, Noto Sans CJK SC, Source Han Sans SC, SimHei ...); without one
the document is still built, the charts label departments by code and say why, and a warning
is logged. On Debian/Ubuntu: ``apt-get install -y fonts-wqy-microhei``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Case, F, Q, Subquery, When
from tortoise.functions import Count, Max, Min

from models.department import Department
from models.ticket import OPEN_STATUSES, Ticket, TicketEvent, TicketStatus

from . import keyaccounts, stats
from .errors import InvalidInput
from .stats import Figures, Period, Ranked, Report
from .workflow import ACTION_LABELS, STATUS_LABELS

if TYPE_CHECKING:
    from .topics import TopicReport

log = logging.getLogger(__name__)

TREND_MONTHS = 6
_MONTH_KEY = re.compile(r"\d{4}-\d{2}")
OVERDUE_LIST_MAX = 20
ESCALATED_LIST_MAX = 20
COMMENTS_MAX = 30
TOPICS_MAX = 8
TEXT_PREVIEW = 40
TRIAGE_LABEL = "待分拨"
LEVEL_NAMES = {0: "部门办理", 1: "会商", 2: "专题会", 3: "领导小组"}
ESCALATION_ACTIONS = ("urge", "escalate", "supervise")
EVENT_LABELS = {
    **ACTION_LABELS,
    "create": "受理",
    "urge": "催办",
    "escalate": "升级",
    "extend_request": "申请延期",
    "extend": "延期",
    "extension": "延期审批",
}
RATING_NOTES = {"s1": "已解决", "s0": "未解决", "m3": "满意", "m2": "基本满意", "m1": "不满意"}

# Fonts with Chinese glyphs, in order of preference (matplotlib family names).
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
    "Noto Serif CJK SC",
    "AR PL UMing CN",
)
_CJK_FILE_HINTS = ("wqy", "cjk", "sourcehan", "droidsansfallback", "simhei", "msyh", "notosanssc")
FONT_INSTALL_HINT = "apt-get install -y fonts-wqy-microhei"

DEFINITIONS = (
    "受理：本月新建的工单；派发：本月首次分拨到部门的工单（企业撤销的不计）。",
    "响应率：本月派发的工单中，在响应时限内被认领的比例。",
    "办结：本月给出办理结果的工单；按时办结率：其中在办理期限（含批准的延期）内办结的比例。",
    "解决率：本月回访中“已解决”占“已解决＋未解决”的比例；"
    "满意率：“满意＋基本满意”占全部满意度评价的比例。",
    "重办率：本月重办次数 / 本月办结数；退回率：本月（退回＋转办）次数 / 本月派发数，"
    "计入退回或转办的部门。",
    "超期：办理期限在本月内而未按期办结的工单；生成时月份未结束的，另计截至目前已超期仍未办结的工单。",
    "平均认领、办结工时：按工作时间计（暂停期间不计）。",
)


@dataclass(frozen=True)
class Briefing:
    """The finished document and the headline numbers it printed."""

    docx: bytes
    filename: str
    summary: dict[str, Any]


@dataclass
class Section:
    """A section of the briefing contributed by another module (see :func:`liaison_section`)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


async def liaison_section(*, period: Period, tz: ZoneInfo) -> Section | None:
    """The section 联络员信息报送 built from the liaison officers' reports (``desk.liaison``).

    ``None`` when the period's month has no liaisons and no reports; the briefing then has no
    such section. Printed after “每月一题” with the next number.
    """
    from .liaison import briefing_rows, month_key

    found = await briefing_rows(month=month_key(period.start.astimezone(tz).date()), tz=tz)
    if found is None:
        return None
    paragraphs, rows = found
    return Section(
        title="联络员信息报送",
        paragraphs=paragraphs,
        header=["部门", "联络员", "状态", "提交时间"],
        rows=rows,
    )


# ---------------------------------------------------------------- what the briefing reads


@dataclass
class _Data:
    period: Period
    previous: Period
    now: dt.datetime
    tz: ZoneInfo
    report: Report
    before: Report
    ranked: list[Ranked]
    names: dict[int | None, str]
    codes: dict[int | None, str]
    months: list[Period]
    trend: dict[int | None, list[int]]
    overdue_count: int
    overdue: list[dict[str, Any]]
    escalated_count: int
    escalated: list[dict[str, Any]]
    escalation_events: dict[str, int]
    escalated_events_by_ticket: dict[int, dict[str, int]]
    comments_count: int
    comments: list[dict[str, Any]]
    topics: TopicReport
    extra: list[Section]


def _month_back(period: Period, months: int, tz: ZoneInfo) -> Period:
    year, month = (int(x) for x in period.key.split("-"))
    index = year * 12 + month - 1 - months
    return stats.month_period(index // 12, index % 12 + 1, tz)


def _in(column: str, period: Period) -> dict[str, dt.datetime]:
    return {f"{column}__gte": period.start, f"{column}__lt": period.end}


async def _trend(months: list[Period]) -> dict[int | None, list[int]]:
    """Tickets received per department in each month: ONE grouped query over the range."""
    counts = {
        f"m{i}": Count("id", _filter=Q(created_at__gte=p.start, created_at__lt=p.end))
        for i, p in enumerate(months)
    }
    rows = (
        await Ticket.filter(created_at__gte=months[0].start, created_at__lt=months[-1].end)
        .annotate(**counts)
        .group_by("department_id")
        .values("department_id", *counts)
    )
    return {r["department_id"]: [int(r[f"m{i}"]) for i in range(len(months))] for r in rows}


_LIST_FIELDS = (
    "id",
    "ref",
    "department_id",
    "enterprise__name",
    "status",
    "created_at",
    "due_at",
    "resolved_at",
    "escalation_level",
    "text",
)


async def _overdue(period: Period, now: dt.datetime) -> tuple[int, list[dict[str, Any]]]:
    """Tickets overdue in the period (stats' definition), earliest deadline first."""
    late = Q(due_at__gte=period.start, due_at__lt=period.end) & (
        Q(resolved_at__isnull=True) | Q(resolved_at__gt=F("due_at"))
    )
    if period.end > now:
        late = late | Q(status__in=list(OPEN_STATUSES), due_at__lt=now)
    query = Ticket.filter(late, status__not=TicketStatus.CANCELLED)
    count = await query.count()
    rows = await query.order_by("due_at", "id").limit(OVERDUE_LIST_MAX).values(*_LIST_FIELDS)
    return count, list(rows)


# The event log's time index is partial (migration 0006, ``idx_ticket_event_stats``): it holds
# the events the statistics count, with ``at`` first. Keep this list equal to its WHERE clause.
INDEXED_EVENT_ACTIONS = ("rate", "reopen", "return", "transfer", "supervise")
ID_MARGIN = dt.timedelta(days=1)


async def _event_ids(period: Period) -> dict[str, int]:
    """Bounds on the ids of the events of ``period``, for a primary-key range scan.

    Event ids grow with time. The last indexed event a day before the period and the first a
    day after it (found through the partial index on ``at``) bracket every event of the
    period, whatever its action; callers still filter on ``at``, so the bounds only make the
    scan short, never the answer different.
    """
    indexed = TicketEvent.filter(action__in=list(INDEXED_EVENT_ACTIONS))
    before: Any = (
        await indexed.filter(at__lt=period.start - ID_MARGIN)
        .order_by("-at")
        .limit(1)
        .values_list("id", flat=True)
    )
    after: Any = (
        await indexed.filter(at__gte=period.end + ID_MARGIN)
        .order_by("at")
        .limit(1)
        .values_list("id", flat=True)
    )
    bounds = {"id__gt": int(before[0])} if before else {}
    if after:
        bounds["id__lt"] = int(after[0])
    return bounds


async def _escalated(
    period: Period,
) -> tuple[int, list[dict[str, Any]], dict[str, int], dict[int, dict[str, int]]]:
    """Tickets urged, escalated or supervised in the period, or created in it and escalated."""
    events = TicketEvent.filter(
        **await _event_ids(period), **_in("at", period), action__in=list(ESCALATION_ACTIONS)
    )
    by_action = {
        r["action"]: int(r["n"])
        for r in await events.annotate(n=Count("id")).group_by("action").values("action", "n")
    }
    # Two indexed queries instead of one OR (which would scan the whole ticket table): the
    # tickets with such events, and those created in the period at a level but without one.
    acted = Ticket.filter(id__in=Subquery(events.values("ticket_id")))
    created = Ticket.filter(**_in("created_at", period), escalation_level__gte=1).exclude(
        id__in=Subquery(events.values("ticket_id"))
    )
    count = await acted.count() + await created.count()
    order = ("-escalation_level", "created_at", "id")
    rows = [
        *await acted.order_by(*order).limit(ESCALATED_LIST_MAX).values(*_LIST_FIELDS),
        *await created.order_by(*order).limit(ESCALATED_LIST_MAX).values(*_LIST_FIELDS),
    ]
    rows.sort(key=lambda r: (-r["escalation_level"], r["created_at"], r["id"]))
    del rows[ESCALATED_LIST_MAX:]
    per_ticket: dict[int, dict[str, int]] = {}
    if rows:
        for r in (
            await events.filter(ticket_id__in=[row["id"] for row in rows])
            .annotate(n=Count("id"))
            .group_by("ticket_id", "action")
            .values("ticket_id", "action", "n")
        ):
            per_ticket.setdefault(r["ticket_id"], {})[r["action"]] = int(r["n"])
    return count, rows, by_action, per_ticket


async def _comments(period: Period) -> tuple[int, list[dict[str, Any]]]:
    """Reasons enterprises gave with their return visits in the period, unhappy ones first.

    The tickets rated in the period are those with a 评价 event in it (through the partial
    index on the event log's ``at``; ``ticket.rated_at`` has no index of its own).
    """
    rated = TicketEvent.filter(**_in("at", period), action="rate").values("ticket_id")
    query = Ticket.filter(id__in=Subquery(rated), rating_reason__isnull=False).exclude(
        rating_reason=""
    )
    count = await query.count()
    rows = (
        await query.annotate(
            unhappy=Case(
                When(rating_satisfaction="不满意", then="0"),
                When(rating_solved=False, then="1"),
                default="2",
            )
        )
        .order_by("unhappy", "rated_at", "id")
        .limit(COMMENTS_MAX)
        .values(
            "ref",
            "department_id",
            "enterprise__name",
            "rating_solved",
            "rating_satisfaction",
            "rating_reason",
            "rated_at",
        )
    )
    return count, list(rows)


async def _gather(*, period: Period, now: dt.datetime, tz: ZoneInfo) -> _Data:
    if not _MONTH_KEY.fullmatch(period.key):
        raise InvalidInput("简报按月生成：请写月份，例如 /report 2026-11。")
    previous = _month_back(period, 1, tz)
    months = [_month_back(period, n, tz) for n in range(TREND_MONTHS - 1, -1, -1)]
    # Imported here, not at the top: scipy (for the clustering) costs every worker ~11 MB and
    # 0.1 s at start-up, and only the reports loop ever builds a briefing.
    from .topics import month_topics

    # The clustering is CPU work in a thread: let it run while the database answers the rest.
    topics_task = asyncio.create_task(
        month_topics(start=period.start, end=period.end, max_topics=TOPICS_MAX)
    )
    try:
        report = await stats.compute(period, now=now)
        before = await stats.compute(previous, now=now)
        ranked = await stats.league(report)
        departments = await Department.all().values_list("id", "short", "code")
        trend = await _trend(months)
        overdue_count, overdue = await _overdue(period, now)
        escalated_count, escalated, by_action, per_ticket = await _escalated(period)
        comments_count, comments = await _comments(period)
        topics = await topics_task
    finally:
        topics_task.cancel()  # no-op when done; on an error, nobody waits for it
    names: dict[int | None, str] = {i: short for i, short, _ in departments}
    codes: dict[int | None, str] = {i: code for i, _, code in departments}
    names[None], codes[None] = TRIAGE_LABEL, "TRIAGE"
    extra = [s for s in [await liaison_section(period=period, tz=tz)] if s is not None]
    return _Data(
        period=period,
        previous=previous,
        now=now,
        tz=tz,
        report=report,
        before=before,
        ranked=ranked,
        names=names,
        codes=codes,
        months=months,
        trend=trend,
        overdue_count=overdue_count,
        overdue=overdue,
        escalated_count=escalated_count,
        escalated=escalated,
        escalation_events=by_action,
        escalated_events_by_ticket=per_ticket,
        comments_count=comments_count,
        comments=comments,
        topics=topics,
        extra=extra,
    )


async def monthly_briefing(*, period: Period, now: dt.datetime, tz: ZoneInfo) -> Briefing:
    """Build the month's briefing (营商环境简报) as a DOCX document.

    Raises:
        InvalidInput: ``period`` is not a calendar month.
    """
    started = time.perf_counter()
    data = await _gather(period=period, now=now, tz=tz)
    docx_bytes, summary = await asyncio.to_thread(_render, data)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    log.info("briefing %s built in %.1f s", period.key, summary["seconds"])
    return Briefing(docx=docx_bytes, filename=f"营商环境简报-{period.key}.docx", summary=summary)


# ---------------------------------------------------------------- numbers into words


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _change(now: int, before: int) -> str:
    if before == 0:
        return "—" if now == 0 else "新增"
    delta = (now - before) / before * 100
    return f"{'+' if delta >= 0 else ''}{delta:.1f}%"


def _rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    delta = (now - before) * 100
    return f"{'+' if delta >= 0 else ''}{delta:.1f}个百分点"


def _local(value: dt.datetime | None, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    return "" if value is None else value.astimezone(tz).strftime(fmt)


def _preview(text: str | None, limit: int = TEXT_PREVIEW) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _status(value: str) -> str:
    try:
        return STATUS_LABELS[TicketStatus(value)]
    except ValueError:
        return value


def _rating(solved: bool | None, satisfaction: str | None) -> str:
    if solved is None and satisfaction is None:
        return ""
    head = {True: "已解决", False: "未解决", None: "—"}[solved]
    return f"{head}／{satisfaction or '—'}"


def _figures_dict(f: Figures) -> dict[str, Any]:
    keys = ("received", "dispatched", "claimed", "resolved", "resolved_on_time")
    out: dict[str, Any] = {k: getattr(f, k) for k in keys}
    out["overdue"] = f.overdue
    out["open_overdue"] = f.open_overdue
    for name in stats.RATE_NAMES:
        value = getattr(f, name)
        out[name] = None if value is None else round(float(value), 4)
    return out


# ---------------------------------------------------------------- charts


@lru_cache(maxsize=1)
def chart_font() -> str | None:
    """The name of a font with Chinese glyphs that matplotlib can use, or ``None``.

    matplotlib's font list is cached on disk; a font installed after the cache was written is
    found by looking at the system font files once (by file name) and adding them.
    """
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in CJK_FONTS if n in names), None)

    found = known()
    if found is None:
        for path in font_manager.findSystemFonts():
            stem = Path(path).name.lower().replace("-", "").replace("_", "")
            if any(hint in stem for hint in _CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = known()
    if found is None:
        log.warning(
            "no Chinese font for the briefing's charts: departments are labelled by code; "
            "install one, e.g. `%s`",
            FONT_INSTALL_HINT,
        )
    return found


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas, outside pyplot (nothing global to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    fig.clear()
    return buf.getvalue()


def _charts(data: _Data, font: str | None) -> tuple[bytes, bytes]:
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    label = data.names if font else data.codes
    rc: Any = {"axes.unicode_minus": False, "font.size": 9}
    if font:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [font, "DejaVu Sans"]
    this = {d: f for d, f in data.report.by_department.items() if f.received or f.resolved}
    order = sorted(this, key=lambda d: (-this[d].received, label.get(d, "")))
    with matplotlib.rc_context(rc):
        fig = _figure(7.5, 3.6)
        ax = fig.add_subplot()
        xs = range(len(order))
        ax.bar(
            [x - 0.2 for x in xs],
            [this[d].received for d in order],
            0.4,
            label="受理" if font else "received",
        )
        ax.bar(
            [x + 0.2 for x in xs],
            [this[d].resolved for d in order],
            0.4,
            label="办结" if font else "resolved",
        )
        ax.set_xticks(list(xs), [label.get(d, str(d)) for d in order], rotation=45, ha="right")
        ax.legend(frameon=False)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        bars = _png(fig)

        # Two panels: the total dwarfs any one department on a shared axis.
        fig = _figure(7.5, 3.2)
        left, right = fig.subplots(1, 2, width_ratios=(2, 3))
        months = [p.key[2:] for p in data.months]  # 26-06: short enough for six ticks
        totals = [sum(v[i] for v in data.trend.values()) for i in range(len(months))]
        left.plot(months, totals, marker="o", linewidth=2.2, color="black")
        left.set_title("合计" if font else "total", fontsize=9)
        top = sorted(data.trend, key=lambda d: -data.trend[d][-1])[:5]
        for d in top:
            right.plot(months, data.trend[d], marker=".", linewidth=1.2, label=label.get(d, ""))
        right.set_title("本月受理量前五的部门" if font else "top 5 this month", fontsize=9)
        if top:
            right.legend(frameon=False, ncols=2, fontsize=7)
        for ax in (left, right):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
            ax.tick_params(axis="x", labelsize=7)
        lines = _png(fig)
    return bars, lines


# ---------------------------------------------------------------- the document


def _render(data: _Data) -> tuple[bytes, dict[str, Any]]:
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    font = chart_font()
    bars, lines = _charts(data, font)
    total, before = data.report.total, data.before.total

    doc = Document()
    section = doc.sections[0]
    section.left_margin = section.right_margin = Cm(2.2)
    for name, east_asian, size in (
        ("Normal", "宋体", 10.5),
        ("Title", "黑体", 22),
        ("Heading 1", "黑体", 14),
        ("Heading 2", "黑体", 12),
    ):
        style: Any = doc.styles[name]
        style.font.size = Pt(size)
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asian)

    def para(text: str = "", *, bold: bool = False, size: float | None = None) -> Any:
        p = doc.add_paragraph()
        run = p.add_run(text)
        run.bold = bold
        if size:
            run.font.size = Pt(size)
        return p

    def table(
        header: Sequence[str], rows: Iterable[Sequence[str]], widths: Sequence[float] = ()
    ) -> None:
        body = [list(r) for r in rows]
        t = doc.add_table(rows=1 + len(body), cols=len(header))
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        for row_index, values in enumerate([list(header), *body]):
            cells = t.rows[row_index].cells
            for col, value in enumerate(values):
                cells[col].text = str(value)
                for run in cells[col].paragraphs[0].runs:
                    run.font.size = Pt(8.5)
                    run.bold = row_index == 0
        for col, width in enumerate(widths):
            for cell in t.columns[col].cells:
                cell.width = Cm(width)
        doc.add_paragraph()

    def picture(png: bytes, caption: str) -> None:
        doc.add_picture(io.BytesIO(png), width=Cm(16))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        cap = para(caption, size=9)
        cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if font is None:
            para(
                "（注：生成本简报的服务器未安装中文字体，图中部门以代码标示；"
                f"安装字体（如 {FONT_INSTALL_HINT}）后重新生成即可显示中文。）",
                size=9,
            )

    title = doc.add_paragraph(style="Title")
    title.add_run("营商环境简报")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub = para(f"{data.period.label} · 企业服务热线 25201111 · 热线办编", size=11)
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    gen = para(f"生成时间：{_local(data.now, data.tz, '%Y-%m-%d %H:%M')}", size=9)
    gen.alignment = WD_ALIGN_PARAGRAPH.CENTER

    # 一、总体情况
    doc.add_heading("一、总体情况", level=1)
    open_note = (
        f"，截至目前另有 {total.open_overdue} 件已超期仍未办结" if total.open_overdue else ""
    )
    para(
        f"{data.period.label}，热线共受理企业诉求 {total.received} 件"
        f"（上月 {before.received} 件，环比 {_change(total.received, before.received)}），"
        f"派发部门 {total.dispatched} 件，办结 {total.resolved} 件，"
        f"其中按时办结 {total.resolved_on_time} 件；超期 {total.overdue} 件{open_note}。"
        f"响应率 {pct(total.response_rate)}，解决率 {pct(total.resolution_rate)}，"
        f"满意率 {pct(total.satisfaction_rate)}，按时办结率 {pct(total.on_time_rate)}。"
    )
    rows: list[list[str]] = []
    for label_text, attr in (
        ("受理（件）", "received"),
        ("派发（件）", "dispatched"),
        ("认领（件）", "claimed"),
        ("办结（件）", "resolved"),
        ("按时办结（件）", "resolved_on_time"),
        ("超期（件）", "overdue"),
    ):
        a, b = getattr(total, attr), getattr(before, attr)
        rows.append([label_text, str(a), str(b), _change(a, b)])
    for label_text, attr in (
        ("响应率", "response_rate"),
        ("解决率", "resolution_rate"),
        ("满意率", "satisfaction_rate"),
        ("按时办结率", "on_time_rate"),
        ("重办率", "reopen_rate"),
        ("退回率", "return_rate"),
    ):
        a_rate, b_rate = getattr(total, attr), getattr(before, attr)
        rows.append([label_text, pct(a_rate), pct(b_rate), _rate_change(a_rate, b_rate)])
    rows.append(
        ["平均认领工时（小时）", hours(total.avg_claim_hours), hours(before.avg_claim_hours), ""]
    )
    rows.append(
        [
            "平均办结工时（小时）",
            hours(total.avg_resolve_hours),
            hours(before.avg_resolve_hours),
            "",
        ]
    )
    table(["指标", "本月", f"上月（{data.previous.label}）", "变化"], rows, (5, 3, 4, 4))
    para("口径说明：", bold=True, size=9)
    for line in DEFINITIONS:
        para(line, size=9)

    # 二、各部门受理量及趋势
    doc.add_heading("二、各部门受理量及趋势", level=1)
    departments = sorted(
        set(data.trend) | {d for d, f in data.report.by_department.items() if f.received},
        key=lambda d: (-(data.trend.get(d, [0])[-1]), data.names.get(d, "")),
    )
    month_labels = [f"{int(p.key[5:])}月" for p in data.months]
    trend_rows = []
    for d in departments:
        series = data.trend.get(d, [0] * len(data.months))
        trend_rows.append(
            [data.names.get(d, str(d)), *map(str, series), _change(series[-1], series[-2])]
        )
    sums = [sum(v[i] for v in data.trend.values()) for i in range(len(data.months))]
    trend_rows.append(["合计", *map(str, sums), _change(sums[-1], sums[-2])])
    table(["部门", *month_labels, "环比"], trend_rows)
    picture(bars, f"图1 {data.period.label}各部门受理及办结量")
    picture(lines, f"图2 近{TREND_MONTHS}个月受理量走势（左：合计；右：本月受理量前五的部门）")

    # 三、部门考核排名
    doc.add_heading("三、部门考核排名", level=1)
    para(
        "按“三率”（响应率、解决率、满意率）的平均值排名；并列时依次比较按时办结率、派发量。"
        "本月无工单的部门不参加排名。"
    )
    league_rows = []
    unranked = []
    rank = 0
    for r in data.ranked:
        if r.score is None:
            unranked.append(r.name)
            continue
        rank += 1
        f = r.figures
        league_rows.append(
            [
                str(rank),
                r.name,
                str(f.dispatched),
                pct(f.response_rate),
                pct(f.resolution_rate),
                pct(f.satisfaction_rate),
                pct(f.on_time_rate),
                pct(f.reopen_rate),
                pct(f.return_rate),
                hours(f.avg_claim_hours),
                hours(f.avg_resolve_hours),
                pct(r.score),
            ]
        )
    header = [
        "名次",
        "部门",
        "派发",
        "响应率",
        "解决率",
        "满意率",
        "按时办结率",
        "重办率",
        "退回率",
        "认领工时",
        "办结工时",
        "综合",
    ]
    if league_rows:
        table(header, league_rows)
    else:
        para("本月没有可排名的部门。")
    if unranked:
        para("本月无工单的部门：" + "、".join(unranked) + "。", size=9)

    # 四、超期及升级督办工单
    doc.add_heading("四、超期及升级督办工单", level=1)
    doc.add_heading("（一）超期工单", level=2)
    shown = (
        f"，列出期限最早的 {len(data.overdue)} 件"
        if data.overdue_count > len(data.overdue)
        else ""
    )
    para(
        f"本月超期工单共 {data.overdue_count} 件{shown}。"
        if data.overdue_count
        else "本月无超期工单。"
    )
    if data.overdue:
        table(
            ["工单号", "部门", "企业", "办理期限", "办结时间", "状态", "诉求"],
            (
                [
                    r["ref"],
                    data.names.get(r["department_id"], ""),
                    _preview(r["enterprise__name"], 14),
                    _local(r["due_at"], data.tz),
                    _local(r["resolved_at"], data.tz) or "未办结",
                    _status(r["status"]),
                    _preview(r["text"]),
                ]
                for r in data.overdue
            ),
        )
    doc.add_heading("（二）催办、升级及督办", level=2)
    ev = data.escalation_events
    if data.escalated_count:
        shown = (
            f"，列出级别最高的 {len(data.escalated)} 件"
            if data.escalated_count > len(data.escalated)
            else ""
        )
        para(
            f"本月催办 {ev.get('urge', 0)} 次、升级 {ev.get('escalate', 0)} 次、"
            f"督办 {ev.get('supervise', 0)} 次，涉及工单 {data.escalated_count} 件{shown}。"
        )
        table(
            ["工单号", "部门", "企业", "当前级别", "催办/升级/督办", "状态", "诉求"],
            (
                [
                    r["ref"],
                    data.names.get(r["department_id"], ""),
                    _preview(r["enterprise__name"], 14),
                    LEVEL_NAMES.get(r["escalation_level"], str(r["escalation_level"])),
                    "/".join(
                        str(data.escalated_events_by_ticket.get(r["id"], {}).get(a, 0))
                        for a in ESCALATION_ACTIONS
                    ),
                    _status(r["status"]),
                    _preview(r["text"]),
                ]
                for r in data.escalated
            ),
        )
    else:
        para("本月无催办、升级或督办的工单。")

    # 五、企业评价与意见
    doc.add_heading("五、企业评价与意见", level=1)
    para(
        f"本月回访评价：已解决 {total.solved_yes} 件、未解决 {total.solved_no} 件；"
        f"满意 {total.satisfied} 件、基本满意 {total.basically} 件、"
        f"不满意 {total.unsatisfied} 件。"
        f"解决率 {pct(total.resolution_rate)}，满意率 {pct(total.satisfaction_rate)}。"
    )
    if data.comments:
        more = (
            f"（共 {data.comments_count} 条，列出 {len(data.comments)} 条）"
            if data.comments_count > len(data.comments)
            else f"（共 {data.comments_count} 条）"
        )
        para(f"企业意见{more}，不满意在前：")
        for c in data.comments:
            rating = _rating(c["rating_solved"], c["rating_satisfaction"])
            dept = data.names.get(c["department_id"], "")
            who = f"{c['ref']}，{dept}，{_preview(c['enterprise__name'], 14)}"
            para(f"【{rating or '未评'}】{who}：{_preview(c['rating_reason'], 120)}")
    else:
        para("本月回访中企业未留下文字意见。")

    # 六、“每月一题”候选
    doc.add_heading("六、“每月一题”候选", level=1)
    tr = data.topics
    by_code = {data.codes[d]: data.names[d] for d in data.codes}
    by_code["—"] = TRIAGE_LABEL
    method = (
        f"本月诉求 {tr.total} 件（撤销及表扬的不计），"
        + (f"随机抽取 {tr.analysed} 件" if tr.sampled else "全部")
        + "按内容聚类，保留多家企业共同反映的问题，按涉及企业数排序"
        + ("；件数按抽样比例估算全月。" if tr.sampled else "。")
    )
    para(method, size=9)
    if not tr.topics:
        para("本月未发现多家企业共同反映的问题。")
    for n, t in enumerate(tr.topics, 1):
        count = f"约 {t.estimated} 件（样本中 {t.count} 件）" if tr.sampled else f"{t.count} 件"
        depts = "、".join(f"{by_code.get(code, code)} {k} 件" for code, k in t.departments[:4])
        para(f"候选{_cn(n)}：{'、'.join(t.terms)}", bold=True)
        para(f"诉求 {count}，涉及 {t.enterprises} 家企业；承办部门：{depts}。")
        for ref, text in t.examples:
            para(f"例：{ref} {_preview(text, 80)}", size=9)

    # Sections from other modules (liaison officers' reports, later).
    for n, extra in enumerate(data.extra, 7):
        doc.add_heading(f"{_cn(n)}、{extra.title}", level=1)
        for line in extra.paragraphs:
            para(line)
        if extra.header:
            table(extra.header, extra.rows)

    buf = io.BytesIO()
    doc.save(buf)
    summary: dict[str, Any] = {
        "period": data.period.key,
        "label": data.period.label,
        **_figures_dict(total),
        "previous": _figures_dict(before),
        "league": [r.code for r in data.ranked if r.score is not None],
        "overdue_listed": data.overdue_count,
        "escalated": data.escalated_count,
        "escalation_events": dict(data.escalation_events),
        "comments": data.comments_count,
        "topics": [t.terms for t in tr.topics],
        "topics_analysed": tr.analysed,
        "chart_font": font,
    }
    return buf.getvalue(), summary


_DIGITS = "零一二三四五六七八九"


def _cn(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二 (enough for section and candidate numbers)."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


# ---------------------------------------------------------------- the workbook

TICKET_COLUMNS = (
    "工单号",
    "受理时间",
    "部门",
    "类型",
    "紧急",
    "状态",
    "企业",
    "重点标识",  # 重点企业 / 重点项目 (desk.keyaccounts), empty for the others
    "办理期限",
    "认领时间",
    "办结时间",
    "按时办结",
    "评价",
    "诉求内容",
)
EVENT_COLUMNS = ("工单号", "时间", "动作", "操作人", "部门", "原状态", "新状态", "说明")
TICKET_WIDTHS = (18, 17, 12, 6, 6, 12, 28, 18, 17, 17, 17, 8, 16, 80)
EVENT_WIDTHS = (18, 17, 10, 12, 12, 12, 12, 60)
PAGE = 5000


async def tickets_workbook(*, period: Period, tz: ZoneInfo) -> bytes:
    """The period's tickets (created in it) and all their events, as an xlsx workbook.

    Sheet 工单: one row per ticket, by id. Sheet 办理过程: every event of those tickets,
    ticket by ticket, each ticket's in the order they happened. Times are local (``tz``),
    without a zone. Both are read in pages of ticket ids (primary key, and the event log's
    ``(ticket_id, id)`` index) and appended in a worker thread, so memory stays bounded and
    the event loop is not held up. openpyxl's cell writing is most of the time (about 100,000
    cells a second): empty cells are left out (None, not ""), which saves a sixth of it.
    """
    from openpyxl import Workbook

    names: dict[int | None, str] = dict(await Department.all().values_list("id", "short"))
    wb = Workbook(write_only=True)
    tickets_ws = wb.create_sheet("工单")
    events_ws = wb.create_sheet("办理过程")
    for ws, widths in ((tickets_ws, TICKET_WIDTHS), (events_ws, EVENT_WIDTHS)):
        ws.freeze_panes = "A2"  # the header stays in view
        for column, width in zip("ABCDEFGHIJKLMN", widths, strict=False):
            ws.column_dimensions[column].width = width
    await asyncio.to_thread(_append, tickets_ws, [list(TICKET_COLUMNS)])
    keyed = await keyaccounts.flags()
    await asyncio.to_thread(_append, events_ws, [list(EVENT_COLUMNS)])

    def naive(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else value.astimezone(tz).replace(tzinfo=None)

    month = Ticket.filter(**_in("created_at", period))
    bounds: Any = await month.annotate(lo=Min("id"), hi=Max("id")).values("lo", "hi")
    lo, hi = (bounds[0]["lo"], bounds[0]["hi"]) if bounds else (None, None)
    refs: dict[int, str] = {}
    for start in range(lo or 0, (hi or -1) + 1, PAGE):  # pages of ids: primary-key ranges
        page = list(
            await month.filter(id__gte=start, id__lt=start + PAGE)
            .order_by("id")
            .values(
                "id",
                "ref",
                "created_at",
                "department_id",
                "type",
                "urgent",
                "status",
                "enterprise_id",
                "enterprise__name",
                "due_at",
                "claimed_at",
                "resolved_at",
                "rating_solved",
                "rating_satisfaction",
                "text",
            )
        )
        refs.update((r["id"], r["ref"]) for r in page)
        rows = [
            [
                r["ref"],
                naive(r["created_at"]),
                names.get(r["department_id"], TRIAGE_LABEL),
                r["type"],
                "是" if r["urgent"] else None,
                _status(r["status"]),
                r["enterprise__name"],
                keyed.get(r["enterprise_id"]) or None,
                naive(r["due_at"]),
                naive(r["claimed_at"]),
                naive(r["resolved_at"]),
                _on_time(r["resolved_at"], r["due_at"]),
                _rating(r["rating_solved"], r["rating_satisfaction"]) or None,
                _cell_text(r["text"]),
            ]
            for r in page
        ]
        await asyncio.to_thread(_append, tickets_ws, rows)
        if not page:
            continue
        events = await (
            TicketEvent.filter(ticket_id__gte=page[0]["id"], ticket_id__lte=page[-1]["id"])
            .order_by("ticket_id", "id")
            .values_list(
                "ticket_id",
                "at",
                "action",
                "actor_name",
                "department_id",
                "from_status",
                "to_status",
                "note",
            )
        )
        event_rows = [
            [
                refs[tid],
                naive(at),
                EVENT_LABELS.get(action, action),
                actor or None,
                names.get(dept) if dept is not None else None,
                _status(src) if src else None,
                _status(dst) if dst else None,
                _cell_text(RATING_NOTES.get(note, note) if action == "rate" else note) or None,
            ]
            for tid, at, action, actor, dept, src, dst, note in events
            if tid in refs  # an id inside the page's range may belong to another month
        ]
        await asyncio.to_thread(_append, events_ws, event_rows)

    buf = io.BytesIO()
    await asyncio.to_thread(wb.save, buf)
    return buf.getvalue()


def _on_time(resolved: dt.datetime | None, due: dt.datetime | None) -> str | None:
    if resolved is None or due is None:
        return None
    return "是" if resolved <= due else "否"


_ILLEGAL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32)])


def _cell_text(text: str | None) -> str:
    """Text openpyxl accepts: control characters removed, cut to Excel's cell limit."""
    return (text or "").translate(_ILLEGAL)[:32000]


def _append(ws: Any, rows: list[list[Any]]) -> None:
    for values in rows:
        ws.append(values)
