"""Durable intake benchmark: webhook updates/s with the inbox vs answering from memory only.

Both servers run the same aiohttp stack and the same checks (secret in constant time, JSON,
update_id); the durable one is the desk's real webhook handler, which stores each update in the
inbox before answering 200. The handling worker is not running, so what is measured is the
acknowledgement path. It prints figures only.

    uv run python bench/intake.py [--n 2000] [--concurrency 20] [--pg postgres://…/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
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

SECRET = "bench-secret"


def update(n: int) -> dict[str, Any]:
    return {
        "update_id": n,
        "message": {
            "message_id": n, "date": 0, "chat": {"id": 10_000 + n % 500, "type": "private"},
            "from": {"id": 10_000 + n % 500, "is_bot": False, "first_name": "企业"},
            "text": "出口退税申报后退税款一直没到账，请帮忙查一下进度",
        },
    }


async def memory_only(request: web.Request) -> web.Response:
    secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(secret.encode(), SECRET.encode()):
        return web.json_response({"ok": False}, status=403)
    data = await request.json()
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return web.json_response({"ok": False}, status=400)
    return web.json_response({"ok": True})


async def serve(handler: Any) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(port)


async def blast(port: int, n: int, concurrency: int, offset: int) -> float:
    bodies = [json.dumps(update(offset + i)) for i in range(n)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:

        async def client() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(f"http://127.0.0.1:{port}/hook", data=body,
                                     headers=headers) as r:
                    assert r.status == 200, r.status

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return time.perf_counter() - start


async def run(db_url: str, label: str, n: int, concurrency: int) -> None:
    await db.connect(db_url)
    await db.prepare(db_url)
    try:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url, telegram_token="123:BENCH",
            telegram_api_url="http://127.0.0.1:9/bot",
            webhook_url="http://127.0.0.1:8080/hook", webhook_secret=SECRET,
        )
        channel = TelegramChannel(settings=settings, cfg=DeskConfig(), shared=DatabaseShared(),
                                  clock=utcnow)
        mem_runner, mem_port = await serve(memory_only)
        dur_runner, dur_port = await serve(channel.webhook)
        await blast(mem_port, 200, concurrency, 10_000_000)  # warm-up
        await blast(dur_port, 200, concurrency, 20_000_000)
        memory = await blast(mem_port, n, concurrency, 0)
        durable = await blast(dur_port, n, concurrency, 30_000_000)
        await mem_runner.cleanup()
        await dur_runner.cleanup()
        mem_rate, dur_rate = n / memory, n / durable
        print(f"{label:10} memory-only {mem_rate:8.0f} updates/s | durable inbox "
              f"{dur_rate:8.0f} updates/s | ratio {dur_rate / mem_rate:.2f} (target ≥ 0.8)")
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"{args.n} webhook updates, {args.concurrency} concurrent clients, one process")
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite://{tmp}/bench.sqlite3", "SQLite", args.n, args.concurrency)
    import asyncpg

    name = f"desk_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.pg.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await run(args.pg.rsplit("/", 1)[0] + f"/{name}", "PostgreSQL", args.n, args.concurrency)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
