"""Transactions, and exactly-once processing of inbound updates.

A channel sets an *update scope* (``update_scope("tg:123")``) around the processing of one inbound
update. The first desk transaction opened inside that scope records the key in
``processed_update`` in the same transaction as its effects, so a redelivered update either finds
the key (and changes nothing) or finds nothing committed (and runs again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
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
            try:
                async with in_transaction():
                    await ProcessedUpdate.create(key=scope.key)
            except IntegrityError:
                raise AlreadyProcessed(scope.key) from None
            scope.marked = True
        try:
            yield conn
        except BaseException:
            if scope is not None and mark_here:
                scope.marked = False
            raise
