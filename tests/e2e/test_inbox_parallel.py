"""One worker handles several chats' updates side by side, never one chat's out of order.

Each claimed inbox row is the head of its own chat's queue, so on PostgreSQL a worker handles up
to ``inbox_parallel`` chats at once (processing, not sending, is what limits a worker at 100
messages a second: bench/e2e_latency.py) while every chat's updates are still handled one after
the other, in order. On SQLite (one connection, shared transactions) updates are handled one at
a time. Checked through the real desk and the fake Bot API by watching the channel's own
``process`` calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import pytest
from conftest import Desk, Dialog
from fakebot import FakeBotAPI
from telegram import Update

from bot.app import CHANNEL
from models.system import InboxUpdate

USERS = 16
EACH = 3


@pytest.fixture(
    params=[
        pytest.param(("polling", "sqlite"), id="polling-sqlite"),
        pytest.param(
            ("webhook", "postgres"), id="webhook-postgres-redis", marks=pytest.mark.postgres
        ),
    ]
)
def mode(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def db_kind(mode: tuple[str, str]) -> str:
    return mode[1]


async def test_chats_are_handled_side_by_side_each_in_its_own_order(
    fake: FakeBotAPI, dialog: Dialog, db_url: str, mode: tuple[str, str], redis_url: str
) -> None:
    webhook = mode[0] == "webhook"
    desk = Desk(
        fake=fake, db_url=db_url, webhook=webhook, redis_url=redis_url if webhook else None
    )
    await desk.start()
    try:
        assert desk.runner is not None
        channel = desk.runner.app[CHANNEL]
        handled: dict[int, list[int]] = defaultdict(list)  # chat → update ids, in handling order
        running = 0
        most = 0
        original = channel.process

        async def watched(update: Update, **kw: Any) -> None:
            nonlocal running, most
            assert update.effective_chat is not None
            handled[update.effective_chat.id].append(update.update_id)
            running += 1
            most = max(most, running)
            try:
                await asyncio.sleep(0.02)  # long enough for handlings to overlap if they may
                await original(update, **kw)
            finally:
                running -= 1

        channel.process = watched  # type: ignore[method-assign]
        users: list[dict[str, Any]] = [
            {"id": 60_000 + i, "first_name": f"用户{i}"} for i in range(USERS)
        ]
        sent: dict[int, list[int]] = defaultdict(list)
        for n in range(EACH):  # every user's n-th message, all users at once
            updates = await asyncio.gather(
                *(dialog.send(user, f"你好，第{n + 1}条消息") for user in users)
            )
            for user, update in zip(users, updates, strict=True):
                sent[user["id"]].append(int(update["update_id"]))

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if await InboxUpdate.filter(status="done").count() >= USERS * EACH:
                break
            await asyncio.sleep(0.1)
        assert await InboxUpdate.filter(status="done").count() == USERS * EACH
        assert {chat: ids for chat, ids in handled.items()} == dict(sent)  # each chat in order
        if mode[1] == "postgres":
            assert 1 < most <= channel.inbox_parallel
        else:
            assert channel.inbox_parallel == 1 and most == 1
    finally:
        await desk.stop()
