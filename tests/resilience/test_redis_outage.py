"""Redis stopped and started mid-dialog: the desk keeps working on the database alone and uses
Redis again when it returns; nothing is lost or doubled.

Production shape: webhook mode, PostgreSQL, Redis (a private ``redis-server`` the test kills
with SIGKILL and starts again on the same port, empty, as after a crash without persistence).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from fakebot import FakeBotAPI

from models.system import Lease
from models.ticket import Ticket, TicketStatus

from .outage_harness import (
    ENT,
    ENV_G,
    TAX1,
    TAX2,
    TAX_G,
    Dialog,
    OutageDesk,
    RedisServer,
    alive_tasks,
    assert_nothing_lost_or_doubled,
    bind_groups,
    register,
    settle,
    submit,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TAX_REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"
ENV_REQUEST = "我们厂的环评批复一直没下来，新生产线没法投产"
TAX_REQUEST_2 = "我们公司增值税专用发票开具一直失败，税控设备报错，急着给客户开票"
TOKEN_ID = "123456"  # the fake's token prefix: the send budget's Redis keys carry it


async def test_redis_stopped_and_started_mid_dialog(
    fake: FakeBotAPI,
    dialog: Dialog,
    pg_url: str,
    private_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    d = dialog
    desk = OutageDesk(
        fake=fake,
        db_url=pg_url,
        webhook=True,
        redis_url=private_redis.url,
        overrides={"scheduler_interval": 0.5},
    )
    await desk.start()
    try:
        # --- Redis up: the usual dialog; Redis holds the shared state.
        await bind_groups(d)
        await register(d, ENT)
        ref1 = await submit(d, ENT, TAX_REQUEST)
        card1 = await d.expect(TAX_G["id"], ref1)
        keys = await private_redis.keys("desk:*")
        assert "desk:lease:scheduler" in keys
        assert any(k.startswith("desk:upd:tg:") for k in keys)
        assert any(k.startswith(f"desk:send:{TOKEN_ID}:") for k in keys)

        # --- Redis dies (SIGKILL). The desk carries on with the database.
        await private_redis.kill()
        assert not await private_redis.ping()
        started = time.monotonic()
        ref2 = await submit(d, ENT, ENV_REQUEST)  # a new ticket, end to end
        card2 = await d.expect(ENV_G["id"], ref2)
        m = d.mark()
        toast = await d.press(TAX1, TAX_G["id"], "认领", message=card1)  # a claim
        assert "认领成功" in toast
        await d.expect(TAX_G["id"], "承办人", after=m)
        await d.expect(ENT["id"], "认领", after=m)
        m = d.mark()
        reply = await d.send(  # a staff reply, relayed to the enterprise
            TAX1, "请提供出口报关单号和申报月份。", chat=TAX_G, reply_to=card1.message_id
        )
        progress = await d.expect(ENT["id"], "报关单号", after=m)
        assert ref1 in (progress.plain_text or "")
        during = time.monotonic() - started
        # The same update delivered again (Telegram retries after a lost answer): acknowledged,
        # and ignored with only the database to tell.
        assert await fake.post_webhook(reply) == 200
        # The scheduler kept its lease, in the database now.
        await asyncio.sleep(1.2)
        assert await Lease.exists(name="scheduler")
        # Going down is logged once, not once per update (the scheduler alone asks twice a second).
        assert caplog.text.count("Redis unavailable (") == 1
        assert alive_tasks() >= {"inbox", "outbox-sender", "scheduler"}

        # --- Redis comes back (empty) on the same port; the desk uses it again by itself.
        await private_redis.start()
        back_at = time.monotonic()
        while "Redis available again" not in caplog.text:
            assert time.monotonic() - back_at < 10, "the desk never went back to Redis"
            await asyncio.sleep(0.1)
        back_in = time.monotonic() - back_at
        m = d.mark()
        claim = await d.press(TAX2, ENV_G["id"], "认领", message=card2)
        assert "认领成功" in claim
        await d.expect(ENT["id"], "认领", after=m)
        ref3 = await submit(d, ENT, TAX_REQUEST_2)
        await d.expect(TAX_G["id"], ref3)
        await settle()
        keys = await private_redis.keys("desk:*")
        assert "desk:lease:scheduler" in keys  # the scheduler lease is in Redis again
        assert any(k.startswith(f"desk:send:{TOKEN_ID}:") for k in keys)  # the send budget
        upd_keys = {k for k in keys if k.startswith("desk:upd:tg:")}
        after_restart = [
            dl.update["update_id"] for dl in fake.webhook_deliveries[-3:]
        ]  # the last few updates, all handled after the restart
        assert {f"desk:upd:tg:{u}" for u in after_restart} <= upd_keys
        # An update handled while Redis was down, delivered once more: still ignored.
        m = d.mark()
        assert await fake.post_webhook(reply) == 200
        await asyncio.sleep(1.5)
        assert [t for t in d.texts(ENT["id"]) if "报关单号" in t] == [progress.plain_text]
        assert fake.mark() == m  # nobody got anything new

        # --- Nothing lost, nothing doubled.
        await settle()
        await assert_nothing_lost_or_doubled(fake)
        tickets = await Ticket.all().order_by("id")
        assert [t.ref for t in tickets] == [ref1, ref2, ref3]
        assert tickets[0].status == TicketStatus.CLAIMED
        assert tickets[1].status == TicketStatus.CLAIMED
        assert alive_tasks() >= {"inbox", "outbox-sender", "scheduler"}
        print(
            f"\nRedis outage: ticket + claim + reply took {during:.1f}s without Redis;"
            f" back on Redis {back_in:.1f}s after it returned"
        )
    finally:
        await desk.stop()
