"""``RedisShared`` when Redis hangs: one socket timeout, then the database for a while, then
Redis again; going down and coming back are logged once each."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.shared import RedisShared
from models.system import Lease

from .outage_harness import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def db_kind() -> str:  # the fallback database (tests/conftest.py ``db``)
    return "sqlite"


async def test_a_hanging_redis_is_left_alone_for_a_while(
    db: str, private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.shared")
    shared = RedisShared(private_redis.url, retry_after=1.0)
    try:
        assert await shared.lease("scheduler", 30)
        await shared.remember("tg:1")
        assert await shared.seen("tg:1")

        private_redis.freeze()
        started = time.monotonic()
        assert not await shared.seen("tg:2")  # waits for the socket timeout, then the database
        first = time.monotonic() - started
        assert 1.5 < first < 4, first
        assert not shared.available
        # Meanwhile every call goes straight to the database: no more timeouts.
        started = time.monotonic()
        for n in range(20):
            assert not await shared.seen(f"tg:{100 + n}")
            await shared.remember(f"tg:{100 + n}")
        assert await shared.lease("scheduler", 30)  # from the database's lease table
        assert time.monotonic() - started < 0.5
        assert await Lease.exists(name="scheduler")

        private_redis.thaw()
        await asyncio.sleep(1.1)  # the back-off ends; the next call tries Redis again
        assert shared.available
        assert not await shared.seen("tg:3")
        await shared.remember("tg:3")
        assert await shared.redis.exists("desk:upd:tg:3")
        assert await shared.seen("tg:3")
        assert caplog.text.count("Redis unavailable (") == 1
        assert caplog.text.count("Redis available again") == 1
    finally:
        private_redis.thaw()
        await shared.close()
