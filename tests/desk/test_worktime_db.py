"""The calendar table on SQLite and PostgreSQL: seeding, admin overrides, loading.

Self-contained: the fixture creates the ``calendar_day`` table with ``generate_schemas`` on a
fresh database holding only ``models.calendar``, so these tests do not depend on migrations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from chinese_calendar.constants import holidays as cc_holidays
from chinese_calendar.constants import workdays as cc_workdays
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

from desk.worktime import (
    PACKAGE_YEARS,
    DayKind,
    OfficeHours,
    clear_day,
    load_calendar,
    missing_years,
    seed_calendar,
    set_day,
)
from models.calendar import CalendarDay, DaySource

SH = ZoneInfo("Asia/Shanghai")
D = dt.date


def package_rows(year: int) -> int:
    return sum(1 for d in (*cc_holidays, *cc_workdays) if d.year == year)


@pytest.fixture
async def calendar_db(db_url: str) -> AsyncIterator[str]:
    """A fresh database (SQLite file or PostgreSQL) with just the calendar table."""
    await Tortoise.init(
        config={
            "connections": {"default": db_url},
            "apps": {"desk": {"models": ["models.calendar"], "default_connection": "default"}},
            "use_tz": True,
            "timezone": "UTC",
        }
    )
    await Tortoise.generate_schemas()
    try:
        yield db_url
    finally:
        await Tortoise.close_connections()
        await Tortoise._reset_apps()
        EXECUTOR_CACHE.clear()


async def test_seed_is_idempotent(calendar_db: str) -> None:
    expected = package_rows(2026)
    assert expected == 39  # 33 days off + 6 调休 workdays in chinesecalendar 1.11
    assert await seed_calendar([2026]) == expected
    assert await seed_calendar([2026]) == 0
    assert await CalendarDay.filter(source=DaySource.CHINESE_CALENDAR).count() == expected
    row = await CalendarDay.get(day=D(2026, 10, 10))
    assert (row.workday, row.kind, row.name) == (True, DayKind.MAKEUP, "国庆节")
    row = await CalendarDay.get(day=D(2026, 2, 17))
    assert (row.workday, row.kind, row.name) == (False, DayKind.HOLIDAY, "春节")


async def test_seed_all_known_years_and_skip_unknown(calendar_db: str) -> None:
    assert await seed_calendar([2099]) == 0
    assert await CalendarDay.all().count() == 0
    total = sum(package_rows(y) for y in PACKAGE_YEARS)
    assert await seed_calendar() == total
    assert await seed_calendar() == 0


async def test_seed_never_overwrites_admin_rows(calendar_db: str) -> None:
    await seed_calendar([2026])
    await set_day(D(2026, 10, 1), workday=True, name="值班", by="admin:7")
    await set_day(D(2026, 10, 8), workday=False, name="台风停工", by="admin:7")
    assert await seed_calendar([2026]) == 0
    row = await CalendarDay.get(day=D(2026, 10, 1))
    assert (row.source, row.workday, row.kind, row.name, row.updated_by) == (
        DaySource.ADMIN,
        True,
        DayKind.WORKDAY,
        "值班",
        "admin:7",
    )
    assert (await CalendarDay.get(day=D(2026, 10, 8))).kind == DayKind.HOLIDAY


async def test_seed_repairs_its_own_rows(calendar_db: str) -> None:
    await seed_calendar([2026])
    await CalendarDay.filter(day=D(2026, 10, 2)).update(name="wrong", workday=True)
    await CalendarDay.create(
        day=D(2026, 3, 3),
        workday=False,
        kind=DayKind.HOLIDAY,
        name="stale",
        source=DaySource.CHINESE_CALENDAR,
    )
    assert await seed_calendar([2026]) == 2
    assert (await CalendarDay.get(day=D(2026, 10, 2))).name == "国庆节"
    assert not await CalendarDay.exists(day=D(2026, 3, 3))


async def test_loaded_calendar_applies_admin_overrides(calendar_db: str) -> None:
    await seed_calendar([2026])
    await set_day(D(2026, 10, 8), workday=False, name="台风停工", by="admin:7")
    await set_day(D(2027, 3, 3), workday=False, name="停电", by="admin:7")
    cal = await load_calendar()
    info = cal.day_info(D(2026, 10, 8))
    assert (info.workday, info.name, info.estimated) == (False, "台风停工", False)
    # Wed 30 Sep 16:00 + 4 h: 1–8 Oct off now, Friday 9 Oct 09:00 + 2.5 h
    deadline = cal.add_working_time(dt.datetime(2026, 9, 30, 16, tzinfo=SH), hours=4)
    assert deadline.at.astimezone(SH) == dt.datetime(2026, 10, 9, 11, 30, tzinfo=SH)
    assert not deadline.estimated
    assert cal.day_info(D(2027, 3, 3)).estimated is False
    assert cal.day_info(D(2027, 3, 4)).estimated is True
    custom = await load_calendar(office=OfficeHours(segments=((dt.time(8), dt.time(16)),)))
    assert custom.office.day_end == dt.time(16)


async def test_admins_loading_next_year_silences_the_warning(calendar_db: str) -> None:
    cal = await load_calendar()
    if cal.has_official_data(2027):
        pytest.skip("the installed chinesecalendar already knows 2027")
    assert missing_years(cal, D(2026, 12, 1)) == [2027]
    for i in range(9):  # an invented 2027 Spring Festival block
        await set_day(D(2027, 2, 5) + dt.timedelta(days=i), workday=False, name="春节")
    for i in range(7):
        await set_day(D(2027, 10, 1) + dt.timedelta(days=i), workday=False, name="国庆节")
    await set_day(D(2027, 2, 20), workday=True, name="春节")
    cal = await load_calendar()
    assert missing_years(cal, D(2026, 12, 1)) == []
    assert cal.day_info(D(2027, 2, 20)).kind == DayKind.MAKEUP
    assert not cal.add_working_time(dt.datetime(2027, 3, 3, 10, tzinfo=SH), hours=2).estimated


async def test_clear_day_restores_the_package_entry(calendar_db: str) -> None:
    await seed_calendar([2026])
    await set_day(D(2026, 10, 1), workday=True, by="admin:7")
    await set_day(D(2026, 3, 4), workday=False, name="停电", by="admin:7")
    assert await clear_day(D(2026, 10, 1)) is True
    row = await CalendarDay.get(day=D(2026, 10, 1))
    assert (row.source, row.workday, row.name) == (DaySource.CHINESE_CALENDAR, False, "国庆节")
    assert await clear_day(D(2026, 3, 4)) is True
    assert not await CalendarDay.exists(day=D(2026, 3, 4))
    assert await clear_day(D(2026, 3, 4)) is False
    assert await clear_day(D(2026, 10, 2)) is False  # a seeded row is not an override
    assert await CalendarDay.exists(day=D(2026, 10, 2))
