"""The durable inbox: stored once, handled in order per chat, retried, shared by workers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from desk import inbox
from models.system import InboxUpdate

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)


def msg(update_id: int, chat: int, text: str = "hi") -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": chat, "type": "private"},
            "text": text,
        },
    }


async def test_store_is_idempotent_and_finds_the_chat(db: str) -> None:
    assert await inbox.store(msg(1, 501))
    assert not await inbox.store(msg(1, 501))  # Telegram delivered it again
    row = await InboxUpdate.get(key="tg:1")
    assert row.chat_id == 501 and row.status == "pending"
    press = {
        "update_id": 2,
        "callback_query": {"id": "q", "from": {"id": 7}, "message": {"chat": {"id": -100}}},
    }
    assert await inbox.store(press)
    assert (await InboxUpdate.get(key="tg:2")).chat_id == -100
    assert inbox.chat_of({"update_id": 3}) is None


async def test_claim_takes_one_per_chat_in_order(db: str) -> None:
    for uid, chat in ((10, 501), (11, 501), (12, 502), (13, 501)):
        await inbox.store(msg(uid, chat))
    first = await inbox.claim(now=NOW)
    assert sorted(r.update_id for r in first) == [10, 12]
    assert await inbox.claim(now=NOW) == []  # heads are leased; 11 waits for 10
    for row in first:
        await inbox.done(row, now=NOW)
    second = await inbox.claim(now=NOW)
    assert [r.update_id for r in second] == [11]
    await inbox.done(second[0], now=NOW)
    assert [r.update_id for r in await inbox.claim(now=NOW)] == [13]


async def test_a_dead_worker_lease_expires_and_failures_retry_then_park(db: str) -> None:
    await inbox.store(msg(20, 601))
    assert len(await inbox.claim(now=NOW, lease_seconds=60)) == 1
    assert await inbox.claim(now=NOW + dt.timedelta(seconds=30)) == []
    (again,) = await inbox.claim(now=NOW + dt.timedelta(seconds=61))  # the worker died
    assert again.update_id == 20 and again.attempts == 2
    await inbox.failed(again, error="database restarting")
    assert (await InboxUpdate.get(key="tg:20")).status == "pending"
    for _ in range(inbox.MAX_ATTEMPTS):
        rows = await inbox.claim(now=NOW + dt.timedelta(seconds=200))
        if not rows:
            break
        await inbox.failed(rows[0], error="still failing")
    parked = await InboxUpdate.get(key="tg:20")
    assert parked.status == "failed" and parked.error == "still failing"
    assert await inbox.backlog() == 0


async def test_failures_while_the_database_was_away_do_not_count(db: str) -> None:
    """A restart of PostgreSQL must not park the updates that were in hand."""
    await inbox.store(msg(25, 602))
    for n in range(inbox.MAX_ATTEMPTS * 2):
        (row,) = await inbox.claim(now=NOW + dt.timedelta(seconds=n))
        assert row.attempts == 1  # each claim counts one, each give-back returns it
        await inbox.failed(row, error="connection lost", count=False)
    assert (await InboxUpdate.get(key="tg:25")).status == "pending"


def test_database_away_reads_the_cause_chain() -> None:
    import asyncpg
    from tortoise.exceptions import OperationalError

    from bot.retry import database_away

    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except OSError as inner:
            raise OperationalError("could not run the query") from inner
    except OperationalError as wrapped:
        assert database_away(wrapped)
    assert database_away(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert not database_away(OperationalError("no such column: tickets.x"))
    assert not database_away(ValueError("a handler bug"))


async def test_two_workers_never_take_the_same_update(db: str) -> None:
    for uid in range(30, 60):
        await inbox.store(msg(uid, 700 + uid))
    a, b = await asyncio.gather(inbox.claim(now=NOW, limit=30), inbox.claim(now=NOW, limit=30))
    ids_a, ids_b = {r.update_id for r in a}, {r.update_id for r in b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 30


async def test_store_many_is_one_transaction_and_ignores_redeliveries(db: str) -> None:
    await inbox.store(msg(70, 801))
    await inbox.store_many([msg(70, 801), msg(71, 801), msg(72, 802), msg(71, 801)])
    keys = sorted(await InboxUpdate.all().values_list("key", flat=True))
    assert keys == ["tg:70", "tg:71", "tg:72"]


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgres"], indirect=False)
async def test_postgres_claim_skips_an_update_another_worker_holds_locked(db: str) -> None:
    """SKIP LOCKED: another worker's locked row is skipped, and the claim does not block."""
    import asyncpg

    await inbox.store(msg(1, 500))
    await inbox.store(msg(2, 600))
    other = await asyncpg.connect(db.replace("postgres://", "postgresql://", 1))
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("SELECT key FROM inbox_update WHERE key = 'tg:1' FOR UPDATE")
        taken = await asyncio.wait_for(inbox.claim(now=NOW), timeout=5)
        assert [r.update_id for r in taken] == [2]
        await tx.rollback()
    finally:
        await other.close()
    assert [r.update_id for r in await inbox.claim(now=NOW)] == [1]
