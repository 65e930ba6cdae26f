"""Redis frozen (SIGSTOP: connections open, nothing answers), as when it hangs on a slow disk
or a fork. Unlike a stopped Redis, every call waits for the socket timeout (2 s) before it
falls back. The desk must keep working; it should also keep its pace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from fakebot import FakeBotAPI

from models.ticket import Ticket

from .outage_harness import (
    ENT,
    ENT2,
    REF,
    TAX_G,
    Dialog,
    OutageDesk,
    RedisServer,
    assert_nothing_lost_or_doubled,
    bind_groups,
    register,
    settle,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ENT3 = {"id": 1003, "first_name": "钱", "last_name": "主管"}
TAX_REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"


@pytest.fixture
async def desk(
    fake: FakeBotAPI, pg_url: str, private_redis: RedisServer
) -> AsyncIterator[OutageDesk]:
    running = OutageDesk(
        fake=fake,
        db_url=pg_url,
        webhook=True,
        redis_url=private_redis.url,
        overrides={"scheduler_interval": 0.5},
    )
    await running.start()
    yield running
    private_redis.thaw()
    await running.stop()


async def test_frozen_redis_slows_the_desk_but_loses_nothing(
    fake: FakeBotAPI,
    dialog: Dialog,
    desk: OutageDesk,
    private_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    private_redis.freeze()
    # The request, step by step, with room for the socket timeouts (about 2 s a call).
    started = time.monotonic()
    m = d.mark()
    await d.send(ENT, TAX_REQUEST)
    draft = await d.expect(ENT["id"], "确认", after=m, wait=20)
    m = d.mark()
    await d.press(ENT, ENT["id"], "确认", message=draft)
    ack = await d.expect(ENT["id"], "已受理", after=m, wait=20)
    found = REF.search(ack.plain_text or "")
    assert found is not None
    ref = found.group(0)
    await d.expect(TAX_G["id"], ref, wait=20)
    frozen_for = time.monotonic() - started
    assert caplog.text.count("Redis unavailable (") == 1
    private_redis.thaw()
    m = d.mark()
    await d.send(ENT, "/tickets")
    await d.expect(ENT["id"], ref, after=m)
    await settle()
    await assert_nothing_lost_or_doubled(fake)
    assert await Ticket.all().count() == 1
    print(f"\nRedis frozen: request to card in {frozen_for:.1f}s")


async def test_frozen_redis_keeps_the_sending_pace(
    fake: FakeBotAPI, dialog: Dialog, desk: OutageDesk, private_redis: RedisServer
) -> None:
    """After the first timeout the send budget is counted locally for a while, instead of
    waiting out a socket timeout on every message."""
    d = dialog
    private_redis.freeze()
    # Warm-up: the first Redis calls wait for their timeout and the desk falls back.
    await d.send(ENT, "/start")
    await d.expect(ENT["id"], "企业名称", wait=10)
    # Three people write at once: three updates, three messages to three chats (no per-chat
    # limit in the way). With the fallback in place they are answered at the usual pace.
    started = time.monotonic()
    await asyncio.gather(d.send(ENT2, "/start"), d.send(ENT3, "/start"))
    await asyncio.gather(
        d.expect(ENT2["id"], "企业名称", wait=10), d.expect(ENT3["id"], "企业名称", wait=10)
    )
    took = time.monotonic() - started
    assert took < 3.0, f"two answers took {took:.1f}s with Redis frozen"
