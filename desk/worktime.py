"""Working time: office hours on working days, with Chinese holidays and 调休 make-up workdays.

The calendar of a day is decided in this order:

1. an override (a ``calendar_day`` row: an admin's decision, or a seeded ``chinese_calendar``
   row) always wins and is never estimated;
2. for a year ``chinese_calendar`` knows (statutory holidays and 调休 make-up workdays, up to
   2026 with chinesecalendar 1.11): the package's answer;
3. for a year whose schedule an admin has entered as overrides (at least
   :data:`YEAR_LOADED_MIN_HOLIDAYS` days off): Monday to Friday are workdays;
4. otherwise an *estimate*: weekends plus the statutory holidays fixed by law, with the law's
   补假 for a holiday on a weekend (python-holidays ``China``); the 调休 make-up Saturdays are
   unknowable in advance. Such days are flagged ``estimated`` and so is every deadline that
   touches them. A year without data never crashes a computation and is never treated as all
   workdays; :func:`missing_years` tells the desk when to warn the admins.

Working time is counted inside the office segments (default 09:00–12:00 and 13:30–17:30,
Asia/Shanghai) of working days only: the lunch break, nights, weekends and holidays are skipped.
Segments are half-open: 12:00 is not working time, 11:59:59 is.

:class:`WorkCalendar` is pure and in memory; :func:`load_calendar`, :func:`seed_calendar`,
:func:`set_day` and :func:`clear_day` are the database side.
"""

from __future__ import annotations

import calendar as _stdcal
import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chinese_calendar.constants import Holiday
from chinese_calendar.constants import holidays as _CC_HOLIDAYS
from chinese_calendar.constants import workdays as _CC_WORKDAYS
from tortoise.transactions import in_transaction

from models.calendar import CalendarDay, DayKind, DaySource

log = logging.getLogger(__name__)

__all__ = [
    "PACKAGE_YEARS",
    "YEAR_LOADED_MIN_HOLIDAYS",
    "DayInfo",
    "DayKind",
    "Deadline",
    "OfficeHours",
    "WorkCalendar",
    "clear_day",
    "format_month",
    "load_calendar",
    "missing_years",
    "parse_month",
    "seed_calendar",
    "set_day",
]

UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)

#: Years ``chinese_calendar`` has data for (it raises ``NotImplementedError`` outside them).
PACKAGE_YEARS = range(min(_CC_HOLIDAYS).year, max(_CC_HOLIDAYS).year + 1)

#: A year without package data counts as loaded by the admins once its overrides hold at least
#: this many days off: the 13 statutory holidays per year since the 2025 revision of
#: 全国年节及纪念日放假办法. A few ad-hoc closures (a typhoon day) do not make a year official.
YEAR_LOADED_MIN_HOLIDAYS = 13

#: How far the calendar looks for working time before it gives up (a misconfigured calendar).
MAX_SEARCH_DAYS = 3660

_CC_NAMES: dict[str, str] = {h.value: h.chinese for h in Holiday}
_WEEKDAYS_ZH = "一二三四五六日"


@dataclass(frozen=True, slots=True)
class DayInfo:
    """What one calendar day is.

    Attributes:
        workday: whether the office works that day.
        kind: holiday (休), makeup (调休上班, 班), workday or weekend.
        name: the holiday's name (国庆节, 春节…), also on its make-up days; "" otherwise.
        estimated: True when the year has no official data and the answer is a guess.
    """

    workday: bool
    kind: DayKind
    name: str
    estimated: bool


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed deadline.

    Attributes:
        at: the moment, timezone-aware, in UTC.
        estimated: True when some day counted was estimated (no official calendar data).
    """

    at: dt.datetime
    estimated: bool


@dataclass(frozen=True)
class OfficeHours:
    """The office's working segments of a working day, in local time.

    Attributes:
        segments: ordered, non-overlapping ``(start, end)`` local times; the default is
            09:00–12:00 and 13:30–17:30 (a lunch break in between).
        tz: the IANA time zone of those times.
    """

    segments: tuple[tuple[dt.time, dt.time], ...] = (
        (dt.time(9, 0), dt.time(12, 0)),
        (dt.time(13, 30), dt.time(17, 30)),
    )
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("office hours need at least one segment")
        previous_end: dt.time | None = None
        for start, end in self.segments:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("office segments are local times without tzinfo")
            if not start < end:
                raise ValueError(f"office segment {start}–{end} ends before it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError("office segments must be ordered and must not overlap")
            previous_end = end
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc

    @property
    def zone(self) -> ZoneInfo:
        """The time zone as a ``ZoneInfo``."""
        return ZoneInfo(self.tz)

    @property
    def day_end(self) -> dt.time:
        """End of office hours (the end of the last segment), e.g. 17:30."""
        return self.segments[-1][1]

    @property
    def day_seconds(self) -> float:
        """Working seconds in one full working day (7 h = 25 200 s by default)."""
        day = dt.date(2000, 1, 3)
        return sum(
            (dt.datetime.combine(day, end) - dt.datetime.combine(day, start)).total_seconds()
            for start, end in self.segments
        )

    def describe(self) -> str:
        """The segments as text, e.g. ``09:00–12:00、13:30–17:30``."""
        return "、".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in self.segments)


def _weekday_info(day: dt.date, *, estimated: bool) -> DayInfo:
    if day.weekday() < 5:
        return DayInfo(True, DayKind.WORKDAY, "", estimated)
    return DayInfo(False, DayKind.WEEKEND, "", estimated)


def _package_info(day: dt.date) -> DayInfo | None:
    """The package's holiday or make-up entry for ``day`` (None for an ordinary day)."""
    if day in _CC_WORKDAYS:
        label = _CC_WORKDAYS[day]
        return DayInfo(True, DayKind.MAKEUP, _CC_NAMES.get(label, label), False)
    if day in _CC_HOLIDAYS:
        label = _CC_HOLIDAYS[day]
        return DayInfo(False, DayKind.HOLIDAY, _CC_NAMES.get(label, label), False)
    return None


def _fixed_by_law(year: int) -> dict[dt.date, str]:
    """Statutory holidays of ``year`` with the law's 补假, from python-holidays.

    Falls back to the solar-calendar holidays only (元旦, 劳动节, 国庆节) when python-holidays is
    missing or fails, so that a computation still never crashes.
    """
    try:
        import holidays

        found = holidays.China(years=year, language="zh_CN")
        return {day: str(name) for day, name in found.items()}
    except Exception:
        log.exception("python-holidays unavailable for %s; only solar holidays estimated", year)
        fixed = {dt.date(year, 1, 1): "元旦", dt.date(year, 5, 1): "劳动节"}
        fixed.update({dt.date(year, 10, d): "国庆节" for d in (1, 2, 3)})
        return fixed


def _aware_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: give a timezone-aware moment")
    return moment.astimezone(UTC)


class WorkCalendar:
    """Working days and office hours, in memory; immutable once built.

    Args:
        overrides: days that differ from the rules: ``{date: (workday, kind, name)}`` with
            ``kind`` one of holiday, makeup, workday, weekend. They win and are not estimated.
        office: office hours and time zone.
        package_years: years whose ``chinese_calendar`` data is used; default every year the
            installed package knows (:data:`PACKAGE_YEARS`). Tests pin it so that a newer package
            does not change what they check.
    """

    def __init__(
        self,
        overrides: Mapping[dt.date, tuple[bool, str, str]] | None = None,
        *,
        office: OfficeHours = OfficeHours(),
        package_years: Iterable[int] | None = None,
    ) -> None:
        self.office = office
        self._zone = office.zone
        self._overrides: dict[dt.date, DayInfo] = {
            day: DayInfo(bool(workday), DayKind(kind), name or "", False)
            for day, (workday, kind, name) in (overrides or {}).items()
        }
        known = set(PACKAGE_YEARS)
        self._package_years = frozenset(
            known if package_years is None else known.intersection(package_years)
        )
        days_off: dict[int, int] = {}
        for day, info in self._overrides.items():
            if not info.workday and info.kind == DayKind.HOLIDAY:
                days_off[day.year] = days_off.get(day.year, 0) + 1
        self._override_years = frozenset(
            year for year, count in days_off.items() if count >= YEAR_LOADED_MIN_HOLIDAYS
        )
        self._law: dict[int, dict[dt.date, str]] = {}
        self._days: dict[dt.date, DayInfo] = {}
        self._segments: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = {}

    # -- days ------------------------------------------------------------------------------

    def has_official_data(self, year: int) -> bool:
        """Whether ``year`` is known from ``chinese_calendar`` or from admin overrides."""
        return year in self._package_years or year in self._override_years

    def day_info(self, day: dt.date) -> DayInfo:
        """What ``day`` is: workday or not, its kind and name, and whether that is estimated."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        info = self._overrides.get(day)
        if info is None:
            year = day.year
            if year in self._package_years:
                info = _package_info(day) or _weekday_info(day, estimated=False)
            elif year in self._override_years:
                info = _weekday_info(day, estimated=False)
            else:
                law = self._law.get(year)
                if law is None:
                    law = self._law[year] = _fixed_by_law(year)
                    log.warning(
                        "no official holiday schedule for %s: estimating from weekends and "
                        "statutory holidays",
                        year,
                    )
                name = law.get(day)
                if name is not None:
                    info = DayInfo(False, DayKind.HOLIDAY, name, True)
                else:
                    info = _weekday_info(day, estimated=True)
        self._days[day] = info
        return info

    def is_workday(self, day: dt.date) -> bool:
        """Whether the office works on ``day``."""
        return self.day_info(day).workday

    def _day_segments(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """The office segments of ``day`` as UTC moments; empty on a day off."""
        cached = self._segments.get(day)
        if cached is not None:
            return cached
        segments: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
        if self.day_info(day).workday:
            zone = self._zone
            segments = tuple(
                (
                    dt.datetime.combine(day, start, tzinfo=zone).astimezone(UTC),
                    dt.datetime.combine(day, end, tzinfo=zone).astimezone(UTC),
                )
                for start, end in self.office.segments
            )
        self._segments[day] = segments
        return segments

    def _local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self._zone).date()

    # -- time ------------------------------------------------------------------------------

    def is_working_time(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` (aware) falls inside an office segment of a working day."""
        moment = _aware_utc(moment)
        return any(s <= moment < e for s, e in self._day_segments(self._local_date(moment)))

    def next_working_moment(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` itself if it is working time, else the start of the next segment (UTC).

        Raises:
            ValueError: for a naive datetime, or when no working time exists within
                :data:`MAX_SEARCH_DAYS` days (a calendar with no workdays).
        """
        moment = _aware_utc(moment)
        day = self._local_date(moment)
        for _ in range(MAX_SEARCH_DAYS):
            for start, end in self._day_segments(day):
                if moment < end:
                    return max(moment, start)
            day += ONE_DAY
        raise ValueError(f"no working time within {MAX_SEARCH_DAYS} days after {moment}")

    def add_working_time(self, start: dt.datetime, *, hours: float = 0, days: int = 0) -> Deadline:
        """The deadline ``days`` working days and then ``hours`` working hours after ``start``.

        Working hours count only inside office segments of working days; a start outside office
        time begins at the next segment, and a deadline that lands exactly on the end of a
        segment stays there (12:00, not 13:30).

        Working days: ``days=N`` is the end of office hours (17:30 local by default) of the
        N-th working day after the local day of ``start``; the start day itself is never
        counted, whatever the hour. So a ticket opened on Friday (any time) with 1 working day
        is due on Monday at 17:30, or on the 调休 Saturday when that Saturday is worked. When
        both are given, the days are added first, then the hours (continuing on the next
        working day). With neither, the deadline is ``start``.

        Args:
            start: a timezone-aware moment.
            hours: working hours (may be fractional), >= 0.
            days: whole working days, >= 0.

        Returns:
            The deadline in UTC, and whether any day it counted was estimated.

        Raises:
            ValueError: for a naive ``start``, negative amounts, or a calendar without working
                time within :data:`MAX_SEARCH_DAYS` days.
        """
        if hours < 0 or days < 0:
            raise ValueError("working time to add must be >= 0")
        moment = _aware_utc(start)
        day = self._local_date(moment)
        estimated = self.day_info(day).estimated
        if days:
            left = days
            for _ in range(MAX_SEARCH_DAYS):
                day += ONE_DAY
                info = self.day_info(day)
                estimated |= info.estimated
                if info.workday:
                    left -= 1
                    if not left:
                        break
            else:
                raise ValueError(f"no {days} working days within {MAX_SEARCH_DAYS} days")
            end = dt.datetime.combine(day, self.office.day_end, tzinfo=self._zone)
            moment = end.astimezone(UTC)
        if not hours:
            return Deadline(moment, estimated)
        remaining = dt.timedelta(hours=hours)
        for _ in range(MAX_SEARCH_DAYS):
            estimated |= self.day_info(day).estimated
            for seg_start, seg_end in self._day_segments(day):
                if moment >= seg_end:
                    continue
                begin = max(moment, seg_start)
                available = seg_end - begin
                if remaining <= available:
                    return Deadline(begin + remaining, estimated)
                remaining -= available
                moment = seg_end
            day += ONE_DAY
        raise ValueError(f"no {hours} working hours within {MAX_SEARCH_DAYS} days")

    def working_seconds_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working seconds from ``a`` to ``b`` (negative when ``b`` is before ``a``).

        Used for SLA pause/resume (remaining = target - elapsed) and the 50 %/80 % warnings.
        """
        a, b = _aware_utc(a), _aware_utc(b)
        if b < a:
            return -self.working_seconds_between(b, a)
        total = 0.0
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            for start, end in self._day_segments(day):
                low, high = max(start, a), min(end, b)
                if high > low:
                    total += (high - low).total_seconds()
            day += ONE_DAY
        return total


def missing_years(cal: WorkCalendar, today: dt.date) -> list[int]:
    """Years the desk must warn about loudly: no ``chinese_calendar`` data and no overrides.

    The current year is listed whenever it has no data; from 1 December, the next year too.

    Args:
        cal: the calendar in use.
        today: the local date (injected clock).

    Returns:
        The years without official data, ascending; empty when all is well.
    """
    years = []
    if not cal.has_official_data(today.year):
        years.append(today.year)
    if today >= dt.date(today.year, 12, 1) and not cal.has_official_data(today.year + 1):
        years.append(today.year + 1)
    return years


# -- the month view (desk calendar show 2026-10) ---------------------------------------------

_MONTH_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def parse_month(text: str) -> tuple[int, int]:
    """``"2026-10"`` -> ``(2026, 10)``.

    Raises:
        ValueError: when the text is not ``YYYY-MM`` with a month 1..12.
    """
    match = _MONTH_RE.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _label(day: dt.date) -> str:
    return f"{day.month}月{day.day}日（{_WEEKDAYS_ZH[day.weekday()]}）"


def _marked_off(day: dt.date, info: DayInfo) -> bool:
    """A day off that is not an ordinary weekend: 休 (a holiday, or a weekday closed)."""
    return not info.workday and (info.kind == DayKind.HOLIDAY or day.weekday() < 5)


def _marked_on(day: dt.date, info: DayInfo) -> bool:
    """A worked Saturday or Sunday: 班 (调休上班)."""
    return info.workday and day.weekday() >= 5


def format_month(cal: WorkCalendar, year: int, month: int) -> str:
    """The month as text: a grid marking 休 and 班, the holidays and 调休 days, the workday count.

    Args:
        cal: the calendar.
        year: e.g. 2026.
        month: 1..12.

    Returns:
        Several lines for a terminal (CJK characters are two columns wide there).
    """
    first = dt.date(year, month, 1)
    count = _stdcal.monthrange(year, month)[1]
    days = [first + dt.timedelta(days=i) for i in range(count)]
    infos = [cal.day_info(d) for d in days]

    lines = [f"{year}年{month}月 工作日历（{cal.office.tz}，办公时间 {cal.office.describe()}）"]
    if any(info.estimated for info in infos):
        lines.append(
            f"⚠ 估算：{year}年没有官方放假安排（chinese_calendar 无该年数据，管理员也未录入），"
            "本月按周末和法定节假日估算，调休上班日未知；按此计算的期限标注为“估算”。"
            "请管理员录入该年放假安排或升级 chinesecalendar。"
        )
    lines.append(" ".join(f" {c} " for c in _WEEKDAYS_ZH).rstrip())
    cells = ["    "] * first.weekday()
    for day, info in zip(days, infos, strict=True):
        mark = "休" if _marked_off(day, info) else "班" if _marked_on(day, info) else "  "
        cells.append(f"{day.day:>2}{mark}")
    for i in range(0, len(cells), 7):
        lines.append(" ".join(cells[i : i + 7]).rstrip())
    lines.append("休＝放假　班＝调休上班　其余：周一至周五上班，周六、周日休息")

    holidays: list[tuple[dt.date, dt.date, str]] = []
    makeups: list[tuple[dt.date, str]] = []
    for day, info in zip(days, infos, strict=True):
        if _marked_off(day, info):
            if holidays and holidays[-1][2] == info.name and holidays[-1][1] + ONE_DAY == day:
                holidays[-1] = (holidays[-1][0], day, info.name)
            else:
                holidays.append((day, day, info.name))
        elif _marked_on(day, info):
            makeups.append((day, info.name))

    lines.append("")
    lines.append("放假：" if holidays else "放假：无")
    for begin, end, name in holidays:
        span = (end - begin).days + 1
        when = _label(begin) if span == 1 else f"{_label(begin)}至{_label(end)}"
        lines.append(f"  {when}  {name or '放假'}，{span}天")
    lines.append("调休上班：" if makeups else "调休上班：无")
    for day, name in makeups:
        lines.append(f"  {_label(day)}  {name + '调休' if name else '调休'}上班")
    worked = sum(info.workday for info in infos)
    lines.append(
        f"本月工作日：{worked} 天" + ("（估算）" if any(i.estimated for i in infos) else "")
    )
    return "\n".join(lines)


# -- database side ---------------------------------------------------------------------------


async def load_calendar(*, office: OfficeHours = OfficeHours()) -> WorkCalendar:
    """Build the calendar from the ``calendar_day`` rows (seeded and admin) as overrides.

    Args:
        office: office hours and time zone.
    """
    rows = await CalendarDay.all().values_list("day", "workday", "kind", "name")
    overrides = {day: (bool(workday), str(kind), name) for day, workday, kind, name in rows}
    return WorkCalendar(overrides, office=office)


def _package_days(years: Iterable[int]) -> dict[dt.date, DayInfo]:
    wanted = set(years)
    found: dict[dt.date, DayInfo] = {}
    for day in (*_CC_HOLIDAYS, *_CC_WORKDAYS):
        if day.year in wanted:
            info = _package_info(day)
            if info is not None:
                found[day] = info
    return found


async def seed_calendar(years: Iterable[int] | None = None) -> int:
    """Write ``chinese_calendar``'s holidays and 调休 make-up days into ``calendar_day``.

    Idempotent: a second run changes nothing. Rows with source admin are never touched; rows a
    previous seed wrote that the installed package no longer lists are removed.

    Args:
        years: the years to seed; default every year the package knows. Years it does not know
            are skipped with a warning.

    Returns:
        How many rows were created, changed or removed.
    """
    known = set(PACKAGE_YEARS)
    target = known if years is None else known.intersection(years)
    if years is not None and (unknown := sorted(set(years) - known)):
        log.warning("chinese_calendar has no data for %s; not seeded", unknown)
    if not target:
        return 0
    wanted = _package_days(target)
    low, high = dt.date(min(target), 1, 1), dt.date(max(target), 12, 31)
    changed = 0
    async with in_transaction() as conn:
        existing = {
            row.day: row
            for row in await CalendarDay.filter(day__gte=low, day__lte=high).using_db(conn)
        }
        fresh = [
            CalendarDay(
                day=day,
                workday=info.workday,
                kind=info.kind,
                name=info.name,
                source=DaySource.CHINESE_CALENDAR,
            )
            for day, info in sorted(wanted.items())
            if day not in existing
        ]
        stale = []
        for day, row in existing.items():
            if row.source == DaySource.ADMIN or day.year not in target:
                continue
            info = wanted.get(day)
            if info is None:
                stale.append(day)
            elif (row.workday, row.kind, row.name) != (info.workday, info.kind, info.name):
                changed += (
                    await CalendarDay.filter(day=day, source=DaySource.CHINESE_CALENDAR)
                    .using_db(conn)
                    .update(
                        workday=info.workday,
                        kind=info.kind,
                        name=info.name,
                        updated_at=dt.datetime.now(UTC),
                    )
                )
        if stale:
            changed += (
                await CalendarDay.filter(day__in=stale, source=DaySource.CHINESE_CALENDAR)
                .using_db(conn)
                .delete()
            )
        if fresh:
            await CalendarDay.bulk_create(fresh, ignore_conflicts=True, using_db=conn)
            changed += len(fresh)
    log.info("calendar seeded from chinese_calendar for %s: %d rows", sorted(target), changed)
    return changed


def _admin_kind(day: dt.date, workday: bool, name: str) -> DayKind:
    weekend = day.weekday() >= 5
    if workday:
        return DayKind.MAKEUP if weekend else DayKind.WORKDAY
    return DayKind.WEEKEND if weekend and not name else DayKind.HOLIDAY


async def set_day(day: dt.date, *, workday: bool, name: str = "", by: str = "") -> CalendarDay:
    """Record an admin override for ``day``; it wins over ``chinese_calendar`` and estimates.

    The kind follows from the weekday: a worked Saturday or Sunday is a make-up day (班), a day
    off on Monday to Friday (or a named weekend day) is a holiday (休).

    Args:
        day: the date.
        workday: whether the office works that day.
        name: the holiday's name, e.g. 国庆节 or 台风停工; may be "".
        by: who decided (shown in audits).

    Returns:
        The stored row.
    """
    row, _ = await CalendarDay.update_or_create(
        defaults={
            "workday": workday,
            "kind": _admin_kind(day, workday, name),
            "name": name,
            "source": DaySource.ADMIN,
            "updated_by": by,
        },
        day=day,
    )
    return row


async def clear_day(day: dt.date) -> bool:
    """Remove the admin override of ``day``, restoring the package's entry if it has one.

    Returns:
        True when an admin override was removed.
    """
    async with in_transaction() as conn:
        removed = await CalendarDay.filter(day=day, source=DaySource.ADMIN).using_db(conn).delete()
        info = _package_info(day) if day.year in PACKAGE_YEARS else None
        if removed and info is not None:
            await CalendarDay.create(
                day=day,
                workday=info.workday,
                kind=info.kind,
                name=info.name,
                source=DaySource.CHINESE_CALENDAR,
                using_db=conn,
            )
    return bool(removed)


async def calendar_key() -> str:
    """Changes whenever a calendar row changes (cheap to poll, so processes reload overrides)."""
    newest = await CalendarDay.all().order_by("-updated_at").first()
    count = await CalendarDay.all().count()
    return f"{newest.updated_at.isoformat() if newest else '-'}|{count}"


# -- the month for the admin web --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayCell:
    """One day of the month grid of the admin web.

    Attributes:
        day: the date.
        info: what the calendar in use says about it.
        mark: 休 (a day off that is not an ordinary weekend), 班 (a worked weekend day) or "".
        source: ``admin`` (an override), ``chinese_calendar`` (官方/调休 from the package) or
            "" (the weekday rule or an estimate).
        updated_by: who set an admin override.
    """

    day: dt.date
    info: DayInfo
    mark: str
    source: str
    updated_by: str


@dataclass(frozen=True)
class MonthView:
    """A month of the working calendar: the weeks (Monday first, None outside the month),
    the number of workdays and whether any day is estimated."""

    year: int
    month: int
    weeks: list[list[DayCell | None]]
    workdays: int
    estimated: bool

    @property
    def cells(self) -> list[DayCell]:
        """The month's days in order."""
        return [cell for week in self.weeks for cell in week if cell is not None]


def month_view(
    cal: WorkCalendar, *, year: int, month: int, rows: Iterable[CalendarDay] = ()
) -> MonthView:
    """The month as a grid, with each day's source from ``rows`` (that month's
    ``calendar_day`` rows; see :func:`load_month`)."""
    by_day = {row.day: row for row in rows}
    first = dt.date(year, month, 1)
    count = _stdcal.monthrange(year, month)[1]
    cells: list[DayCell | None] = [None] * first.weekday()
    workdays = 0
    estimated = False
    for i in range(count):
        day = first + dt.timedelta(days=i)
        info = cal.day_info(day)
        workdays += info.workday
        estimated |= info.estimated
        row = by_day.get(day)
        mark = "休" if _marked_off(day, info) else "班" if _marked_on(day, info) else ""
        cells.append(
            DayCell(
                day=day,
                info=info,
                mark=mark,
                source=str(row.source) if row is not None else "",
                updated_by=row.updated_by if row is not None else "",
            )
        )
    cells += [None] * (-len(cells) % 7)
    weeks = [cells[i : i + 7] for i in range(0, len(cells), 7)]
    return MonthView(year, month, weeks, workdays, estimated)


async def load_month(cal: WorkCalendar, *, year: int, month: int) -> MonthView:
    """:func:`month_view` with the month's rows read from the database."""
    first = dt.date(year, month, 1)
    last = dt.date(year, month, _stdcal.monthrange(year, month)[1])
    rows = await CalendarDay.filter(day__gte=first, day__lte=last)
    return month_view(cal, year=year, month=month, rows=rows)
