"""The outbox on SQLite and PostgreSQL: enqueue, leases, per-chat order, delivery records."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from telegram.error import Forbidden, NetworkError, RetryAfter

from bot.sender import RateLimiter, Sender
from desk import outbox
from desk.notify import enqueue
from models.outbox import MessageLink, OutboxMessage, OutboxStatus

NOW = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.UTC)
A, B, C = 1001, 1002, -1003


def later(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


async def fresh(row: OutboxMessage) -> OutboxMessage:
    return await OutboxMessage.get(id=row.id)


async def test_enqueue_writes_a_pending_row(db: str) -> None:
    row = await enqueue(
        chat_id=-100,
        kind="card",
        params={"ref": "TD20250602-0001", "text": "退税 & <附件>"},
        ticket_id=7,
        link_role="card",
    )
    got = await fresh(row)
    assert got.chat_id == -100 and got.kind == "card" and got.channel == "telegram"
    assert got.params == {"ref": "TD20250602-0001", "text": "退税 & <附件>"}
    assert got.ticket_id == 7 and got.link_role == "card"
    assert got.status == OutboxStatus.PENDING
    assert got.attempts == 0 and got.parts_done == 0 and got.message_ids == []
    assert got.not_before is None and got.locked_until is None and got.sent_at is None
    bare = await fresh(await enqueue(chat_id=5, kind="error"))
    assert bare.params == {} and bare.ticket_id is None and bare.link_role is None
    assert await outbox.pending_count() == 2


async def test_claim_takes_only_the_head_of_each_chat(db: str) -> None:
    a1 = await enqueue(chat_id=A, kind="x", params={"n": 1})
    b1 = await enqueue(chat_id=B, kind="x", params={"n": 1})
    a2 = await enqueue(chat_id=A, kind="x", params={"n": 2})
    taken = await outbox.claim_batch(now=NOW, lease_seconds=60)
    assert [r.id for r in taken] == [a1.id, b1.id]
    for r in taken:
        assert r.status == OutboxStatus.SENDING and r.attempts == 1
        got = await fresh(r)
        assert got.status == OutboxStatus.SENDING and got.attempts == 1
        assert got.locked_until == later(60)
    # A2 waits behind A1 (in flight); nothing else is due.
    assert await outbox.claim_batch(now=later(1)) == []
    assert (await fresh(a2)).status == OutboxStatus.PENDING
    await outbox.mark_sent(taken[0], now=later(1), link_ids=[])
    again = await outbox.claim_batch(now=later(2))
    assert [r.id for r in again] == [a2.id]


async def test_group_heads_come_before_older_private_ones(db: str) -> None:
    private = [await enqueue(chat_id=10 + i, kind="x") for i in range(3)]
    group = await enqueue(chat_id=C, kind="card")
    taken = await outbox.claim_batch(now=NOW, limit=2, private_limit=1)
    assert [r.id for r in taken] == [group.id, private[0].id]


async def test_groups_and_private_chats_have_their_own_limits(db: str) -> None:
    """Private chats waiting in numbers never take the room a new card needs, nor the other
    way round: each kind is claimed up to its own limit."""
    private = [await enqueue(chat_id=10 + i, kind="x") for i in range(4)]
    groups = [await enqueue(chat_id=-100 - i, kind="card") for i in range(3)]
    taken = await outbox.claim_batch(now=NOW, limit=2, private_limit=3)
    assert [r.id for r in taken] == [groups[0].id, groups[1].id, *[r.id for r in private[:3]]]
    # No room for private chats: only the last group row comes; none at all: nothing is read.
    taken = await outbox.claim_batch(now=NOW, limit=5, private_limit=0)
    assert [r.id for r in taken] == [groups[2].id]
    assert await outbox.claim_batch(now=NOW, limit=0, private_limit=0) == []
    assert [r.id for r in await outbox.claim_batch(now=NOW, limit=0)] == []
    assert [r.id for r in await outbox.claim_batch(now=NOW, limit=0, private_limit=1)] == [
        private[3].id
    ]


async def test_claim_respects_limit_and_channel(db: str) -> None:
    rows = [await enqueue(chat_id=10 + i, kind="x") for i in range(5)]
    web = await enqueue(chat_id=99, kind="x", channel="web")
    first = await outbox.claim_batch(now=NOW, limit=3)
    assert [r.id for r in first] == [r.id for r in rows[:3]]
    second = await outbox.claim_batch(now=NOW, limit=3)
    assert [r.id for r in second] == [r.id for r in rows[3:]]
    assert [r.id for r in await outbox.claim_batch(now=NOW, channel="web")] == [web.id]


async def test_claim_respects_not_before(db: str) -> None:
    row = await enqueue(chat_id=A, kind="x")
    behind = await enqueue(chat_id=A, kind="x")
    other = await enqueue(chat_id=B, kind="x")
    await OutboxMessage.filter(id=row.id).update(not_before=later(30))
    # The head of A is not due yet and keeps A's order: A2 is not sent before it.
    assert [r.id for r in await outbox.claim_batch(now=NOW)] == [other.id]
    assert await outbox.claim_batch(now=later(29)) == []
    assert [r.id for r in await outbox.claim_batch(now=later(30))] == [row.id]
    assert (await fresh(behind)).status == OutboxStatus.PENDING


async def test_expired_lease_is_reclaimed(db: str) -> None:
    row = await enqueue(chat_id=A, kind="x")
    (taken,) = await outbox.claim_batch(now=NOW, lease_seconds=60)
    assert await outbox.claim_batch(now=later(59)) == []
    assert await outbox.claim_batch(now=later(60)) == []  # lease ends after 60 s, not at
    (again,) = await outbox.claim_batch(now=later(61), lease_seconds=60)
    assert again.id == row.id == taken.id
    got = await fresh(row)
    assert got.status == OutboxStatus.SENDING
    assert got.attempts == 2
    assert got.locked_until == later(121)
    # The first holder's late result must not matter for the lease: a third claim finds it held.
    assert await outbox.claim_batch(now=later(62)) == []


async def test_concurrent_claims_never_share_a_row(db: str) -> None:
    rows = []
    for i in range(40):
        rows.append(await enqueue(chat_id=2000 + i, kind="x", params={"i": i}))
        rows.append(await enqueue(chat_id=2000 + i, kind="x", params={"i": i, "second": True}))
    heads = {r.id for r in rows[::2]}
    seen: list[int] = []
    for round_no in range(3):
        now = later(round_no)
        batches = await asyncio.gather(
            outbox.claim_batch(now=now, limit=30), outbox.claim_batch(now=now, limit=30)
        )
        ids = [r.id for batch in batches for r in batch]
        assert len(ids) == len(set(ids)), f"a row was claimed twice in round {round_no}"
        seen.extend(ids)
    assert len(seen) == len(set(seen))
    assert set(seen) == heads  # only heads, every head exactly once
    statuses = {r.status for r in await OutboxMessage.filter(id__in=list(heads))}
    assert statuses == {OutboxStatus.SENDING}
    assert all(r.attempts == 1 for r in await OutboxMessage.filter(id__in=list(heads)))


async def test_a_backlog_in_one_chat_does_not_starve_others(db: str) -> None:
    for i in range(150):
        await enqueue(chat_id=-500, kind="triage_card", params={"i": i})
    reply = await enqueue(chat_id=A, kind="ack")
    taken = await outbox.claim_batch(now=NOW, limit=30)
    assert reply.id in {r.id for r in taken}


async def test_mark_sent_links_messages_to_the_ticket(db: str) -> None:
    row = await enqueue(chat_id=-100, kind="card", params={}, ticket_id=7, link_role="card")
    (taken,) = await outbox.claim_batch(now=NOW)
    await outbox.mark_part_sent(taken, 501)
    await outbox.mark_part_sent(taken, 502)
    mid = await fresh(row)
    assert mid.parts_done == 2 and mid.message_ids == [501, 502]
    await outbox.mark_sent(taken, now=later(2), link_ids=taken.message_ids)
    got = await fresh(row)
    assert got.status == OutboxStatus.SENT
    assert got.sent_at == later(2)
    assert got.locked_until is None and got.error is None
    links = await MessageLink.filter(chat_id=-100).order_by("message_id")
    assert [(x.message_id, x.ticket_id, x.role) for x in links] == [
        (501, 7, "card"),
        (502, 7, "card"),
    ]
    # marking again (a retried sender pass) does not duplicate the links
    await outbox.mark_sent(taken, now=later(3), link_ids=[501, 502])
    assert await MessageLink.filter(chat_id=-100).count() == 2
    assert await outbox.pending_count() == 0


async def test_mark_sent_without_ticket_or_role_links_nothing(db: str) -> None:
    no_ticket = await enqueue(chat_id=A, kind="error", link_role="card")
    no_role = await enqueue(chat_id=B, kind="followup_ok", ticket_id=3)
    for row in await outbox.claim_batch(now=NOW):
        await outbox.mark_sent(row, now=NOW, link_ids=[11])
    assert await MessageLink.all().count() == 0
    assert (await fresh(no_ticket)).status == OutboxStatus.SENT
    assert (await fresh(no_role)).status == OutboxStatus.SENT


async def test_mark_retry(db: str) -> None:
    row = await enqueue(chat_id=A, kind="x")
    (taken,) = await outbox.claim_batch(now=NOW)
    await outbox.mark_retry(taken, now=later(1), delay=10, error="timed out")
    got = await fresh(row)
    assert got.status == OutboxStatus.PENDING
    assert got.not_before == later(11)
    assert got.locked_until is None
    assert got.attempts == 1 and got.error == "timed out"
    assert await outbox.claim_batch(now=later(10)) == []
    (taken,) = await outbox.claim_batch(now=later(11))
    assert taken.attempts == 2
    # a rate-limit or shutdown put-back does not count as an attempt
    await outbox.mark_retry(
        taken, now=later(12), delay=0, error="rate limited", count_attempt=False
    )
    got = await fresh(row)
    assert got.attempts == 1 and got.status == OutboxStatus.PENDING
    assert got.not_before == later(12)


async def test_mark_retry_gives_up_after_max_attempts(db: str) -> None:
    row = await enqueue(chat_id=A, kind="x")
    now = NOW
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        (taken,) = await outbox.claim_batch(now=now)
        assert taken.attempts == attempt
        await outbox.mark_retry(taken, now=now, delay=1, error="boom " * 500)
        now += dt.timedelta(seconds=2)
    got = await fresh(row)
    assert got.status == OutboxStatus.FAILED
    assert got.error is not None
    assert got.error.startswith(f"gave up after {outbox.MAX_ATTEMPTS} attempts: boom")
    assert len(got.error) <= 1000
    assert await outbox.claim_batch(now=now + dt.timedelta(hours=1)) == []


async def test_mark_failed_unblocks_the_chat(db: str) -> None:
    first = await enqueue(chat_id=A, kind="x")
    second = await enqueue(chat_id=A, kind="x")
    (taken,) = await outbox.claim_batch(now=NOW)
    await outbox.mark_failed(taken, error="forbidden: " + "x" * 2000)
    got = await fresh(first)
    assert got.status == OutboxStatus.FAILED and got.locked_until is None
    assert got.error is not None and len(got.error) == 1000
    assert [r.id for r in await outbox.claim_batch(now=NOW)] == [second.id]


async def test_find_link_returns_the_newest(db: str) -> None:
    assert await outbox.find_link(chat_id=-100, ticket_id=7, role="card") is None
    await MessageLink.create(chat_id=-100, message_id=10, ticket_id=7, role="card")
    await MessageLink.create(chat_id=-100, message_id=30, ticket_id=7, role="card")
    await MessageLink.create(chat_id=-100, message_id=20, ticket_id=7, role="card")
    await MessageLink.create(chat_id=-100, message_id=40, ticket_id=7, role="followup")
    await MessageLink.create(chat_id=-100, message_id=50, ticket_id=8, role="card")
    await MessageLink.create(chat_id=-200, message_id=60, ticket_id=7, role="card")
    assert await outbox.find_link(chat_id=-100, ticket_id=7, role="card") == 20
    assert await outbox.find_link(chat_id=-100, ticket_id=7, role="followup") == 40
    assert await outbox.find_link(chat_id=-200, ticket_id=7, role="card") == 60
    assert await outbox.find_link(chat_id=-100, ticket_id=9, role="card") is None


# ---------------------------------------------------------------- the sender with a fake bot


class FakeBot:
    """Records what it sends; raises the queued errors first."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.errors = list(errors or [])
        self.sent: list[dict[str, Any]] = []
        self.next_id = 100

    async def send_message(self, **kw: Any) -> SimpleNamespace:
        if self.errors:
            raise self.errors.pop(0)
        self.next_id += 1
        self.sent.append(kw)
        return SimpleNamespace(message_id=self.next_id)


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def sender(bot: FakeBot, *, chat_gap: float = 1.0) -> tuple[Sender, FakeMonotonic]:
    mono = FakeMonotonic()
    limiter = RateLimiter(margin=0, clock=mono, chat_min_gap=chat_gap)
    return Sender(bot=bot, clock=lambda: NOW, limiter=limiter), mono  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_sender_honours_retry_after(db: str) -> None:
    row = await enqueue(chat_id=-100, kind="error", params={"message": "hi"})
    bot = FakeBot([RetryAfter(7)])
    s, _mono = sender(bot)
    assert await s.drain_once() is False
    got = await fresh(row)
    assert got.status == OutboxStatus.PENDING
    assert got.not_before == later(7)
    assert got.attempts == 0  # a 429 is not a failed attempt
    assert s.limiter.wait_time(-100) == pytest.approx(7)
    assert s.limiter.wait_time(-200) == 0
    assert bot.sent == []


async def test_sender_delivers_and_links(db: str) -> None:
    row = await enqueue(
        chat_id=5,
        kind="followup_ok",
        params={"ref": "TD20250602-0001"},
        ticket_id=3,
        link_role="ack",
    )
    bot = FakeBot()
    s, _ = sender(bot)
    assert await s.drain_once() is True
    assert len(bot.sent) == 1 and "TD20250602-0001" in bot.sent[0]["text"]
    got = await fresh(row)
    assert got.status == OutboxStatus.SENT and got.message_ids == [101]
    assert await outbox.find_link(chat_id=5, ticket_id=3, role="ack") == 101


async def test_sender_never_repeats_a_delivered_part(db: str) -> None:
    text = ("企业补充说明。" * 40 + "\n") * 40  # about 11,000 characters: 3 parts
    row = await enqueue(
        chat_id=5,
        kind="progress",
        params={"ref": "TD20250602-0001", "text": text, "department": "税务局"},
    )
    bot = FakeBot()
    real_send = bot.send_message
    calls = 0

    async def flaky(**kw: Any) -> SimpleNamespace:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise NetworkError("connection reset")
        return await real_send(**kw)

    bot.send_message = flaky  # type: ignore[method-assign]
    s, mono = sender(bot, chat_gap=0.0)  # parts follow each other without a real sleep
    assert await s.drain_once() is False
    got = await fresh(row)
    assert got.status == OutboxStatus.PENDING and got.parts_done == 1
    assert got.attempts == 1
    assert got.not_before == later(2)  # backoff 2 ** attempts
    mono.t += 5
    s.clock = lambda: later(5)
    assert await s.drain_once() is True
    got = await fresh(row)
    assert got.status == OutboxStatus.SENT
    assert len(bot.sent) == len(got.message_ids) == got.parts_done
    assert len(bot.sent) >= 3
    assert bot.sent[0]["text"].startswith("💬")
    assert len({m["text"] for m in bot.sent}) == len(bot.sent)  # nothing sent twice


async def test_sender_marks_forbidden_failed(db: str) -> None:
    row = await enqueue(chat_id=5, kind="error", params={"message": "hi"})
    s, _ = sender(FakeBot([Forbidden("bot was blocked by the user")]))
    await s.drain_once()
    got = await fresh(row)
    assert got.status == OutboxStatus.FAILED
    assert got.error is not None and "blocked" in got.error


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgres"], indirect=False)
async def test_postgres_claim_skips_a_row_another_worker_holds_locked(db: str) -> None:
    """SKIP LOCKED: a head row locked by another worker's open claim is skipped, not waited on."""
    import asyncpg

    held = await enqueue(chat_id=A, kind="x", params={})
    free = await enqueue(chat_id=B, kind="x", params={})
    other = await asyncpg.connect(db.replace("postgres://", "postgresql://", 1))
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("SELECT id FROM outbox WHERE id = $1 FOR UPDATE", held.id)
        # Without SKIP LOCKED this claim would block until the other transaction ends.
        taken = await asyncio.wait_for(outbox.claim_batch(now=NOW), timeout=5)
        assert [r.id for r in taken] == [free.id]
        await tx.rollback()
    finally:
        await other.close()
    assert [r.id for r in await outbox.claim_batch(now=NOW)] == [held.id]


# ---------------------------------------------------------------- deliveries side by side


class TimedBot(FakeBot):
    """Also notes when each message arrived (monotonic seconds)."""

    async def send_message(self, **kw: Any) -> SimpleNamespace:
        kw["at"] = asyncio.get_running_loop().time()
        return await super().send_message(**kw)


def real_sender(bot: FakeBot) -> Sender:
    return Sender(bot=bot, clock=lambda: dt.datetime.now(dt.UTC))  # type: ignore[arg-type]


async def test_a_chat_waiting_for_its_slot_does_not_hold_up_the_others(db: str) -> None:
    first = await enqueue(chat_id=5, kind="error", params={"message": "一"})
    await enqueue(chat_id=6, kind="error", params={"message": "二"})
    bot = TimedBot()
    s = real_sender(bot)
    s.limiter.record(5)  # chat 5 just got a message: its next one waits about a second
    start = asyncio.get_running_loop().time()
    assert await s.drain_once() is True
    assert [m["chat_id"] for m in bot.sent] == [6, 5]  # the older row's wait held up nothing
    assert bot.sent[0]["at"] - start < 0.5
    assert bot.sent[1]["at"] - start >= 1.0
    assert (await fresh(first)).status == OutboxStatus.SENT


async def test_cards_come_before_private_chats_for_the_bots_slots(db: str) -> None:
    s = real_sender(FakeBot())
    for n in range(25):
        s.limiter.record(1000 + n)  # 25 of the bot's 30 slots this second are used
    card = await enqueue(chat_id=-100, kind="error", params={"message": "card"})
    private = await enqueue(chat_id=7, kind="error", params={"message": "ack"})
    s._groups_in_flight = 6  # six cards on their way in this sender
    assert await s._take(private) > 0  # the enterprise's message leaves the slots to them
    assert await s._take(card) == 0
    s._groups_in_flight = 0
    assert await s._take(private) == 0


async def card(chat_id: int, n: int) -> OutboxMessage:
    return await enqueue(
        chat_id=chat_id,
        kind="card",
        params={
            "ticket_id": n,
            "ref": f"TD20251201-{n:04d}",
            "text": f"问题{n}",
            "type": "投诉",
            "urgent": False,
            "deadline": "12月3日 17:00",
            "enterprise": "某某公司",
        },
        ticket_id=n,
        link_role="card",
    )


async def test_a_group_short_of_its_minute_gathers_cards_into_digests(db: str) -> None:
    s = real_sender(FakeBot())
    for _ in range(17):
        s.limiter.record(-100)  # 17 of the group's 20 messages this minute are spent
        s.limiter._last.pop(-100)  # (spread over the minute: no per-chat gap pending)
    lone = await card(-100, 1)
    assert await s.drain_once() is False  # held for others to share its message
    got = await fresh(lone)
    assert got.status == OutboxStatus.PENDING and got.not_before is not None
    assert s.bot.sent == []  # type: ignore[attr-defined]
    # A full digest's worth queued: it goes at once, as one message.
    for n in range(2, 16):
        await card(-100, n)
    await OutboxMessage.filter(id=lone.id).update(not_before=None)
    assert await s.drain_once() is True
    sent = s.bot.sent  # type: ignore[attr-defined]
    assert len(sent) == 1 and "TD20251201-0015" in sent[0]["text"]
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == 15


async def test_a_group_that_became_a_supergroup_is_followed(db: str) -> None:
    """Telegram answers ``migrate_to_chat_id``: the binding and unsent messages move there."""
    from telegram.error import ChatMigrated

    from models.department import GroupBinding

    await GroupBinding.create(code="TAX", chat_id=-100)
    first = await enqueue(chat_id=-100, kind="error", params={"message": "一"})
    second = await enqueue(chat_id=-100, kind="error", params={"message": "二"})
    bot = FakeBot([ChatMigrated(-1001234)])
    s, _mono = sender(bot, chat_gap=0)
    assert await s.drain_once() is False
    assert (await GroupBinding.get(code="TAX")).chat_id == -1001234
    for row in (first, second):
        got = await fresh(row)
        assert got.chat_id == -1001234 and got.status == OutboxStatus.PENDING
    while await s.drain_once():
        pass
    assert [m["chat_id"] for m in bot.sent] == [-1001234, -1001234]
    assert [m["text"][-1] for m in bot.sent] == ["一", "二"]  # in order
