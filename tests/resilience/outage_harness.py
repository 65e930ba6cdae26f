"""Outage harness: the end-to-end desk of ``tests/e2e`` plus services that can fail on cue.

* :class:`RedisServer` – a private ``redis-server`` on a free port, killed and restarted by the
  test (the shared Redis on 6379 is never touched).
* :class:`TcpProxy` – a small asyncio TCP proxy between the desk and PostgreSQL; ``cut()``
  closes every proxied connection and refuses new ones (what clients see while PostgreSQL
  restarts), ``resume()`` accepts again on the same port; ``stall()`` lets nothing through
  without closing anything (a partition or a frozen host), ``unstall()`` ends that.
* :class:`OutageDesk` – the e2e ``Desk`` with a few settings changed (a short scheduler
  interval, so the scheduler loop is seen failing and recovering).
* :func:`redeliver` – Telegram's side of a failed webhook delivery: the update is sent again
  until the desk acknowledges it (the fake Bot API does not retry by itself).
* :func:`assert_nothing_lost_or_doubled` – the end state every outage test checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp import web
from fakebot import FakeBotAPI

from bot.app import CHANNEL, create_app
from bot.telegram_channel import TelegramChannel
from models.outbox import OutboxMessage, OutboxStatus
from models.system import InboxUpdate

# The e2e harness (Desk, Dialog, people, chats, dialog helpers) is reused as it is. It lives in
# tests/e2e/conftest.py, which is not importable by a name of its own (``conftest`` may be any
# folder's), so it is loaded from its path under the name ``e2e_harness``.
_E2E = Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("e2e_harness", _E2E)
assert _spec is not None and _spec.loader is not None
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_harness"] = e2e
_spec.loader.exec_module(e2e)

ADMIN, ENT, ENT2 = e2e.ADMIN, e2e.ENT, e2e.ENT2
TAX1, TAX2, TRI1 = e2e.TAX1, e2e.TAX2, e2e.TRI1
TAX_G, ENV_G, TRIAGE_G = e2e.TAX_G, e2e.ENV_G, e2e.TRIAGE_G
REF = e2e.REF
Desk, Dialog = e2e.Desk, e2e.Dialog
bind_groups, register, submit = e2e.bind_groups, e2e.register, e2e.submit
free_port, make_settings = e2e.free_port, e2e.make_settings
fake, dialog = e2e.fake, e2e.dialog  # the fixtures

REQUIRE = os.environ.get("DESK_REQUIRE_SERVICES", "") not in ("", "0", "false")
REDIS_SERVER = shutil.which("redis-server") or shutil.which("/usr/bin/redis-server")

__all__ = [
    "ADMIN",
    "ENT",
    "ENT2",
    "ENV_G",
    "REF",
    "TAX1",
    "TAX2",
    "TAX_G",
    "TRI1",
    "TRIAGE_G",
    "Desk",
    "Dialog",
    "OutageDesk",
    "RedisServer",
    "TcpProxy",
    "alive_tasks",
    "assert_nothing_lost_or_doubled",
    "bind_groups",
    "dialog",
    "fake",
    "pg_proxy",
    "private_redis",
    "redeliver",
    "register",
    "settle",
    "submit",
]


def unavailable(what: str, why: str) -> None:
    """Skip (or fail, with ``DESK_REQUIRE_SERVICES=1``) when a service cannot be had."""
    msg = f"{what} unavailable: {why}"
    if REQUIRE:
        pytest.fail(msg + " (DESK_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(msg)


# ---------------------------------------------------------------- a private Redis


class RedisServer:
    """A ``redis-server`` process owned by the test: ``start``, ``kill``, ``start`` again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        if REDIS_SERVER is None:
            unavailable("redis-server", "not installed")
        self.proc = await asyncio.create_subprocess_exec(
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if await self.ping():
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await self.kill()
        unavailable("redis-server", f"did not answer on port {self.port}")

    async def ping(self) -> bool:
        from redis.asyncio import Redis

        client = Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    async def keys(self, pattern: str) -> list[str]:
        from redis.asyncio import Redis

        client = Redis.from_url(self.url, decode_responses=True)
        try:
            return sorted(await client.keys(pattern))
        finally:
            await client.aclose()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung Redis)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    async def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, like a crash or a lost host."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.proc = None


@pytest.fixture
async def private_redis() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


# ---------------------------------------------------------------- a TCP proxy for PostgreSQL


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to a target; fails in the two ways a database server does.

    * ``cut()`` / ``resume()``: the server restarts. Every connection is reset at once and new
      ones are refused until ``resume()``: clients learn of it immediately.
    * ``stall()`` / ``unstall()``: the server or the network hangs (a partition, a frozen host).
      Connections stay open, new ones are accepted, and nothing gets through: bytes are held,
      not lost, and flow again after ``unstall()``, as TCP retransmission would deliver them.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.accepted = 0
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    def url_for(self, db_url: str) -> str:
        """``db_url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(db_url)
        userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{self.port}"))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            await self._flowing.wait()
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except (OSError, asyncio.CancelledError):
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._links.add(link)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._pumps.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            self._pumps.difference_update(pumps)
            self._links.discard(link)
            for w in link:
                w.transport.abort()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()

    @property
    def open_links(self) -> int:
        return len(self._links)

    async def cut(self) -> None:
        """PostgreSQL goes down: stop listening, reset every proxied connection at once."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for link in list(self._links):
            for w in link:
                w.transport.abort()
        await asyncio.sleep(0)

    async def resume(self) -> None:
        """PostgreSQL is back: accept connections again on the same port."""
        await self.start()

    def stall(self) -> None:
        """Nothing gets through any more, and nobody is told."""
        self._flowing.clear()

    def unstall(self) -> None:
        self._flowing.set()

    async def stop(self) -> None:
        self.unstall()
        await self.cut()
        for task in list(self._pumps):
            task.cancel()


@pytest.fixture
async def pg_proxy(pg_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A fresh PostgreSQL database reached through a proxy: ``(proxy, proxied_url)``."""
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    try:
        yield proxy, proxy.url_for(pg_url)
    finally:
        await proxy.stop()


# ---------------------------------------------------------------- the desk under test


@dataclass
class OutageDesk(Desk):  # type: ignore[misc,valid-type]
    """The e2e desk with settings overrides (``overrides``) and access to its parts."""

    overrides: dict[str, Any] = field(default_factory=dict)
    app: web.Application | None = None

    async def start(self) -> None:
        settings = make_settings(
            self.fake,
            self.db_url,
            webhook=self.webhook,
            port=self.port,
            redis_url=self.redis_url,
        ).model_copy(update=self.overrides)
        self.app = create_app(settings)
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    @property
    def channel(self) -> TelegramChannel:
        assert self.app is not None
        return self.app[CHANNEL]


def alive_tasks() -> set[str]:
    """Names of the desk's background tasks still running in this event loop."""
    names = {"inbox", "outbox-sender", "scheduler", "router-refresh"}
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name() in names and not t.done()}


async def redeliver(fake: FakeBotAPI, *, within: float = 15.0) -> int:
    """Telegram retries every update the desk did not acknowledge, until it does.

    Returns the number of updates that needed a retry. Raises ``TimeoutError`` if one is still
    refused after ``within`` seconds.
    """
    done: set[int] = {
        d.update["update_id"] for d in fake.webhook_deliveries if 200 <= d.status < 300
    }
    failed: dict[int, dict[str, Any]] = {}
    for delivery in fake.webhook_deliveries:
        update_id = delivery.update["update_id"]
        if update_id not in done and update_id not in failed:
            failed[update_id] = delivery.update
    deadline = time.monotonic() + within
    for update_id in sorted(failed):  # in order, like Telegram
        while not 200 <= await fake.post_webhook(failed[update_id]) < 300:
            if time.monotonic() > deadline:
                raise TimeoutError(f"update {update_id} still refused after {within}s")
            await asyncio.sleep(0.5)
    return len(failed)


async def settle(*, within: float = 20.0) -> None:
    """Wait until the inbox is handled and the outbox delivered (or parked)."""
    deadline = time.monotonic() + within
    while True:
        inbox_open = await InboxUpdate.filter(status__in=["pending", "working"]).count()
        outbox_open = await OutboxMessage.filter(
            status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
        ).count()
        if inbox_open == 0 and outbox_open == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"not settled after {within}s: {inbox_open} updates, {outbox_open} messages open"
            )
        await asyncio.sleep(0.1)


async def assert_nothing_lost_or_doubled(
    fake: FakeBotAPI, *, parked: set[int] | frozenset[int] = frozenset()
) -> None:
    """Every acknowledged update handled once; every message delivered once.

    * every update Telegram delivered is in the inbox, handled (``done``);
    * every outbox row is ``sent`` (rows to chats in ``parked`` may be ``failed``);
    * in each chat, the messages the bot sent are exactly the ones the outbox recorded:
      nothing sent twice (a resend would leave a message no row points to), nothing missing.
    """
    delivered = {d.update["update_id"] for d in fake.webhook_deliveries}
    acked = {d.update["update_id"] for d in fake.webhook_deliveries if 200 <= d.status < 300}
    assert delivered == acked, f"never acknowledged: {sorted(delivered - acked)}"
    rows = {r.update_id: r for r in await InboxUpdate.all()}
    assert set(rows) >= delivered, f"lost: {sorted(delivered - set(rows))}"
    not_done = {u: (r.status, r.error) for u, r in rows.items() if r.status != "done"}
    assert not not_done, not_done

    by_chat: dict[int, set[int]] = {}
    for row in await OutboxMessage.all():
        if row.chat_id in parked and row.status == OutboxStatus.FAILED:
            continue  # refused for good (blocked, chat gone): parked, not retried
        assert row.status == OutboxStatus.SENT, (row.id, row.chat_id, row.kind, row.error)
        by_chat.setdefault(row.chat_id, set()).update(int(m) for m in row.message_ids)
    chats = set(by_chat) | {int(str(c.chat_id)) for c in fake.calls if c.chat_id is not None}
    for chat in chats:
        got = [m.message_id for m in fake.sent(chat)]
        assert len(got) == len(set(got))
        assert set(got) == by_chat.get(chat, set()), (
            f"chat {chat}: bot messages {sorted(got)} vs outbox {sorted(by_chat.get(chat, []))}",
            fake.all_texts(chat),
        )
