"""Working-time benchmark: deadline computations and working-time spans per second.

Random starts over 2026 (a year with official data, its 调休 days included), the SLA amounts
of the issue (4 working hours, 1/2/10/15 working days, 2 hours) and spans of up to 30 days, as
the scheduler's 50 %/80 % checks need. It prints figures only; it asserts nothing.

Run from the project root::

    uv run python bench/worktime.py [--n 20000] [--seed 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desk.worktime import WorkCalendar  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")


def random_starts(rng: random.Random, n: int, year: int = 2026) -> list[dt.datetime]:
    """``n`` random aware moments in ``year`` (Shanghai), to the second."""
    first = dt.datetime(year, 1, 1, tzinfo=SH)
    seconds = 365 * 24 * 3600
    return [first + dt.timedelta(seconds=rng.randrange(seconds)) for _ in range(n)]


def rate(label: str, n: int, run: Callable[[], object]) -> None:
    """Time ``run`` (which does ``n`` operations) and print operations per second."""
    began = time.perf_counter()
    run()
    spent = time.perf_counter() - began
    print(f"{label:<52} {n / spent:>12,.0f} /s   ({spent * 1000:,.1f} ms for {n:,})")


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="operations per figure")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    n = args.n

    starts = random_starts(rng, n)
    hours = [rng.choice([1.0, 2.0, 4.0, 7.0, 14.0]) for _ in range(n)]
    days = [rng.choice([1, 2, 10, 15]) for _ in range(n)]
    ends = [s + dt.timedelta(seconds=rng.randrange(30 * 24 * 3600)) for s in starts]

    print(f"working-time benchmark, {n:,} random starts in 2026 (seed {args.seed})")

    cold = WorkCalendar()
    rate(
        "add_working_time(hours=…) cold calendar",
        n,
        lambda: [cold.add_working_time(s, hours=h) for s, h in zip(starts, hours, strict=True)],
    )
    cal = WorkCalendar()
    for day in range(400):  # warm the per-day caches, as a long-running desk would have them
        cal.day_info(dt.date(2026, 1, 1) + dt.timedelta(days=day))
    rate(
        "add_working_time(hours=1..14) warm",
        n,
        lambda: [cal.add_working_time(s, hours=h) for s, h in zip(starts, hours, strict=True)],
    )
    rate(
        "add_working_time(days=1..15) warm",
        n,
        lambda: [cal.add_working_time(s, days=d) for s, d in zip(starts, days, strict=True)],
    )
    rate(
        "working_seconds_between(span up to 30 days) warm",
        n,
        lambda: [cal.working_seconds_between(a, b) for a, b in zip(starts, ends, strict=True)],
    )
    rate("is_working_time warm", n, lambda: [cal.is_working_time(s) for s in starts])
    rate("next_working_moment warm", n, lambda: [cal.next_working_moment(s) for s in starts])
    estimated = sum(cal.add_working_time(s, days=15).estimated for s in starts)
    print(f"deadlines of 15 working days reaching into 2027 (estimated): {estimated:,} of {n:,}")


if __name__ == "__main__":
    main()
