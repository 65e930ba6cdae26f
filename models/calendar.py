"""The working-day calendar: one row per day that differs from "Monday to Friday, 9 to 5:30".

Rows come from two sources: ``chinese_calendar`` (statutory holidays and 调休 make-up workdays,
written by ``desk.worktime.seed_calendar``) and the admins (overrides, which always win and are
never overwritten by a re-seed). Days without a row follow the weekday rule, or an estimate for
years without official data; ``desk.worktime`` owns those rules.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class DayKind(StrEnum):
    """What a day is in the working calendar."""

    HOLIDAY = "holiday"  # statutory holiday or day off (休), including weekends inside the block
    MAKEUP = "makeup"  # 调休上班: a Saturday or Sunday that is a working day (班)
    WORKDAY = "workday"  # an ordinary working day
    WEEKEND = "weekend"  # an ordinary Saturday or Sunday


class DaySource(StrEnum):
    """Where a calendar row comes from."""

    CHINESE_CALENDAR = "chinese_calendar"
    ADMIN = "admin"


class CalendarDay(Model):
    """One day of the working calendar: whether it is worked, what kind of day, and why."""

    day = fields.DateField(primary_key=True)
    workday = fields.BooleanField()
    kind = fields.CharEnumField(DayKind, max_length=8)
    name = fields.CharField(max_length=64, default="")  # holiday name, e.g. 国庆节; may be ""
    source = fields.CharEnumField(DaySource, max_length=16, db_index=True)
    updated_by = fields.CharField(max_length=128, default="")  # who set an admin override
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "calendar_day"
        ordering = ["day"]
