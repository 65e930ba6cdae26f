"""Working days from ``chinese_calendar`` (statutory holidays and 调休 make-up workdays).

A year the package does not know falls back to weekends only and flags the result as estimated;
the SLA issue extends this module with office hours, overrides and warnings.
"""

from __future__ import annotations

import datetime as dt
import logging

import chinese_calendar

log = logging.getLogger(__name__)


def is_workday(day: dt.date) -> tuple[bool, bool]:
    """Whether ``day`` is a working day, and whether that answer is only estimated."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(start: dt.date, days: int) -> tuple[dt.date, bool]:
    """The date ``days`` working days after ``start`` (``start`` itself not counted).

    Returns:
        The date, and True when some day in between was estimated (no calendar data).
    """
    day, left, estimated = start, days, False
    while left > 0:
        day += dt.timedelta(days=1)
        work, est = is_workday(day)
        estimated |= est
        if work:
            left -= 1
    if estimated:
        log.warning("working-day calendar has no data for %s; deadline estimated", day.year)
    return day, estimated
