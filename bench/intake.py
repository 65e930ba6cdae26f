"""Durable intake benchmark: webhook updates/s with the inbox vs answering from memory only.

Both servers are the desk's real webhook handler on the same aiohttp stack, with the same
checks (secret in constant time, JSON, update_id); the memory-only one has its store step
replaced by nothing, the durable one stores each update in the inbox (committed) before
answering 200. The handling worker is not running, so what is measured is the acknowledgement
path. Clients and servers share one process and one event loop.

The two are measured in many short alternating rounds and the best round of each side is
compared: on a shared machine, load from elsewhere slows some rounds down, and the best of
many short rounds is what the code does when it has the CPU (the median ratio of neighbouring
rounds is printed too). It prints figures only.

    uv run python bench/intake.py [--n 500] [--rounds 30] [--concurrency 20] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bot import db  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.shared import DatabaseShared  # noqa: E402
from bot.telegram_channel import TelegramChannel  # noqa: E402
from desk.context import DeskConfig, utcnow  # noqa: E402
from models.system import InboxUpdate  # noqa: E402

SECRET = "bench-secret"


def update(n: int) -> dict[str, Any]:
    return {
        "update_id": n,
        "message": {
            "message_id": n,
            "date": 0,
            "chat": {"id": 10_000 + n % 500, "type": "private"},
            "from": {"id": 10_000 + n % 500, "is_bot": False, "first_name": "企业"},
            "text": "出口退税申报后退税款一直没到账，请帮忙查一下进度",
        },
    }


async def serve(handler: Any) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(port)


async def blast(
    http: aiohttp.ClientSession, port: int, n: int, concurrency: int, offset: int
) -> tuple[float, float]:
    """Send n updates over ``concurrency`` kept-alive connections; (seconds, CPU seconds)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(json.dumps(update(offset + i)))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    async def client() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with http.post(f"http://127.0.0.1:{port}/hook", data=body, headers=headers) as r:
                assert r.status == 200, r.status

    start, cpu = time.perf_counter(), time.thread_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - start, time.thread_time() - cpu


async def run(db_url: str, label: str, n: int, concurrency: int, rounds: int) -> None:
    await db.connect(db_url)
    await db.prepare(db_url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        telegram_token="123:BENCH",
        telegram_api_url="http://127.0.0.1:9/bot",
        webhook_url="http://127.0.0.1:8080/hook",
        webhook_secret=SECRET,
    )

    def channel() -> TelegramChannel:
        return TelegramChannel(
            settings=settings, cfg=DeskConfig(), shared=DatabaseShared(), clock=utcnow
        )

    def in_memory(payload: dict[str, Any], *, text: str | None = None) -> asyncio.Future[None]:
        kept.append(payload)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    kept: list[dict[str, Any]] = []
    memory = channel()
    memory._store = in_memory  # type: ignore[method-assign]
    mem_runner, mem_port = await serve(memory.webhook)
    dur_runner, dur_port = await serve(channel().webhook)
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    results: dict[str, list[tuple[float, float]]] = {"memory": [], "durable": []}
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            await blast(http, mem_port, 200, concurrency, 10_000_000)  # warm-up
            await blast(http, dur_port, 200, concurrency, 20_000_000)
            for r in range(rounds):  # alternate which side goes first, against drifts in load
                sides = [("memory", mem_port, 0), ("durable", dur_port, 30_000_000 + r * n)]
                for side, port, offset in sides[:: 1 if r % 2 else -1]:
                    results[side].append(await blast(http, port, n, concurrency, offset))
                kept.clear()
        stored = await InboxUpdate.filter(update_id__gte=30_000_000).count()
        assert stored == rounds * n, (stored, rounds * n)
    finally:
        await mem_runner.cleanup()
        await dur_runner.cleanup()
        await db.close()
    mem_rate = n / min(t for t, _ in results["memory"])
    dur_rate = n / min(t for t, _ in results["durable"])
    paired = statistics.median(
        m / d for (m, _), (d, _) in zip(results["memory"], results["durable"], strict=True)
    )
    cpu = {side: statistics.median(c for _, c in rows) / n * 1e6 for side, rows in results.items()}
    print(
        f"{label:10} memory-only {mem_rate:6.0f} updates/s | durable inbox {dur_rate:6.0f} "
        f"updates/s | ratio {dur_rate / mem_rate:.2f} (target ≥ 0.8) | median of round pairs "
        f"{paired:.2f} | CPU of the event loop per update {cpu['memory']:.0f} µs vs "
        f"{cpu['durable']:.0f} µs"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(
        f"{args.n} webhook updates a round, best of {args.rounds} rounds, "
        f"{args.concurrency} concurrent clients, one process"
    )
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite://{tmp}/bench.sqlite3", "SQLite", args.n, args.concurrency, args.rounds)
    import asyncpg

    name = f"desk_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.pg.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await run(
            args.pg.rsplit("/", 1)[0] + f"/{name}",
            "PostgreSQL",
            args.n,
            args.concurrency,
            args.rounds,
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
