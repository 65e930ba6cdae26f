"""The ``desk`` command: ``init``, ``run``, ``route``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from .settings import load_settings


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("tortoise").setLevel(logging.WARNING)


async def _init() -> None:
    from . import db

    settings = load_settings()
    await db.connect(settings.database_url)
    try:
        counts = await db.prepare(settings.database_url)
    finally:
        await db.close()
    print(
        f"数据库已就绪 / database ready ({settings.database_url.split('://')[0]}): "
        f"{counts['created']} departments created, {counts['kept']} kept"
    )


def _run() -> None:
    from aiohttp import web

    from .app import create_app

    settings = load_settings()
    _logging(settings.log_level)
    app = create_app(settings)
    print(f"teda-desk on http://{settings.http_host}:{settings.http_port}  (health: /healthz)")
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)


def route_lines(lines: Any, out: Any) -> int:
    """Route JSON lines (``{"text": …, "id": …}``) to JSON lines; returns the error count."""
    from nlp import Router

    router = Router.from_default()
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('each line needs a "text" string')
        except ValueError as exc:
            errors += 1
            out.write(
                json.dumps({"id": None, "error": f"bad input line: {exc}"}, ensure_ascii=False)
                + "\n"
            )
            continue
        d = router.route(item["text"])
        out.write(
            json.dumps(
                {
                    "id": item.get("id"),
                    "department": d.department,
                    "confidence": round(d.confidence, 4),
                    "type": d.type,
                    "urgent": d.urgent,
                    "auto": d.auto,
                    "candidates": [[c, round(s, 4)] for c, s in d.candidates],
                    "matched_terms": list(d.matched_terms),
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        out.flush()
    return errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="desk", description="teda-desk 企业服务热线工单系统")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the schema and load default departments")
    sub.add_parser("run", help="run web, Telegram bot, sender and scheduler in one process")
    sub.add_parser("route", help="route JSON lines from stdin (text, id) to JSON lines")
    args = parser.parse_args(argv)
    if args.command == "init":
        _logging("WARNING")
        asyncio.run(_init())
    elif args.command == "run":
        _run()
    elif args.command == "route":
        errors = route_lines(sys.stdin, sys.stdout)
        if errors:
            print(f"{errors} bad input line(s)", file=sys.stderr)
            sys.exit(1)
