"""State shared between workers: Redis leases and pre-dedup, and the database fallback."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from bot.shared import DatabaseShared, RedisShared, make_shared
from desk.db import atomic, update_scope
from desk.notify import enqueue
from models.system import Lease

pytestmark = pytest.mark.redis


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[RedisShared, RedisShared]]:
    one, two = RedisShared(redis_url), RedisShared(redis_url)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_redis_lease_is_exclusive(pair: tuple[RedisShared, RedisShared]) -> None:
    one, two = pair
    assert one.holder != two.holder
    assert await one.lease("scheduler", 30)
    assert not await two.lease("scheduler", 30)
    assert not await two.lease("scheduler", 30)
    # another name is independent
    assert await two.lease("sender", 30)
    assert not await one.lease("sender", 30)


async def test_redis_lease_is_renewable_by_its_holder(
    pair: tuple[RedisShared, RedisShared],
) -> None:
    one, two = pair
    assert await one.lease("scheduler", 0.3)
    await asyncio.sleep(0.2)
    assert await one.lease("scheduler", 0.3)  # renewal pushes the expiry out again
    await asyncio.sleep(0.2)  # 0.4 s after the first take: alive only thanks to the renewal
    assert not await two.lease("scheduler", 0.3)
    ttl = await one.redis.pttl("desk:lease:scheduler")
    assert 0 < ttl <= 300
    assert await one.redis.get("desk:lease:scheduler") == one.holder


async def test_redis_lease_expires(pair: tuple[RedisShared, RedisShared]) -> None:
    one, two = pair
    assert await one.lease("scheduler", 0.1)
    await asyncio.sleep(0.2)
    assert await two.lease("scheduler", 30)
    assert not await one.lease("scheduler", 30)  # the old holder cannot renew it back


async def test_redis_lease_taken_once_under_contention(redis_url: str) -> None:
    workers = [RedisShared(redis_url) for _ in range(8)]
    try:
        results = await asyncio.gather(*(w.lease("tick", 10) for w in workers))
        assert results.count(True) == 1
    finally:
        for w in workers:
            await w.close()


async def test_redis_seen_and_remember(pair: tuple[RedisShared, RedisShared], db: str) -> None:
    one, two = pair
    assert await one.ping()
    assert not await one.seen("tg:1")
    await one.remember("tg:1")
    assert await one.seen("tg:1")
    assert await two.seen("tg:1")  # shared between workers
    ttl = await one.redis.ttl("desk:upd:tg:1")
    assert 6 * 86400 < ttl <= 7 * 86400
    # an update committed by the desk is seen even if Redis never heard of it
    with update_scope("tg:2"):
        async with atomic():
            await enqueue(chat_id=1, kind="x")
    assert await two.seen("tg:2")
    assert not await two.seen("tg:3")


async def test_make_shared(redis_url: str) -> None:
    shared = make_shared(redis_url)
    try:
        assert isinstance(shared, RedisShared)
    finally:
        await shared.close()
    assert isinstance(make_shared(None), DatabaseShared)
    assert isinstance(make_shared(""), DatabaseShared)


# ---------------------------------------------------------------- database fallback


async def test_database_lease_is_exclusive(db: str) -> None:
    one, two = DatabaseShared(), DatabaseShared()
    assert await one.lease("scheduler", 30)
    assert not await two.lease("scheduler", 30)
    assert await one.lease("scheduler", 30)  # renewable by its holder
    lease = await Lease.get(name="scheduler")
    assert lease.holder == one.holder
    assert await two.lease("other", 30)


async def test_database_lease_taken_over_after_expiry(db: str) -> None:
    one, two = DatabaseShared(), DatabaseShared()
    assert await one.lease("scheduler", 0.2)
    assert not await two.lease("scheduler", 30)
    await asyncio.sleep(0.3)
    assert await two.lease("scheduler", 30)
    assert not await one.lease("scheduler", 30)
    lease = await Lease.get(name="scheduler")
    assert lease.holder == two.holder
    assert lease.until > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=25)


async def test_database_lease_under_contention(db: str) -> None:
    workers = [DatabaseShared() for _ in range(6)]
    results = await asyncio.gather(*(w.lease("tick", 10) for w in workers))
    assert results.count(True) == 1
    assert await Lease.all().count() == 1


async def test_database_seen(db: str) -> None:
    shared = DatabaseShared()
    assert not await shared.seen("tg:9")
    await shared.remember("tg:9")  # the desk transaction records it, not remember()
    assert not await shared.seen("tg:9")
    with update_scope("tg:9"):
        async with atomic():
            await enqueue(chat_id=1, kind="x")
    assert await shared.seen("tg:9")
    await shared.close()


async def test_redis_down_falls_back_to_the_database(db: str) -> None:
    """With Redis unreachable the desk keeps working on the database alone."""
    from bot.shared import RedisShared
    from models.system import ProcessedUpdate

    shared = RedisShared("redis://127.0.0.1:1/0")
    try:
        assert not await shared.seen("tg:424242")
        await ProcessedUpdate.create(key="tg:424242")
        assert await shared.seen("tg:424242")
        await shared.remember("tg:1")  # no error
        assert await shared.lease("scheduler", 30)
        other = RedisShared("redis://127.0.0.1:1/0")
        assert not await other.lease("scheduler", 30)  # exclusive through the database
        await other.close()
    finally:
        await shared.close()
