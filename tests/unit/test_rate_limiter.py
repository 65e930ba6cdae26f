"""The sender's rate limiter with a fake clock: per chat, per group, per bot, and 429 blocks."""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict

import pytest

from bot.sender import CARD_HEADROOM, PRIVATE_MIN, CardReserve, RateLimiter


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(margin=0, clock=clock)


def test_fresh_limiter_allows_everything(limiter: RateLimiter) -> None:
    for chat in (1, 42, -100, -1001234567890):
        assert limiter.wait_time(chat) == 0


def test_one_per_second_per_chat(limiter: RateLimiter, clock: FakeClock) -> None:
    limiter.record(5)
    assert limiter.wait_time(5) == pytest.approx(1.0)
    assert limiter.wait_time(6) == 0  # another chat is not held up
    clock.advance(0.4)
    assert limiter.wait_time(5) == pytest.approx(0.6)
    clock.advance(0.6)
    assert limiter.wait_time(5) == 0


def test_private_chats_have_no_minute_limit(limiter: RateLimiter, clock: FakeClock) -> None:
    for _ in range(40):
        assert limiter.wait_time(5) == 0
        limiter.record(5)
        clock.advance(1.0)
    assert limiter.wait_time(5) == 0


def test_twenty_per_minute_per_group(limiter: RateLimiter, clock: FakeClock) -> None:
    start = clock.t
    for _ in range(20):
        assert limiter.wait_time(-100) == 0
        limiter.record(-100)
        clock.advance(1.0)
    # 20 sent in [start, start + 19]; the 21st must wait until the first leaves the window.
    assert clock.t == start + 20
    assert limiter.wait_time(-100) == pytest.approx(40.0)
    assert limiter.wait_time(-200) == 0  # another group has its own budget
    assert limiter.wait_time(100) == 0  # the private chat with the same absolute id too
    clock.t = start + 59.5
    assert limiter.wait_time(-100) == pytest.approx(0.5)
    clock.t = start + 60
    assert limiter.wait_time(-100) == 0
    limiter.record(-100)
    clock.advance(1.0)
    # the window slid by one message: the next one waits for the second-oldest
    assert limiter.wait_time(-100) == pytest.approx(0.0)
    limiter.record(-100)
    clock.advance(1.0)
    assert limiter.wait_time(-100) == pytest.approx(0.0)


def test_thirty_per_second_globally(limiter: RateLimiter, clock: FakeClock) -> None:
    for chat in range(1, 31):
        assert limiter.wait_time(chat) == 0
        limiter.record(chat)
    assert limiter.wait_time(31) == pytest.approx(1.0)
    assert limiter.wait_time(-31) == pytest.approx(1.0)
    clock.advance(0.25)
    assert limiter.wait_time(31) == pytest.approx(0.75)
    clock.advance(0.75)
    assert limiter.wait_time(31) == 0


def test_global_window_slides(limiter: RateLimiter, clock: FakeClock) -> None:
    for chat in range(1, 16):
        limiter.record(chat)
    clock.advance(0.5)
    for chat in range(16, 31):
        limiter.record(chat)
    clock.advance(0.1)
    assert limiter.wait_time(99) == pytest.approx(0.4)
    clock.advance(0.4)  # the first 15 left the window, 15 remain
    assert limiter.wait_time(99) == 0
    for chat in range(31, 46):
        limiter.record(chat)
    assert limiter.wait_time(99) == pytest.approx(0.5)


def test_custom_limits(clock: FakeClock) -> None:
    limiter = RateLimiter(
        margin=0, global_per_s=2, group_per_min=3, chat_min_gap=0.25, clock=clock
    )
    limiter.record(1)
    limiter.record(2)
    assert limiter.wait_time(3) == pytest.approx(1.0)
    assert limiter.wait_time(1) == pytest.approx(1.0)
    clock.advance(1.0)
    for _ in range(3):
        assert limiter.wait_time(-5) == 0
        limiter.record(-5)
        clock.advance(0.5)  # the per-bot limit is 2/s here
    assert limiter.wait_time(-5) == pytest.approx(60 - 1.5)


def test_block_after_retry_after(limiter: RateLimiter, clock: FakeClock) -> None:
    limiter.block(-100, 30)
    assert limiter.wait_time(-100) == pytest.approx(30)
    assert limiter.wait_time(-200) == 0
    assert limiter.wait_time(7) == 0
    clock.advance(29)
    assert limiter.wait_time(-100) == pytest.approx(1)
    clock.advance(1)
    assert limiter.wait_time(-100) == 0


def test_block_combines_with_other_limits(limiter: RateLimiter, clock: FakeClock) -> None:
    limiter.record(7)
    limiter.block(7, 0.2)
    assert limiter.wait_time(7) == pytest.approx(1.0)  # the chat gap is longer
    limiter.block(7, 5)
    assert limiter.wait_time(7) == pytest.approx(5)  # the block is longer
    limiter.block(7, 0)  # a new block replaces the old one
    assert limiter.wait_time(7) == pytest.approx(1.0)


def test_simulated_flood_respects_every_limit(limiter: RateLimiter, clock: FakeClock) -> None:
    """Send as fast as the limiter allows to 40 private chats and 5 groups for two minutes."""
    chats = [*range(1, 41), -100, -200, -300, -400, -500]
    log: list[tuple[float, int]] = []
    start = clock.t
    while clock.t < start + 120:
        waits = {chat: limiter.wait_time(chat) for chat in chats}
        ready = [chat for chat, w in waits.items() if w <= 0]
        if not ready:
            clock.advance(min(waits.values()))
            continue
        for chat in ready:
            if limiter.wait_time(chat) <= 0:
                limiter.record(chat)
                log.append((clock.t, chat))
        clock.advance(0.01)
    times = [t for t, _ in log]
    assert len(log) > 1000  # it does send a lot
    for i, t in enumerate(times):
        in_window = i + 1 - bisect.bisect_right(times, t - 1)
        assert in_window <= 30
    by_chat: dict[int, list[float]] = defaultdict(list)
    for t, chat in log:
        by_chat[chat].append(t)
    for chat, ts in by_chat.items():
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        assert min(gaps) >= 1.0 - 1e-9
        if chat < 0:
            for i, t in enumerate(ts):
                assert i + 1 - bisect.bisect_right(ts, t - 60) <= 20
            assert 20 <= len(ts) <= 40  # two minutes of a group: about 40, never more


def test_default_limits_keep_a_safety_margin() -> None:
    """Telegram counts on arrival; the bot's and groups' windows are 50 ms wider than the
    published ones. One chat's gap needs none: it runs from the previous send's answer
    (``settle``), when that message had surely arrived, to the next request's start."""
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limiter.record(7)
    assert limiter.wait_time(7) == pytest.approx(1.0)
    now[0] += 0.2
    limiter.settle(7)  # the answer came 200 ms later: the gap counts from there
    assert limiter.wait_time(7) == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.wait_time(7) == 0
    for n in range(30):
        limiter.record(1000 + n)
    assert limiter.wait_time(8) == pytest.approx(1.05)


def test_reserve_leaves_slots_of_the_second_to_others() -> None:
    """A send with ``reserve`` stops where that many of the bot's 30 slots are still free."""
    now = [100.0]
    limiter = RateLimiter(margin=0, clock=lambda: now[0])
    for n in range(25):
        now[0] = 100.0 + n * 0.01
        limiter.record(1000 + n)
    now[0] = 100.25
    assert limiter.wait_time(7) == 0  # 25 of 30: a send without reserve goes
    # Leaving 10 free caps it at 20 in the window: wait until the 6th oldest (100.05) expires.
    assert limiter.wait_time(7, reserve=10) == pytest.approx(0.80)
    assert limiter.wait_time(7, reserve=4) == 0  # 25 used, cap 26


def test_cards_reserve_follows_their_rate_and_leaves_private_chats_a_share() -> None:
    """Private sends leave the cards' slots free: those waiting, or the cards' rate in the last
    second plus some headroom; never all of the second, and nothing once cards stop."""
    now = [100.0]
    cards = CardReserve(global_per_s=30, clock=lambda: now[0])
    assert cards.reserve(waiting=0) == 0  # no cards: private chats get the whole second
    assert cards.reserve(waiting=4) == 4
    for n in range(12):
        now[0] = 100.0 + n * 0.05
        cards.sent()
    assert cards.reserve(waiting=2) == 12 + CARD_HEADROOM
    assert cards.reserve(waiting=20) == 20
    for _ in range(40):
        cards.sent()
    assert cards.reserve(waiting=0) == 30 - PRIVATE_MIN
    now[0] += 1.0  # a second without cards
    assert cards.reserve(waiting=0) == 0
