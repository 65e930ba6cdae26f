"""Footprint of one worker: start-up to ready, and resident memory at idle and after load.

Runs ``desk run`` (``python -m bot.cli run``, configured through ``DESK_*`` variables) as a
subprocess, after ``desk init``, in two configurations:

* SQLite (a temporary file), Telegram on in polling mode;
* PostgreSQL (a fresh database) + Redis, Telegram on in webhook mode;

and, for the first start of a new installation, on an empty SQLite file without ``desk init``
(every migration applied at start-up; no load).

In all of them the Telegram channel talks to the fake Bot API of ``tests/fakebot``, served by this
process. Start-up is the time from spawning the process until ``/healthz`` answers 200 with the
Telegram channel on (targets: ready ≤ 3 s). RSS is ``VmRSS`` of the process and its children
from ``/proc`` (target ≤ 200 MB per worker), at idle and after a load of enterprises confirming
drafts (each creates a ticket: routing, the database, the outbox, the sender). It prints
figures only. Then, to say what the start-up is spent on, it times the steps of the same start
one by one in a fresh interpreter (imports, database, router, calendar, Telegram).

    uv run python bench/footprint.py [--load 300] [--rate 50] [--runs 3]
        [--pg postgres://postgres@127.0.0.1:5432/postgres] [--redis redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests", ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from fakebot import FakeBotAPI  # noqa: E402

READY_S, RSS_MB = 3.0, 200.0
SECRET = "bench-footprint-secret"


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        todo += [int(c) for c in children]
    return total


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def desk_env(
    db_url: str, *, fake: FakeBotAPI, port: int, webhook: bool, redis_url: str | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env.update(
        {
            "DESK_DATABASE_URL": db_url,
            "DESK_TELEGRAM_TOKEN": fake.token,
            "DESK_TELEGRAM_API_URL": fake.base_url,
            "DESK_HTTP_HOST": "127.0.0.1",
            "DESK_HTTP_PORT": str(port),
            "DESK_LOG_LEVEL": "WARNING",
            "DESK_POLL_TIMEOUT": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if webhook:
        env["DESK_WEBHOOK_URL"] = f"http://127.0.0.1:{port}/tg/hook"
        env["DESK_WEBHOOK_SECRET"] = SECRET
    if redis_url:
        env["DESK_REDIS_URL"] = redis_url
    return env


async def wait_ready(
    port: int, proc: asyncio.subprocess.Process, started: float
) -> tuple[float, dict[str, Any]]:
    """Seconds from spawn until /healthz says 200 with the Telegram channel on."""
    url = f"http://127.0.0.1:{port}/healthz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        while time.monotonic() - started < 60:
            if proc.returncode is not None:
                raise RuntimeError(f"desk run exited with {proc.returncode}")
            try:
                async with http.get(url) as r:
                    body = await r.json()
                    if r.status == 200 and body.get("telegram") not in (None, "off"):
                        return time.monotonic() - started, body
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            await asyncio.sleep(0.01)
    raise TimeoutError("desk run not ready")


async def seed_drafts(db_url: str, n: int) -> dict[int, int]:
    """Bind the department groups and give ``n`` enterprises a draft each (draft → user id)."""
    from e2e_latency import pick_texts, seed

    from bot import db
    from models.department import Department
    from models.ticket import Draft
    from nlp.router import default_router

    await db.connect(db_url)
    try:
        codes = list(
            await Department.filter(active=True).order_by("id").values_list("code", flat=True)
        )
        groups = {code: -1_001_000_000_000 - i for i, code in enumerate(codes)}
        groups["TRIAGE"] = -1_009_000_000_000
        texts = pick_texts(default_router().route, codes)
        await seed(n, texts, groups)
        return dict(await Draft.all().values_list("id", "member__tg_user_id"))
    finally:
        await db.close()


async def measure(
    label: str, db_url: str, *, webhook: bool, redis_url: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    from e2e_latency import _forget_redis, confirm

    env_base = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    init = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "init",
        cwd=ROOT,
        env={**env_base, "DESK_DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, init_err = await init.communicate()
    if init.returncode:
        raise RuntimeError(f"desk init failed: {init_err.decode()[-2000:]}")
    drafts = await seed_drafts(db_url, args.load)
    result: dict[str, Any] = {"label": label, "ready": [], "rss_idle": [], "rss_load": None}
    for run in range(args.runs):
        token_id = random.randint(10**9, 2 * 10**9)
        fake = FakeBotAPI(
            token=f"{token_id}:BENCH",
            webhook_retry=True,
            first_update_id=random.randint(10**9, 2 * 10**9),
        )
        injected: list[int] = []
        await fake.start()
        port = free_port()
        env = desk_env(db_url, fake=fake, port=port, webhook=webhook, redis_url=redis_url)
        started = time.monotonic()
        errors = tempfile.TemporaryFile()  # a pipe nobody reads could fill up and block it
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            ready, health = await wait_ready(port, proc, started)
            result["ready"].append(ready)
            result["health"] = health
            await asyncio.sleep(args.idle)
            result["rss_idle"].append(rss_kib(proc.pid) / 1024)
            if run == args.runs - 1 and drafts:  # the last start also gets the load
                t0 = time.monotonic()
                for i, (draft_id, user_id) in enumerate(sorted(drafts.items())):
                    delay = t0 + i / args.rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    update = await fake.inject_raw_update(
                        confirm(draft_id, user_id, fake.bot_user)
                    )
                    injected.append(int(update["update_id"]))
                peak = rss_kib(proc.pid)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    peak = max(peak, rss_kib(proc.pid))
                    answered = sum(1 for c in fake.calls if c.method == "answerCallbackQuery")
                    if answered >= len(drafts):
                        break
                    await asyncio.sleep(0.2)
                await asyncio.sleep(2)  # let the sender catch up a little
                result["handled"] = answered
                result["load_seconds"] = time.monotonic() - t0
                result["rss_load"] = max(peak, rss_kib(proc.pid)) / 1024
        finally:
            if proc.returncode is None:
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            errors.seek(0)
            err = errors.read().decode(errors="replace")
            errors.close()
            if proc.returncode not in (0, -15):
                print(f"[{label}] desk run exited {proc.returncode}: {err[-1500:]}")
            await fake.stop()
            if redis_url:
                await _forget_redis(redis_url, token_id, injected)
    return result


PHASES = r"""
import asyncio, json, sys, time
t0 = time.perf_counter()
marks = {}
def mark(name):
    marks[name] = time.perf_counter() - t0 - sum(marks.values())
import aiohttp, aiohttp.web
mark("import aiohttp")
import telegram, telegram.ext
mark("import telegram (PTB)")
import tortoise, asyncpg, redis.asyncio
mark("import tortoise, asyncpg, redis")
import jieba
mark("import jieba")
import nlp
mark("import nlp (rest)")
import bot.app
mark("import bot.app (rest)")
from bot import db
from bot.settings import load_settings
from desk.worktime import load_calendar
settings = load_settings()
async def main():
    await db.connect(settings.database_url)
    mark("database connect")
    await db.prepare(settings.database_url)
    mark("migrations + defaults")
    holder = bot.app.desk_config(settings).router
    await holder.refresh()
    mark("router from the database (model, rules, jieba dictionary)")
    holder.route("出口退税申报后退税款一直没到账")
    mark("first route")
    await load_calendar()
    mark("working-day calendar")
    from bot.shared import make_shared
    from bot.telegram_channel import TelegramChannel
    shared = make_shared(settings.redis_url)
    channel = TelegramChannel(settings=settings, cfg=bot.app.desk_config(settings),
                              shared=shared, clock=bot.app.utcnow)
    mark("Telegram channel built (PTB application, handlers)")
    await channel.app.initialize()
    mark("PTB initialize (getMe)")
    await db.close()
asyncio.run(main())
print(json.dumps(marks))
"""


async def phases(db_url: str) -> dict[str, float]:
    """Where a start-up's time goes: the same steps, timed one by one in a fresh interpreter."""
    fake = FakeBotAPI(token=f"{random.randint(10**9, 2 * 10**9)}:BENCH")
    await fake.start()
    try:
        env = desk_env(db_url, fake=fake, port=free_port(), webhook=False, redis_url=None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PHASES,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(err.decode()[-2000:])
        return dict(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        await fake.stop()


async def first_start(runs: int, idle: float) -> dict[str, Any]:
    """``desk run`` on an empty SQLite file (no ``desk init``): it applies every migration."""
    result: dict[str, Any] = {"label": "SQLite, first start (empty)", "ready": [], "rss_idle": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-footprint-first-") as tmp:
            fake = FakeBotAPI(token=f"{random.randint(10**9, 2 * 10**9)}:BENCH")
            await fake.start()
            port = free_port()
            env = desk_env(
                f"sqlite://{tmp}/desk.sqlite3", fake=fake, port=port, webhook=False, redis_url=None
            )
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                ready, _ = await wait_ready(port, proc, started)
                result["ready"].append(ready)
                await asyncio.sleep(idle)
                result["rss_idle"].append(rss_kib(proc.pid) / 1024)
            finally:
                proc.terminate()
                await proc.wait()
                await fake.stop()
    return result


async def interpreter_start() -> float:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await proc.wait()
    return time.monotonic() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, default=300, help="tickets created under load")
    parser.add_argument("--rate", type=float, default=50, help="confirms per second")
    parser.add_argument("--runs", type=int, default=3, help="starts per configuration")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle before RSS")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/12",
        help="a Redis database the tests do not flush (they use 15)",
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        sqlite_url = f"sqlite://{tmp}/desk.sqlite3"
        results.append(
            await measure("SQLite, polling", sqlite_url, webhook=False, redis_url=None, args=args)
        )
        split = await phases(sqlite_url)
    first = await first_start(args.runs, args.idle)
    import asyncpg

    name = f"desk_footprint_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.pg.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        pg_url = args.pg.rsplit("/", 1)[0] + f"/{name}"
        results.append(
            await measure(
                "PostgreSQL + Redis, webhook",
                pg_url,
                webhook=True,
                redis_url=args.redis,
                args=args,
            )
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print(
        f"\ndesk run, one worker; {args.runs} starts per configuration; load: {args.load} "
        f"tickets at {args.rate:.0f}/s"
    )
    print(f"{'configuration':30} {'ready (s)':>22} {'RSS idle (MB)':>14} {'RSS load (MB)':>14}")
    for r in results:
        ready = r["ready"]
        rdy = f"{statistics.median(ready):.2f} ({min(ready):.2f}–{max(ready):.2f})"
        load = f"{r['rss_load']:.0f}" if r["rss_load"] is not None else "-"
        print(f"{r['label']:30} {rdy:>22} {statistics.median(r['rss_idle']):14.0f} {load:>14}")
    ready = first["ready"]
    rdy = f"{statistics.median(ready):.2f} ({min(ready):.2f}–{max(ready):.2f})"
    print(f"{first['label']:30} {rdy:>22} {statistics.median(first['rss_idle']):14.0f} {'-':>14}")
    print(
        f"targets: ready ≤ {READY_S:.0f} s, RSS ≤ {RSS_MB:.0f} MB per worker "
        "(RSS includes child processes; there are none today)"
    )
    for r in results:
        if "handled" in r:
            print(
                f"{r['label']}: {r['handled']} of {args.load} confirms answered in "
                f"{r['load_seconds']:.1f} s; health {r['health']}"
            )
    print(
        f"\nwhere a start goes (SQLite, timed step by step in a fresh interpreter; the "
        f"interpreter itself {await interpreter_start():.2f} s):"
    )
    for phase, seconds in sorted(split.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds:6.2f} s  {phase}")


if __name__ == "__main__":
    asyncio.run(main())
