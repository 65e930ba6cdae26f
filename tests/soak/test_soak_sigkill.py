"""Soak: SIGKILL workers every few seconds while thousands of messages arrive; nothing is lost.

Two ``desk run`` workers in webhook mode share one PostgreSQL database and one Redis, behind one
public address (the fake Bot API round-robins its deliveries over both, and retries every update
until a worker answers 2xx, as Telegram does). While simulated enterprises send
``DESK_SOAK_MESSAGES`` messages (default 2,000: new requests that they confirm, and follow-ups
that reply to a ticket's acknowledgement), one worker is killed with SIGKILL every few seconds
and started again. Afterwards:

* exactly one ticket per request and one follow-up per follow-up message exist, each on the
  ticket it belongs to; no inbox update failed; every update the fake sent was handled;
* every outbox row was sent, and every enterprise message (draft confirmation, acknowledgement,
  follow-up receipt) and group message (ticket card, possibly merged into a digest, and relayed
  follow-up) reached its chat with the right content;
* every message the fake received belongs to a sent outbox row, except duplicates: a send in
  flight when its worker was killed (the message left, the row was not yet marked sent) goes
  out again when the row's lease expires.

Bound on duplicates: a worker's sender delivers up to ``bot.sender.PARALLEL`` outbox rows side
by side (each the head of its own chat) and marks each sent as soon as Telegram answers, so a
SIGKILL can interrupt at most that many sends of the killed worker. The test matches each
duplicate to a kill that came within a few seconds after the first copy and asserts at most
``PARALLEL`` duplicates per kill, and none without a kill (the figures print how many there
were: a few per run, most kills none).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakebot import FakeBotAPI
from soak_harness import (
    EXPECTED_KINDS,
    REF,
    Stats,
    Worker,
    backlog,
    check_delivery,
    desk_init,
    free_port,
    match_duplicates_to_kills,
    plan,
    redis_cleanup,
    run_enterprise,
    seed,
    wait_drained,
    worker_env,
)

from bot import db as dbmod
from bot.sender import PARALLEL
from models.department import TRIAGE_CODE
from models.outbox import OutboxMessage
from models.system import InboxUpdate, ProcessedUpdate
from models.ticket import Draft, Ticket, TicketEvent, TicketMessage

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

MESSAGES = int(os.environ.get("DESK_SOAK_MESSAGES", "2000"))
PER_ENTERPRISE = 10  # the hourly limit per enterprise is 30
FOLLOWUP_EVERY = 10  # one message in ten is a follow-up (group relays are never merged)
KILL_GAP = (2.0, 5.0)  # seconds between a restarted worker being up and the next SIGKILL
STEP_TIMEOUT = 420.0  # one answer may wait for a dead worker's inbox lease (120 s) and more
DRAIN_TIMEOUT = 420.0
DUPLICATE_WINDOW = 5.0  # a duplicate's first copy left at most this long before its kill


@dataclass
class Chaos:
    """Every few seconds SIGKILL one worker (alternating) and start it again at once, until
    every message has arrived (the webhook acknowledged it)."""

    workers: list[Worker]
    fake: FakeBotAPI
    stats: Stats
    total: int
    seed: int
    kills: list[float] = field(default_factory=list)  # monotonic time of each SIGKILL
    restarts: list[float] = field(default_factory=list)  # seconds until ready again
    stopped_at: float | None = None

    def all_arrived(self) -> bool:
        arrived = self.stats.messages
        return len(arrived) == self.total and set(arrived) <= set(self.fake.webhook_acked)

    async def run(self) -> None:
        rng = random.Random(self.seed)
        turn = 0
        while True:
            await asyncio.sleep(rng.uniform(*KILL_GAP))
            if self.all_arrived():
                self.stopped_at = time.monotonic()
                return
            victim = self.workers[turn % len(self.workers)]
            turn += 1
            await victim.kill()
            self.kills.append(time.monotonic())
            await victim.start()
            self.restarts.append(await victim.wait_ready())


async def _progress(
    stats: Stats, total: int, kills: list[float], fake: FakeBotAPI, started: float
) -> None:
    """A line every 10 s (shown with ``-s``), so a slow CI run tells where it is."""
    while True:
        await asyncio.sleep(10)
        inbox, outbox = await backlog()
        print(
            f"  [soak {time.monotonic() - started:5.0f}s] messages {stats.done_messages}/{total}"
            f", kills {len(kills)}, inbox backlog {inbox}, outbox backlog {outbox}"
            f", webhook queue {len(fake.webhook_pending)}",
            flush=True,
        )


async def test_sigkill_soak_loses_nothing(
    pg_url: str,
    soak_redis: Any,
    telegram: FakeBotAPI,
    workers: list[Worker],
    soak_dir: Path,
) -> None:
    fake = telegram
    t0 = time.monotonic()
    redis_url = os.environ.get("DESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    plans = plan(MESSAGES, PER_ENTERPRISE, FOLLOWUP_EVERY)
    n_tickets = sum(step.kind == "ticket" for steps in plans for step in steps)
    n_followups = MESSAGES - n_tickets

    # ---- set-up: schema (desk init), seeded enterprises and groups, two workers
    for name in ("worker-a", "worker-b"):
        port = free_port()
        env = worker_env(fake=fake, db_url=pg_url, redis_url=redis_url, port=port)
        workers.append(Worker(name, env, port, soak_dir))
    await desk_init(workers[0].env, soak_dir)
    await dbmod.connect(pg_url)
    stats = Stats()
    try:
        enterprises, groups = await seed(len(plans))
        fake.webhook_targets = [w.url for w in workers]  # one address, two workers behind it
        for worker in workers:
            await worker.start()
        await asyncio.gather(*(w.wait_ready() for w in workers))
        assert fake.webhook_url and fake.webhook_secret
        t_ready = time.monotonic()

        # ---- the soak: enterprises talk while workers are killed
        chaos = Chaos(workers, fake, stats, MESSAGES, seed=MESSAGES)
        kills = chaos.kills
        chaos_task = asyncio.create_task(chaos.run())
        progress = asyncio.create_task(_progress(stats, MESSAGES, kills, fake, t_ready))
        results: list[Any] = []
        try:
            sessions = [
                run_enterprise(fake, ent, steps, stats, timeout=STEP_TIMEOUT)
                for ent, steps in zip(enterprises, plans, strict=True)
            ]
            results = await asyncio.gather(*sessions, return_exceptions=True)
        finally:
            if not chaos.all_arrived():
                chaos_task.cancel()  # a session failed: stop killing
            with contextlib.suppress(asyncio.CancelledError):
                await chaos_task  # normally: stopped by itself, the last restart is up
            progress.cancel()
        failures = [r for r in results if isinstance(r, BaseException)]
        t_answered = time.monotonic()
        assert not failures, f"{len(failures)} sessions failed, first: {failures[0]!r}"
        assert chaos.stopped_at is not None

        # ---- drain: no more kills; wait until everything is delivered
        drain_seconds = await wait_drained(fake, timeout=DRAIN_TIMEOUT, label="soak")
        t_drained = time.monotonic()

        # ---- what the database holds
        tickets = await Ticket.all().prefetch_related("department", "member")
        by_chat: dict[int, set[str]] = {}
        for ticket in tickets:
            by_chat.setdefault(int(ticket.member.chat_id or 0), set()).add(ticket.ref)
        assert len(tickets) == n_tickets, f"{len(tickets)} tickets for {n_tickets} requests"
        assert by_chat == {chat: set(refs) for chat, refs in stats.refs.items() if refs}
        followups_in = await TicketMessage.filter(direction="in").prefetch_related("ticket")
        assert len(followups_in) == n_followups
        assert Counter((m.ticket.ref, m.text.split("：")[0]) for m in followups_in) == Counter(
            (ref, marker) for pairs in stats.followups.values() for ref, marker in pairs
        )
        events = Counter(
            e["action"]
            for e in await TicketEvent.filter(action__in=["create", "followup"]).values("action")
        )
        assert events == {"create": n_tickets, "followup": n_followups}
        drafts = await Draft.all().values_list("state", flat=True)
        assert len(drafts) == n_tickets + stats.via_draft
        assert set(drafts) == {"submitted"}

        inbox = {row.update_id: row for row in await InboxUpdate.all()}
        assert set(inbox) == set(stats.updates), "inbox rows are not the updates the fake sent"
        statuses = Counter(row.status for row in inbox.values())
        assert statuses == {"done": len(stats.updates)}, f"inbox: {statuses}"
        processed = set(await ProcessedUpdate.all().values_list("key", flat=True))
        assert {f"tg:{u}" for u in stats.updates} <= processed
        assert set(fake.webhook_acked) >= set(stats.updates)

        # ---- what the chats received
        chats = [e.chat_id for e in enterprises] + list(groups.values())
        delivery = await check_delivery(fake, chats)
        kinds = delivery.rows_by_kind
        per_kill, stray = match_duplicates_to_kills(
            delivery.duplicates, kills, window=DUPLICATE_WINDOW
        )
        duplicates = [
            (m.chat_id, m.message_id, (m.plain_text or "")[:40]) for m in delivery.duplicates
        ]
        report = (
            f"duplicates {len(duplicates)} for {len(kills)} kills: {duplicates[:20]}; "
            f"per kill {dict(per_kill)}; "
            f"without a kill {[(m.chat_id, m.message_id) for m in stray]}"
        )
        assert not delivery.not_sent, f"outbox rows not sent: {delivery.not_sent[:20]}; {report}"
        assert not delivery.missing, f"sent rows never received: {delivery.missing[:20]}"
        assert not delivery.wrong_content, f"wrong content: {delivery.wrong_content[:20]}"
        assert not delivery.unexplained, (
            "messages no outbox row accounts for: "
            f"{[(m.chat_id, m.plain_text) for m in delivery.unexplained[:10]]}; {report}"
        )
        assert set(kinds) <= EXPECTED_KINDS, f"unexpected outbox kinds: {kinds}"
        assert kinds["draft_confirm"] == n_tickets + stats.via_draft
        assert kinds["ack"] == n_tickets
        assert kinds["card"] + kinds["triage_card"] == n_tickets
        assert kinds["followup"] == kinds["followup_ok"] == n_followups
        # Each card went to its department's group (or the screening group), each follow-up to
        # the group holding its ticket.
        card_chats = {
            row.ticket_id: row.chat_id
            for row in await OutboxMessage.filter(kind__in=["card", "triage_card"])
        }
        for ticket in tickets:
            code = ticket.department.code if ticket.department else TRIAGE_CODE
            assert card_chats[ticket.id] == groups[code], ticket.ref
        assert not stray, report
        assert max(per_kill.values(), default=0) <= PARALLEL, report

        # ---- graceful stop of both workers
        exits = [await w.terminate(timeout=30) for w in workers]
        assert all(code == 0 for code, _ in exits), f"SIGTERM exits: {exits}"

        # ---- the figures
        group_chats = set(groups.values())
        group_messages = [m for chat in group_chats for m in fake.sent(chat)]
        digests = [m for m in group_messages if (m.plain_text or "").startswith("📦")]
        attempts = fake.webhook_deliveries
        errors = {w.name: w.log_errors() for w in workers}
        dup_kinds = Counter("group" if m.chat_id < 0 else "private" for m in delivery.duplicates)
        print(
            "\n===== SIGKILL soak =====\n"
            f"messages: {MESSAGES} ({n_tickets} requests, {n_followups} follow-ups) from "
            f"{len(enterprises)} enterprises; {len(stats.updates)} updates incl. button presses; "
            f"{stats.via_draft} follow-ups re-sent via 补充到 after replying to a duplicate\n"
            f"workers: 2, kills: {len(kills)}, starts: {[w.starts for w in workers]}\n"
            f"duplicates: {len(duplicates)} ({dict(dup_kinds)}) for {len(kills)} kills, "
            f"bound asserted: <= {PARALLEL} per kill (the sends in flight); {duplicates[:10]}\n"
            f"webhook POSTs: {len(attempts)}, failed: "
            f"{sum(not 200 <= d.status < 300 for d in attempts)}, max attempts for one update: "
            f"{max((d.attempt for d in attempts), default=0)}\n"
            f"outbox rows: {sum(kinds.values())} {dict(kinds)}\n"
            f"messages received: {sum(len(fake.sent(c)) for c in chats)} "
            f"(groups {len(group_messages)}, of which {len(digests)} digests listing "
            f"{sum(len(set(REF.findall(m.plain_text or ''))) for m in digests)} tickets)\n"
            f"time: set-up {t_ready - t0:.0f}s, messages arriving (killing) "
            f"{chaos.stopped_at - t_ready:.0f}s, last answers {t_answered - chaos.stopped_at:.0f}s"
            f", drain {drain_seconds:.0f}s, total {t_drained - t0:.0f}s; restart to ready: "
            f"mean {statistics.mean(chaos.restarts or [0]):.1f}s, "
            f"max {max(chaos.restarts, default=0):.1f}s\n"
            f"answer latency: {stats.wait_figures()}\n"
            f"worker log ERROR lines: { {k: len(v) for k, v in errors.items()} } "
            f"(logs in {soak_dir})",
            flush=True,
        )
    finally:
        await dbmod.close()
        await redis_cleanup(soak_redis, token=fake.token, update_ids=stats.updates)
