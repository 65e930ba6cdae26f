"""One send budget per bot token in Redis, shared by all workers; local limits if Redis is down."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.sender import RedisBudget


async def test_workers_share_one_budget(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        a = RedisBudget(client, margin=0, token_id="t1")
        b = RedisBudget(client, margin=0, token_id="t1")
        assert await a.take(501) == 0
        assert 0 < await b.take(501) <= 1.0  # the same chat, another worker: wait ~1 s
        # 30 messages per second over all chats and workers.
        taken = [await (a if n % 2 else b).take(1000 + n) for n in range(29)]
        assert taken == [0.0] * 29
        assert 0 < await a.take(5000) <= 1.0
        other = RedisBudget(
            client, margin=0, token_id="t2"
        )  # another bot token has its own budget
        assert await other.take(5000) == 0
    finally:
        await client.aclose()


async def test_group_ceiling_and_retry_after(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        a = RedisBudget(client, margin=0, token_id="g", chat_gap=0)
        b = RedisBudget(client, margin=0, token_id="g", chat_gap=0)
        results = [await (a if n % 2 else b).take(-100200) for n in range(20)]
        assert results == [0.0] * 20
        assert 50 < await a.take(-100200) <= 60  # the 21st in a minute waits for the window
        await a.block(777, 3)
        assert 2 < await b.take(777) <= 3
    finally:
        await client.aclose()


async def test_redis_down_falls_back_to_local_limits() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        budget = RedisBudget(client, margin=0, token_id="x")
        assert await budget.take(501) == 0
        assert await budget.take(501) > 0  # still limited, by this worker alone
    finally:
        await client.aclose()


async def test_a_reserve_keeps_slots_of_the_second_for_cards(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        a = RedisBudget(client, margin=0, token_id="r1")
        b = RedisBudget(client, margin=0, token_id="r1")
        assert [await (a if n % 2 else b).take(2000 + n) for n in range(20)] == [0.0] * 20
        # An enterprise's message leaving 10 slots to cards waits for the window to move ...
        assert 0 < await a.take(3000, reserve=10) <= 1.0
        assert 0 < await b.take(3001, reserve=10) <= 1.0
        # ... while a card (no reserve) still goes, up to the bot's 30.
        assert await b.take(-100300) == 0
        assert await a.take(3002, reserve=5) == 0
    finally:
        await client.aclose()
