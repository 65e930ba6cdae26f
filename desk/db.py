"""Transactions, exactly-once processing of inbound updates, and leasing rows to one worker.

A channel sets an *update scope* (``update_scope("tg:123")``) around the processing of one inbound
update. The first desk transaction opened inside that scope records the key in
``processed_update`` in the same transaction as its effects, so a redelivered update either finds
the key (and changes nothing) or finds nothing committed (and runs again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.executor import BaseExecutor
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.system import ProcessedUpdate

from .errors import AlreadyProcessed


@dataclass
class _Scope:
    key: str
    marked: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("desk_update_scope", default=None)


@contextmanager
def update_scope(key: str) -> Iterator[None]:
    """Mark everything the desk does in this context as the effect of inbound update ``key``."""
    token = _scope.set(_Scope(key))
    try:
        yield
    finally:
        _scope.reset(token)


async def already_processed(key: str) -> bool:
    """Cheap pre-check for a redelivered update (the transaction check is the real guard)."""
    return await ProcessedUpdate.exists(key=key)


@asynccontextmanager
async def atomic() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction (a savepoint when nested) that also records the current update key once.

    Raises:
        AlreadyProcessed: the current update's effects were committed before.
    """
    async with in_transaction() as conn:
        scope = _scope.get()
        mark_here = scope is not None and not scope.marked
        if scope is not None and mark_here:
            if not await _mark(conn, scope.key):
                raise AlreadyProcessed(scope.key)
            scope.marked = True
        try:
            yield conn
        except BaseException:
            if scope is not None and mark_here:
                scope.marked = False
            raise


# The processed-update marker without a savepoint: a key written before (or by a concurrent
# transaction that then commits) inserts nothing instead of raising, so the transaction is not
# aborted and needs no savepoint to survive it: one round trip instead of three.
_MARK_SQL = (
    'INSERT INTO processed_update ("key", "at") VALUES ({}, {}) ON CONFLICT DO NOTHING RETURNING 1'
)


async def _mark(conn: BaseDBAsyncClient, key: str) -> bool:
    """Record update ``key`` as processed in ``conn``'s transaction; False if it was before."""
    dialect = conn.capabilities.dialect
    if dialect == "sqlite" or (
        dialect == "postgres" and conn.executor_class.parameter is BaseExecutor.parameter
    ):
        sql = _MARK_SQL.format(*(("?", "?") if dialect == "sqlite" else ("$1", "$2")))
        return bool(await conn.execute_query_dict(sql, [key, timezone.now()]))
    try:  # another backend: the ORM's insert, in a savepoint a duplicate key may abort
        async with in_transaction():
            await ProcessedUpdate.create(key=key)
    except IntegrityError:
        return False
    return True


class Leasable(Protocol):
    """A row that workers take with a lease (the inbox, the outbox, briefing requests)."""

    status: Any
    locked_until: dt.datetime | None
    attempts: int

    @property
    def pk(self) -> Any: ...

    @classmethod
    def filter(cls, *args: Q, **kwargs: Any) -> QuerySet[Any]: ...


L = TypeVar("L", bound=Leasable)


async def claim_rows(
    candidates: Iterable[L], *, status: Any, until: dt.datetime, limit: int | None = None
) -> list[L]:
    """Take candidate rows with a compare-and-set update each; return the rows won.

    A row is taken only if its status and lease are still what was read with it: the update
    sets ``status``, leases the row ``until`` then and counts an attempt. Of several workers
    reading the same candidates, one wins each row; the others skip it. The rows won are
    updated in memory as well.

    Args:
        candidates: the rows read as due, in the order to take them.
        status: the status of a taken row (``working``, ``sending``).
        until: the end of the lease, after which another worker may take the row again.
        limit: stop once this many rows are won; no limit when None.

    Returns:
        The rows won, in the candidates' order.
    """
    taken: list[L] = []
    for row in candidates:
        won = (
            await type(row)
            .filter(pk=row.pk, status=row.status, locked_until=row.locked_until)
            .update(status=status, locked_until=until, attempts=row.attempts + 1)
        )
        if won:
            row.status, row.locked_until, row.attempts = status, until, row.attempts + 1
            taken.append(row)
            if limit is not None and len(taken) >= limit:
                break
    return taken
