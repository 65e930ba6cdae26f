"""Outbox benchmark: sustained send rate against a fake Bot API that enforces Telegram's limits.

The fake's ``sendMessage`` answers 429 (with ``retry_after``) whenever a send would break one of
Telegram's published limits, measured on the fake's own clock at arrival:

* more than 30 accepted sends in any 1 s window (whole bot);
* more than 20 accepted sends in any 60 s window to one group (negative chat id);
* two accepted sends to one chat less than 1 s apart.

Scenario 1 fills a fresh SQLite outbox with messages for many private chats and a few groups
(the groups get more than 20 each, so the per-group cap binds) and runs the real ``Sender``
against it for a fixed window. It prints what was sent in that window, the most any sender could
have sent in a window of the same length under the limits (computed from the mix), their ratio
and the number of 429s (target: ratio ≥ 0.95, zero 429s).

Scenario 2 injects one 429 with ``retry_after=3`` for one private chat and prints the gap between
the refused attempt and the next attempt to that chat (target ≥ 3 s).

Figures only; it asserts nothing. Run from the project root::

    uv run python bench/outbox.py [--private 60] [--per-private 15] [--groups 6]
        [--per-group 25] [--window 40]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import telegram  # noqa: E402
from fakebot import FakeBotAPI  # noqa: E402
from fakebot.server import ApiError  # noqa: E402

import bot.db  # noqa: E402
from bot.sender import Sender  # noqa: E402
from desk import outbox  # noqa: E402
from desk.notify import enqueue  # noqa: E402
from models.outbox import OutboxMessage, OutboxStatus  # noqa: E402

GLOBAL_PER_S = 30
GROUP_PER_MIN = 20
CHAT_GAP = 1.0


class StrictLimits:
    """Telegram's limits enforced on ``sendMessage`` (wraps the fake's default handler)."""

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        self.default = fake._api_sendMessage
        self.accepted: list[tuple[float, int]] = []  # (arrival, chat_id)
        # (arrival, chat_id, which limit, how early in seconds)
        self.refused: list[tuple[float, int, str, float]] = []
        self._global: deque[float] = deque()
        self._groups: dict[int, deque[float]] = defaultdict(deque)
        self._last: dict[int, float] = {}

    async def __call__(self, params: dict[str, Any]) -> Any:
        now = time.monotonic()
        chat_id = int(params.get("chat_id", 0))
        while self._global and self._global[0] <= now - 1:
            self._global.popleft()
        window = self._groups[chat_id]
        while window and window[0] <= now - 60:
            window.popleft()
        waits: list[tuple[float, str]] = []
        if len(self._global) >= GLOBAL_PER_S:
            waits.append((self._global[0] + 1 - now, "global 30/s"))
        if chat_id < 0 and len(window) >= GROUP_PER_MIN:
            waits.append((window[0] + 60 - now, "group 20/min"))
        last = self._last.get(chat_id)
        if last is not None and now - last < CHAT_GAP:
            waits.append((last + CHAT_GAP - now, "chat 1/s"))
        if waits:
            wait, which = max(waits)
            self.refused.append((now, chat_id, which, wait))
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        result = await self.default(params)
        self._global.append(now)
        if chat_id < 0:
            window.append(now)
        self._last[chat_id] = now
        self.accepted.append((now, chat_id))
        return result


def allowed_in(counts: dict[int, int], span: float) -> int:
    """The most sends any sender could make in a half-open window of ``span`` seconds.

    Per chat at most ``ceil(span)`` (one per second); per group also at most 20 per started
    minute; the whole bot at most 30 per started second; and no chat more than its backlog.
    """
    per_chat = math.ceil(span / CHAT_GAP)
    per_group = min(per_chat, GROUP_PER_MIN * math.ceil(span / 60))
    total = sum(min(n, per_group if chat < 0 else per_chat) for chat, n in counts.items())
    return min(total, GLOBAL_PER_S * math.ceil(span))


def min_drain_time(counts: dict[int, int]) -> float:
    """The shortest span in which all of ``counts`` can go out (0.01 s resolution)."""
    need = sum(counts.values())
    span = 0.01
    while allowed_in(counts, span) < need:
        span += 0.01
    return span


async def wait_sent(chat_id: int, count: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done = await OutboxMessage.filter(chat_id=chat_id, status=OutboxStatus.SENT).count()
        if done >= count:
            return True
        await asyncio.sleep(0.05)
    return False


async def scenario_rate(
    fake: FakeBotAPI, tg: telegram.Bot, limits: StrictLimits, args: argparse.Namespace
) -> None:
    privates = [700_000 + i for i in range(args.private)]
    groups = [-1_000_000_000_000 - i for i in range(args.groups)]
    counts = {c: args.per_private for c in privates} | {g: args.per_group for g in groups}
    # Interleave the chats so the queue looks like real traffic (round robin, groups mixed in).
    order: list[int] = []
    for k in range(max(args.per_private, args.per_group)):
        order += [c for c in privates if k < args.per_private]
        order += [g for g in groups if k < args.per_group]
    started = time.monotonic()
    for n, chat in enumerate(order):
        await enqueue(chat_id=chat, kind="info", params={"message": f"bench message {n}"})
    total = len(order)
    print(
        f"[rate] enqueued {total} messages: {args.private} private chats × {args.per_private}, "
        f"{args.groups} groups × {args.per_group} ({time.monotonic() - started:.1f} s)"
    )

    sender = Sender(bot=tg, clock=lambda: datetime.now(UTC), interval=0.05)
    task = asyncio.create_task(sender.run())
    run_start = time.monotonic()
    drained = False
    while True:
        await asyncio.sleep(0.1)
        first = limits.accepted[0][0] if limits.accepted else None
        if first is not None and time.monotonic() >= first + args.window:
            break
        if first is None and time.monotonic() - run_start > args.window:
            break
        if await outbox.pending_count() == 0:
            drained = True
            break
    sender.stop()
    await task

    if not limits.accepted:
        print("[rate] nothing was sent")
        return
    t0 = limits.accepted[0][0]
    refused = len(limits.refused)
    by_limit: dict[str, int] = defaultdict(int)
    early: dict[str, float] = defaultdict(float)
    for _, _, which, wait in limits.refused:
        by_limit[which] += 1
        early[which] = max(early[which], wait)
    if drained:
        span = limits.accepted[-1][0] - t0 + 1 / GLOBAL_PER_S
        sent = len(limits.accepted)
        best = min_drain_time(counts)
        achieved, allowed = sent / span, sent / best
        ratio = best / span
        print(f"[rate] outbox drained: {sent} sent in {span:.2f} s (best possible {best:.2f} s)")
    else:
        span = args.window
        sent = sum(1 for ts, _ in limits.accepted if ts < t0 + span)
        cap = allowed_in(counts, span)
        achieved, allowed = sent / span, cap / span
        ratio = sent / cap
        print(
            f"[rate] window of {span:.0f} s from the first send: {sent} sent "
            f"(allowed at most {cap} for this mix; {total - len(limits.accepted)} still queued)"
        )
    # The global-bound phase: while more work was ready than 30/s allows.
    busy = [ts - t0 for ts, _ in limits.accepted]
    phase = min(busy[-1], (allowed_in(counts, span) / GLOBAL_PER_S) - 1)
    in_phase = sum(1 for t in busy if t < phase) if phase >= 1 else 0
    sent_private = sum(1 for ts, c in limits.accepted if c > 0 and ts < t0 + span)
    sent_group = sum(1 for ts, c in limits.accepted if c < 0 and ts < t0 + span)
    print(f"[rate] sent to private chats {sent_private}, to groups {sent_group}")
    print(f"[rate] elapsed {span:.2f} s; achieved {achieved:.2f} msg/s")
    print(f"[rate] allowed rate for this mix over that time {allowed:.2f} msg/s")
    print(f"[rate] ratio achieved/allowed {ratio:.3f}  (target ≥ 0.95)")
    if in_phase:
        print(
            f"[rate] global-bound phase (first {phase:.0f} s): {in_phase / phase:.2f} msg/s "
            f"of {GLOBAL_PER_S}/s = {in_phase / phase / GLOBAL_PER_S:.3f}"
        )
    parts = [f"{k}: {v}, ≤ {early[k] * 1000:.1f} ms early" for k, v in sorted(by_limit.items())]
    detail = ", ".join(parts) or "none"
    print(f"[rate] 429 answers {refused}  (target 0; by limit: {detail})")
    gaps = []
    last: dict[int, float] = {}
    for ts, chat in limits.accepted:
        if chat in last:
            gaps.append(ts - last[chat])
        last[chat] = ts
    if gaps:
        print(f"[rate] smallest gap between two sends to one chat {min(gaps) * 1000:.0f} ms")
    # Leave nothing for the next scenario.
    await OutboxMessage.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).delete()


async def scenario_retry_after(fake: FakeBotAPI, tg: telegram.Bot, limits: StrictLimits) -> None:
    chat = 900_001
    refused_before = len(limits.refused)
    for n in range(3):
        await enqueue(chat_id=chat, kind="info", params={"message": f"retry bench {n}"})
    fake.fail_next("sendMessage", 429, retry_after=3, chat_id=chat)
    sender = Sender(bot=tg, clock=lambda: datetime.now(UTC), interval=0.05)
    task = asyncio.create_task(sender.run())
    done = await wait_sent(chat, 3, within=20)
    sender.stop()
    await task
    calls = fake.calls_of("sendMessage", chat_id=chat)
    statuses = [c.status for c in calls]
    print(f"[retry] calls to chat {chat}: statuses {statuses}; all 3 delivered: {done}")
    strict = len(limits.refused) - refused_before
    print(f"[retry] 429s from the enforced limits (besides the injected one): {strict}")
    refused = [i for i, c in enumerate(calls) if c.status == 429]
    if not refused or refused[0] + 1 >= len(calls):
        print("[retry] no refused attempt followed by another attempt was seen")
        return
    i = refused[0]
    gap = calls[i + 1].ts - calls[i].ts
    print(f"[retry] gap after the injected 429 (retry_after=3): {gap:.3f} s  (target ≥ 3 s)")
    later = [b.ts - a.ts for a, b in zip(calls[i + 1 :], calls[i + 2 :], strict=False)]
    if later:
        print(f"[retry] later gaps in that chat: {', '.join(f'{g:.3f} s' for g in later)}")


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    wall = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        url = f"sqlite://{tmp}/outbox.sqlite3"
        await bot.db.connect(url)
        await bot.db.prepare(url)
        fake = FakeBotAPI()
        await fake.start()
        limits = StrictLimits(fake)
        fake.add_method("sendMessage", limits)
        try:
            tg = telegram.Bot(fake.token, base_url=fake.base_url)
            async with tg:
                await scenario_rate(fake, tg, limits, args)
                await scenario_retry_after(fake, tg, limits)
        finally:
            await fake.stop()
            await bot.db.close()
    print(f"total bench time {time.monotonic() - wall:.1f} s")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--private", type=int, default=60, help="private chats")
    parser.add_argument("--per-private", type=int, default=15, help="messages per private chat")
    parser.add_argument("--groups", type=int, default=6, help="groups")
    parser.add_argument("--per-group", type=int, default=25, help="messages per group")
    parser.add_argument("--window", type=float, default=40, help="measured window, seconds")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
