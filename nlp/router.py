"""Department routing: ``route(text) -> RouteDecision``.

This module owns the routing decision: it compiles keyword rules (the project defaults in
``nlp/data/rules.yaml`` or a rules mapping passed in by the desk) into one term matcher, scores
every department on a normalised message, turns the scores into a confidence, and adds the
request type and urgency from :mod:`nlp.classify`. It is pure: no database, network or I/O at
routing time (the default rules file is read once, lazily).

Scoring per department: the sum of the weights of the distinct rule terms found in the text
(a term nested in a longer matched term does not count; repeats add a little), plus whole-token
matches from jieba and regex patterns, minus negative terms. Confidence is a softmax over the
department scores that also includes a fixed "no clear evidence" pseudo-score, so a single weak
term never gives a confident decision. ``auto`` is set only when the winner is clearly ahead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from nlp.classify import REQUEST_TYPES, classify_type, detect_urgency
from nlp.matcher import TermMatcher, maximal_hits
from nlp.normalize import normalize
from nlp.segment import Segmenter, default_segmenter

__all__ = [
    "DEFAULT_RULES_PATH",
    "REQUEST_TYPES",
    "DepartmentRule",
    "RouteDecision",
    "Router",
    "load_default_rules",
    "route",
]

DEFAULT_RULES_PATH: Final = Path(__file__).resolve().parent / "data" / "rules.yaml"
DEFAULT_FALLBACK: Final = "ESB"

_LEVEL_WEIGHTS: Final[Mapping[str, float]] = {"strong": 3.0, "medium": 2.0, "weak": 1.0}
_REPEAT_BONUS: Final = 0.25  # per extra occurrence of the same term
_MAX_REPEATS: Final = 2
# Terms this short must line up with jieba token boundaries ("直排" is not in "一直排队").
_ALIGN_MAX_LEN: Final = 2


@dataclass(frozen=True)
class RouteDecision:
    """The router's answer for one message.

    Attributes:
        department: Code of the chosen (lead) department.
        confidence: 0..1; how sure the router is of ``department``.
        candidates: Up to three ``(code, score)`` pairs, best first.
        type: Request type, one of :data:`REQUEST_TYPES`.
        urgent: Production, safety or livelihood at stake right now.
        auto: True when the ticket may be dispatched without manual triage.
        matched_terms: Rule terms that supported ``department``.
    """

    department: str
    confidence: float
    candidates: tuple[tuple[str, float], ...]
    type: str
    urgent: bool
    auto: bool
    matched_terms: tuple[str, ...]


@dataclass(frozen=True)
class DepartmentRule:
    """Compiled rules of one department."""

    code: str
    name: str
    terms: Mapping[str, float]
    tokens: Mapping[str, float]
    patterns: tuple[tuple[re.Pattern[str], float], ...]
    negative: Mapping[str, float]


def _as_weighted(value: Any, default_weight: float) -> dict[str, float]:
    """Read a list of terms (with a default weight) or a ``{term: weight}`` mapping."""
    result: dict[str, float] = {}
    if value is None:
        return result
    if isinstance(value, Mapping):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list | tuple):
        items = [(v, default_weight) for v in value]
    else:
        raise TypeError(f"expected a list or a mapping of terms, got {type(value).__name__}")
    for raw_term, raw_weight in items:
        term = normalize(str(raw_term))
        weight = float(raw_weight)
        if term and weight:
            result[term] = max(result.get(term, 0.0), weight)
    return result


def _compile_department(code: str, spec: Mapping[str, Any]) -> DepartmentRule:
    terms: dict[str, float] = {}
    for level, weight in _LEVEL_WEIGHTS.items():
        for term, w in _as_weighted(spec.get(level), weight).items():
            terms[term] = max(terms.get(term, 0.0), w)
    for term, w in _as_weighted(spec.get("terms"), 2.0).items():
        terms[term] = max(terms.get(term, 0.0), w)
    patterns = tuple(
        (re.compile(str(p)), float(w)) for p, w in (spec.get("patterns") or {}).items()
    )
    return DepartmentRule(
        code=code,
        name=str(spec.get("name", code)),
        terms=terms,
        tokens=_as_weighted(spec.get("tokens"), 1.0),
        patterns=patterns,
        negative=_as_weighted(spec.get("negative"), 2.0),
    )


def load_default_rules(path: Path = DEFAULT_RULES_PATH) -> dict[str, Any]:
    """Read the project's default rules document (YAML)."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: rules document must be a mapping")
    return data


class Router:
    """Routes messages to departments with weighted keyword rules.

    Args:
        rules: Either a rules document ``{"fallback": code, "departments": {code: spec}}`` or
            directly the ``{code: spec}`` mapping. A spec has ``strong``/``medium``/``weak``
            term lists, and optional ``terms``, ``tokens``, ``patterns`` and ``negative``
            mappings of term to weight.
        fallback: Department used when nothing matches; overrides the document's ``fallback``.
        segmenter: Tokenizer for whole-token rules; the shared default when omitted.
        auto_threshold: Minimum confidence for ``auto``.
        auto_margin: Minimum score lead over the runner-up for ``auto``.
        temperature: Softmax temperature over scores (higher is less sure).
        null_score: Score of the "no clear evidence" pseudo-class in the softmax.
        decay: Factor applied to each further piece of evidence for a department (1.0 = plain
            sum), strongest first.
    """

    def __init__(
        self,
        rules: Mapping[str, Any],
        *,
        fallback: str | None = None,
        segmenter: Segmenter | None = None,
        auto_threshold: float = 0.65,
        auto_margin: float = 2.0,
        temperature: float = 1.6,
        null_score: float = 2.0,
        decay: float = 0.6,
    ) -> None:
        departments = rules.get("departments", rules)
        if not isinstance(departments, Mapping) or not departments:
            raise ValueError("rules must define at least one department")
        self._aliases: dict[str, str] = {
            normalize(str(k)): normalize(str(v))
            for k, v in (rules.get("aliases") or {}).items()
            if normalize(str(k))
        }
        self._alias_re = (
            re.compile(
                "|".join(re.escape(k) for k in sorted(self._aliases, key=len, reverse=True))
            )
            if self._aliases
            else None
        )
        self._rules: dict[str, DepartmentRule] = {
            str(code): _compile_department(str(code), spec or {})
            for code, spec in departments.items()
        }
        chosen = fallback or str(rules.get("fallback", DEFAULT_FALLBACK))
        if chosen not in self._rules:
            raise ValueError(f"fallback department {chosen!r} has no rules")
        self.fallback = chosen
        self._order = {code: i for i, code in enumerate(self._rules)}
        self._segmenter = segmenter
        self.auto_threshold = auto_threshold
        self.auto_margin = auto_margin
        self.temperature = temperature
        self.null_score = null_score
        self.decay = decay

        self._term_index: dict[str, list[tuple[str, float]]] = {}
        self._negative_index: dict[str, list[tuple[str, float]]] = {}
        self._token_index: dict[str, list[tuple[str, float]]] = {}
        for code, rule in self._rules.items():
            for term, weight in rule.terms.items():
                self._term_index.setdefault(term, []).append((code, weight))
            for term, weight in rule.negative.items():
                self._negative_index.setdefault(term, []).append((code, weight))
            for token, weight in rule.tokens.items():
                self._token_index.setdefault(token, []).append((code, weight))
        self._matcher = TermMatcher(self._term_index)
        self._negative_matcher = TermMatcher(self._negative_index)

    @classmethod
    def from_default(cls, **kwargs: Any) -> Router:
        """Build a router from the project's default ``nlp/data/rules.yaml``."""
        return cls(load_default_rules(), **kwargs)

    @property
    def departments(self) -> tuple[str, ...]:
        """Department codes known to this router, in rule order."""
        return tuple(self._rules)

    def _spans(self, text: str) -> list[tuple[str, int, int]]:
        segmenter = self._segmenter or default_segmenter()
        return segmenter.spans(text)

    def prepare(self, text: str | None) -> str:
        """Normalise ``text`` and rewrite known misspellings (the rules' ``aliases``)."""
        clean = normalize(text)
        if self._alias_re is not None and clean:
            clean = self._alias_re.sub(lambda m: self._aliases[m.group(0)], clean)
        return clean

    def score(self, text: str) -> tuple[dict[str, float], dict[str, list[str]]]:
        """Score every department on ``text`` as returned by :meth:`prepare`.

        Returns:
            ``(scores, matched)``: score per department code (only codes with evidence) and,
            per code, the matched terms in order of appearance.
        """
        scores: dict[str, float] = {}
        matched: dict[str, list[str]] = {}
        if not text:
            return scores, matched

        contributions: dict[str, list[float]] = {}
        counts: dict[str, int] = {}
        spans: dict[str, list[tuple[int, int]]] = {}
        token_spans = self._spans(text)
        starts = {a for _, a, _ in token_spans}
        ends = {b for _, _, b in token_spans}

        def aligned(start: int, end: int) -> bool:
            if end - start > _ALIGN_MAX_LEN:
                return True
            inside_one = any(a <= start and end <= b for _, a, b in token_spans)
            return inside_one or (start in starts and end in ends)

        hits = [h for h in self._matcher.find(text) if aligned(h.start, h.end)]
        for hit in maximal_hits(hits):
            counts[hit.term] = counts.get(hit.term, 0) + 1
            for code, _ in self._term_index[hit.term]:
                spans.setdefault(code, []).append((hit.start, hit.end))
        for term, count in counts.items():
            factor = 1.0 + _REPEAT_BONUS * min(count - 1, _MAX_REPEATS)
            for code, weight in self._term_index[term]:
                contributions.setdefault(code, []).append(weight * factor)
                matched.setdefault(code, []).append(term)

        for token in dict.fromkeys(t for t, _, _ in token_spans):
            for code, weight in self._token_index.get(token, ()):
                if token in matched.get(code, ()):
                    continue
                contributions.setdefault(code, []).append(weight)
                matched.setdefault(code, []).append(token)

        for code, rule in self._rules.items():
            for pattern, weight in rule.patterns:
                found = pattern.search(text)
                if found and not any(
                    a <= found.start() and found.end() <= b for a, b in spans.get(code, ())
                ):
                    contributions.setdefault(code, []).append(weight)
                    matched.setdefault(code, []).append(found.group(0))

        # Diminishing returns: the strongest piece of evidence counts fully, each further one
        # a little less, so long context about one topic does not drown the actual request.
        for code, parts in contributions.items():
            parts.sort(reverse=True)
            scores[code] = sum(w * self.decay**i for i, w in enumerate(parts))

        for hit_term in {h.term for h in self._negative_matcher.find(text)}:
            for code, weight in self._negative_index[hit_term]:
                if code in scores:
                    scores[code] -= weight

        return {c: round(s, 3) for c, s in scores.items() if s > 0}, matched

    def _confidence(self, ranked: list[tuple[str, float]]) -> float:
        if not ranked:
            return 0.0
        t = self.temperature
        top = ranked[0][1]
        exps = [math.exp((s - top) / t) for _, s in ranked]
        null = math.exp((self.null_score - top) / t)
        return exps[0] / (sum(exps) + null)

    def route(self, text: str | None) -> RouteDecision:
        """Route one message.

        Empty or unintelligible text goes to the fallback department with zero confidence,
        type 咨询, not urgent and not automatic.
        """
        clean = self.prepare(text)
        scores, matched = self.score(clean)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self._order[kv[0]]))
        request_type = classify_type(clean)
        urgent = detect_urgency(clean, request_type)
        if urgent and request_type == "咨询":
            request_type = "求助"  # something at stake right now is the enterprise's own case
        if not ranked:
            return RouteDecision(
                department=self.fallback,
                confidence=0.0,
                candidates=((self.fallback, 0.0),),
                type=request_type,
                urgent=urgent,
                auto=False,
                matched_terms=(),
            )
        department, top = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        confidence = self._confidence(ranked)
        auto = confidence >= self.auto_threshold and top - runner_up >= self.auto_margin
        return RouteDecision(
            department=department,
            confidence=round(confidence, 3),
            candidates=tuple((code, round(score, 2)) for code, score in ranked[:3]),
            type=request_type,
            urgent=urgent,
            auto=auto,
            matched_terms=tuple(matched.get(department, ())),
        )


@lru_cache(maxsize=1)
def default_router() -> Router:
    """Return the process-wide router built from the default rules (created on first use)."""
    return Router.from_default()


def route(text: str | None) -> RouteDecision:
    """Route ``text`` with the default rules. See :meth:`Router.route`."""
    return default_router().route(text)
