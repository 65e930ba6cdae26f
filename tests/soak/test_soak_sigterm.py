"""Graceful shutdown: SIGTERM finishes in-flight work, and the next start finishes the rest.

One ``desk run`` worker in webhook mode (PostgreSQL + Redis) receives a burst of requests from
simulated enterprises through the Telegram-like fake; while updates are still arriving, being
handled and answered, it gets SIGTERM. It must exit with status 0 within a few seconds, leave no
lease behind (no inbox row ``working``, no outbox row ``sending``), and everything it
acknowledged must be either handled (its effect committed, exactly once) or still pending in the
inbox. The fake keeps retrying what the stopped worker did not acknowledge; the next start
handles all of it: every message becomes exactly one draft, and every draft confirmation
reaches its chat exactly once.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fakebot import FakeBotAPI
from soak_harness import (
    Worker,
    check_delivery,
    corpus_texts,
    desk_init,
    free_port,
    redis_cleanup,
    seed,
    ticket_marker,
    wait_drained,
    worker_env,
)

from bot import db as dbmod
from models.outbox import OutboxMessage, OutboxStatus
from models.system import InboxUpdate, ProcessedUpdate
from models.ticket import Draft

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ENTERPRISES = 40
BURST = 4  # messages per enterprise before SIGTERM
DURING = 2  # messages per enterprise sent while the worker shuts down and is down
EXIT_WITHIN = 10.0  # seconds from SIGTERM to exit


async def _send(fake: FakeBotAPI, user: dict[str, Any], text: str, sent: dict[int, str]) -> None:
    update = await fake.user_sends(user, text=text)
    sent[int(update["update_id"])] = text


async def test_sigterm_finishes_in_flight_work_and_loses_nothing(
    pg_url: str,
    soak_redis: Any,
    telegram: FakeBotAPI,
    workers: list[Worker],
    soak_dir: Path,
) -> None:
    fake = telegram
    redis_url = os.environ.get("DESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    port = free_port()
    worker = Worker(
        "worker",
        worker_env(fake=fake, db_url=pg_url, redis_url=redis_url, port=port),
        port,
        soak_dir,
    )
    workers.append(worker)
    await desk_init(worker.env, soak_dir)
    await dbmod.connect(pg_url)
    sent: dict[int, str] = {}  # update id -> text (each text carries a unique marker)
    try:
        enterprises, _ = await seed(ENTERPRISES)
        texts = iter(text + ticket_marker(k) for k, text in enumerate(corpus_texts() * 2))
        fake.webhook_targets = [worker.url]
        await worker.start()
        await worker.wait_ready()

        # A burst: every enterprise sends several requests at once.
        for _ in range(BURST):
            for ent in enterprises:
                await _send(fake, ent.user, next(texts), sent)
        # Wait until the worker is in the middle of it: some answers out, most still to send.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while sum(len(fake.sent(e.chat_id)) for e in enterprises) < 20:
            assert loop.time() < deadline, "the worker never started answering"
            await asyncio.sleep(0.05)

        # More messages keep arriving while the worker shuts down (and while it is down).
        async def trickle() -> None:
            for _ in range(DURING):
                for ent in enterprises:
                    await _send(fake, ent.user, next(texts), sent)
                    await asyncio.sleep(0.02)

        feeder = asyncio.create_task(trickle())
        await asyncio.sleep(0.2)
        answered_before = sum(len(fake.sent(e.chat_id)) for e in enterprises)
        code, seconds = await worker.terminate(timeout=60)
        await feeder
        acked = set(fake.webhook_acked)

        assert code == 0 and seconds <= EXIT_WITHIN, (
            f"SIGTERM: exit code {code} after {seconds:.1f}s (want 0 within {EXIT_WITHIN}s)\n"
            + worker.log_tail()
        )

        # Nothing acknowledged is lost: handled exactly once, or still pending in the inbox.
        rows = {row.update_id: row for row in await InboxUpdate.all()}
        assert acked <= set(rows), f"acknowledged but not stored: {sorted(acked - set(rows))}"
        statuses = Counter(row.status for row in rows.values())
        assert set(statuses) <= {"done", "pending"}, f"leases left behind: {statuses}"
        leased = await OutboxMessage.filter(status=OutboxStatus.SENDING).count()
        assert leased == 0, f"{leased} outbox rows left 'sending' by a graceful stop"
        drafts = Counter(str(text) for text in await Draft.all().values_list("text", flat=True))
        processed = set(await ProcessedUpdate.all().values_list("key", flat=True))
        for update_id, row in rows.items():
            handled = drafts[sent[update_id]]
            if row.status == "done":
                assert handled == 1 and f"tg:{update_id}" in processed, update_id
            else:
                assert handled == 0, f"update {update_id} pending but already took effect"
        after_stop = dict(statuses)
        outbox_after_stop = Counter(
            str(s) for s in await OutboxMessage.all().values_list("status", flat=True)
        )
        answered_at_exit = sum(len(fake.sent(e.chat_id)) for e in enterprises)

        # The next start handles the rest (including what the fake kept retrying meanwhile).
        await worker.start()
        restart = await worker.wait_ready()
        await fake.wait_webhook_idle(timeout=60)
        drain = await wait_drained(fake, timeout=120, label="sigterm")

        total = ENTERPRISES * (BURST + DURING)
        assert len(sent) == total
        assert set(fake.webhook_acked) == set(sent)
        drafts = Counter(str(text) for text in await Draft.all().values_list("text", flat=True))
        assert drafts == Counter(sent.values()), "each message must become exactly one draft"
        rows = {row.update_id: row for row in await InboxUpdate.all()}
        assert set(rows) == set(sent)
        assert {row.status for row in rows.values()} == {"done"}
        delivery = await check_delivery(fake, [e.chat_id for e in enterprises])
        assert delivery.rows_by_kind == {"draft_confirm": total}
        assert not delivery.not_sent and not delivery.missing and not delivery.wrong_content
        assert not delivery.duplicates and not delivery.unexplained, (
            f"sent twice: {[(m.chat_id, m.plain_text) for m in delivery.duplicates][:5]}; "
            f"unaccounted: {[(m.chat_id, m.plain_text) for m in delivery.unexplained][:5]}"
        )
        assert sum(len(fake.sent(e.chat_id)) for e in enterprises) == total

        code2, seconds2 = await worker.terminate(timeout=60)
        assert code2 == 0, worker.log_tail()
        print(
            "\n===== SIGTERM =====\n"
            f"{total} messages; SIGTERM with {answered_before} answers out; exit {code} after "
            f"{seconds:.1f}s with {answered_at_exit} answers out; inbox at exit {after_stop}; "
            f"outbox at exit {dict(outbox_after_stop)}; restart ready in {restart:.1f}s and "
            f"finished the rest {drain:.1f}s later; "
            f"second SIGTERM (idle) exit {code2} after {seconds2:.1f}s",
            flush=True,
        )
    finally:
        await dbmod.close()
        await redis_cleanup(soak_redis, token=fake.token, update_ids=sent)
