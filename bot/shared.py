"""State shared between worker processes: Redis when configured, else the database.

Holds short-lived coordination only (update pre-dedup, named leases). Lasting facts (the
processed-update marker, tickets, the outbox) are always in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from desk.db import already_processed
from models.system import Lease

log = logging.getLogger(__name__)


class Shared(Protocol):
    async def seen(self, key: str) -> bool:
        """True when update ``key`` was handled before (a fast pre-check)."""
        ...

    async def remember(self, key: str) -> None: ...

    async def lease(self, name: str, seconds: float) -> bool:
        """Take or renew the named lease for this process; False if another holds it."""
        ...

    async def close(self) -> None: ...


class DatabaseShared:
    """The embedded default: everything in the database."""

    def __init__(self) -> None:
        self.holder = uuid.uuid4().hex

    async def seen(self, key: str) -> bool:
        return await already_processed(key)

    async def remember(self, key: str) -> None:
        return None  # the desk transaction records the key itself

    async def lease(self, name: str, seconds: float) -> bool:
        now = dt.datetime.now(dt.UTC)
        until = now + dt.timedelta(seconds=seconds)
        async with in_transaction():
            taken = await Lease.filter(name=name).filter(holder=self.holder).update(until=until)
            if taken:
                return True
            taken = await Lease.filter(name=name, until__lt=now).update(
                holder=self.holder, until=until
            )
            if taken:
                return True
            if await Lease.exists(name=name):
                return False
            try:
                async with in_transaction():
                    await Lease.create(name=name, holder=self.holder, until=until)
            except IntegrityError:
                return False
            return True

    async def close(self) -> None:
        return None


class RedisShared:
    """Production: Redis for pre-dedup and leases (``SET NX PX``).

    Redis holds nothing that must last: when it is down, every method falls back to the
    database (the processed-update markers, the ``lease`` table) and the desk keeps working;
    it uses Redis again as soon as Redis answers. After a failure Redis is left alone for
    ``retry_after`` seconds, so a Redis that hangs (rather than refusing connections) costs one
    socket timeout per window instead of one per update. Going down and coming back are logged
    once each, not once per call.
    """

    def __init__(self, url: str, *, prefix: str = "desk:", retry_after: float = 5.0) -> None:
        self.redis: Redis = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2
        )
        self.prefix = prefix
        self.holder = uuid.uuid4().hex
        self.fallback = DatabaseShared()
        self.retry_after = retry_after
        self._skip_until = 0.0  # monotonic; Redis is not tried before it
        self._down = False

    @property
    def available(self) -> bool:
        """False while Redis is left alone after a failure."""
        return time.monotonic() >= self._skip_until

    def _failed(self, exc: RedisError, what: str) -> None:
        self._skip_until = time.monotonic() + self.retry_after
        if not self._down:
            self._down = True
            log.warning(
                "Redis unavailable (%s during %s): update dedup and leases on the database "
                "until it answers again",
                exc,
                what,
            )

    def _answered(self) -> None:
        if self._down:
            self._down = False
            log.info("Redis available again: update dedup and leases back on Redis")

    async def seen(self, key: str) -> bool:
        if self.available:
            try:
                found = await self.redis.exists(self.prefix + "upd:" + key)
            except RedisError as exc:
                self._failed(exc, "seen")
            else:
                self._answered()
                if found:
                    return True
        return await already_processed(key)

    async def remember(self, key: str) -> None:
        if not self.available:
            return  # the database marker is the real guard
        try:
            await self.redis.set(self.prefix + "upd:" + key, "1", ex=7 * 86400)
        except RedisError as exc:
            self._failed(exc, "remember")
        else:
            self._answered()

    async def lease(self, name: str, seconds: float) -> bool:
        if self.available:
            try:
                taken = await self._redis_lease(name, seconds)
            except RedisError as exc:
                self._failed(exc, f"lease {name!r}")
            else:
                self._answered()
                return taken
        return await self.fallback.lease(name, seconds)

    async def _redis_lease(self, name: str, seconds: float) -> bool:
        key = self.prefix + "lease:" + name
        ms = int(seconds * 1000)
        if await self.redis.set(key, self.holder, nx=True, px=ms):
            return True
        # Renew only our own lease (compare-and-set in one script).
        renewed = await self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
            1,
            key,
            self.holder,
            ms,
        )
        return bool(renewed)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()


class RedisBus:
    """Redis pub/sub between workers: "chat N has something new" for the web chat's pages.

    The worker that delivered a web chat message tells its own pages directly and the others
    through this bus, so a page whose socket is held by another worker shows the message at
    once instead of at its next look (every few seconds, which stays the fallback: a message
    published while Redis is down, or while a listener reconnects, is only late, never lost).
    """

    def __init__(self, url: str, *, topic: str = "desk:webchat", retry_after: float = 2.0) -> None:
        self.redis: Redis = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2
        )
        self.topic = topic
        self.origin = uuid.uuid4().hex[:12]  # a worker ignores its own announcements
        self.retry_after = retry_after
        self._down = False
        self._skip_until = 0.0  # monotonic; no publishing before it, after a failure
        self._sending: set[asyncio.Task[None]] = set()

    async def publish(self, chat_id: int) -> None:
        """Announce ``chat_id`` without waiting for Redis: the delivery loop that calls this
        must not stall on a Redis that hangs (a publish may take its 2 s socket timeout)."""
        if time.monotonic() < self._skip_until or len(self._sending) > 1000:
            return  # the pages' own looks bring the message
        task = asyncio.create_task(self._publish(chat_id))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, chat_id: int) -> None:
        try:
            await self.redis.publish(self.topic, f"{self.origin}:{chat_id}")
        except (RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + self.retry_after
            self._trouble(exc, "publish")

    async def listen(self, on_chat: Callable[[int], None]) -> None:
        """Call ``on_chat`` for every chat another worker announces; runs until cancelled,
        subscribing again after Redis went away."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.topic)
                if self._down:
                    self._down = False
                    log.info("web chat bus: Redis answers again; pages hear other workers at once")
                while True:
                    # A bounded wait returns None when idle (waiting without one would meet the
                    # client's 2 s socket timeout: an idle subscription is not a failure).
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    origin, _, chat = str(message["data"]).partition(":")
                    if origin != self.origin and chat.lstrip("-").isdigit():
                        on_chat(int(chat))
            except (RedisError, OSError) as exc:
                self._trouble(exc, "subscribe")
            finally:
                await pubsub.aclose()
            await asyncio.sleep(self.retry_after)

    def _trouble(self, exc: Exception, what: str) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "web chat bus: no Redis (%s during %s); pages see other workers' messages at "
                "their next look until it answers again",
                exc,
                what,
            )

    async def close(self) -> None:
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self.redis.aclose()


def make_shared(redis_url: str | None) -> Shared:
    return RedisShared(redis_url) if redis_url else DatabaseShared()
