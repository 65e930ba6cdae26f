"""Reports benchmark: /stats, /rank and the monthly briefing on a million-ticket PostgreSQL.

It creates a fresh PostgreSQL database, migrates it (``bot.db.connect`` + ``prepare``: schema and
the 19 default departments) and bulk-loads, with binary COPY through a raw asyncpg connection,
``--tickets`` tickets (default 1,000,000) spread over 24 months up to now, with their event log
(create, dispatch, claim, transfer, return, urge, progress, resolve, rate s1/s0 m3/m2/m1, reopen,
close, ...: several million rows) and the enterprises and members they come from. Each ticket
is a simulated story (data in ``bench/reports_data.py``): routed automatically or through the
hotline office, claimed, sometimes transferred, returned or urged, resolved, rated in the
return visit and closed or reopened; stories that reach the present stop there, so recent
tickets are still open and some are overdue. Request texts are the project's corpus
(``nlp/data/corpus``) and ``../shared/data/routing_dev.jsonl``, so text clustering sees real
requests. After the load: VACUUM ANALYZE (the state autovacuum keeps a live database in); it
prints the load time and the table sizes.

It then times, several repetitions each (median and max, and the ratio to the target):

* ``/stats`` = ``desk.stats.compute`` for today, this week, this month and last month, and for
  one department (last month); ``/rank`` = compute + ``league`` for last month. Target 300 ms.
* the monthly briefing ``desk.briefing.monthly_briefing`` for last month (target 15 s; DOCX
  size) and ``desk.briefing.tickets_workbook``, when ``desk.briefing`` exists; otherwise it says
  that they were skipped.

Every SQL statement the ORM sends is recorded (per-query times); a case that misses its target
(or every case with ``--explain``) gets each of its queries run under ``EXPLAIN (ANALYZE,
BUFFERS)`` and the plan's key lines printed. Figures only; it asserts nothing.

Run from the project root::

    uv run --frozen python bench/reports.py [--tickets 1000000] [--enterprises 20000]
        [--reps 7] [--briefing-reps 3] [--explain] [--keep] [--db-url URL] [--pg ADMIN_URL]

``--keep`` keeps the database and prints its URL; ``--db-url URL`` reuses it (loaded only when
its ticket table is empty; the database is then never dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import importlib.util
import os
import re
import statistics
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import asyncpg  # noqa: E402
from reports_data import TZ, load  # noqa: E402
from tortoise.backends.asyncpg.client import AsyncpgDBClient  # noqa: E402

from bot import db  # noqa: E402
from desk import stats  # noqa: E402

STATS_TARGET = 0.300
BRIEFING_TARGET = 15.0
TABLES = ("ticket", "ticket_event", "enterprise", "member")


def pg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


# ----------------------------------------------------------------------------- SQL capture


class QueryLog:
    """Records every statement the ORM sends through asyncpg: (sql, values, seconds)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, list[Any], float]] = []
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> QueryLog:
        for name in ("execute_query", "execute_query_dict"):
            original = getattr(AsyncpgDBClient, name)
            self._saved[name] = original

            def wrap(original: Any = original) -> Any:
                async def timed(client: Any, query: str, values: list | None = None) -> Any:
                    start = time.perf_counter()
                    try:
                        return await original(client, query, values)
                    finally:
                        self.rows.append((query, list(values or []), time.perf_counter() - start))

                return timed

            setattr(AsyncpgDBClient, name, wrap())
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            setattr(AsyncpgDBClient, name, original)

    @property
    def seconds(self) -> float:
        return sum(s for _, _, s in self.rows)


def label(sql: str) -> str:
    """A short name for a statement: its table, range column, grouping."""
    tables = list(dict.fromkeys(re.findall(r'(?:FROM|JOIN) "(\w+)"', sql)))
    column = re.search(r'"(\w+)">=\$\d', sql)
    extra = " open, past due" if '"status" IN' in sql and "<" in sql and not column else ""
    group = re.search(r"GROUP BY (.+?)(?: ORDER| LIMIT|$)", sql)
    parts = ["+".join(tables) if tables else sql[:40]]
    if column:
        parts.append(f"by {column.group(1)}")
    if group:
        parts.append(f"group {group.group(1).replace(chr(34), '')}")
    return " ".join(parts) + extra


KEY = (
    "Scan",
    "Index Cond",
    "Recheck Cond",
    "Filter:",
    "Rows Removed",
    "Heap Blocks",
    "Heap Fetches",
    "Buffers",
    "Workers Launched",
    "Execution Time",
)


async def explain(conn: asyncpg.Connection, log: QueryLog, indent: str = "      ") -> None:
    """Each recorded SELECT under EXPLAIN (ANALYZE, BUFFERS): time and the plan's key lines."""
    seen: set[str] = set()
    for sql, values, seconds in log.rows:
        if sql in seen or not sql.lstrip().upper().startswith("SELECT"):
            continue
        seen.add(sql)
        plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)]
        print(f"{indent}{seconds * 1000:7.1f} ms in the run  {label(sql)}")
        print(f"{indent}    {plan[0].strip()[:150]}")
        buffers = False
        for line in plan[1:]:
            if line.strip().startswith("Buffers"):  # only the totals (the top node's)
                if buffers:
                    continue
                buffers = True
            if any(k in line for k in KEY):
                print(f"{indent}    {line.strip()[:150]}")


# ----------------------------------------------------------------------------- timing


def verdict(seconds: float, target: float) -> str:
    ratio = seconds / target
    return f"{ratio:.2f}× target {'ok' if ratio <= 1 else 'MISSED'}"


async def repeat(fn: Callable[[], Awaitable[Any]], reps: int) -> tuple[float, list[float], Any]:
    """The first call (cold) and ``reps`` more; returns (first, times, last result)."""
    start = time.perf_counter()
    result = await fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - start)
    return first, times, result


async def bench_stats(
    conn: asyncpg.Connection, now: dt.datetime, args: argparse.Namespace
) -> None:
    last = stats.parse_period("lastmonth", now=now, tz=TZ)
    dept = await conn.fetchrow("SELECT id, code FROM department WHERE code = 'TAX'")
    cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
    for word in ("today", "week", "month"):
        period = stats.parse_period(word, now=now, tz=TZ)
        cases.append(
            (f"/stats {word} ({period.label})", lambda p=period: stats.compute(p, now=now))
        )
    cases.append((f"/stats {last.key} (last month)", lambda: stats.compute(last, now=now)))
    cases.append(
        (
            f"/stats {last.key} {dept['code']} only",
            lambda: stats.compute(last, now=now, department_id=dept["id"]),
        )
    )

    async def rank() -> Any:
        return await stats.league(await stats.compute(last, now=now))

    cases.append((f"/rank {last.key} (compute + league)", rank))

    for period in (last, stats.parse_period("month", now=now, tz=TZ)):
        f = (await stats.compute(period, now=now)).total

        def show(value: float | None, form: str) -> str:
            return "—" if value is None else format(value, form)

        rates = " ".join(
            f"{name.removesuffix('_rate')} {show(getattr(f, name), '.1%')}"
            for name in (
                "response_rate",
                "on_time_rate",
                "resolution_rate",
                "satisfaction_rate",
                "reopen_rate",
                "return_rate",
            )
        )
        print(
            f"data check, {period.label}: received {f.received:,}, dispatched "
            f"{f.dispatched:,}, resolved {f.resolved:,} | {rates} | overdue {f.overdue:,}, "
            f"open past due {f.open_overdue:,} | avg working hours to claim "
            f"{show(f.avg_claim_hours, '.1f')}, to resolve {show(f.avg_resolve_hours, '.1f')}"
        )
    print(
        f"\n/stats and /rank: first call, then median and max of {args.reps} "
        f"(target {STATS_TARGET * 1000:.0f} ms)"
    )
    for name, fn in cases:
        first, times, result = await repeat(fn, args.reps)
        med, worst = statistics.median(times), max(times)
        figures = result.total if isinstance(result, stats.Report) else None
        what = (
            f"received {figures.received}, resolved {figures.resolved}"
            if figures
            else f"{len(result)} departments ranked"
        )
        print(
            f"  {name:38} first {first * 1000:6.1f} ms | median {med * 1000:6.1f} ms | "
            f"max {worst * 1000:6.1f} ms | {verdict(med, STATS_TARGET)} | {what}"
        )
        with QueryLog() as log:
            await fn()
        slowest = sorted(log.rows, key=lambda r: -r[2])[:3]
        print(
            f"      {len(log.rows)} queries, {log.seconds * 1000:.1f} ms waiting for them; "
            "slowest: " + "; ".join(f"{label(s)} {t * 1000:.1f} ms" for s, _, t in slowest)
        )
        if med > STATS_TARGET or args.explain:
            await explain(conn, log)


async def bench_briefing(
    conn: asyncpg.Connection, now: dt.datetime, args: argparse.Namespace
) -> None:
    last = stats.parse_period("lastmonth", now=now, tz=TZ)
    print(f"\nMonthly briefing for {last.label} (target {BRIEFING_TARGET:.0f} s)")
    if importlib.util.find_spec("desk.briefing") is None:
        print(
            "  SKIPPED: desk/briefing.py does not exist yet; rerun when it does "
            "(--keep / --db-url saves the load)."
        )
        return
    try:
        briefing = importlib.import_module("desk.briefing")
    except Exception:
        print("  SKIPPED: desk.briefing exists but does not import:")
        traceback.print_exc(file=sys.stdout)
        return
    monthly = getattr(briefing, "monthly_briefing", None)
    workbook = getattr(briefing, "tickets_workbook", None)
    if monthly is None:
        print("  SKIPPED: desk.briefing has no monthly_briefing yet.")
    else:
        try:
            with QueryLog() as log:
                first, times, result = await repeat(
                    lambda: monthly(period=last, now=now, tz=TZ), args.briefing_reps - 1
                )
            runs = [first, *times]
            med = statistics.median(runs)
            print(
                f"  monthly_briefing: first (cold process) {first:.2f} s, "
                f"{verdict(first, BRIEFING_TARGET)} | runs "
                f"{', '.join(f'{t:.2f}' for t in runs)} s | median {med:.2f} s, "
                f"{verdict(med, BRIEFING_TARGET)} | max {max(runs):.2f} s"
            )
            print(
                f"      DOCX {len(result.docx) / 1024:.0f} KiB, {result.filename!r}; "
                f"summary: {str(result.summary)[:160]!r}"
            )
            report_queries(log, len(runs))
            if max(runs) > BRIEFING_TARGET or args.explain:
                await explain(conn, slowest_log(log, 5))
        except Exception:
            print("  monthly_briefing FAILED:")
            traceback.print_exc(file=sys.stdout)
    if workbook is None:
        print("  SKIPPED: desk.briefing has no tickets_workbook yet.")
        return
    try:
        with QueryLog() as log:
            first, times, data = await repeat(
                lambda: workbook(period=last, tz=TZ), args.briefing_reps - 1
            )
        times = [first, *times]
        print(
            f"  tickets_workbook: runs {', '.join(f'{t:.2f} s' for t in times)} | median "
            f"{statistics.median(times):.2f} s | {len(data) / 1024:.0f} KiB (no target)"
        )
        report_queries(log, len(times))
        if statistics.median(times) > BRIEFING_TARGET or args.explain:
            await explain(conn, slowest_log(log, 3))
    except Exception:
        print("  tickets_workbook FAILED:")
        traceback.print_exc(file=sys.stdout)


def slowest_log(log: QueryLog, n: int) -> QueryLog:
    """The ``n`` slowest distinct statements of ``log`` (each at its slowest)."""
    worst: dict[str, tuple[str, list[Any], float]] = {}
    for row in log.rows:
        if row[0] not in worst or row[2] > worst[row[0]][2]:
            worst[row[0]] = row
    out = QueryLog()
    out.rows = sorted(worst.values(), key=lambda r: -r[2])[:n]
    return out


def report_queries(log: QueryLog, runs: int) -> None:
    slowest = slowest_log(log, 5).rows
    print(
        f"      {len(log.rows) / runs:.0f} queries a run, {log.seconds / runs:.2f} s a run "
        "waiting for them; slowest: "
        + "; ".join(f"{label(s)} {t * 1000:.0f} ms" for s, _, t in slowest)
    )


# ----------------------------------------------------------------------------- main


async def sizes(conn: asyncpg.Connection) -> None:
    print("table sizes:")
    for table in TABLES:
        row = await conn.fetchrow(
            f"SELECT count(*) AS n, pg_relation_size('{table}') AS heap, "
            f"pg_indexes_size('{table}') AS idx, pg_total_relation_size('{table}') AS total "
            f"FROM {table}"
        )
        print(
            f"  {table:13} {row['n']:>10,} rows | heap {row['heap'] / 2**20:7.0f} MiB | "
            f"indexes {row['idx'] / 2**20:6.0f} MiB | total {row['total'] / 2**20:7.0f} MiB"
        )
    total = await conn.fetchval("SELECT pg_database_size(current_database())")
    print(f"  database total {total / 2**20:.0f} MiB")


async def run(db_url: str, args: argparse.Namespace) -> None:
    await db.connect(db_url)
    try:
        await db.prepare(db_url)
        conn = await asyncpg.connect(pg_url(db_url))
        try:
            if await conn.fetchval("SELECT count(*) FROM ticket") == 0:
                now = dt.datetime.now(dt.UTC).replace(microsecond=0)
                await load(
                    conn,
                    now=now,
                    tickets=args.tickets,
                    enterprises=args.enterprises,
                    months=args.months,
                    seed=args.seed,
                )
            else:
                now = await conn.fetchval("SELECT max(at) FROM ticket_event")
                now = now + dt.timedelta(seconds=1)
                print(
                    f"reusing the loaded database; now = its last event + 1 s, "
                    f"{now:%Y-%m-%d %H:%M} UTC"
                )
            await sizes(conn)
            settings = await conn.fetch(
                "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN "
                "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather')"
            )
            print(
                "server: "
                + ", ".join(f"{r['name']}={r['value']}" for r in settings)
                + f"; {os.cpu_count()} CPUs, load average now "
                + " ".join(f"{x:.1f}" for x in os.getloadavg())
                + " (other work on the machine inflates the timings)"
            )
            await bench_stats(conn, now, args)
            await bench_briefing(conn, now, args)
        finally:
            await conn.close()
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--reps", type=int, default=7, help="timed /stats and /rank runs")
    parser.add_argument(
        "--briefing-reps",
        type=int,
        default=3,
        help="runs of the briefing and of the workbook (≥ 1)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="EXPLAIN ANALYZE every case, not only those missing the target",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database for reruns")
    parser.add_argument("--db-url", help="reuse this database (loaded only if empty)")
    parser.add_argument(
        "--pg",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="administrative connection, to create and drop the database",
    )
    args = parser.parse_args()
    args.briefing_reps = max(1, args.briefing_reps)
    if args.db_url:
        await run(args.db_url, args)
        return
    name = f"desk_bench_reports_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_url(args.pg))
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_url = args.pg.rsplit("/", 1)[0] + f"/{name}"
    try:
        await run(db_url, args)
    finally:
        if args.keep:
            print(
                f"\nkept the database; rerun with --db-url {db_url}\n"
                f"drop it with: psql {args.pg} -c 'DROP DATABASE \"{name}\" WITH (FORCE)'"
            )
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
