"""PostgreSQL restarts under a running desk (webhook mode, no Redis: the database is all).

A TCP proxy sits between the desk and PostgreSQL. ``cut()`` resets every connection and refuses
new ones, which is what the desk sees while PostgreSQL restarts; ``resume()`` accepts again.
During the outage a webhook request is answered at once with an error (and logged), Telegram
retries it later, and the sender, inbox worker and scheduler loops keep retrying. Afterwards
every update is handled exactly once and every message delivered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
import pytest
from fakebot import FakeBotAPI
from fakebot.server import SentMessage

from models.system import InboxUpdate, Lease
from models.ticket import Ticket, TicketStatus

from .outage_harness import (
    ENT,
    ENV_G,
    REF,
    TAX1,
    TAX_G,
    Dialog,
    OutageDesk,
    TcpProxy,
    alive_tasks,
    assert_nothing_lost_or_doubled,
    bind_groups,
    redeliver,
    register,
    settle,
    submit,
)

pytestmark = pytest.mark.postgres

TAX_REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"
ENV_REQUEST = "我们厂的环评批复一直没下来，新生产线没法投产"
QUESTION = "请提供出口报关单号和申报月份。"
OUTAGE = 3.0  # seconds PostgreSQL stays down
FAIL_FAST = 5.0  # a request during the outage must be answered within this
LOOPS = {"inbox", "outbox-sender", "scheduler", "router-refresh"}


@contextlib.asynccontextmanager
async def running_desk(fake: FakeBotAPI, db_url: str) -> AsyncIterator[OutageDesk]:
    """The desk in webhook mode on ``db_url`` (the proxy), with a scheduler tick every 0.5 s.

    Started and stopped inside each test, so a desk that cannot shut down cleanly after the
    outage fails the test itself.
    """
    desk = OutageDesk(
        fake=fake, db_url=db_url, webhook=True, overrides={"scheduler_interval": 0.5}
    )
    await desk.start()
    try:
        yield desk
    finally:
        await desk.stop()


async def health(desk: OutageDesk) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{desk.port}/healthz") as response,
    ):
        return response.status


async def timed(step: Awaitable[Any]) -> float:
    started = time.monotonic()
    await step
    return time.monotonic() - started


async def until_a_claimable_card(d: Dialog) -> SentMessage:
    await bind_groups(d)
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_REQUEST)
    card = await d.expect(TAX_G["id"], ref)
    await settle()
    return card


async def test_requests_fail_fast_during_a_restart_and_nothing_is_lost(
    fake: FakeBotAPI,
    dialog: Dialog,
    pg_proxy: tuple[TcpProxy, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    proxy, url = pg_proxy
    d = dialog
    async with running_desk(fake, url) as desk:
        card = await until_a_claimable_card(d)
        assert proxy.open_links > 0  # the pool holds connections the restart will break

        # --- PostgreSQL goes down.
        await proxy.cut()
        down_at = time.monotonic()
        # The enterprise writes and a staff member claims meanwhile: both requests are refused
        # at once (503), so Telegram keeps them and tries again; nothing hangs.
        took_message = await timed(d.send(ENT, ENV_REQUEST))
        assert fake.last_webhook_status == 503
        _, claim = fake.find_button(TAX_G["id"], "认领")
        took_press = await timed(fake.user_presses(TAX1, TAX_G["id"], card.message_id, claim))
        assert fake.last_webhook_status == 503
        assert max(took_message, took_press) < FAIL_FAST, (took_message, took_press)
        assert "could not store update" in caplog.text  # logged, with the reason
        assert await health(desk) == 503
        # The loops meet the outage and survive it.
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))
        assert "outbox claim failed" in caplog.text  # said once per back-off, not per pass
        assert "scheduler tick failed" in caplog.text
        assert alive_tasks() >= LOOPS

        # --- PostgreSQL is back. Telegram delivers the two refused updates again.
        await proxy.resume()
        up_at = time.monotonic()
        assert await redeliver(fake) == 2
        accepted_in = time.monotonic() - up_at
        draft = await d.expect(ENT["id"], ENV_REQUEST)  # the request sent during the outage
        m = d.mark()
        await d.press(ENT, ENT["id"], "确认", message=draft)
        ack = await d.expect(ENT["id"], "已受理", after=m)
        await d.expect(TAX_G["id"], "承办人")  # the claim pressed during the outage
        await d.expect(ENT["id"], "认领")
        recovered_in = time.monotonic() - up_at
        found = REF.search(ack.plain_text or "")
        assert found is not None
        await d.expect(ENV_G["id"], found.group(0))
        assert await health(desk) == 200

        # The scheduler ticks again: its lease (in the database here) is renewed.
        await asyncio.sleep(1.2)
        lease = await Lease.get(name="scheduler")
        assert lease.until > dt.datetime.now(dt.UTC)
        assert alive_tasks() >= LOOPS

        await settle()
        await assert_nothing_lost_or_doubled(fake)
        tickets = await Ticket.all().order_by("id")
        assert [t.status for t in tickets] == [TicketStatus.CLAIMED, TicketStatus.DISPATCHED]
        assert tickets[1].ref == found.group(0)
        assert await InboxUpdate.filter(status="done").count() == len(
            {dl.update["update_id"] for dl in fake.webhook_deliveries}
        )
    print(
        f"\nPostgreSQL down {OUTAGE:.0f}s: webhook answered 503 in {took_message * 1000:.0f} ms"
        f" / {took_press * 1000:.0f} ms; retried updates accepted {accepted_in:.2f}s after"
        f" it returned; the dialog caught up {recovered_in:.1f}s after;"
        f" {caplog.text.count('outbox sender pass failed')} sender,"
        f" {caplog.text.count('inbox claim failed')} inbox and"
        f" {caplog.text.count('scheduler tick failed')} scheduler errors logged"
    )


# ---------------------------------------------------------------- a restart at the worst moment
#
# The two tests below cut PostgreSQL at the one moment where a process has done something the
# database does not know yet: right after an update's effects were committed (before the inbox
# row is marked done), and right after Telegram accepted a message (before the outbox row is
# marked sent). Hooks in the fake Bot API make the moment exact.


def restart_now(proxy: TcpProxy, tasks: list[asyncio.Task[None]]) -> None:
    """Cut PostgreSQL now and accept again ``OUTAGE`` seconds later (in the background)."""

    async def restart() -> None:
        await proxy.cut()
        await asyncio.sleep(OUTAGE)
        await proxy.resume()

    tasks.append(asyncio.create_task(restart()))


async def test_a_restart_right_after_an_update_committed(
    fake: FakeBotAPI, dialog: Dialog, pg_proxy: tuple[TcpProxy, str]
) -> None:
    """The inbox worker survives, and marks the update done once the database is back (left
    'working', it would hold up its chat until its lease ran out)."""
    proxy, url = pg_proxy
    d = dialog
    restarts: list[asyncio.Task[None]] = []

    async def answer(params: dict[str, Any]) -> bool:
        fake.callback_answers[str(params["callback_query_id"])] = params
        return True

    async def answer_then_restart(params: dict[str, Any]) -> bool:
        # The claim is committed; its toast is being answered when PostgreSQL goes down.
        fake.add_method("answerCallbackQuery", answer)
        restart_now(proxy, restarts)
        return await answer(params)

    async with running_desk(fake, url) as desk:
        card = await until_a_claimable_card(d)
        fake.add_method("answerCallbackQuery", answer_then_restart)
        m = d.mark()
        assert "认领成功" in await d.press(TAX1, TAX_G["id"], "认领", message=card)
        await asyncio.gather(*restarts)
        await asyncio.sleep(0.5)
        assert await health(desk) == 200
        assert "inbox" in alive_tasks(), "the inbox worker died with the database"

        # The claim's messages go out; the group's next update is handled promptly (in that
        # chat's order it comes after the claim, so the claim must have been closed).
        await d.expect(ENT["id"], "认领", after=m)
        m = d.mark()
        await d.send(TAX1, QUESTION, chat=TAX_G, reply_to=card.message_id)
        await d.expect(ENT["id"], "报关单号", after=m, wait=10)
        await settle(within=10)
        await assert_nothing_lost_or_doubled(fake)
        assert await Ticket.all().values_list("status", flat=True) == [TicketStatus.CLAIMED]


async def test_a_restart_right_after_telegram_accepted_a_message(
    fake: FakeBotAPI, dialog: Dialog, pg_proxy: tuple[TcpProxy, str]
) -> None:
    """The sender records the delivery once the database is back: no duplicate after the
    row's lease runs out, no long wait."""
    proxy, url = pg_proxy
    d = dialog
    restarts: list[asyncio.Task[None]] = []
    send_message = fake._api_sendMessage  # the fake's own implementation, wrapped below

    async def send_then_restart(params: dict[str, Any]) -> Any:
        # Telegram accepts the question to the enterprise; PostgreSQL goes down before the
        # sender can record it.
        result = await send_message(params)
        if not restarts and str(params.get("chat_id")) == str(ENT["id"]):
            restart_now(proxy, restarts)
        return result

    async with running_desk(fake, url):
        card = await until_a_claimable_card(d)
        fake.add_method("sendMessage", send_then_restart)
        m = d.mark()
        await d.send(TAX1, QUESTION, chat=TAX_G, reply_to=card.message_id)
        await d.expect(ENT["id"], "报关单号", after=m)
        assert restarts
        await asyncio.gather(*restarts)
        await asyncio.sleep(0.5)
        assert alive_tasks() >= LOOPS

        # Afterwards the message is recorded as sent, and it was never sent twice.
        await settle(within=10)
        await assert_nothing_lost_or_doubled(fake)
        assert len([t for t in d.texts(ENT["id"]) if "报关单号" in t]) == 1


# ---------------------------------------------------------------- a database that hangs
#
# Unlike a restart, a partition or a frozen host resets nothing: connections stay open and
# queries wait. The webhook must still answer quickly, or Telegram's own timeout decides.

STALL = 8.0  # seconds nothing gets through to PostgreSQL


async def test_a_hanging_database_still_gets_a_quick_answer(
    fake: FakeBotAPI,
    dialog: Dialog,
    pg_proxy: tuple[TcpProxy, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 503 within a few seconds while nothing gets through, then recovery."""
    proxy, url = pg_proxy
    d = dialog
    async with running_desk(fake, url):
        await register(d, ENT)
        await settle()
        proxy.stall()
        stalled_at = time.monotonic()
        try:
            sending = asyncio.create_task(d.send(ENT, ENV_REQUEST))
            done, _ = await asyncio.wait({sending}, timeout=FAIL_FAST)
            took = time.monotonic() - stalled_at
            await asyncio.sleep(max(0.0, STALL - (time.monotonic() - stalled_at)))
        finally:
            proxy.unstall()
        await sending
        assert sending in done, f"no answer within {FAIL_FAST}s while PostgreSQL hangs"
        assert fake.webhook_deliveries[-1].status == 503
        assert took < FAIL_FAST
        assert "could not store update" in caplog.text

        # Once PostgreSQL answers again, Telegram's retry goes through; handled once.
        await redeliver(fake)
        draft = await d.expect(ENT["id"], ENV_REQUEST, wait=10)
        assert "确认" in (draft.plain_text or "")
        await settle()
        await assert_nothing_lost_or_doubled(fake)
        assert alive_tasks() >= LOOPS
