"""Ticket references and exactly-once processing of inbound updates, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from desk.db import already_processed, atomic, update_scope
from desk.errors import AlreadyProcessed, InvalidInput
from desk.notify import enqueue
from desk.refs import find_ref, next_ref
from desk.tickets import say
from models.outbox import OutboxMessage
from models.system import ProcessedUpdate
from models.ticket import DailyCounter

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 in Tianjin


async def allocate(now: dt.datetime = NOW) -> str:
    async with in_transaction():
        return await next_ref(now=now, tz=TZ)


async def test_refs_count_up_per_day(db: str) -> None:
    assert [await allocate() for _ in range(3)] == [
        "TD20250602-0001",
        "TD20250602-0002",
        "TD20250602-0003",
    ]
    tomorrow = NOW + dt.timedelta(days=1)
    assert await allocate(tomorrow) == "TD20250603-0001"
    assert await allocate() == "TD20250602-0004"
    assert (await DailyCounter.get(day="20250602")).value == 4


async def test_refs_use_the_local_date(db: str) -> None:
    # 2025-06-02 17:30 UTC is already 01:30 on 2025-06-03 in Tianjin.
    late = dt.datetime(2025, 6, 2, 17, 30, tzinfo=dt.UTC)
    assert await allocate(late) == "TD20250603-0001"
    # 15:59 UTC is 23:59 local, still the 2nd.
    assert await allocate(dt.datetime(2025, 6, 2, 15, 59, tzinfo=dt.UTC)) == "TD20250602-0001"


async def test_a_rolled_back_allocation_is_not_used(db: str) -> None:
    assert await allocate() == "TD20250602-0001"
    with pytest.raises(RuntimeError):
        async with in_transaction():
            assert await next_ref(now=NOW, tz=TZ) == "TD20250602-0002"
            raise RuntimeError("ticket insert failed")
    assert await allocate() == "TD20250602-0002"


@pytest.mark.parametrize("existing", [0, 5])
async def test_concurrent_allocations_are_unique(db: str, existing: int) -> None:
    for _ in range(existing):
        await allocate()

    async def one() -> str:
        async with in_transaction():
            ref = await next_ref(now=NOW, tz=TZ)
            await asyncio.sleep(0)  # let the others run while this transaction is open
            return ref

    refs = await asyncio.gather(*(one() for _ in range(20)))
    assert len(set(refs)) == 20
    assert sorted(refs) == [f"TD20250602-{n:04d}" for n in range(existing + 1, existing + 21)]
    assert (await DailyCounter.get(day="20250602")).value == existing + 20


def test_find_ref() -> None:
    assert find_ref("请问 td20250602-0007 办得怎么样了") == "TD20250602-0007"
    assert find_ref("TD20250602-0007和TD20250602-0008") == "TD20250602-0007"
    assert find_ref("工单TD20250602-12345") == "TD20250602-12345"
    assert find_ref("/done TD20250602-0001 已办结") == "TD20250602-0001"
    assert find_ref("TD2025060-0001") is None
    assert find_ref("TD20250602-001") is None
    assert find_ref("没有工单号") is None
    assert find_ref("") is None


# ---------------------------------------------------------------- exactly-once processing


async def rows() -> int:
    return await OutboxMessage.all().count()


async def test_atomic_outside_a_scope_records_nothing(db: str) -> None:
    async with atomic():
        await enqueue(chat_id=1, kind="x")
    assert await rows() == 1
    assert await ProcessedUpdate.all().count() == 0


async def test_first_atomic_records_the_key_and_a_redelivery_changes_nothing(db: str) -> None:
    with update_scope("tg:1001"):
        async with atomic():
            await enqueue(chat_id=1, kind="x")
        # more work for the same update: not an error, not recorded twice
        async with atomic():
            await enqueue(chat_id=1, kind="y")
    assert await rows() == 2
    assert [p.key for p in await ProcessedUpdate.all()] == ["tg:1001"]
    assert await already_processed("tg:1001")
    assert not await already_processed("tg:1002")

    with update_scope("tg:1001"), pytest.raises(AlreadyProcessed):
        async with atomic():
            await enqueue(chat_id=1, kind="again")
    assert await rows() == 2
    assert await ProcessedUpdate.all().count() == 1


async def test_nested_atomic_records_once(db: str) -> None:
    with update_scope("tg:7"):
        async with atomic():
            await enqueue(chat_id=1, kind="outer")
            async with atomic():
                await enqueue(chat_id=1, kind="inner")
    assert await rows() == 2
    assert await ProcessedUpdate.filter(key="tg:7").count() == 1


async def test_rollback_leaves_no_marker_so_a_retry_runs(db: str) -> None:
    with update_scope("tg:42"):
        with pytest.raises(RuntimeError):
            async with atomic():
                await enqueue(chat_id=1, kind="lost")
                raise RuntimeError("crash before commit")
        assert not await already_processed("tg:42")
        assert await rows() == 0
        # the same processing retried in the same scope records the key this time
        async with atomic():
            await enqueue(chat_id=1, kind="kept")
    assert await already_processed("tg:42")
    assert [r.kind for r in await OutboxMessage.all()] == ["kept"]


async def test_redelivery_after_a_crash_runs_again(db: str) -> None:
    with update_scope("tg:43"), pytest.raises(RuntimeError):
        async with atomic():
            await enqueue(chat_id=1, kind="lost")
            raise RuntimeError("worker died")
    with update_scope("tg:43"):
        async with atomic():
            await enqueue(chat_id=1, kind="kept")
    assert [r.kind for r in await OutboxMessage.all()] == ["kept"]


async def test_an_error_reply_is_the_one_effect(db: str) -> None:
    """Like handlers.telegram.edge: a desk error rolls back, then the error reply commits."""
    for _ in range(2):  # the second time is a redelivery of the same update
        with update_scope("tg:77"):
            try:
                try:
                    async with atomic():
                        await enqueue(chat_id=1, kind="half-done")
                        raise InvalidInput("统一社会信用代码校验位不正确")
                except InvalidInput as exc:
                    await say(chat_id=1, kind="error", message=exc.message)
            except AlreadyProcessed:
                pass
    assert [(r.kind, r.params) for r in await OutboxMessage.all()] == [
        ("error", {"message": "统一社会信用代码校验位不正确"})
    ]


async def test_concurrent_duplicates_run_once(db: str) -> None:
    async def process(n: int) -> str:
        with update_scope("tg:500"):
            try:
                async with atomic():
                    await enqueue(chat_id=1, kind="x", params={"n": n})
                    await asyncio.sleep(0.01)
            except AlreadyProcessed:
                return "dup"
            return "done"

    results = await asyncio.gather(*(process(n) for n in range(5)))
    assert sorted(results) == ["done", "dup", "dup", "dup", "dup"]
    assert await rows() == 1
