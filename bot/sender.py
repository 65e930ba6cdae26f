"""The outbox sender: delivers outbox rows to Telegram within its rate limits.

Limits (Telegram's published ones): about 30 messages/s per bot, 20 per minute per group, one per
second per chat. A chat that is not ready yet has its row put back with ``not_before`` instead of
blocking the others. ``RetryAfter`` (429) is honoured; network errors retry with backoff;
a message the chat can never receive (blocked, bad request) is marked failed and kept.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.retry import keep_trying
from desk import notify, outbox
from handlers.render import Copy, Document, Edit, Send, render
from models.outbox import OutboxMessage

log = logging.getLogger(__name__)


# Telegram counts a message when it arrives. A send's slot is reserved when the request starts
# and moved to when its answer came back ("settled"), so a request that was slow to arrive cannot
# make the next one look early; the small margin covers the rest of the jitter
# (bench/outbox.py: 8-14 429s per run with neither).
MARGIN = 0.05

# A claimed row is leased for LEASE seconds. A row is never sent with less than LEASE_GUARD left
# (a send takes at most PTB's timeouts, 3 x 5 s): once a lease could run out mid-send, another
# worker may take the row, so this worker leaves it alone instead of sending it twice.
LEASE = 30.0
LEASE_GUARD = 16.0
BATCH = 10
# The longest this worker waits for a chat's slot while holding a batch; a longer wait puts the
# row back (with its progress) so the lease never runs out while waiting.
MAX_WAIT = 1.1
# A group with this few sends of the minute to spare gets a message at most every PACE_HOLD s
# (60 s / 20 messages), each carrying what queued meanwhile (see Sender._card_plan).
PACE_SPARE = 3
PACE_HOLD = 3.0
# Slots a second kept free for cards beyond their rate in the last second (cards come unevenly).
CARD_HEADROOM = 3
# Sends a second always left to private chats, however many cards are going out.
PRIVATE_MIN = 5
# Chats delivered to at once by one sender (each claimed row is the head of its own chat), groups
# and private chats counted apart: private sends waiting for the bot's second (cards go first)
# must never leave a new card unclaimed.
PARALLEL = 20
# Broadcast rows delivered at once, and the slots of the bot's second a broadcast send leaves
# to ticket messages (on top of the cards' reserve): a broadcast never delays a ticket.
BULK_PARALLEL = 5
BULK_HEADROOM = 8
# Pauses between claims while the database does not answer: doubling from 1 s up to 10 s.
BACKOFF_MIN = 1.0
BACKOFF_MAX = 10.0


async def wake_or_done(
    wake: asyncio.Event, tasks: set[asyncio.Task[Any]], *, at_most: float
) -> None:
    """Return when ``wake`` is set, one of ``tasks`` ends, or ``at_most`` seconds passed."""
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({waiter, *tasks}, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


class _Later(Exception):
    """The chat is not ready for the next part for ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"not ready for {delay:.1f}s")
        self.delay = delay


class RateLimiter:
    """Sliding-window limits per bot, per group and per chat (in this process)."""

    def __init__(
        self,
        *,
        global_per_s: int = 30,
        group_per_min: int = 20,
        chat_min_gap: float | None = None,
        margin: float = MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.global_per_s = global_per_s
        self.group_per_min = group_per_min
        self.margin = margin
        self.chat_min_gap = 1.0 if chat_min_gap is None else chat_min_gap
        self.clock = clock
        self._global: deque[float] = deque()
        self._groups: dict[int, deque[float]] = defaultdict(deque)
        self._last: dict[int, float] = {}
        self._blocked_until: dict[int, float] = {}
        self._reserved: dict[int, float] = {}

    def wait_time(self, chat_id: int, *, reserve: int = 0) -> float:
        """Seconds until one more message to ``chat_id`` is allowed (0 = now).

        ``reserve`` slots of the bot's second are left to others (see ``Sender``).
        """
        now = self.clock()
        waits = [self._blocked_until.get(chat_id, 0) - now]
        last = self._last.get(chat_id)
        if last is not None:
            waits.append(last + self.chat_min_gap - now)
        if chat_id < 0:
            window = self._groups[chat_id]
            while window and window[0] <= now - (60 + self.margin):
                window.popleft()
            if len(window) >= self.group_per_min:
                waits.append(window[0] + 60 + self.margin - now)
        while self._global and self._global[0] <= now - (1 + self.margin):
            self._global.popleft()
        cap = max(1, self.global_per_s - reserve)
        if len(self._global) >= cap:
            waits.append(self._global[len(self._global) - cap] + 1 + self.margin - now)
        return max(0.0, *waits)

    def group_remaining(self, chat_id: int) -> int:
        """Sends left to group ``chat_id`` in the current minute window."""
        now = self.clock()
        window = self._groups[chat_id]
        while window and window[0] <= now - (60 + self.margin):
            window.popleft()
        return max(0, self.group_per_min - len(window))

    def record(self, chat_id: int) -> None:
        now = self.clock()
        self._last[chat_id] = now
        self._global.append(now)
        if chat_id < 0:
            self._groups[chat_id].append(now)
        self._reserved[chat_id] = now

    def settle(self, chat_id: int) -> None:
        """The send to ``chat_id`` finished: count it from now, when it surely had arrived."""
        reserved = self._reserved.pop(chat_id, None)
        if reserved is None:
            return
        now = self.clock()
        self._last[chat_id] = now
        windows = [self._global, self._groups[chat_id]] if chat_id < 0 else [self._global]
        for window in windows:
            try:
                window.remove(reserved)
            except ValueError:  # already out of the window
                continue
            window.append(now)  # the clock is monotonic: the window stays sorted

    def block(self, chat_id: int, seconds: float) -> None:
        self._blocked_until[chat_id] = self.clock() + seconds


class SendBudget(Protocol):
    """Where the send limits are counted: this process, or Redis for all workers together."""

    async def take(self, chat_id: int, *, reserve: int = 0) -> float:
        """Take a send slot for ``chat_id`` now (returns 0) or say how long to wait (seconds).

        ``reserve``: leave this many of the bot's slots per second to other sends.
        """
        ...

    async def block(self, chat_id: int, seconds: float) -> None:
        """Telegram said 429: nothing to this chat for ``seconds``."""
        ...

    async def group_remaining(self, chat_id: int) -> int:
        """Sends left to group ``chat_id`` in the current minute window."""
        ...

    async def settle(self, chat_id: int) -> None:
        """The send whose slot was taken last for ``chat_id`` finished: count it from now."""
        ...


class LocalBudget:
    """The limits of one process (the embedded default: one worker)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def take(self, chat_id: int, *, reserve: int = 0) -> float:
        wait = self.limiter.wait_time(chat_id, reserve=reserve)
        if wait <= 0:
            self.limiter.record(chat_id)
        return wait

    async def block(self, chat_id: int, seconds: float) -> None:
        self.limiter.block(chat_id, seconds)

    async def group_remaining(self, chat_id: int) -> int:
        return self.limiter.group_remaining(chat_id)

    async def settle(self, chat_id: int) -> None:
        self.limiter.settle(chat_id)


_TAKE = """
local now = tonumber(ARGV[1])
local wait = 0
local blocked = redis.call('PTTL', KEYS[4])
if blocked > 0 then wait = blocked end
local last = redis.call('GET', KEYS[3])
if last then
  local w = tonumber(last) + tonumber(ARGV[4]) - now
  if w > wait then wait = w end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - 1000 - tonumber(ARGV[7]))
local cap = math.max(1, tonumber(ARGV[2]) - tonumber(ARGV[8]))
local sent = redis.call('ZCARD', KEYS[1])
if sent >= cap then
  local first = redis.call('ZRANGE', KEYS[1], sent - cap, sent - cap, 'WITHSCORES')
  local w = tonumber(first[2]) + 1000 + tonumber(ARGV[7]) - now
  if w > wait then wait = w end
end
if ARGV[6] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], 0, now - 60000 - tonumber(ARGV[7]))
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    local w = tonumber(first[2]) + 60000 + tonumber(ARGV[7]) - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], 2000)
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], 61000)
end
redis.call('SET', KEYS[3], now, 'PX', 5000)
return 0
"""


# Move a taken slot to the moment its send finished (only if it is still in the window).
_SETTLE = """
local now = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then redis.call('ZADD', KEYS[1], now, ARGV[2]) end
if ARGV[3] == '1' and redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  redis.call('ZADD', KEYS[2], now, ARGV[2])
end
redis.call('SET', KEYS[3], now, 'PX', 5000)
return 0
"""


class RedisBudget:
    """One send budget per bot token shared by every worker (sliding windows in Redis).

    If Redis is unreachable the worker falls back to its own limits and keeps sending.
    """

    def __init__(
        self,
        redis: Any,
        *,
        token_id: str,
        global_per_s: int = 30,
        group_per_min: int = 20,
        chat_gap: float | None = None,
        margin: float = MARGIN,
    ) -> None:
        self.redis = redis
        self.prefix = f"desk:send:{token_id}:"
        self.global_per_s, self.group_per_min = global_per_s, group_per_min
        self.margin = margin
        self.chat_gap = 1.0 if chat_gap is None else chat_gap
        self.local = LocalBudget(RateLimiter(margin=margin))
        self._seq = 0
        self._reserved: dict[int, str] = {}
        # After a failure Redis is left alone for a few seconds: a Redis that hangs would
        # otherwise cost a socket timeout on every message.
        self.retry_after = 5.0
        self._skip_until = 0.0

    def _redis_ok(self) -> bool:
        return time.monotonic() >= self._skip_until

    def _redis_failed(self) -> None:
        if self._redis_ok():
            log.warning("send budget in Redis unavailable; using local limits", exc_info=True)
        self._skip_until = time.monotonic() + self.retry_after

    async def take(self, chat_id: int, *, reserve: int = 0) -> float:
        if not self._redis_ok():
            self._reserved.pop(chat_id, None)
            return await self.local.take(chat_id, reserve=reserve)
        self._seq += 1
        now_ms = int(time.time() * 1000)
        keys = [
            self.prefix + "global",
            self.prefix + f"group:{chat_id}",
            self.prefix + f"chat:{chat_id}",
            self.prefix + f"block:{chat_id}",
        ]
        args = [
            now_ms,
            self.global_per_s,
            self.group_per_min,
            int(self.chat_gap * 1000),
            f"{now_ms}-{id(self)}-{self._seq}",
            "1" if chat_id < 0 else "0",
            int(self.margin * 1000),
            reserve,
        ]
        try:
            wait_ms = await self.redis.eval(_TAKE, 4, *keys, *args)
        except Exception:  # Redis down: keep delivering within this worker's own limits
            self._redis_failed()
            self._reserved.pop(chat_id, None)
            return await self.local.take(chat_id, reserve=reserve)
        wait = max(0.0, float(wait_ms) / 1000)
        if wait <= 0:
            self._reserved[chat_id] = str(args[4])
        return wait

    async def settle(self, chat_id: int) -> None:
        member = self._reserved.pop(chat_id, None)
        if member is None:
            await self.local.settle(chat_id)
            return
        now_ms = int(time.time() * 1000)
        keys = [
            self.prefix + "global",
            self.prefix + f"group:{chat_id}",
            self.prefix + f"chat:{chat_id}",
        ]
        try:
            await self.redis.eval(_SETTLE, 3, *keys, now_ms, member, "1" if chat_id < 0 else "0")
        except Exception:
            self._redis_failed()

    async def block(self, chat_id: int, seconds: float) -> None:
        if not self._redis_ok():
            await self.local.block(chat_id, seconds)
            return
        try:
            await self.redis.set(
                self.prefix + f"block:{chat_id}", "1", px=max(1, int(seconds * 1000))
            )
        except Exception:
            self._redis_failed()
            await self.local.block(chat_id, seconds)

    async def group_remaining(self, chat_id: int) -> int:
        key = self.prefix + f"group:{chat_id}"
        cutoff = int(time.time() * 1000) - 60000 - int(self.margin * 1000)
        if not self._redis_ok():
            return await self.local.group_remaining(chat_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, 0, cutoff)
                pipe.zcard(key)
                _, used = await pipe.execute()
        except Exception:
            self._redis_failed()
            return await self.local.group_remaining(chat_id)
        return max(0, self.group_per_min - int(used))


class CardReserve:
    """How many of the bot's 30 slots a second a private chat's send leaves to cards.

    Cards go first (a card reaching its department starts the work; the enterprise already has
    its ticket number on screen). Counting only the cards waiting in this sender is not enough:
    a card committed a moment later finds the second already spent on private chats. So the
    reserve also follows the cards' rate: as many slots as cards went out in the last second,
    plus ``CARD_HEADROOM`` for their unevenness, always leaving ``PRIVATE_MIN`` to private chats.
    Without recent cards it reserves nothing, and private chats get the whole second.
    """

    def __init__(
        self, *, global_per_s: int = 30, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.global_per_s = global_per_s
        self.clock = clock
        self._sent: deque[float] = deque()

    def sent(self) -> None:
        """A card (any group message) was sent."""
        self._sent.append(self.clock())

    def reserve(self, *, waiting: int) -> int:
        """Slots to leave free, given ``waiting`` group messages waiting for theirs here."""
        now = self.clock()
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        rate = len(self._sent) + CARD_HEADROOM if self._sent else 0
        return min(max(waiting, rate), self.global_per_s - PRIVATE_MIN)


class Sender:
    """Delivers the outbox; ``run`` loops until ``stop``; ``wake`` skips the poll wait."""

    def __init__(
        self,
        *,
        bot: Bot,
        clock: Callable[[], datetime],
        interval: float = 0.5,
        limiter: RateLimiter | None = None,
        budget: SendBudget | None = None,
    ) -> None:
        self.bot = bot
        self.clock = clock
        self.interval = interval
        self.limiter = limiter or RateLimiter()
        self.budget: SendBudget = budget or LocalBudget(self.limiter)
        self._wake = asyncio.Event()
        self._stopping = False
        # Group rows this sender has in flight: each needs one of the bot's slots soon.
        self._groups_in_flight = 0
        self.cards = CardReserve(global_per_s=self.limiter.global_per_s)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until ``stop``: up to ``PARALLEL`` groups and as many private chats at once.

        Each claimed row is the head of its own chat, so deliveries run side by side: one chat
        waiting for its slot (up to ``MAX_WAIT``) never holds up the cards of the others, and a
        card committed while others are on their way is claimed at once, not after a batch.
        """
        groups: set[asyncio.Task[bool]] = set()
        chats: set[asyncio.Task[bool]] = set()
        bulk: set[asyncio.Task[bool]] = set()
        backoff = BACKOFF_MIN
        try:
            while not self._stopping:
                self._wake.clear()  # a wake from now on (a new row) is not missed
                group_room = min(PARALLEL - len(groups), BATCH)
                chat_room = min(PARALLEL - len(chats), BATCH)
                bulk_room = min(BULK_PARALLEL - len(bulk), BATCH)
                try:
                    rows = await outbox.claim_batch(
                        now=self.clock(),
                        limit=group_room,
                        private_limit=chat_room,
                        bulk_limit=bulk_room,
                        lease_seconds=LEASE,
                    )
                    backoff = BACKOFF_MIN
                except Exception as exc:
                    # The database is away: say so once per back-off, not every pass.
                    log.warning("outbox claim failed (%s); retrying in %.1fs", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(BACKOFF_MAX, backoff * 2)
                    continue
                for row in rows:
                    active = groups if row.chat_id < 0 else bulk if row.bulk else chats
                    task = asyncio.create_task(self._deliver_safely(row))
                    active.add(task)
                    task.add_done_callback(active.discard)
                claimed_groups = sum(row.chat_id < 0 for row in rows)
                claimed_bulk = sum(bool(row.bulk) for row in rows)
                if (
                    (0 < group_room == claimed_groups)
                    or (0 < chat_room == len(rows) - claimed_groups - claimed_bulk)
                    or (0 < bulk_room == claimed_bulk)
                ):
                    continue  # there may be more ready
                await self._idle(groups | chats | bulk)
        finally:
            # Stopping: what is in flight finishes (waits end early and put rows back).
            if groups or chats or bulk:
                await asyncio.gather(*groups, *chats, *bulk, return_exceptions=True)

    async def _idle(self, active: set[asyncio.Task[bool]]) -> None:
        """Wait for a wake (new rows), a delivery ending (its chat's next row) or the interval."""
        await wake_or_done(self._wake, active, at_most=self.interval)

    async def drain_once(self) -> bool:
        """One pass: claim deliverable rows and deliver them side by side.

        Returns True when something was sent.
        """
        rows = await outbox.claim_batch(now=self.clock(), limit=BATCH, lease_seconds=LEASE)
        results = await asyncio.gather(*(self._deliver_safely(row) for row in rows))
        return any(results)

    async def _deliver_safely(self, row: OutboxMessage) -> bool:
        try:
            return await self._deliver_claimed(row)
        except Exception:  # keep delivering whatever one bad row does
            log.exception("outbox row %s: delivery failed; retried when its lease ends", row.id)
            return False

    async def _deliver_claimed(self, row: OutboxMessage) -> bool:
        """Wait for ``row``'s slot, then send it (or a digest of it and the cards behind it)."""
        if not self._lease_left(row):
            return False  # the lease may run out mid-send: leave it to whoever takes it next
        if self._stopping:
            # Leave it for the next start: put it back untouched.
            await outbox.mark_retry(
                row, now=self.clock(), delay=0, error="shutdown", count_attempt=False
            )
            return False
        merge, hold = await self._card_plan(row)
        if hold > 0:
            await outbox.mark_retry(
                row, now=self.clock(), delay=hold, error="gathering a digest", count_attempt=False
            )
            return False
        group = row.chat_id < 0
        self._groups_in_flight += group
        try:
            wait = await self._take(row)
            waited = False
            while 0 < wait < MAX_WAIT and not self._stopping:
                await asyncio.sleep(wait)
                waited = True
                wait = await self._take(row)
        finally:
            self._groups_in_flight -= group
        if wait > 0:  # this chat is not ready yet: defer it without holding up the others
            await outbox.mark_retry(
                row, now=self.clock(), delay=wait, error="rate limited", count_attempt=False
            )
            return False
        if not merge and waited and self._mergeable(row):
            # The group is taking cards as fast as it may: the cards that came in while this
            # one waited for its slot go with it, instead of each waiting a slot of its own.
            # (No count first: the run is empty when nothing is queued behind.)
            merge = True
        run = await outbox.take_card_run(row, now=self.clock()) if merge else []
        return await self.deliver(row, merged=run)

    async def _take(self, row: OutboxMessage) -> float:
        """A send slot for ``row``; cards first.

        Groups come first for the bot's 30 messages a second (a card reaching its department
        starts the work; an enterprise already has its ticket number on screen): a private
        chat's send leaves the slots ``CardReserve`` says cards need.
        """
        if row.chat_id < 0:
            return await self.budget.take(row.chat_id)
        reserve = self.cards.reserve(waiting=self._groups_in_flight)
        if row.bulk:  # a broadcast leaves ticket messages to enterprises their share too
            reserve = min(reserve + BULK_HEADROOM, self.limiter.global_per_s - 1)
        return await self.budget.take(row.chat_id, reserve=reserve)

    @staticmethod
    def _mergeable(row: OutboxMessage) -> bool:
        return row.chat_id < 0 and outbox.is_new_card(row)

    async def _card_plan(self, row: OutboxMessage) -> tuple[bool, float]:
        """Whether a new card goes out merged, and how long to hold it first (seconds).

        Merged: the group's queue of new cards is longer than its budget left this minute.
        Held: when the group has only ``PACE_SPARE`` sends of the minute to spare, a card waits
        up to ``PACE_HOLD`` s after it was queued for others to share its message, unless a
        full digest is ready: a burst that goes on spends the minute's 20 messages on full
        digests instead of running out of them and waiting for the next minute.
        """
        if not self._mergeable(row):
            return False, 0.0
        behind = await outbox.queued_behind(row)
        # Keep a few slots of the minute for what staff do next (claims edit cards, replies).
        spare = await self.budget.group_remaining(row.chat_id) - outbox.DIGEST_HEADROOM
        if spare <= PACE_SPARE and behind + 1 < outbox.DIGEST_MAX:
            queued = max(0.0, (self.clock() - row.created_at).total_seconds())
            if queued < PACE_HOLD:
                return False, PACE_HOLD - queued
        return behind > 0 and behind + 1 > spare, 0.0

    def _lease_left(self, row: OutboxMessage) -> bool:
        until = row.locked_until
        return until is None or (until - self.clock()).total_seconds() >= LEASE_GUARD

    async def _wait_for_slot(self, row: OutboxMessage) -> None:
        """A slot for the next part of ``row`` within ``MAX_WAIT``, or ``_Later``."""
        while True:
            wait = await self._take(row)
            if wait <= 0:
                return
            if wait >= MAX_WAIT or self._stopping or not self._lease_left(row):
                raise _Later(max(wait, 0.0))
            await asyncio.sleep(wait)

    async def deliver(
        self, row: OutboxMessage, *, merged: list[OutboxMessage] | None = None
    ) -> bool:
        """Send one row, or (``merged``) one digest of ``row`` and the cards queued behind it."""
        merged = merged or []
        digest = [row, *merged] if merged else []
        ops = (
            render("card_digest", outbox.digest_params(digest))
            if digest
            else render(row.kind, row.params)
        )
        now = self.clock
        try:
            if digest:
                message_id = await self._execute(row, ops[0])
                await self._record(
                    lambda: outbox.mark_digest_sent(digest, now=now(), message_id=message_id)
                )
                log.info(
                    "outbox: %d cards merged into one digest for %s", len(digest), row.chat_id
                )
                return True
            first = True  # the first part sent now uses the slot taken before delivery
            for index, op in enumerate(ops):
                if index < row.parts_done:
                    continue  # sent before a crash or a retry: never twice
                if not first:
                    await self._wait_for_slot(row)
                first = False
                message_id = await self._execute(row, op)
                await self._record(functools.partial(outbox.mark_part_sent, row, message_id))
        except _Later as later:  # the parts sent so far are recorded; the rest follows later
            await outbox.mark_retry(
                row, now=now(), delay=later.delay, error="rate limited", count_attempt=False
            )
            return True
        except RetryAfter as exc:
            await outbox.release(merged)
            delay = float(
                exc.retry_after
                if isinstance(exc.retry_after, int | float)
                else exc.retry_after.total_seconds()
            )
            await self.budget.block(row.chat_id, delay)
            await outbox.mark_retry(
                row, now=now(), delay=delay, error=str(exc), count_attempt=False
            )
            return False
        except ChatMigrated as exc:
            # The group became a supergroup: its binding and unsent messages follow it.
            await outbox.release(merged)
            moved = await notify.move_chat(old=row.chat_id, new=int(exc.new_chat_id))
            await outbox.mark_retry(
                row, now=now(), delay=0, error="chat migrated", count_attempt=False
            )
            log.warning(
                "chat %s moved to %s (%d messages follow)", row.chat_id, exc.new_chat_id, moved
            )
            return False
        except Forbidden as exc:
            await outbox.release(merged)  # each is refused (and parked) on its own
            await outbox.mark_failed(row, error=f"forbidden: {exc}")
            await self._unreachable(row, f"机器人无法在群内发言（{exc}）")
            return False
        except BadRequest as exc:
            await outbox.release(merged)
            await outbox.mark_failed(row, error=f"bad request: {exc}")
            log.warning("outbox %s to %s refused: %s", row.id, row.chat_id, exc)
            if "chat not found" in str(exc).lower():
                await self._unreachable(row, "群组不存在或机器人已不在群内")
            return False
        except (NetworkError, TelegramError) as exc:
            await outbox.release(merged)
            await outbox.mark_retry(
                row, now=now(), delay=min(60.0, 2.0**row.attempts), error=str(exc)
            )
            return False
        await self._record(lambda: outbox.mark_sent(row, now=now(), link_ids=row.message_ids))
        return True

    async def _unreachable(self, row: OutboxMessage, reason: str) -> None:
        """A department group that can never receive: the screening group hears of it."""
        if row.chat_id >= 0:
            return  # an enterprise that blocked the bot: parked, nobody to tell
        try:
            await notify.group_unreachable(
                chat_id=row.chat_id, reason=reason, ticket_id=row.ticket_id, now=self.clock()
            )
        except Exception:  # the alert is a courtesy: never let it stop the sender
            log.exception("could not alert the screening group about chat %s", row.chat_id)

    async def _record(self, write: Callable[[], Awaitable[None]]) -> None:
        """Record a send Telegram accepted, retrying while the database is away: giving up
        would let the lease run out and the message go out a second time."""
        await keep_trying(write, within=LEASE * 2, what="delivery")

    async def _execute(self, row: OutboxMessage, op: Send | Edit | Copy | Document) -> int:
        try:
            return await self._call(row, op)
        finally:  # reached Telegram or not, count the slot from the answer on
            await self.budget.settle(row.chat_id)
            if row.chat_id < 0:
                self.cards.sent()

    async def _call(self, row: OutboxMessage, op: Send | Edit | Copy | Document) -> int:
        chat_id = row.chat_id
        if isinstance(op, Document):
            stored = await outbox.file(op.file_id)
            if stored is None:  # cleaned up after an earlier delivery: nothing left to send
                raise BadRequest("outbox file is gone")
            doc = await self.bot.send_document(
                chat_id=chat_id,
                document=InputFile(stored.data, filename=stored.name),
                caption=op.caption or None,
                parse_mode=ParseMode.HTML,
            )
            return doc.message_id
        if isinstance(op, Edit):
            target = None
            if row.ticket_id is not None:
                target = await outbox.find_link(
                    chat_id=chat_id, ticket_id=row.ticket_id, role=op.role
                )
            if target is not None:
                try:
                    await self.bot.edit_message_text(
                        chat_id=chat_id,
                        message_id=target,
                        text=op.text,
                        parse_mode=ParseMode.HTML,
                        reply_markup=_keyboard(op.buttons),
                    )
                    return target
                except BadRequest as exc:
                    if "not modified" in str(exc).lower():
                        return target
                    if "not found" not in str(exc).lower():
                        raise
            # No card to edit (never delivered, or deleted): send it as a new message.
            msg = await self.bot.send_message(
                chat_id=chat_id,
                text=op.text,
                parse_mode=ParseMode.HTML,
                reply_markup=_keyboard(op.buttons),
            )
            return msg.message_id
        reply = await self._reply_to(row, op.reply_role)
        if isinstance(op, Copy):
            copied = await self.bot.copy_message(
                chat_id=chat_id,
                from_chat_id=op.from_chat_id,
                message_id=op.message_id,
                caption=op.caption,
                parse_mode=ParseMode.HTML,
                reply_parameters=reply,
            )
            return copied.message_id
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
        if op.contact_button:
            markup = ReplyKeyboardMarkup(
                [[KeyboardButton(op.contact_button, request_contact=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            )
        elif op.remove_keyboard:
            markup = ReplyKeyboardRemove()
        else:
            markup = _keyboard(op.buttons)
        msg = await self.bot.send_message(
            chat_id=chat_id,
            text=op.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=reply,
            disable_web_page_preview=True,
        )
        return msg.message_id

    async def _reply_to(self, row: OutboxMessage, role: str | None) -> ReplyParameters | None:
        if role is None or row.ticket_id is None:
            return None
        target = await outbox.find_link(chat_id=row.chat_id, ticket_id=row.ticket_id, role=role)
        if target is None:
            return None
        return ReplyParameters(message_id=target, allow_sending_without_reply=True)


def _keyboard(rows: list[list[tuple[str, str]]] | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )
