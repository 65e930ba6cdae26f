"""Routing benchmark: quality on the held-out dev set, corpus cross-validation and speed.

This script owns the figures the routing issue asks for. On ``../shared/data/routing_dev.jsonl``
(never used for training: held-out figures) it prints top-1/top-3 accuracy, auto-dispatch share
and precision, request-type accuracy, urgency precision/recall, per-department recall and the
worst confusion pairs. It then prints 5-fold cross-validated figures on the project's own
corpus (each fold retrains model, blend and thresholds on the other folds), and speed: median
and p95 milliseconds per message on one core after load, start-up time of a fresh process
(import + ``Router.from_default()`` + first route) and that process's resident memory.
Figures only; it asserts nothing.

Run from the project root::

    uv run python bench/routing.py [--data PATH] [--skip-cv] [--errors]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nlp import Router, default_examples, evaluate  # noqa: E402
from nlp.evaluate import EvalReport  # noqa: E402
from nlp.train import cross_validate  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "routing_dev.jsonl"

_STARTUP_PROBE = """
import time
t0 = time.perf_counter()
from nlp import Router
router = Router.from_default()
router.route("我们厂刚刚停电了，生产线全停，请尽快派人抢修")
elapsed = time.perf_counter() - t0
import resource, sys
rss = 0
with open("/proc/self/status", encoding="ascii") as fh:
    for line in fh:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) // 1024
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
heavy = sorted(m for m in ("sklearn", "scipy", "jieba.analyse") if m in sys.modules)
print(f"{elapsed:.3f} {rss} {maxrss} {','.join(heavy) or '-'}")
"""


def load(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file of labelled messages."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass


def speed(router: Router, rows: list[dict[str, Any]], repeat: int) -> tuple[float, float]:
    """Median and p95 milliseconds per message after load."""
    for row in rows[:20]:
        router.route(row["text"])
    timings: list[float] = []
    for _ in range(repeat):
        for row in rows:
            start = time.perf_counter()
            router.route(row["text"])
            timings.append((time.perf_counter() - start) * 1e3)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95)]


def startup(runs: int) -> list[tuple[float, int, int, str]]:
    """Start fresh processes that load the router and route one message."""
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _STARTUP_PROBE],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        results.append((float(out[0]), int(out[1]), int(out[2]), out[3]))
    return results


def corpus_cv(folds: int) -> EvalReport:
    """Cross-validated figures on the project's corpus (full retraining per fold)."""
    examples = default_examples()
    report = EvalReport()
    for index, decision in cross_validate(examples, folds=folds):
        ex = examples[index]
        row: dict[str, Any] = {"text": ex.text, "department": ex.department}
        row.update(type=ex.type, urgent=ex.urgent)
        report.add(row, decision)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-cv", action="store_true", help="skip corpus cross-validation")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5, help="passes for the speed figure")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--errors", action="store_true", help="list misrouted messages")
    args = parser.parse_args(argv)

    _pin_one_core()
    rows = load(args.data)
    router = Router.from_default()
    print(f"model {router.model_version}, auto threshold {router.auto_threshold:.3f}")
    report = evaluate(router, rows)
    print(f"\n== held-out dev set: {args.data} (never trained on)")
    print(report.format())
    if args.errors:
        print("\nmisrouted:")
        for row, d in report.errors:
            print(
                f"  {row.get('id', '')} gold={row['department']}{row.get('alt') or ''} "
                f"got={d.candidates} auto={d.auto} terms={d.matched_terms}\n      {row['text']}"
            )

    median, p95 = speed(router, rows, args.repeat)
    print("\n== speed (one core, after load)")
    print(f"per message              : median {median:.3f} ms, p95 {p95:.3f} ms")
    probes = startup(args.startup_runs)
    best = min(probes)
    print(
        f"start-up (fresh process) : {', '.join(f'{p[0]:.2f}' for p in probes)} s "
        "(import + from_default + first route)"
    )
    print(f"RSS after load           : {best[1]} MB (VmRSS), peak {best[2]} MB")
    print(f"heavy modules loaded     : {best[3]}")

    if not args.skip_cv:
        start = time.perf_counter()
        cv = corpus_cv(args.folds)
        print(
            f"\n== corpus {args.folds}-fold cross-validation "
            f"({time.perf_counter() - start:.0f} s, full retraining per fold)"
        )
        print(cv.format())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
