"""Routing benchmark over the labelled development set.

This script owns the routing figures the team quotes: department top-1 and top-3 accuracy
(a prediction is right when it equals ``department`` or is listed in ``alt``), request type
accuracy, urgency precision and recall, the share of automatic dispatch and its accuracy, a
per-department table and throughput. It prints figures only; it asserts nothing.

Run from the project root::

    uv run python bench/route_eval.py [--data PATH] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nlp import RouteDecision, Router  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "routing_dev.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file of labelled messages."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def is_right(code: str, row: dict[str, Any]) -> bool:
    """Whether ``code`` is an acceptable department for ``row``."""
    return code == row["department"] or code in row.get("alt", [])


def _pct(num: int, den: int) -> str:
    return f"{num / den:6.1%} ({num}/{den})" if den else "   n/a"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--errors", action="store_true", help="list misrouted messages")
    parser.add_argument("--type-errors", action="store_true", help="list wrong request types")
    parser.add_argument("--urgent-errors", action="store_true", help="list urgency mistakes")
    parser.add_argument("--repeat", type=int, default=5, help="passes for the throughput figure")
    args = parser.parse_args(argv)

    rows = load(args.data)
    router = Router.from_default()
    router.route("预热")  # load jieba and compile rules outside the timing

    decisions: list[RouteDecision] = [router.route(r["text"]) for r in rows]
    n = len(rows)
    top1 = sum(is_right(d.department, r) for d, r in zip(decisions, rows, strict=True))
    top3 = sum(
        any(is_right(c, r) for c, _ in d.candidates) for d, r in zip(decisions, rows, strict=True)
    )
    type_ok = sum(d.type == r["type"] for d, r in zip(decisions, rows, strict=True))
    tp = sum(d.urgent and r["urgent"] for d, r in zip(decisions, rows, strict=True))
    fp = sum(d.urgent and not r["urgent"] for d, r in zip(decisions, rows, strict=True))
    fn = sum(not d.urgent and r["urgent"] for d, r in zip(decisions, rows, strict=True))
    autos = [(d, r) for d, r in zip(decisions, rows, strict=True) if d.auto]
    auto_ok = sum(is_right(d.department, r) for d, r in autos)

    print(f"data: {args.data} ({n} messages)")
    print(f"department top-1 accuracy : {_pct(top1, n)}")
    print(f"department top-3 accuracy : {_pct(top3, n)}")
    print(f"request type accuracy     : {_pct(type_ok, n)}")
    print(f"urgent precision          : {_pct(tp, tp + fp)}")
    print(f"urgent recall             : {_pct(tp, tp + fn)}")
    print(f"auto share                : {_pct(len(autos), n)}")
    print(f"accuracy among auto       : {_pct(auto_ok, len(autos))}")
    manual = [(d, r) for d, r in zip(decisions, rows, strict=True) if not d.auto]
    manual_ok = sum(is_right(d.department, r) for d, r in manual)
    print(f"accuracy among non-auto   : {_pct(manual_ok, len(manual))}")

    print("\nconfidence calibration")
    for lo, hi in ((0.0, 0.4), (0.4, 0.6), (0.6, 0.75), (0.75, 0.9), (0.9, 1.01)):
        band = [(d, r) for d, r in zip(decisions, rows, strict=True) if lo <= d.confidence < hi]
        ok = sum(is_right(d.department, r) for d, r in band)
        print(f"  [{lo:.2f}, {min(hi, 1.0):.2f}) {_pct(ok, len(band))}")

    print("\nper department (gold)  accuracy          predicted as this")
    by_gold: Counter[str] = Counter(r["department"] for r in rows)
    ok_gold: Counter[str] = Counter(
        r["department"] for d, r in zip(decisions, rows, strict=True) if is_right(d.department, r)
    )
    predicted: Counter[str] = Counter(d.department for d in decisions)
    for code in sorted(by_gold):
        print(f"  {code}  {_pct(ok_gold[code], by_gold[code]):>16}   {predicted[code]:3d}")

    print("\ntype confusion (gold -> predicted)")
    confusion: Counter[tuple[str, str]] = Counter(
        (r["type"], d.type) for d, r in zip(decisions, rows, strict=True) if d.type != r["type"]
    )
    for (gold, pred), count in confusion.most_common():
        print(f"  {gold} -> {pred}: {count}")

    start = time.perf_counter()
    for _ in range(args.repeat):
        for r in rows:
            router.route(r["text"])
    elapsed = time.perf_counter() - start
    total = n * args.repeat
    print(f"\nthroughput: {total / elapsed:,.0f} messages/s ({elapsed / total * 1e3:.2f} ms each)")

    pairs = list(zip(decisions, rows, strict=True))
    if args.errors:
        print("\nmisrouted:")
        for d, r in pairs:
            if not is_right(d.department, r):
                print(
                    f"  {r['id']} gold={r['department']}{r.get('alt') or ''} got={d.candidates}"
                    f" terms={d.matched_terms}\n      {r['text']}"
                )
    if args.type_errors:
        print("\nwrong type:")
        for d, r in pairs:
            if d.type != r["type"]:
                print(f"  {r['id']} gold={r['type']} got={d.type}  {r['text']}")
    if args.urgent_errors:
        print("\nwrong urgency:")
        for d, r in pairs:
            if d.urgent != r["urgent"]:
                print(f"  {r['id']} gold={r['urgent']} got={d.urgent}  {r['text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
