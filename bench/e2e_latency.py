"""End-to-end latency: an enterprise's 确认 → the ticket's card in its department's group.

A real desk (``bot.app.create_app``, webhook mode, PostgreSQL on a fresh database + Redis; with
``--sqlite`` also SQLite without Redis) runs in this process against the fake Bot API of
``tests/fakebot``, which enforces Telegram's send limits the way ``bench/outbox.py`` does (a 429
for a send that would break 30/s per bot, 20/min per group or 1/s per chat) and delivers
updates like Telegram (queued, at most 40 POSTs in flight, retried until acknowledged).

Each rate step starts from nothing: a fresh database, a fresh fake with its own bot token (so
the send budget in Redis starts empty), 19 department groups and the triage group bound, and
one registered enterprise per message, each with a draft waiting for its 确认 (what an
enterprise has after typing its request: the text was sent and the draft with its 确认 button
came back). The drafts' texts come from ``nlp/data/corpus`` and are ones the desk's router sends
straight to their department, round robin over the 19 departments. Then the enterprises press
确认 at the step's rate for ``--duration`` seconds.

Measured per ticket: from the moment the fake POSTs the 确认 update to the desk's webhook to the
moment the first message naming the ticket's reference (its card, or a digest listing it)
arrives at the fake in a group. Undelivered tickets after ``--drain`` seconds count as lost
(shown, and p99 is then at least the drain time).

For context, the table also gives what Telegram's limits allow at best for the same arrivals:
an ideal sender with no processing time, that gives group cards priority over everything else
and sends each group's waiting cards as soon as the group's limits allow (as one digest
message), and the same ideal sender when every card must be its own message. The acks to the
enterprises (one per ticket) share the bot's 30 messages/s with the cards.

With ``--workers N`` the desk is not in this process: N ``desk run`` worker processes (webhook
mode, PostgreSQL + Redis, started as an operator starts them) share one webhook address, the
fake round-robins its POSTs over them like a load balancer, and this process only runs the fake,
the load and the measuring. That is how the desk scales past one core; on a machine with few
cores the fake and the load compete with the workers for them.

    uv run python bench/e2e_latency.py [--rates 20,100,300] [--duration 10] [--drain 60]
        [--workers N] [--sqlite] [--pg postgres://postgres@127.0.0.1:5432/postgres]
        [--redis redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import logging
import math
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from aiohttp import web  # noqa: E402
from fakebot import FakeBotAPI  # noqa: E402

from bot.app import CONFIG, SHARED, create_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from models.department import Department, GroupBinding  # noqa: E402
from models.enterprise import Enterprise, Member  # noqa: E402
from models.outbox import OutboxMessage  # noqa: E402
from models.ticket import Draft, Ticket  # noqa: E402

REF = re.compile(r"TD\d{8}-\d{4,}")
SECRET = "bench-e2e-secret"
ADMIN_ID = 9001
TRIAGE_CHAT = -1_009_000_000_000
GROUP_PER_MIN, GLOBAL_PER_S, CHAT_GAP = 20, 30, 1.0


def _strict_limits() -> Any:
    """``StrictLimits`` of bench/outbox.py (Telegram's limits on the fake's sendMessage)."""
    spec = importlib.util.spec_from_file_location("bench_outbox", ROOT / "bench" / "outbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StrictLimits


@dataclass
class Step:
    backend: str
    rate: int
    messages: int = 0
    latencies: list[float] = field(default_factory=list)  # webhook POST → card, seconds
    from_press: list[float] = field(default_factory=list)  # scheduled 确认 → card
    processing: list[float] = field(default_factory=list)  # webhook POST → ticket created
    after: list[float] = field(default_factory=list)  # ticket created → card at the fake
    send_span: float = 0.0  # first to last accepted sendMessage
    lost: int = 0
    refused: int = 0
    group_sends: int = 0
    digests: int = 0
    sends: int = 0
    load_seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per part, load + drain
    ideal_digest: list[float] = field(default_factory=list)
    ideal_single: list[float] = field(default_factory=list)
    triaged: int = 0


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_snapshot(workers: list[int]) -> dict[str, float]:
    """CPU seconds so far of this process, the desk workers, PostgreSQL and Redis.

    PostgreSQL's backends come and go (a pool's connections live as long as the pool), so its
    figure is the sum over the processes alive at both snapshots plus new ones: the CPU of a
    backend that exited between them is missed (none does while a step runs).
    """
    return {
        "bench": _cpu_of(os.getpid()),
        "workers": sum(_cpu_of(p) for p in workers),
        **{f"pg:{p}": _cpu_of(p) for p in _pids_named("postgres")},
        "redis": sum(_cpu_of(p) for p in _pids_named("redis-server")),
    }


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    used = {k: after[k] - before.get(k, 0.0) for k in ("bench", "workers", "redis")}
    used["postgres"] = sum(v - before.get(k, 0.0) for k, v in after.items() if k.startswith("pg:"))
    return used


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ideal(arrivals: list[tuple[float, int]], *, merge: bool) -> list[float]:
    """Latencies an ideal sender achieves under the group limits (1/s, 20 per 60 s).

    ``arrivals`` are (time, group). Cards have priority over every other message, so the bot's
    30/s is not what binds (19 groups × 1/s). With ``merge`` each group message carries every
    card waiting for that group (a digest); without it each card is one message.
    """
    by_group: dict[int, list[float]] = defaultdict(list)
    for at, group in arrivals:
        by_group[group].append(at)
    out: list[float] = []
    for times in by_group.values():
        times.sort()
        sent: deque[float] = deque()  # this group's sends in the last 60 s
        last = -math.inf
        i = 0
        while i < len(times):
            t = max(times[i], last + CHAT_GAP)
            while sent and sent[0] <= t - 60:
                sent.popleft()
            if len(sent) >= GROUP_PER_MIN:
                t = max(t, sent[0] + 60)
            j = i + 1
            if merge:
                while j < len(times) and times[j] <= t:
                    j += 1
            out += [t - times[k] for k in range(i, j)]
            sent.append(t)
            last = t
            i = j
    return out


def pick_texts(route: Any, codes: list[str]) -> dict[str, list[str]]:
    """Per department, corpus texts the desk's router dispatches straight to it."""
    texts: dict[str, list[str]] = {}
    for code in codes:
        path = ROOT / "nlp" / "data" / "corpus" / f"{code}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        good = []
        for line in lines:
            text = json.loads(line)["text"]
            decision = route(text)
            if decision.auto and decision.department == code:
                good.append(text)
        texts[code] = good or [json.loads(line)["text"] for line in lines[:5]]
    return texts


async def seed(n: int, texts: dict[str, list[str]], groups: dict[str, int]) -> list[int]:
    """Bind the groups, register ``n`` enterprises with one pending draft each; draft ids."""
    await GroupBinding.bulk_create(
        [
            GroupBinding(code=code, chat_id=chat, title=f"{code}工单群", bound_by=ADMIN_ID)
            for code, chat in groups.items()
        ]
    )
    await Enterprise.bulk_create(
        [Enterprise(name=f"泰达压测{i:05d}有限公司") for i in range(n)], batch_size=500
    )
    ents = await Enterprise.all().order_by("id").values_list("id", flat=True)
    await Member.bulk_create(
        [
            Member(
                enterprise_id=eid,
                tg_user_id=700_000 + i,
                chat_id=700_000 + i,
                contact_name=f"联系人{i}",
                phone=f"139{i:08d}",
            )
            for i, eid in enumerate(ents)
        ],
        batch_size=500,
    )
    members = await Member.all().order_by("id").values_list("id", flat=True)
    codes = sorted(c for c in texts if texts[c])
    cycle = {c: itertools.cycle(texts[c]) for c in codes}
    await Draft.bulk_create(
        [
            Draft(member_id=mid, text=next(cycle[codes[i % len(codes)]]))
            for i, mid in enumerate(members)
        ],
        batch_size=500,
    )
    return list(await Draft.all().order_by("id").values_list("id", flat=True))


def confirm(draft_id: int, user_id: int, bot: dict[str, Any]) -> dict[str, Any]:
    """The callback_query update of an enterprise pressing 确认 under its draft."""
    user = {"id": user_id, "is_bot": False, "first_name": "企业"}
    message = {
        "message_id": 2,
        "date": int(time.time()),
        "from": bot,
        "text": "请确认",
        "chat": {"id": user_id, "type": "private", "first_name": "企业"},
    }
    return {
        "callback_query": {
            "id": f"cbq-{draft_id}",
            "from": user,
            "message": message,
            "chat_instance": f"ci{user_id}",
            "data": f"d:{draft_id}:ok",
        }
    }


async def run_step(
    backend: str, db_url: str, redis_url: str | None, rate: int, args: argparse.Namespace
) -> Step:
    step = Step(backend=backend, rate=rate)
    n = step.messages = int(rate * args.duration)
    token_id = random.randint(10**9, 2 * 10**9)
    fake = FakeBotAPI(
        token=f"{token_id}:BENCH",
        webhook_retry=True,
        first_update_id=random.randint(10**9, 2 * 10**9),
    )
    await fake.start()
    limits = _strict_limits()(fake)
    fake.add_method("sendMessage", limits)
    posted: dict[int, float] = {}  # update_id → monotonic time of the first POST
    posted_wall: dict[int, float] = {}  # the same on the wall clock (tickets' created_at)
    post = fake.post_webhook

    async def timed_post(update: dict[str, Any], *a: Any, **kw: Any) -> int:
        update_id = int(update["update_id"])
        if update_id not in posted:
            posted[update_id], posted_wall[update_id] = time.monotonic(), time.time()
        return await post(update, *a, **kw)

    fake.post_webhook = timed_post  # type: ignore[method-assign]
    desk = await (
        WorkerDesk.start(fake, db_url, redis_url, args.workers, backend=backend, rate=rate)
        if args.workers
        else InProcessDesk.start(fake, db_url, redis_url)
    )
    try:
        route = desk.route
        codes = list(
            await Department.filter(active=True).order_by("id").values_list("code", flat=True)
        )
        groups = {code: -1_001_000_000_000 - i for i, code in enumerate(codes)}
        groups["TRIAGE"] = TRIAGE_CHAT
        drafts = await seed(n, pick_texts(route, codes), groups)
        await desk.begin()
        members = dict(await Draft.all().values_list("id", "member__tg_user_id"))
        bot = fake.bot_user
        scheduled: dict[int, float] = {}  # update_id → when the 确认 was pressed
        cpu_before = cpu_snapshot(desk.pids())
        start = time.monotonic()
        for i, draft_id in enumerate(drafts):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            update = await fake.inject_raw_update(confirm(draft_id, members[draft_id], bot))
            scheduled[int(update["update_id"])] = due
        step.load_seconds = time.monotonic() - start
        by_draft = {d: u for u, d in zip(scheduled, drafts, strict=True)}

        chats = set(groups.values())
        deadline = time.monotonic() + args.drain
        while True:
            created = await Ticket.all().count()
            seen = {
                r
                for chat in chats
                for m in fake.sent(chat)
                for r in REF.findall(m.plain_text or "")
            }
            if (created >= n and len(seen) >= n) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        step.cpu = cpu_used(cpu_before, cpu_snapshot(desk.pids()))

        first: dict[str, float] = {}
        for chat in chats:
            for m in fake.sent(chat):
                for ref in REF.findall(m.plain_text or ""):
                    first[ref] = min(first.get(ref, math.inf), m.ts)
        tickets = dict(await Ticket.all().values_list("id", "ref"))
        created_at = {
            ref: at.timestamp() for ref, at in await Ticket.all().values_list("ref", "created_at")
        }
        triage = set(await Ticket.filter(department_id__isnull=True).values_list("ref", flat=True))
        step.triaged = len(triage)
        ref_of = {d: tickets.get(t) for d, t in await Draft.all().values_list("id", "ticket_id")}
        arrivals: list[tuple[float, int]] = []
        for draft_id, update_id in by_draft.items():
            ref = ref_of.get(draft_id)
            at = posted.get(update_id)
            if ref is None or at is None or ref not in first:
                step.lost += 1
                continue
            step.latencies.append(first[ref] - at)
            step.processing.append(created_at[ref] - posted_wall[update_id])
            step.after.append(step.latencies[-1] - step.processing[-1])
            step.from_press.append(first[ref] - scheduled[update_id])
        # The ideal senders get the same arrivals, at the moment the 确认 reached the webhook.
        dept_of = dict(await Ticket.all().values_list("ref", "department__code"))
        for draft_id, update_id in by_draft.items():
            ref = ref_of.get(draft_id)
            code = dept_of.get(ref) if ref else None
            group = groups.get(code or "TRIAGE", TRIAGE_CHAT)
            arrivals.append((posted.get(update_id, scheduled[update_id]), group))
        step.ideal_digest = ideal(arrivals, merge=True)
        step.ideal_single = ideal(arrivals, merge=False)
        step.refused = len(limits.refused)
        group_msgs = [m for chat in chats for m in fake.sent(chat)]
        step.group_sends = len(group_msgs)
        step.digests = sum(1 for m in group_msgs if len(REF.findall(m.plain_text or "")) > 1)
        step.sends = len(limits.accepted)
        if limits.accepted:
            step.send_span = limits.accepted[-1][0] - limits.accepted[0][0]
        unsent = await OutboxMessage.filter(status__in=["pending", "sending"]).count()
        if unsent:
            log.info("%s %d/s: %d outbox rows still queued", backend, rate, unsent)
        if desk.errors():
            log.warning("%s %d/s: worker log errors:\n%s", backend, rate, "\n".join(desk.errors()))
    finally:
        holder = await desk.stop()
        await fake.stop()
        if redis_url:
            await _forget_redis(redis_url, token_id, list(posted), holder=holder)
    return step


class InProcessDesk:
    """The desk's aiohttp app in this process, as ``desk run`` has it."""

    def __init__(self, app: web.Application, runner: web.AppRunner) -> None:
        self.app, self.runner = app, runner
        self.route = app[CONFIG].router.route

    @classmethod
    async def start(cls, fake: FakeBotAPI, db_url: str, redis_url: str | None) -> InProcessDesk:
        port = _free_port()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url,
            redis_url=redis_url,
            telegram_token=fake.token,
            telegram_api_url=fake.base_url,
            admin_ids=frozenset({ADMIN_ID}),
            http_host="127.0.0.1",
            http_port=port,
            webhook_url=f"http://127.0.0.1:{port}/tg/hook",
            webhook_secret=SECRET,
            scheduler_interval=3600,
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return cls(app, runner)

    async def begin(self) -> None:
        """Already serving: the app started before the set-up (its migrations make the schema)."""

    def errors(self) -> list[str]:
        return []

    def pids(self) -> list[int]:
        return []  # the desk's CPU is this process's

    async def stop(self) -> str | None:
        """Stop the app; the scheduler lease holder id (to delete the lease it holds)."""
        holder = getattr(self.app.get(SHARED), "holder", None)
        await self.runner.cleanup()
        return holder


class WorkerDesk:
    """N ``desk run`` processes behind one webhook address (``tests/soak``'s workers).

    This process opens its own connection to the same database: for the set-up (migrations,
    groups, enterprises and drafts, written before the workers start) and to read the results.
    """

    def __init__(self, workers: list[Any], route: Any) -> None:
        self.workers, self.route = workers, route

    @classmethod
    async def start(
        cls,
        fake: FakeBotAPI,
        db_url: str,
        redis_url: str | None,
        n: int,
        *,
        backend: str,
        rate: int,
    ) -> WorkerDesk:
        from soak.soak_harness import Worker, free_port, worker_env

        from bot import db
        from desk.routing import build_router

        if redis_url is None:
            raise SystemExit("--workers needs PostgreSQL and Redis (several workers share them)")
        await db.connect(db_url)
        await db.prepare(db_url)
        router, _ = await build_router()
        log_dir = Path(tempfile.mkdtemp(prefix=f"bench-e2e-{backend}-{rate}-"))
        workers = []
        for i in range(n):
            port = free_port()
            env = worker_env(
                fake=fake,
                db_url=db_url,
                redis_url=redis_url,
                port=port,
                # As the in-process desk: the scheduler idle, the guide as by default, quiet logs.
                extra={
                    "DESK_SCHEDULER_INTERVAL": "3600",
                    "DESK_GUIDE_FIRST": "true",
                    "DESK_SENDER_INTERVAL": "0.5",
                    "DESK_LOG_LEVEL": "WARNING",
                },
            )
            workers.append(Worker(name=f"w{i}", env=env, port=port, log_dir=log_dir))
        desk = cls(workers, router.route)
        fake.webhook_targets = [w.url for w in workers]
        return desk

    async def begin(self) -> None:
        """Start the workers (after the set-up is written) and wait until all are ready."""
        for w in self.workers:
            await w.start()
        await asyncio.gather(*(w.wait_ready() for w in self.workers))

    def errors(self) -> list[str]:
        return [f"{w.name}: {line}" for w in self.workers for line in w.log_errors()]

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc is not None]

    async def stop(self) -> str | None:
        from bot import db

        for w in self.workers:
            if w.alive:
                await w.terminate()
            await w.ensure_stopped()
        await db.close()
        return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _forget_redis(
    url: str, token_id: int, update_ids: list[int], *, holder: str | None = None
) -> None:
    """Delete this run's keys (its token's send budget, processed-update markers, and the
    scheduler lease if this run's desk holds it)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        lease = "desk:lease:scheduler"
        if holder is not None and (await client.get(lease) or b"").decode() == holder:
            await client.delete(lease)
        keys = [k async for k in client.scan_iter(match=f"desk:send:{token_id}:*")]
        keys += [f"desk:upd:tg:{u}" for u in update_ids]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i : i + 1000])
    finally:
        await client.aclose()


log = logging.getLogger("bench.e2e")


def report(steps: list[Step], duration: float) -> None:
    print()
    print(
        f"确认 → card (or digest naming the ticket) in the group; {duration:.0f} s of load "
        "per step; seconds"
    )
    head = (
        f"{'db':10} {'rate/s':>6} {'sent':>5} {'got':>5} {'lost':>4} | {'p50':>6} "
        f"{'p99':>6} {'max':>6} | {'p99 from press':>14} | ideal digests p50/p99 | "
        f"ideal single cards p99 | group msgs (digests) | sends/s | 429s"
    )
    print(head)
    print("-" * len(head))
    for s in steps:
        p99 = pct(s.latencies, 0.99) if s.lost <= 0.01 * s.messages else math.inf
        print(
            f"{s.backend:10} {s.rate:6d} {s.messages:5d} {len(s.latencies):5d} "
            f"{s.lost:4d} | {pct(s.latencies, 0.5):6.2f} {p99:6.2f} "
            f"{max(s.latencies, default=math.nan):6.2f} | "
            f"{pct(s.from_press, 0.99):14.2f} | "
            f"{pct(s.ideal_digest, 0.5):9.2f} / {pct(s.ideal_digest, 0.99):5.2f}   | "
            f"{pct(s.ideal_single, 0.99):22.1f} | {s.group_sends:10d} ({s.digests:4d}) | "
            f"{s.sends / max(1.0, s.send_span):7.1f} | {s.refused:4d}"
        )
    print()
    print(
        "p99 ≤ 0.5 s is the target where the limits allow it. 'ideal digests': no sender can "
        "do better under Telegram's limits\n(no processing time, cards first, each group's "
        "waiting cards in one message as soon as the group may get one);\n'ideal single "
        "cards': the same when each card is its own message (20 per group per minute). "
        "A step with more than 1 % lost\nshows p99 as inf. 'sends/s': sendMessage calls "
        "accepted by the fake per second while sending (acks, cards,\ndigests); every ticket "
        "needs its ack too, so from 15 tickets/s on the bot's 30/s binds unless cards go "
        "first."
    )
    cores = os.cpu_count() or 1
    print(
        f"\nCPU per ticket (user + system, from the first 确认 to the last card; this machine "
        f"has {cores} cores, and every part below shares them):"
    )
    for s in steps:
        if not s.cpu or not s.messages:
            continue
        total = sum(s.cpu.values())
        parts = ", ".join(
            f"{name} {1000 * sec / s.messages:.1f} ms" for name, sec in s.cpu.items() if sec > 0
        )
        print(
            f"  {s.backend} {s.rate}/s: {1000 * total / s.messages:.1f} ms ({parts}); "
            f"{cores} cores at this cost serve at most {cores * s.messages / total:.0f} tickets/s"
        )
    for s in steps:
        if s.triaged:
            print(f"note: {s.backend} {s.rate}/s: {s.triaged} tickets went to triage")
        if s.latencies:
            print(
                f"{s.backend} {s.rate}/s: confirms posted over {s.load_seconds:.1f} s; "
                f"确认 → ticket committed p50 {pct(s.processing, 0.5):.2f} s, p99 "
                f"{pct(s.processing, 0.99):.2f} s; ticket committed → card p50 "
                f"{pct(s.after, 0.5):.2f} s, p99 {pct(s.after, 0.99):.2f} s"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="20,100,300")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per step")
    parser.add_argument(
        "--drain",
        type=float,
        default=60.0,
        help="seconds to wait for the last cards after the load",
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/12",
        help="a Redis database the tests do not flush (they use 15)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run the desk as N `desk run` processes behind one webhook address (PostgreSQL)",
    )
    parser.add_argument("--sqlite", action="store_true", help="also run every step on SQLite")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    steps: list[Step] = []
    if not args.no_pg:
        import asyncpg

        admin = await asyncpg.connect(args.pg.replace("postgres://", "postgresql://", 1))
        try:
            for rate in rates:
                name = f"desk_e2e_{uuid.uuid4().hex[:8]}"
                await admin.execute(f'CREATE DATABASE "{name}"')
                try:
                    url = args.pg.rsplit("/", 1)[0] + f"/{name}"
                    label = f"PG x{args.workers}w" if args.workers else "PostgreSQL"
                    steps.append(await run_step(label, url, args.redis, rate, args))
                finally:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                print(f"PostgreSQL {rate}/s done", flush=True)
        finally:
            await admin.close()
    if args.sqlite:
        for rate in rates:
            with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
                steps.append(
                    await run_step("SQLite", f"sqlite://{tmp}/desk.sqlite3", None, rate, args)
                )
            print(f"SQLite {rate}/s done", flush=True)
    report(steps, args.duration)


if __name__ == "__main__":
    asyncio.run(main())
