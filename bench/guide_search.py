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
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nlp.guide_search import (  # noqa: E402
    GuideDoc,
    GuideIndex,
    SearchParams,
    evaluate,
    split_halves,
)

DEFAULT_DATA = ROOT / "nlp" / "data" / "guide_questions.jsonl"
DEFAULT_CATALOG = ROOT / "desk" / "defaults" / "guide.yaml"


def load_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_index(path: Path) -> GuideIndex:
    items = yaml.safe_load(path.read_text("utf-8"))
    return GuideIndex([GuideDoc.from_mapping(item) for item in items])


def tune(index: GuideIndex, rows: list[dict[str, Any]]) -> SearchParams:
    """Grid-search the weights, then the answer-first thresholds, on ``rows`` (the tuning half).

    Ranking: best top-1 (then top-3). Thresholds: most questions answered first with a
    precision of at least 0.97 and no none-set question answered, also when every threshold is
    loosened by a fifth (a safety margin: the tuning half's none set is small, and thresholds
    at the very edge of it do not generalise).
    """
    best = index.params
    best_key: tuple[float, ...] = (-1.0,)
    for bigram in (0.2, 0.35, 0.5):
        for title in (2.0, 3.0, 4.0):
            for alias in (1.5, 2.5, 3.5):
                params = replace(
                    best, bigram_weight=bigram, title_weight=title, alias_weight=alias
                )
                index.params = params
                f = evaluate(index, rows)
                key = (f.top1, f.top3)
                if key > best_key:
                    best, best_key = params, key
    ranking = best
    best_key = (-1.0,)
    for score in (3.0, 4.0, 5.0, 6.0):
        for coverage in (0.3, 0.4, 0.5, 0.6):
            for margin in (0.05, 0.1, 0.15, 0.2, 0.3):
                for case in (3.0, 4.0, 5.0, 6.0):
                    params = replace(
                        ranking,
                        min_score=score,
                        min_coverage=coverage,
                        min_margin=margin,
                        max_case_score=case,
                    )
                    index.params = params
                    f = evaluate(index, rows)
                    if f.answered_precision < 0.97 or f.none_false_answers > 0:
                        continue
                    index.params = replace(
                        params,
                        min_score=score * 0.8,
                        min_coverage=coverage * 0.8,
                        min_margin=margin * 0.8,
                        max_case_score=case * 1.2,
                    )
                    loose = evaluate(index, rows)
                    if loose.answered_precision < 0.97 or loose.none_false_answers > 0:
                        continue
                    key = (f.answered_share, f.answered_precision, -score)
                    if key > best_key:
                        best, best_key = params, key
    index.params = best
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--misses", action="store_true", help="list the top-1 misses")
    parser.add_argument("--tune", action="store_true", help="grid-search on the tuning half first")
    args = parser.parse_args()
    rows = load_rows(args.data)
    started = time.perf_counter()
    index = load_index(args.catalog)
    built = time.perf_counter() - started
    tune_rows, held = split_halves(rows)
    if args.tune:
        print(f"tuned on the tuning half: {tune(index, tune_rows)}")
    print(f"catalog: {len(index)} items (index built in {built:.2f} s, jieba included)")
    for title, part in (("tuning half", tune_rows), ("held-out half", held), ("all", rows)):
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
