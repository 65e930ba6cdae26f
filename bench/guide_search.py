"""Service-guide search benchmark over the labelled questions (``nlp/data/guide_questions.jsonl``).

Prints, for the tuning half, the held-out half and all questions: top-1 and top-3 accuracy (right
when the item is ``code`` or in ``alt``), the share of answerable questions answered first (above
the threshold and margin) and the precision of those answers, and the share of the none set
(questions a human must handle) answered anyway. Figures only; it asserts nothing. The weights
and thresholds were tuned on the tuning half only (odd positions); the held-out half tells how
well that generalises.

Run from the project root::

    uv run --frozen python bench/guide_search.py [--data PATH] [--catalog PATH] [--misses]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nlp.guide_search import GuideDoc, GuideIndex, evaluate, split_halves  # noqa: E402

DEFAULT_DATA = ROOT / "nlp" / "data" / "guide_questions.jsonl"
DEFAULT_CATALOG = ROOT / "desk" / "defaults" / "guide.yaml"


def load_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_index(path: Path) -> GuideIndex:
    items = yaml.safe_load(path.read_text("utf-8"))
    return GuideIndex([GuideDoc.from_mapping(item) for item in items])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--misses", action="store_true", help="list the top-1 misses")
    args = parser.parse_args()
    rows = load_rows(args.data)
    started = time.perf_counter()
    index = load_index(args.catalog)
    built = time.perf_counter() - started
    tune, held = split_halves(rows)
    print(f"catalog: {len(index)} items (index built in {built:.2f} s, jieba included)")
    for title, part in (("tuning half", tune), ("held-out half", held), ("all", rows)):
        started = time.perf_counter()
        figures = evaluate(index, part)
        per_query = (time.perf_counter() - started) / max(len(part), 1) * 1000
        print(figures.format(f"{title} ({per_query:.2f} ms/question):"))
        if args.misses and title != "all":
            for text, expected, got in figures.misses:
                print(f"    miss: {text}  expected {expected}, got {got}")
    if args.misses:
        print("none set answered anyway:")
        for row in rows:
            if row.get("code") == "none":
                result = index.search(row["text"])
                if result.answers_well and result.best is not None:
                    print(f"    {row['text']} -> {result.best.code}")


if __name__ == "__main__":
    main()
