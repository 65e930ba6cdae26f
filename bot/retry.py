"""Recording an outcome that already happened, while the database may be briefly away."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def keep_trying(write: Callable[[], Awaitable[None]], *, within: float, what: str) -> None:
    """Run ``write`` until it succeeds, backing off, for up to ``within`` seconds.

    Used where giving up costs more than waiting: a message Telegram accepted that is not
    recorded would be sent again, an update handled but not marked done holds up its chat.

    Raises:
        Exception: the last error, once ``within`` seconds have passed.
    """
    delay = 0.2
    deadline = time.monotonic() + within
    while True:
        try:
            await write()
            return
        except Exception:
            if time.monotonic() >= deadline:
                raise
            log.warning("%s not recorded yet (database away?); retrying", what, exc_info=True)
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)


def database_away(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database could not be reached.

    Such a failure says nothing about the update being handled, so it does not count toward
    the attempts after which an update is parked: a PostgreSQL restart must not park the
    updates that happened to be in hand.
    """
    import asyncpg  # the PostgreSQL driver; SQLite does not go away

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            ConnectionError
            | TimeoutError
            | OSError
            | asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            | asyncpg.OperatorInterventionError,  # restarting, shutting down, cannot connect now
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
