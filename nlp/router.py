"""Department routing: ``route(text) -> RouteDecision``.

This module owns the routing decision. It compiles keyword rules (the project defaults in
``nlp/data/rules.yaml`` or a rules mapping passed in by the desk) into one Aho-Corasick term
matcher, scores every department on a normalised message, asks the learned
:class:`~nlp.model.TextModel` (when there is one) for its probabilities, and blends both into
one calibrated confidence; request type and urgency come from the cue rules of
:mod:`nlp.classify` blended with the model's type and urgency heads. It is pure: no database,
network or I/O at routing time (default files are read once, when the router is built).

Rule score per department: the sum of the weights of the distinct rule terms found in the text
(a term nested in a longer matched term does not count; 2-character terms must line up with
jieba words, or count at a reduced weight when one of their characters is a word of its own;
repeats add a little; further evidence counts a little less each), plus
whole-token matches and regex patterns, minus negative terms.

Blend (weights fitted by cross-validation on the corpus, see :mod:`nlp.train`): for every
department ``d``, ``z_d = a·log(p_model(d) + ε) + b·rule_score(d) + c·[d is the rule winner]``
and the confidence is ``softmax(z)``. ``auto`` holds when the top probability reaches the
model's ``auto_threshold`` (chosen so automatic dispatch keeps ≥ 97% precision). Without a
model, the rules-only confidence of the first version is used (softmax of rule scores with a
"no clear evidence" pseudo-score, plus a margin test).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from nlp.classify import (
    REQUEST_TYPES,
    classify_type,
    detect_urgency,
    type_scores,
    urgency_scores,
)
from nlp.matcher import TermMatcher, maximal_hits
from nlp.model import ModelOutput, TextModel
from nlp.normalize import normalize
from nlp.rules import (
    DEFAULT_FALLBACK,
    DEFAULT_RULES_PATH,
    DepartmentRule,
    compile_department,
    load_default_rules,
)
from nlp.segment import Segmenter, default_segmenter

__all__ = [
    "DEFAULT_RULES_PATH",
    "REQUEST_TYPES",
    "DepartmentRule",
    "RouteDecision",
    "Router",
    "blend_departments",
    "blend_types",
    "load_default_rules",
    "route",
    "urgency_features",
]

_REPEAT_BONUS: Final = 0.25  # per extra occurrence of the same term
_MAX_REPEATS: Final = 2
# Terms this short must line up with jieba token boundaries ("直排" is not in "一直排队").
_ALIGN_MAX_LEN: Final = 2
# A short term that straddles two jieba words still counts, at this fraction of its weight,
# when one of its characters is a word of its own (jieba often glues a verb's object to the
# next character: 想/拿/地建/二期 still says 拿地); when both characters belong to longer words
# it does not count at all (一直/排队 is no 直排).
_LOOSE_FACTOR: Final = 0.75
_EPS: Final = 1e-4
_CONTENT_RE: Final = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]")
_LETTER_RE: Final = re.compile(r"[a-z\u3400-\u4dbf\u4e00-\u9fff]")
# Without any rule evidence and below this confidence, the fallback department triages.
_FALLBACK_BELOW: Final = 0.3


@dataclass(frozen=True)
class RouteDecision:
    """The router's answer for one message.

    Attributes:
        department: Code of the chosen (lead) department.
        confidence: 0..1; how sure the router is of ``department``.
        candidates: Up to three ``(code, probability)`` pairs, best first.
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


def _softmax(values: Mapping[str, float]) -> dict[str, float]:
    top = max(values.values())
    exps = {k: math.exp(v - top) for k, v in values.items()}
    total = sum(exps.values())
    return {k: v / total for k, v in exps.items()}


def _rule_winner(rule_scores: Mapping[str, float]) -> str | None:
    positive = {k: v for k, v in rule_scores.items() if v > 0}
    return max(positive, key=lambda k: positive[k]) if positive else None


def blend_departments(
    codes: Sequence[str],
    model_probs: Mapping[str, float],
    rule_scores: Mapping[str, float],
    params: Mapping[str, float],
) -> dict[str, float]:
    """Combine model probabilities and rule scores into one distribution over ``codes``."""
    a, b, c = float(params["a"]), float(params["b"]), float(params["c"])
    winner = _rule_winner(rule_scores)
    z = {
        code: a * math.log(model_probs.get(code, 0.0) + _EPS)
        + b * rule_scores.get(code, 0.0)
        + (c if code == winner else 0.0)
        for code in codes
    }
    return _softmax(z)


def blend_types(
    model_probs: Mapping[str, float],
    cue_scores: Mapping[str, float],
    rule_type: str,
    params: Mapping[str, Any],
) -> dict[str, float]:
    """Combine the type head with the cue rules into one distribution over request types."""
    alpha, beta, gamma = float(params["alpha"]), float(params["beta"]), float(params["gamma"])
    bias: Mapping[str, float] = params.get("bias", {})
    z = {
        t: alpha * math.log(model_probs.get(t, 0.0) + _EPS)
        + beta * cue_scores.get(t, 0.0)
        + (gamma if t == rule_type else 0.0)
        + float(bias.get(t, 0.0))
        for t in REQUEST_TYPES
    }
    return _softmax(z)


def urgency_features(model_prob: float, rule_urgent: bool, text: str) -> list[float]:
    """Inputs of the urgency blend: model logit, rule verdict and the three cue scores."""
    p = min(max(model_prob, 1e-4), 1 - 1e-4)
    alone, impact, immediacy = urgency_scores(text)
    return [math.log(p / (1 - p)), float(rule_urgent), alone, impact, immediacy]


class Router:
    """Routes messages to departments with keyword rules and, optionally, a learned model.

    Args:
        rules: Either a rules document ``{"fallback": code, "departments": {code: spec}}`` or
            directly the ``{code: spec}`` mapping (see :mod:`nlp.rules`); the project
            defaults when omitted.
        model: A trained :class:`~nlp.model.TextModel`; rules only when omitted.
        fallback: Department used when nothing matches; overrides the document's ``fallback``.
        segmenter: Tokenizer for whole-token rules and word features; the shared default.
        auto_threshold: Minimum confidence for ``auto``; the model's tuned value by default
            (0.65 for rules only).
        auto_margin: Rules only: minimum score lead over the runner-up for ``auto``.
        temperature: Rules only: softmax temperature over scores (higher is less sure).
        null_score: Rules only: score of the "no clear evidence" pseudo-class.
        decay: Factor applied to each further piece of evidence for a department (1.0 = plain
            sum), strongest first.
    """

    def __init__(
        self,
        rules: Mapping[str, Any] | None = None,
        model: TextModel | None = None,
        *,
        fallback: str | None = None,
        segmenter: Segmenter | None = None,
        auto_threshold: float | None = None,
        auto_margin: float = 2.0,
        temperature: float = 1.6,
        null_score: float = 2.0,
        decay: float = 0.6,
    ) -> None:
        if rules is None:
            rules = load_default_rules()
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
            str(code): compile_department(str(code), spec or {})
            for code, spec in departments.items()
        }
        chosen = fallback or str(rules.get("fallback", DEFAULT_FALLBACK))
        if chosen not in self._rules:
            raise ValueError(f"fallback department {chosen!r} has no rules")
        self.fallback = chosen
        self.model = model
        codes = list(self._rules)
        if model is not None:
            codes += [c for c in model.departments if c not in self._rules]
        self._codes: tuple[str, ...] = tuple(codes)
        self._order = {code: i for i, code in enumerate(self._codes)}
        self._segmenter = segmenter
        if auto_threshold is None:
            auto_threshold = (
                float(model.params.get("auto_threshold", 0.9)) if model is not None else 0.65
            )
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
        """Build a router from the default rules and the shipped default model.

        The model is ``nlp/data/model.bin``; when it is missing or was built from another
        corpus, a model is trained in memory (slow; a warning is logged).
        """
        from nlp.train import load_default_model

        return cls(load_default_rules(), load_default_model(), **kwargs)

    @property
    def departments(self) -> tuple[str, ...]:
        """Department codes known to this router (rules first, then model-only codes)."""
        return self._codes

    @property
    def model_version(self) -> str | None:
        """Version of the learned model in use, or ``None`` for rules only."""
        return self.model.version if self.model is not None else None

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """Segment prepared ``text`` into ``(token, start, end)`` with the router's segmenter."""
        segmenter = self._segmenter or default_segmenter()
        return segmenter.spans(text)

    def prepare(self, text: str | None) -> str:
        """Normalise ``text`` and rewrite known misspellings (the rules' ``aliases``)."""
        clean = normalize(text)
        if self._alias_re is not None and clean:
            clean = self._alias_re.sub(lambda m: self._aliases[m.group(0)], clean)
        return clean

    def score(
        self, text: str, spans: Sequence[tuple[str, int, int]] | None = None
    ) -> tuple[dict[str, float], dict[str, list[str]]]:
        """Score every department's rules on ``text`` as returned by :meth:`prepare`.

        Args:
            text: Prepared text.
            spans: Its segmentation from :meth:`spans`, when already computed.

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
        covered: dict[str, list[tuple[int, int]]] = {}
        token_spans = self.spans(text) if spans is None else spans
        starts = {a for _, a, _ in token_spans}
        ends = {b for _, _, b in token_spans}
        singles = {a for _, a, b in token_spans if b - a == 1}

        def alignment(start: int, end: int) -> float:
            if end - start > _ALIGN_MAX_LEN:
                return 1.0
            if start in starts and end in ends:
                return 1.0
            if any(a <= start and end <= b for _, a, b in token_spans):
                return 1.0
            if start in singles or end - 1 in singles:
                return _LOOSE_FACTOR
            return 0.0

        strength: dict[str, float] = {}
        weighted = [(h, alignment(h.start, h.end)) for h in self._matcher.find(text)]
        kept = {(h.start, h.end, h.term): f for h, f in weighted if f > 0}
        for hit in maximal_hits(h for h, f in weighted if f > 0):
            counts[hit.term] = counts.get(hit.term, 0) + 1
            f = kept[(hit.start, hit.end, hit.term)]
            strength[hit.term] = max(strength.get(hit.term, 0.0), f)
            for code, _ in self._term_index[hit.term]:
                covered.setdefault(code, []).append((hit.start, hit.end))
        for term, count in counts.items():
            factor = (1.0 + _REPEAT_BONUS * min(count - 1, _MAX_REPEATS)) * strength[term]
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
                    a <= found.start() and found.end() <= b for a, b in covered.get(code, ())
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

    def _rules_confidence(self, ranked: list[tuple[str, float]]) -> float:
        t = self.temperature
        top = ranked[0][1]
        exps = [math.exp((s - top) / t) for _, s in ranked]
        null = math.exp((self.null_score - top) / t)
        return exps[0] / (sum(exps) + null)

    def _empty(self, request_type: str = "咨询", urgent: bool = False) -> RouteDecision:
        return RouteDecision(
            department=self.fallback,
            confidence=0.0,
            candidates=((self.fallback, 0.0),),
            type=request_type,
            urgent=urgent,
            auto=False,
            matched_terms=(),
        )

    def route(self, text: str | None) -> RouteDecision:
        """Route one message.

        Empty or unintelligible text goes to the fallback department with zero confidence,
        type 咨询, not urgent and not automatic. Never raises on odd input.
        """
        try:
            clean = self.prepare(text)
        except Exception:  # pragma: no cover - normalize() handles any str; be safe anyway
            clean = ""
        if not _CONTENT_RE.search(clean):
            return self._empty()
        spans = self.spans(clean)
        scores, matched = self.score(clean, spans)
        if not scores and len(_LETTER_RE.findall(clean)) < 2:
            return self._empty()  # digits and a stray letter ("[31m"): nothing to route on
        rule_type = classify_type(clean)
        if self.model is None:
            return self._route_rules(clean, scores, matched, rule_type)
        output = self.model.predict(clean, [w for w, _, _ in spans])
        return self._route_blend(clean, scores, matched, rule_type, output)

    def _route_rules(
        self,
        clean: str,
        scores: dict[str, float],
        matched: dict[str, list[str]],
        rule_type: str,
    ) -> RouteDecision:
        urgent = detect_urgency(clean, rule_type)
        request_type = "求助" if urgent and rule_type == "咨询" else rule_type
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self._order[kv[0]]))
        if not ranked:
            return self._empty(request_type, urgent)
        department, top = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        confidence = self._rules_confidence(ranked)
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

    def _route_blend(
        self,
        clean: str,
        scores: dict[str, float],
        matched: dict[str, list[str]],
        rule_type: str,
        output: ModelOutput,
    ) -> RouteDecision:
        assert self.model is not None
        params = self.model.params
        probs = blend_departments(self._codes, output.departments, scores, params["dept"])
        ranked = sorted(probs.items(), key=lambda kv: (-kv[1], self._order[kv[0]]))
        department, confidence = ranked[0]
        evidence = bool(scores) or output.known_features >= 3
        if not scores and confidence < _FALLBACK_BELOW:
            department, evidence = self.fallback, False
        auto = evidence and confidence >= self.auto_threshold

        if self.model.types and "type" in params:
            type_probs = blend_types(output.types, type_scores(clean), rule_type, params["type"])
            request_type = max(REQUEST_TYPES, key=lambda t: type_probs[t])
        else:
            request_type = rule_type
        rule_urgent = detect_urgency(clean, request_type)
        if output.urgent is not None and "urgent" in params:
            u = params["urgent"]
            x = urgency_features(output.urgent, rule_urgent, clean)
            z = float(u["intercept"]) + sum(w * v for w, v in zip(u["coef"], x, strict=True))
            urgent = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))) >= float(u["threshold"])
            if request_type in ("表扬", "建议"):
                urgent = False
        else:
            urgent = rule_urgent
        if urgent and request_type == "咨询":
            request_type = "求助"  # something at stake right now is the enterprise's own case
        return RouteDecision(
            department=department,
            confidence=round(confidence, 3),
            candidates=tuple((code, round(p, 3)) for code, p in ranked[:3]),
            type=request_type,
            urgent=urgent,
            auto=auto,
            matched_terms=tuple(matched.get(department, ())),
        )


@lru_cache(maxsize=1)
def default_router() -> Router:
    """Return the process-wide router (default rules and model, created on first use)."""
    return Router.from_default()


def route(text: str | None) -> RouteDecision:
    """Route ``text`` with the default router. See :meth:`Router.route`."""
    return default_router().route(text)
