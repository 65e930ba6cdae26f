"""SLA policies and deadlines in working time, pure (no database): ``desk.sla``.

Every expected moment below is worked out by hand from the 2026 schedule (chinesecalendar 1.11),
not from the code under test:

    office hours 09:00–12:00 and 13:30–17:30 (7 working hours a day), Asia/Shanghai;
    春节 2026-02-15 (Sun) .. 02-23 (Mon) off; 调休上班 Sat 02-14 and Sat 02-28;
    中秋节 2026-09-25 (Fri) .. 09-27 off; 国庆节 10-01 (Thu) .. 10-07 (Wed) off;
    调休上班 Sun 09-20 and Sat 10-10.

Working days are counted from the day after the start day and end at 17:30; working hours
are counted inside the office segments. The calendar is pinned to 2004–2026 so that a newer
chinesecalendar that knows 2027 does not change what these tests check.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from desk.sla import DEFAULTS, ONE_DAY_HOURS, Policy, deadlines, end_of_day, shift
from desk.worktime import OfficeHours, WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
KNOWN = range(2004, 2027)

CONSULT = DEFAULTS[("咨询", False)]
HELP = DEFAULTS[("求助", False)]
COMPLAINT = DEFAULTS[("投诉", False)]
URGENT = DEFAULTS[("*", True)]


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    """A Shanghai wall-clock moment."""
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(package_years=KNOWN)


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(SH)


# ---------------------------------------------------------------- the policies


def test_default_policies_follow_hotline_practice() -> None:
    assert ONE_DAY_HOURS == 7.0
    expected = {
        ("咨询", False): (4, False, 2, 0),
        ("求助", False): (7, False, 10, 0),
        ("建议", False): (7, False, 10, 0),
        ("投诉", False): (7, False, 15, 0),
        ("举报", False): (7, False, 15, 0),
        ("*", True): (2, True, 0, 7),
    }
    for key, (respond, clock, days, hours) in expected.items():
        p = DEFAULTS[key]
        assert (p.respond_hours, p.respond_clock, p.resolve_days, p.resolve_hours) == (
            respond,
            clock,
            days,
            hours,
        ), key


def test_policies_describe_themselves() -> None:
    assert CONSULT.describe() == "响应4个工作小时，办结2个工作日"
    assert HELP.describe() == "响应1个工作日，办结10个工作日"
    assert COMPLAINT.describe() == "响应1个工作日，办结15个工作日"
    assert URGENT.describe() == "响应2小时，办结1个工作日"
    assert Policy(1.5, False, 3).describe() == "响应1.5个工作小时，办结3个工作日"


# ---------------------------------------------------------------- deadlines


def test_consultation_from_a_friday_afternoon(cal: WorkCalendar) -> None:
    """咨询 on Fri 2026-03-06 16:00: 1.5 h on Friday + 2.5 h on Monday; Mon and Tue count."""
    d = deadlines(cal, start=at(2026, 3, 6, 16), policy=CONSULT)
    assert d.respond == at(2026, 3, 9, 11, 30)
    assert d.resolve == at(2026, 3, 10, 17, 30)
    assert not d.estimated
    assert d.respond.tzinfo == UTC and d.resolve.tzinfo == UTC


CASES = [
    # -- 春节 2026: off 02-15..02-23, make-up Saturdays 02-14 and 02-28
    pytest.param(
        at(2026, 2, 13, 16),
        CONSULT,
        at(2026, 2, 14, 11, 30),
        at(2026, 2, 24, 17, 30),
        id="spring-friday-before-makeup-saturday",
    ),
    pytest.param(
        at(2026, 2, 14, 16),
        CONSULT,
        at(2026, 2, 24, 11, 30),
        at(2026, 2, 25, 17, 30),
        id="spring-on-the-makeup-saturday",
    ),
    pytest.param(
        at(2026, 2, 18, 10),
        CONSULT,
        at(2026, 2, 24, 14, 30),
        at(2026, 2, 25, 17, 30),
        id="spring-opened-during-the-holiday",
    ),
    pytest.param(
        at(2026, 2, 27, 16),
        CONSULT,
        at(2026, 2, 28, 11, 30),
        at(2026, 3, 2, 17, 30),
        id="spring-second-makeup-saturday",
    ),
    pytest.param(
        # 7 h: Thu 10–12, 13:30–17:30 (6 h) + Fri 09–10. Days: 02-13, 02-14 (班), then
        # 02-24..02-28 (five, 02-28 班), 03-02, 03-03, 03-04.
        at(2026, 2, 12, 10),
        HELP,
        at(2026, 2, 13, 10),
        at(2026, 3, 4, 17, 30),
        id="spring-help-ten-days",
    ),
    # -- 国庆节 2026: off 10-01..10-07, make-up Sun 09-20 and Sat 10-10; 中秋 09-25..09-27
    pytest.param(
        at(2026, 9, 30, 16),
        CONSULT,
        at(2026, 10, 8, 11, 30),
        at(2026, 10, 9, 17, 30),
        id="national-day-eve",
    ),
    pytest.param(
        at(2026, 9, 18, 16),
        CONSULT,
        at(2026, 9, 20, 11, 30),
        at(2026, 9, 21, 17, 30),
        id="national-day-makeup-sunday",
    ),
    pytest.param(
        at(2026, 10, 9, 10),
        CONSULT,
        at(2026, 10, 9, 15, 30),
        at(2026, 10, 12, 17, 30),
        id="national-day-makeup-saturday",
    ),
    pytest.param(
        at(2026, 10, 3, 11),
        CONSULT,
        at(2026, 10, 8, 14, 30),
        at(2026, 10, 9, 17, 30),
        id="national-day-opened-during-the-holiday",
    ),
    # -- lunch break
    pytest.param(
        at(2026, 3, 9, 11),
        CONSULT,
        at(2026, 3, 9, 16, 30),
        at(2026, 3, 11, 17, 30),
        id="lunch-skipped",
    ),
    pytest.param(
        at(2026, 3, 9, 12, 30),
        CONSULT,
        at(2026, 3, 9, 17, 30),
        at(2026, 3, 11, 17, 30),
        id="opened-during-lunch-ends-on-segment-end",
    ),
    pytest.param(
        at(2026, 3, 9, 11),
        Policy(1, False, 1),
        at(2026, 3, 9, 12),
        at(2026, 3, 10, 17, 30),
        id="due-at-noon-stays-at-noon",
    ),
    pytest.param(
        at(2026, 3, 9, 11, 30),
        Policy(1, False, 1),
        at(2026, 3, 9, 14),
        at(2026, 3, 10, 17, 30),
        id="hour-split-by-lunch",
    ),
    # -- overnight
    pytest.param(
        at(2026, 3, 9, 17),
        CONSULT,
        at(2026, 3, 10, 14),
        at(2026, 3, 11, 17, 30),
        id="overnight-from-17h",
    ),
    pytest.param(
        at(2026, 3, 9, 20),
        CONSULT,
        at(2026, 3, 10, 14, 30),
        at(2026, 3, 11, 17, 30),
        id="overnight-from-the-evening",
    ),
    pytest.param(
        # 00:30 in Tianjin is still the previous day in UTC: the local day decides.
        at(2026, 3, 10, 0, 30),
        CONSULT,
        at(2026, 3, 10, 14, 30),
        at(2026, 3, 12, 17, 30),
        id="after-midnight-local-day",
    ),
    # -- urgent: 2 clock hours to respond (nights and holidays count), 7 working hours to resolve
    pytest.param(
        at(2026, 3, 6, 16),
        URGENT,
        at(2026, 3, 6, 18),
        at(2026, 3, 9, 16),
        id="urgent-friday",
    ),
    pytest.param(
        at(2026, 2, 13, 16),
        URGENT,
        at(2026, 2, 13, 18),
        at(2026, 2, 14, 16),
        id="urgent-before-makeup-saturday",
    ),
    pytest.param(
        at(2026, 2, 21, 10),
        URGENT,
        at(2026, 2, 21, 12),
        at(2026, 2, 24, 17, 30),
        id="urgent-during-spring-festival",
    ),
    pytest.param(
        at(2026, 10, 1, 23),
        URGENT,
        at(2026, 10, 2, 1),
        at(2026, 10, 8, 17, 30),
        id="urgent-national-day-night",
    ),
    # -- 投诉: 1 working day to respond, 15 working days to resolve
    pytest.param(
        # 7 h: Fri 10–12 + 13:30–17:30 (6 h), Sun 09-20 (班) 09–10. Days: 09-20, 21, 22, 23,
        # 24, (中秋 off) 28, 29, 30, (国庆 off) 10-08, 09, 10 (班), 12, 13, 14, 15.
        at(2026, 9, 18, 10),
        COMPLAINT,
        at(2026, 9, 20, 10),
        at(2026, 10, 15, 17, 30),
        id="complaint-fifteen-days-across-national-day",
    ),
    pytest.param(
        # 09:00 + one working day of hours is 17:30 the same day (not the next morning).
        at(2026, 3, 2, 9),
        DEFAULTS[("举报", False)],
        at(2026, 3, 2, 17, 30),
        at(2026, 3, 23, 17, 30),
        id="report-fifteen-days-ordinary",
    ),
]


@pytest.mark.parametrize(("start", "policy", "respond", "resolve"), CASES)
def test_deadlines(
    cal: WorkCalendar,
    start: dt.datetime,
    policy: Policy,
    respond: dt.datetime,
    resolve: dt.datetime,
) -> None:
    d = deadlines(cal, start=start, policy=policy)
    assert (local(d.respond), local(d.resolve)) == (respond, resolve)
    assert not d.estimated


def test_deadlines_are_the_same_moment_whatever_the_start_zone(cal: WorkCalendar) -> None:
    start = at(2026, 2, 13, 16)
    assert deadlines(cal, start=start.astimezone(UTC), policy=CONSULT) == deadlines(
        cal, start=start, policy=CONSULT
    )


def test_naive_start_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        deadlines(cal, start=dt.datetime(2026, 3, 6, 16), policy=CONSULT)


# ---------------------------------------------------------------- years without data


def test_a_2027_start_is_estimated(cal: WorkCalendar) -> None:
    d = deadlines(cal, start=at(2027, 3, 5, 10), policy=CONSULT)
    assert d.estimated
    # Still working time on weekdays, never "all days are workdays": Fri → Mon, Tue.
    assert (local(d.respond), local(d.resolve)) == (at(2027, 3, 5, 15, 30), at(2027, 3, 9, 17, 30))
    # The clock-hour response does not make the resolution official.
    assert deadlines(cal, start=at(2027, 3, 5, 10), policy=URGENT).estimated


def test_a_deadline_reaching_into_2027_is_estimated(cal: WorkCalendar) -> None:
    inside = deadlines(cal, start=at(2026, 12, 29, 10), policy=CONSULT)
    assert not inside.estimated
    assert (local(inside.respond), local(inside.resolve)) == (
        at(2026, 12, 29, 15, 30),
        at(2026, 12, 31, 17, 30),
    )
    # Thu 12-31 16:00: 1.5 h, then 元旦 (fixed by law) and the weekend, Mon 01-04 2.5 h.
    across = deadlines(cal, start=at(2026, 12, 31, 16), policy=CONSULT)
    assert across.estimated
    assert (local(across.respond), local(across.resolve)) == (
        at(2027, 1, 4, 11, 30),
        at(2027, 1, 5, 17, 30),
    )
    urgent = deadlines(cal, start=at(2026, 12, 31, 16), policy=URGENT)
    assert urgent.estimated
    assert (local(urgent.respond), local(urgent.resolve)) == (
        at(2026, 12, 31, 18),
        at(2027, 1, 4, 16),
    )


# ---------------------------------------------------------------- pause and resume


def test_shift_by_the_working_time_paused(cal: WorkCalendar) -> None:
    due = at(2026, 3, 10, 17, 30)
    # Paused Mon 16:00 → Wed 10:00: Mon 1.5 h + Tue 7 h + Wed 1 h of working time.
    paused = cal.working_seconds_between(at(2026, 3, 9, 16), at(2026, 3, 11, 10))
    assert paused == 9.5 * 3600
    # Wed 7 h, then Thu 09:00 + 2.5 h.
    assert local(shift(cal, due, working_seconds=paused)) == at(2026, 3, 12, 11, 30)


def test_shift_over_a_weekend_only_changes_nothing(cal: WorkCalendar) -> None:
    due = at(2026, 3, 10, 17, 30)
    paused = cal.working_seconds_between(at(2026, 3, 7, 10), at(2026, 3, 8, 18))
    assert paused == 0
    assert shift(cal, due, working_seconds=paused) == due


def test_shift_across_the_spring_festival(cal: WorkCalendar) -> None:
    # Paused Fri 02-13 17:00 → Tue 02-24 09:00: Fri 0.5 h + the make-up Saturday 7 h.
    paused = cal.working_seconds_between(at(2026, 2, 13, 17), at(2026, 2, 24, 9))
    assert paused == 7.5 * 3600
    due = at(2026, 2, 24, 17, 30)
    assert local(shift(cal, due, working_seconds=paused)) == at(2026, 2, 26, 9, 30)


def test_shift_skips_lunch_and_nights(cal: WorkCalendar) -> None:
    assert local(shift(cal, at(2026, 3, 10, 11, 30), working_seconds=3600)) == at(2026, 3, 10, 14)
    assert local(shift(cal, at(2026, 3, 10, 17), working_seconds=3600)) == at(2026, 3, 11, 9, 30)
    # An urgent response deadline at 18:00 on a Friday (clock time) moves into Monday.
    assert local(shift(cal, at(2026, 3, 6, 18), working_seconds=3600)) == at(2026, 3, 9, 10)


def test_shift_without_time_or_deadline(cal: WorkCalendar) -> None:
    due = at(2026, 3, 10, 17, 30)
    assert shift(cal, None, working_seconds=3600) is None
    assert shift(cal, due, working_seconds=0) == due
    assert shift(cal, due, working_seconds=-3600) == due


def test_pause_and_resume_moves_both_deadlines_by_the_same_working_time(
    cal: WorkCalendar,
) -> None:
    start = at(2026, 9, 28, 10)  # Mon before 国庆节
    d = deadlines(cal, start=start, policy=CONSULT)
    assert (local(d.respond), local(d.resolve)) == (
        at(2026, 9, 28, 15, 30),
        at(2026, 9, 30, 17, 30),
    )
    # Waiting for the enterprise from Mon 11:00 to Thu 10-08 10:00 (the holiday costs nothing).
    paused = cal.working_seconds_between(at(2026, 9, 28, 11), at(2026, 10, 8, 10))
    assert paused == (5 + 7 + 7 + 1) * 3600
    respond = shift(cal, d.respond, working_seconds=paused)
    resolve = shift(cal, d.resolve, working_seconds=paused)
    # 3 h of response time were left at the pause: Thu 10:00–12:00 and 13:30–14:30.
    assert local(respond) == at(2026, 10, 8, 14, 30)
    # 19 h of resolution time were left: Thu 6 h, Fri 7 h, Sat 10-10 (班) 09:00–16:30.
    assert local(resolve) == at(2026, 10, 10, 16, 30)


def test_end_of_day(cal: WorkCalendar) -> None:
    eod = end_of_day(cal, dt.date(2026, 3, 10))
    assert eod == dt.datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert eod.tzinfo == UTC
    assert local(eod) == at(2026, 3, 10, 17, 30)
    late = WorkCalendar(
        office=OfficeHours(segments=((dt.time(8, 30), dt.time(12)), (dt.time(14), dt.time(18)))),
        package_years=KNOWN,
    )
    assert local(end_of_day(late, dt.date(2026, 10, 10))) == at(2026, 10, 10, 18)
