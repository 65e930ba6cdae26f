"""Working time, pure: office hours, 调休, holidays, estimates for years without data.

Every moment is explicit (the injected clock of the SLA code passes these in). The calendar pins
``chinese_calendar`` to 2004–2026 so that a newer package that knows 2027 does not change what
these tests check: 2027 is the year "without official data".

2026 facts used below (from chinese_calendar 1.11):
    春节 2026-02-15 (Sun) .. 2026-02-23 (Mon) off; 调休上班 Sat 2026-02-14 and Sat 2026-02-28.
    国庆节 2026-10-01 (Thu) .. 2026-10-07 (Wed) off; 调休上班 Sun 2026-09-20 and Sat 2026-10-10.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from desk.worktime import (
    PACKAGE_YEARS,
    YEAR_LOADED_MIN_HOLIDAYS,
    DayKind,
    OfficeHours,
    WorkCalendar,
    format_month,
    missing_years,
    parse_month,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
D = dt.date
KNOWN = range(2004, 2027)  # what chinesecalendar 1.11 knows


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    """A Shanghai wall-clock moment."""
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(package_years=KNOWN)


def due(cal: WorkCalendar, start: dt.datetime, **amount: float) -> dt.datetime:
    """The deadline in Shanghai time, asserting it is official (not estimated)."""
    deadline = cal.add_working_time(start, **amount)  # type: ignore[arg-type]
    assert not deadline.estimated
    return deadline.at.astimezone(SH)


def test_package_facts_the_tests_rely_on(cal: WorkCalendar) -> None:
    assert 2026 in PACKAGE_YEARS
    for day in (D(2026, 2, 14), D(2026, 2, 28), D(2026, 9, 20), D(2026, 10, 10)):
        info = cal.day_info(day)
        assert day.weekday() >= 5
        assert (info.workday, info.kind, info.estimated) == (True, DayKind.MAKEUP, False)
    assert cal.day_info(D(2026, 2, 14)).name == "春节"
    assert cal.day_info(D(2026, 10, 10)).name == "国庆节"
    for day in (D(2026, 2, 16), D(2026, 2, 23), D(2026, 10, 1), D(2026, 10, 7)):
        assert cal.day_info(day).workday is False
        assert cal.day_info(day).kind == DayKind.HOLIDAY
    assert cal.day_info(D(2026, 10, 4)).name == "国庆节"  # a Sunday inside the block
    assert cal.day_info(D(2026, 3, 4)).kind == DayKind.WORKDAY
    assert cal.day_info(D(2026, 3, 7)).kind == DayKind.WEEKEND


# -- working hours ---------------------------------------------------------------------------


def test_friday_1700_plus_2_hours_lands_monday_1030(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 3, 6, 17), hours=2) == at(2026, 3, 9, 10, 30)


def test_friday_before_spring_festival_lands_on_the_makeup_saturday(cal: WorkCalendar) -> None:
    # Fri 13 Feb 17:00: half an hour left on Friday, then Saturday 14 Feb is a 调休 workday.
    assert due(cal, at(2026, 2, 13, 17), hours=2) == at(2026, 2, 14, 10, 30)


def test_hours_across_the_spring_festival(cal: WorkCalendar) -> None:
    # Sat 14 Feb 16:00 (worked): 1.5 h that day, then 15–23 Feb off, Tuesday 24 Feb resumes.
    assert due(cal, at(2026, 2, 14, 16), hours=4) == at(2026, 2, 24, 11, 30)


def test_hours_across_national_day(cal: WorkCalendar) -> None:
    # Wed 30 Sep 16:00: 1.5 h, then 1–7 Oct off, Thursday 8 Oct 09:00 + 2.5 h.
    assert due(cal, at(2026, 9, 30, 16), hours=4) == at(2026, 10, 8, 11, 30)


def test_friday_before_national_day_makeup_sunday(cal: WorkCalendar) -> None:
    # Fri 18 Sep 17:00: Saturday 19 is off, Sunday 20 Sep is a 调休 workday.
    assert due(cal, at(2026, 9, 18, 17), hours=2) == at(2026, 9, 20, 10, 30)


def test_after_national_day_the_makeup_saturday_counts(cal: WorkCalendar) -> None:
    # Fri 9 Oct 17:00 + 2 h: Saturday 10 Oct is worked.
    assert due(cal, at(2026, 10, 9, 17), hours=2) == at(2026, 10, 10, 10, 30)


def test_lunch_break_is_skipped(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 3, 4, 11), hours=2) == at(2026, 3, 4, 14, 30)
    assert due(cal, at(2026, 3, 4, 12, 30), hours=1) == at(2026, 3, 4, 14, 30)


def test_deadline_on_a_segment_end_stays_there(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 3, 4, 11), hours=1) == at(2026, 3, 4, 12)
    assert due(cal, at(2026, 3, 4, 9), hours=7) == at(2026, 3, 4, 17, 30)


def test_overnight(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 3, 3, 17), hours=1) == at(2026, 3, 4, 9, 30)
    assert due(cal, at(2026, 3, 3, 23, 45), hours=1) == at(2026, 3, 4, 10)
    assert due(cal, at(2026, 3, 4, 3), hours=0.5) == at(2026, 3, 4, 9, 30)


def test_start_on_a_weekend_begins_at_the_next_segment(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 3, 7, 8), hours=1) == at(2026, 3, 9, 10)


def test_long_durations_span_many_days(cal: WorkCalendar) -> None:
    # 10 working days of hours (70 h) from Mon 28 Sep 09:00: 28, 29, 30 Sep, 8, 9, 10 (Sat),
    # 12, 13, 14, 15 Oct.
    assert due(cal, at(2026, 9, 28, 9), hours=70) == at(2026, 10, 15, 17, 30)


def test_result_is_utc_and_input_may_be_any_zone(cal: WorkCalendar) -> None:
    deadline = cal.add_working_time(dt.datetime(2026, 3, 6, 9, tzinfo=UTC), hours=2)  # 17:00 SH
    assert deadline.at.tzinfo is UTC
    assert deadline.at == dt.datetime(2026, 3, 9, 2, 30, tzinfo=UTC)


def test_naive_and_negative_inputs_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_time(dt.datetime(2026, 3, 6, 17), hours=1)
    with pytest.raises(ValueError):
        cal.add_working_time(at(2026, 3, 6, 17), hours=-1)


def test_zero_amount_is_the_start(cal: WorkCalendar) -> None:
    start = at(2026, 10, 3, 10)
    assert cal.add_working_time(start).at == start


# -- working days ----------------------------------------------------------------------------


def test_days_end_at_1730_of_the_nth_working_day_start_day_not_counted(
    cal: WorkCalendar,
) -> None:
    assert due(cal, at(2026, 3, 4, 8), days=1) == at(2026, 3, 5, 17, 30)
    assert due(cal, at(2026, 3, 4, 23), days=1) == at(2026, 3, 5, 17, 30)
    assert due(cal, at(2026, 3, 6, 10), days=1) == at(2026, 3, 9, 17, 30)
    assert due(cal, at(2026, 3, 7, 10), days=1) == at(2026, 3, 9, 17, 30)  # from a Saturday


def test_days_across_spring_festival(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 2, 13, 10), days=1) == at(2026, 2, 14, 17, 30)  # 调休 Saturday
    assert due(cal, at(2026, 2, 13, 10), days=2) == at(2026, 2, 24, 17, 30)
    # 15 working days from Thu 12 Feb: 13, 14 (Sat), 24–27, 28 (Sat), 2–6 Mar, 9, 10, 11 Mar
    assert due(cal, at(2026, 2, 12, 15), days=15) == at(2026, 3, 11, 17, 30)


def test_days_across_national_day(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 9, 30, 9), days=1) == at(2026, 10, 8, 17, 30)
    assert due(cal, at(2026, 9, 30, 9), days=3) == at(2026, 10, 10, 17, 30)  # Saturday worked
    assert due(cal, at(2026, 9, 18, 12), days=1) == at(2026, 9, 20, 17, 30)  # Sunday worked


def test_days_then_hours(cal: WorkCalendar) -> None:
    assert due(cal, at(2026, 3, 4, 10), days=1, hours=2) == at(2026, 3, 6, 11)


# -- between, next moment, is working --------------------------------------------------------


def test_working_seconds_between_across_holidays(cal: WorkCalendar) -> None:
    hour = 3600.0
    # Fri 13 Feb 09:00 .. Tue 24 Feb 09:00: Friday 7 h + 调休 Saturday 7 h, the festival 0.
    assert cal.working_seconds_between(at(2026, 2, 13, 9), at(2026, 2, 24, 9)) == 14 * hour
    assert cal.working_seconds_between(at(2026, 3, 4, 11), at(2026, 3, 4, 14)) == 1.5 * hour
    assert cal.working_seconds_between(at(2026, 10, 1), at(2026, 10, 8)) == 0
    assert cal.working_seconds_between(at(2026, 3, 4, 14), at(2026, 3, 4, 11)) == -1.5 * hour


def test_between_inverts_add_working_time(cal: WorkCalendar) -> None:
    rng = random.Random(4)
    for _ in range(500):
        start = at(2026, 1, 1) + dt.timedelta(minutes=rng.randrange(365 * 24 * 60))
        hours = rng.choice([0.25, 1, 2, 4, 7, 9.5, 24, 70, 105])
        deadline = cal.add_working_time(start, hours=hours)
        if deadline.estimated:  # a late-December start reaching into 2027
            continue
        assert cal.working_seconds_between(start, deadline.at) == pytest.approx(hours * 3600)
        # 50 % / 80 % thresholds of the SLA: the moment when that share has elapsed
        half = cal.add_working_time(start, hours=hours / 2).at
        assert cal.working_seconds_between(start, half) == pytest.approx(hours * 1800)


def test_pause_and_resume(cal: WorkCalendar) -> None:
    # 4 working hours from Wed 30 Sep 10:00; paused 11:00 (1 h used) until Fri 9 Oct 15:00:
    # 2.5 h that Friday, the last 0.5 h on the 调休 Saturday.
    start, paused, resumed = at(2026, 9, 30, 10), at(2026, 9, 30, 11), at(2026, 10, 9, 15)
    used = cal.working_seconds_between(start, paused)
    left = 4 * 3600 - used
    assert due(cal, resumed, hours=left / 3600) == at(2026, 10, 10, 9, 30)


def test_next_working_moment(cal: WorkCalendar) -> None:
    def nxt(moment: dt.datetime) -> dt.datetime:
        return cal.next_working_moment(moment).astimezone(SH)

    assert nxt(at(2026, 3, 4, 10)) == at(2026, 3, 4, 10)
    assert nxt(at(2026, 3, 4, 12)) == at(2026, 3, 4, 13, 30)
    assert nxt(at(2026, 3, 4, 17, 30)) == at(2026, 3, 5, 9)
    assert nxt(at(2026, 10, 1, 10)) == at(2026, 10, 8, 9)
    assert nxt(at(2026, 10, 10, 7)) == at(2026, 10, 10, 9)  # 调休 Saturday
    assert cal.next_working_moment(at(2026, 3, 4, 10)).tzinfo is UTC


def test_is_working_time(cal: WorkCalendar) -> None:
    assert cal.is_working_time(at(2026, 3, 4, 9))
    assert not cal.is_working_time(at(2026, 3, 4, 8, 59))
    assert cal.is_working_time(at(2026, 3, 4, 11, 59))
    assert not cal.is_working_time(at(2026, 3, 4, 12))
    assert not cal.is_working_time(at(2026, 3, 4, 13))
    assert cal.is_working_time(at(2026, 3, 4, 13, 30))
    assert not cal.is_working_time(at(2026, 3, 4, 17, 30))
    assert cal.is_working_time(at(2026, 10, 10, 10))  # 调休 Saturday
    assert not cal.is_working_time(at(2026, 10, 5, 10))  # 国庆节 Monday
    assert not cal.is_working_time(at(2026, 3, 7, 10))  # ordinary Saturday


def test_custom_office_hours() -> None:
    office = OfficeHours(segments=((dt.time(8, 30), dt.time(17)),))
    cal = WorkCalendar(office=office, package_years=KNOWN)
    assert office.day_seconds == 8.5 * 3600
    assert due(cal, at(2026, 3, 6, 16), hours=2) == at(2026, 3, 9, 9, 30)
    assert due(cal, at(2026, 3, 6, 16), days=1) == at(2026, 3, 9, 17)


def test_office_hours_are_validated() -> None:
    assert OfficeHours().day_seconds == 7 * 3600
    with pytest.raises(ValueError):
        OfficeHours(segments=())
    with pytest.raises(ValueError):
        OfficeHours(segments=((dt.time(12), dt.time(9)),))
    with pytest.raises(ValueError):
        OfficeHours(segments=((dt.time(9), dt.time(12)), (dt.time(11), dt.time(13))))
    with pytest.raises(ValueError, match="time zone"):
        OfficeHours(tz="Mars/Olympus")


def test_a_calendar_without_workdays_fails_clearly() -> None:
    start = D(2026, 1, 1)
    closed = {start + dt.timedelta(days=i): (False, "holiday", "停业") for i in range(4000)}
    cal = WorkCalendar(closed, package_years=KNOWN)
    with pytest.raises(ValueError, match="working"):
        cal.add_working_time(at(2026, 1, 1, 10), hours=1)


# -- admin overrides -------------------------------------------------------------------------


def test_admin_override_wins() -> None:
    cal = WorkCalendar(
        {
            D(2026, 10, 8): (False, "holiday", "台风停工"),
            D(2026, 10, 3): (True, "makeup", "值班"),
        },
        package_years=KNOWN,
    )
    info = cal.day_info(D(2026, 10, 8))
    assert (info.workday, info.kind, info.name, info.estimated) == (
        False,
        DayKind.HOLIDAY,
        "台风停工",
        False,
    )
    assert cal.day_info(D(2026, 10, 3)).workday
    # Wed 30 Sep 16:00 + 4 h: 1.5 h, Sat 3 Oct now worked 09:00 + 2.5 h.
    assert due(cal, at(2026, 9, 30, 16), hours=4) == at(2026, 10, 3, 11, 30)


def test_override_in_a_year_without_data_is_not_estimated() -> None:
    cal = WorkCalendar({D(2027, 3, 3): (False, "holiday", "台风停工")}, package_years=KNOWN)
    assert cal.day_info(D(2027, 3, 3)).estimated is False
    assert cal.day_info(D(2027, 3, 4)).estimated is True
    assert not cal.has_official_data(2027)  # one closure does not make a year official


def test_a_year_loaded_by_the_admins_is_official() -> None:
    # The admins enter 2027's schedule (an invented one): 13+ days off and a 调休 Saturday.
    days_off = [D(2027, 1, 1)] + [D(2027, 2, 5) + dt.timedelta(days=i) for i in range(9)]
    days_off += [D(2027, 10, 1) + dt.timedelta(days=i) for i in range(7)]
    overrides = {day: (False, "holiday", "春节") for day in days_off}
    overrides[D(2027, 2, 20)] = (True, "makeup", "春节")
    assert len(days_off) >= YEAR_LOADED_MIN_HOLIDAYS
    cal = WorkCalendar(overrides, package_years=KNOWN)
    assert cal.has_official_data(2027)
    assert missing_years(cal, D(2026, 12, 1)) == []
    assert cal.day_info(D(2027, 3, 3)).estimated is False
    # python-holidays' guesses no longer apply: 5 May 2027 is an ordinary Wednesday here
    assert cal.day_info(D(2027, 5, 5)).workday is True
    deadline = cal.add_working_time(at(2027, 2, 4, 17), hours=2)
    assert deadline.estimated is False
    assert deadline.at.astimezone(SH) == at(2027, 2, 15, 10, 30)


# -- years without data: estimated from weekends + statutory holidays ------------------------


def test_2027_is_estimated_with_statutory_holidays(cal: WorkCalendar) -> None:
    new_year = cal.day_info(D(2027, 1, 1))
    assert (new_year.workday, new_year.kind, new_year.estimated) == (False, DayKind.HOLIDAY, True)
    assert new_year.name == "元旦"
    for day in (D(2027, 2, 6), D(2027, 2, 7), D(2027, 2, 8)):  # 初一 .. 初三
        assert not cal.day_info(day).workday
        assert "春节" in cal.day_info(day).name
    assert not cal.day_info(D(2027, 2, 5)).workday  # 除夕, a holiday since 2025
    for day in (D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3)):
        assert "国庆" in cal.day_info(day).name
        assert cal.day_info(day).estimated
    # 补假 (the law: a holiday on a weekend is made up on a weekday): Mon 4 Oct 2027
    assert not cal.day_info(D(2027, 10, 4)).workday
    # ordinary days: weekends off, weekdays worked, never all workdays
    assert cal.day_info(D(2027, 3, 3)).workday and cal.day_info(D(2027, 3, 3)).estimated
    assert not cal.day_info(D(2027, 3, 6)).workday


def test_deadline_into_2027_is_flagged_estimated(cal: WorkCalendar) -> None:
    inside_2026 = cal.add_working_time(at(2026, 12, 28, 10), hours=4)
    assert not inside_2026.estimated
    across = cal.add_working_time(at(2026, 12, 31, 16), hours=4)
    assert across.estimated
    # 1 Jan 2027 (Fri) 元旦, weekend, Monday 4 Jan 09:00 + 2.5 h
    assert across.at.astimezone(SH) == at(2027, 1, 4, 11, 30)
    by_days = cal.add_working_time(at(2027, 9, 30, 10), days=1)
    assert by_days.estimated
    assert by_days.at.astimezone(SH) == at(2027, 10, 6, 17, 30)  # 1–3 Oct + 补假 4–5 Oct
    assert cal.working_seconds_between(at(2027, 10, 1), at(2027, 10, 6)) == 0


def test_estimate_survives_python_holidays_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    import holidays

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no data")

    monkeypatch.setattr(holidays, "China", broken)
    cal = WorkCalendar(package_years=KNOWN)
    assert cal.day_info(D(2027, 10, 1)).name == "国庆节"
    assert not cal.day_info(D(2027, 1, 1)).workday
    assert cal.add_working_time(at(2027, 3, 3, 10), hours=1).estimated


def test_a_year_before_the_package_is_estimated_too(cal: WorkCalendar) -> None:
    assert cal.day_info(D(2003, 10, 1)).estimated
    assert not cal.day_info(D(2003, 10, 1)).workday


# -- missing years -------------------------------------------------------------------------


def test_missing_years_warns_from_1_december(cal: WorkCalendar) -> None:
    assert missing_years(cal, D(2026, 6, 1)) == []
    assert missing_years(cal, D(2026, 11, 30)) == []
    assert missing_years(cal, D(2026, 12, 1)) == [2027]
    assert missing_years(cal, D(2026, 12, 31)) == [2027]
    assert missing_years(cal, D(2027, 3, 1)) == [2027]
    assert missing_years(cal, D(2027, 12, 1)) == [2027, 2028]
    assert missing_years(cal, D(2025, 12, 1)) == []


# -- the month view ------------------------------------------------------------------------


def test_format_month_national_day(cal: WorkCalendar) -> None:
    text = format_month(cal, 2026, 10)
    assert "2026年10月" in text
    assert "一   二   三   四   五   六   日" in text
    assert " 1休  2休  3休  4休" in text  # Thursday 1 Oct .. Sunday 4 Oct
    assert "10班" in text
    assert "10月1日（四）至10月7日（三）  国庆节，7天" in text
    assert "10月10日（六）  国庆节调休上班" in text
    assert "本月工作日：18 天" in text
    assert "估算" not in text


def test_format_month_spring_festival_and_september(cal: WorkCalendar) -> None:
    feb = format_month(cal, 2026, 2)
    assert "春节，9天" in feb
    assert "2月14日（六）  春节调休上班" in feb and "2月28日（六）  春节调休上班" in feb
    sep = format_month(cal, 2026, 9)
    assert "9月20日（日）  国庆节调休上班" in sep
    assert "中秋" in sep


def test_format_month_estimated_says_so(cal: WorkCalendar) -> None:
    text = format_month(cal, 2027, 10)
    lines = text.splitlines()
    assert lines[1].startswith("⚠ 估算：2027年没有官方放假安排")
    assert "国庆节" in text
    assert "（估算）" in lines[-1]


def test_format_month_plain_month(cal: WorkCalendar) -> None:
    text = format_month(cal, 2026, 3)
    assert "放假：无" in text and "调休上班：无" in text
    assert "本月工作日：22 天" in text


def test_parse_month() -> None:
    assert parse_month("2026-10") == (2026, 10)
    assert parse_month(" 2027-1 ") == (2027, 1)
    for bad in ("2026-13", "2026", "10-2026", "2026-00"):
        with pytest.raises(ValueError):
            parse_month(bad)
