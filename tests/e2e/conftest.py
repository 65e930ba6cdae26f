"""End-to-end harness: the real desk (aiohttp app + PTB Application) against the fake Bot API.

``Dialog`` reads like a transcript: ``await d.send(ENT, "…")``, ``await d.expect(chat, "…")``,
``await d.press(STAFF, group, "认领")``.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from fakebot import FakeBotAPI
from fakebot.server import SentMessage

from bot.app import create_app
from bot.settings import Settings

ADMIN = {"id": 9001, "first_name": "热线办", "last_name": "管理员"}
ENT = {"id": 1001, "first_name": "王", "last_name": "经理"}
ENT2 = {"id": 1002, "first_name": "赵", "last_name": "会计"}
TAX1 = {"id": 2001, "first_name": "李", "last_name": "税官"}
TAX2 = {"id": 2002, "first_name": "周", "last_name": "税官"}
ENV1 = {"id": 3001, "first_name": "陈", "last_name": "环保"}
TRI1 = {"id": 4001, "first_name": "孙", "last_name": "分拨"}
TRIAGE_G = {"id": -100400, "type": "supergroup", "title": "热线办分拨群"}
TAX_G = {"id": -100200, "type": "supergroup", "title": "税务局工单群"}
ENV_G = {"id": -100300, "type": "supergroup", "title": "生态环境局工单群"}
REF = re.compile(r"TD\d{8}-\d{4,}")
SECRET = "s3cret-webhook-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(
    fake: FakeBotAPI, db_url: str, *, webhook: bool, port: int, redis_url: str | None = None
) -> Settings:
    return Settings(
        database_url=db_url,
        redis_url=redis_url,
        telegram_token=fake.token,
        telegram_api_url=fake.base_url,
        admin_ids=frozenset({ADMIN["id"]}),
        http_host="127.0.0.1",
        http_port=port,
        webhook_url=f"http://127.0.0.1:{port}/tg/hook" if webhook else None,
        webhook_secret=SECRET if webhook else None,
        poll_timeout=1,
        sender_interval=0.05,
        scheduler_interval=3600,
    )


@dataclass
class Desk:
    """One running desk process (in-process): start, stop, restart on the same database."""

    fake: FakeBotAPI
    db_url: str
    webhook: bool
    port: int = field(default_factory=free_port)
    redis_url: str | None = None
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = create_app(
            make_settings(
                self.fake,
                self.db_url,
                webhook=self.webhook,
                port=self.port,
                redis_url=self.redis_url,
            )
        )
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


class Dialog:
    """Acts as people in chats and waits for what the bot says."""

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake

    async def send(
        self,
        user: dict[str, Any],
        text: str | None = None,
        *,
        chat: dict[str, Any] | None = None,
        reply_to: int | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        return await self.fake.user_sends(user, chat, text, reply_to_message_id=reply_to, **kw)

    async def expect(
        self, chat_id: int, contains: str, *, after: int = 0, wait: float = 8.0
    ) -> SentMessage:
        return await self.fake.wait_for(chat_id, contains, after=after, timeout=wait)

    async def press(
        self, user: dict[str, Any], chat_id: int, label: str, *, message: SentMessage | None = None
    ) -> str:
        """Press the newest button containing ``label``; returns the toast text."""
        if message is None:
            message, data = self.fake.find_button(chat_id, label)
        else:
            matches = [d for t, d in self.fake.buttons(message) if label in t]
            assert matches, f"no button {label!r} on {message.text!r}"
            data = matches[0]
        return await self.press_data(user, chat_id, message.message_id, data)

    async def press_data(
        self, user: dict[str, Any], chat_id: int, message_id: int, data: str | None
    ) -> str:
        update = await self.fake.user_presses(user, chat_id, message_id, data)
        query_id = str(update["callback_query"]["id"])
        for _ in range(200):
            answer = self.fake.callback_answers.get(query_id)
            if answer is not None:
                return str(answer.get("text") or "")
            await asyncio.sleep(0.025)
        raise TimeoutError(f"button {data!r} was never answered")

    def mark(self) -> int:
        return self.fake.mark()

    def texts(self, chat_id: int) -> list[str]:
        return [m.plain_text or "" for m in self.fake.sent(chat_id)]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token="123456:TEST-TOKEN") as api:
        yield api


@pytest.fixture
def dialog(fake: FakeBotAPI) -> Dialog:
    return Dialog(fake)


@pytest.fixture
def db_kind() -> str:
    """End-to-end tests run on SQLite (drives ``db_url`` of tests/conftest.py); a module that
    runs on PostgreSQL as well overrides this (test_core_loop, test_burst_digest)."""
    return "sqlite"


@pytest.fixture
async def desk(fake: FakeBotAPI, db_url: str) -> AsyncIterator[Desk]:
    """A running desk (polling) on a fresh database, stopped after the test."""
    running = Desk(fake=fake, db_url=db_url, webhook=False)
    await running.start()
    yield running
    await running.stop()


async def bind_groups(d: Dialog) -> None:
    for group, code in ((TRIAGE_G, "TRIAGE"), (TAX_G, "TAX"), (ENV_G, "ENV")):
        await d.send(ADMIN, f"/bind {code}", chat=group)
        await d.expect(group["id"], "已绑定")


async def register(
    d: Dialog,
    user: dict[str, Any],
    company: str = "天津泰达测试科技有限公司",
    code: str = "跳过",
    contact: str = "王经理",
    phone: str = "13812345678",
) -> None:
    chat = user["id"]
    m = d.mark()
    await d.send(user, "/start")
    await d.expect(chat, "企业名称", after=m)
    for answer, prompt in ((company, "信用代码"), (code, "联系人"), (contact, "手机")):
        m = d.mark()
        await d.send(user, answer)
        await d.expect(chat, prompt, after=m)
    m = d.mark()
    await d.send(user, phone)
    await d.expect(chat, "注册成功", after=m)


async def submit(d: Dialog, user: dict[str, Any], text: str) -> str:
    """Send a request, confirm it, return the ticket reference from the acknowledgement."""
    chat = user["id"]
    m = d.mark()
    await d.send(user, text)
    draft = await d.expect(chat, "确认", after=m)
    m = d.mark()
    await d.press(user, chat, "确认", message=draft)
    ack = await d.expect(chat, "已受理", after=m)
    found = REF.search(ack.plain_text or "")
    assert found, ack.text
    return found.group(0)
