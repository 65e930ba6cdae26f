"""Ticket references: ``TD`` + local date + ``-`` + daily sequence (TD20261129-0007)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.backends.base.executor import BaseExecutor
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.ticket import DailyCounter

REF_PATTERN = re.compile(r"TD\d{8}-\d{4,}")

# Create the day's row or increment it, and read the new value: one statement (PostgreSQL, and
# SQLite from 3.35), instead of an UPDATE, a SELECT and on the day's first ticket a savepoint
# and an INSERT. ``ON CONFLICT DO UPDATE`` takes the row lock of a concurrent insert or update
# and then increments the committed value, so two transactions never get the same number.
_NEXT_SQL = (
    "INSERT INTO daily_counter (day, value) VALUES ({p}, 1) "
    "ON CONFLICT (day) DO UPDATE SET value = daily_counter.value + 1 RETURNING value"
)


async def next_ref(*, now: datetime, tz: ZoneInfo) -> str:
    """Allocate the next reference of the local day. Call inside a transaction.

    The increment is a single statement, so concurrent transactions serialise on the counter
    row (PostgreSQL row lock; SQLite database lock) and never hand out the same number.
    """
    day = now.astimezone(tz).strftime("%Y%m%d")
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    if dialect == "sqlite" or (
        dialect == "postgres" and conn.executor_class.parameter is BaseExecutor.parameter
    ):
        sql = _NEXT_SQL.format(p="?" if dialect == "sqlite" else "$1")
        (row,) = await conn.execute_query_dict(sql, [day])
        return f"TD{day}-{int(row['value']):04d}"
    return await _next_ref_orm(day)


async def _next_ref_orm(day: str) -> str:
    """The same through the ORM, for a backend without the one-statement path."""
    for _ in range(3):
        updated = await DailyCounter.filter(day=day).update(value=F("value") + 1)
        if updated:
            counter = await DailyCounter.get(day=day)
            return f"TD{day}-{counter.value:04d}"
        try:
            async with in_transaction():  # a savepoint: a lost race must not abort the caller
                await DailyCounter.create(day=day, value=1)
            return f"TD{day}-0001"
        except IntegrityError:  # another transaction created the row first: increment it
            continue
    raise RuntimeError("could not allocate a ticket reference")


def find_ref(text: str) -> str | None:
    """The first ticket reference in ``text`` (case-insensitive), normalised to upper case."""
    m = REF_PATTERN.search(text.upper())
    return m.group(0) if m else None
