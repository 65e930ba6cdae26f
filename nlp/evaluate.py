"""Routing figures for a labelled set: :func:`evaluate` and :class:`EvalReport`.

This module owns how routing quality is measured, for the benchmark, the tests and the desk's
``desk nlp eval``: rows in the format of ``routing_dev.jsonl`` (``text``, ``department``,
optional ``alt`` list of also-acceptable departments, ``type``, ``urgent``). A prediction is
right when it equals ``department`` or is in ``alt``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nlp.router import RouteDecision, Router

__all__ = ["EvalReport", "evaluate", "is_right"]


def is_right(code: str, row: Mapping[str, Any]) -> bool:
    """Whether ``code`` is an acceptable department for labelled ``row``."""
    return code == row.get("department") or code in (row.get("alt") or ())


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class EvalReport:
    """Figures of one evaluation run (see :meth:`as_dict` for the fields)."""

    n: int = 0
    top1: int = 0
    top3: int = 0
    auto: int = 0
    auto_right: int = 0
    typed: int = 0
    type_right: int = 0
    urgent_tp: int = 0
    urgent_fp: int = 0
    urgent_fn: int = 0
    per_department: Counter[str] = field(default_factory=Counter)
    per_department_right: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    type_confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[tuple[Mapping[str, Any], RouteDecision]] = field(default_factory=list)

    def add(self, row: Mapping[str, Any], decision: RouteDecision) -> None:
        """Count one labelled row and the router's decision for it."""
        gold = str(row.get("department", ""))
        right = is_right(decision.department, row)
        self.n += 1
        self.top1 += right
        self.top3 += any(is_right(code, row) for code, _ in decision.candidates[:3])
        self.per_department[gold] += 1
        self.per_department_right[gold] += right
        if not right:
            self.confusions[(gold, decision.department)] += 1
            self.errors.append((row, decision))
        if decision.auto:
            self.auto += 1
            self.auto_right += right
        if row.get("type"):
            self.typed += 1
            if decision.type == row["type"]:
                self.type_right += 1
            else:
                self.type_confusions[(str(row["type"]), decision.type)] += 1
        if row.get("urgent") is not None:
            gold_urgent = bool(row["urgent"])
            self.urgent_tp += decision.urgent and gold_urgent
            self.urgent_fp += decision.urgent and not gold_urgent
            self.urgent_fn += (not decision.urgent) and gold_urgent

    def worst_pairs(self, k: int = 8) -> list[tuple[str, str, int]]:
        """The ``k`` most frequent ``(gold, predicted, count)`` department confusions."""
        return [(g, p, c) for (g, p), c in self.confusions.most_common(k)]

    def as_dict(self) -> dict[str, Any]:
        """Figures as plain data (ratios 0..1, ``None`` when undefined)."""
        return {
            "n": self.n,
            "top1": _ratio(self.top1, self.n),
            "top3": _ratio(self.top3, self.n),
            "auto_share": _ratio(self.auto, self.n),
            "auto_precision": _ratio(self.auto_right, self.auto),
            "type_accuracy": _ratio(self.type_right, self.typed),
            "urgent_precision": _ratio(self.urgent_tp, self.urgent_tp + self.urgent_fp),
            "urgent_recall": _ratio(self.urgent_tp, self.urgent_tp + self.urgent_fn),
            "per_department": {
                code: _ratio(self.per_department_right[code], count)
                for code, count in sorted(self.per_department.items())
            },
            "confusions": [
                {"gold": g, "predicted": p, "count": c} for g, p, c in self.worst_pairs()
            ],
        }

    def format(self) -> str:
        """A readable table of the figures."""

        def pct(num: int, den: int) -> str:
            return f"{num / den:6.1%} ({num}/{den})" if den else "   n/a"

        tp, fp, fn = self.urgent_tp, self.urgent_fp, self.urgent_fn
        lines = [
            f"messages                 : {self.n}",
            f"department top-1         : {pct(self.top1, self.n)}",
            f"department top-3         : {pct(self.top3, self.n)}",
            f"auto share               : {pct(self.auto, self.n)}",
            f"auto precision           : {pct(self.auto_right, self.auto)}",
            f"request type accuracy    : {pct(self.type_right, self.typed)}",
            f"urgent precision         : {pct(tp, tp + fp)}",
            f"urgent recall            : {pct(tp, tp + fn)}",
            "",
            "per department recall:",
        ]
        for code, count in sorted(self.per_department.items()):
            lines.append(f"  {code:<5} {pct(self.per_department_right[code], count)}")
        lines.append("")
        lines.append("worst confusions (gold -> predicted):")
        pairs = self.worst_pairs()
        lines.extend(f"  {g} -> {p}: {c}" for g, p, c in pairs)
        if not pairs:
            lines.append("  none")
        if self.type_confusions:
            lines.append("")
            lines.append("type confusions (gold -> predicted):")
            lines.extend(f"  {g} -> {p}: {c}" for (g, p), c in self.type_confusions.most_common(6))
        return "\n".join(lines)


def evaluate(router: Router, rows: Iterable[Mapping[str, Any]]) -> EvalReport:
    """Route every labelled row and collect the figures."""
    report = EvalReport()
    for row in rows:
        report.add(row, router.route(str(row.get("text") or "")))
    return report
