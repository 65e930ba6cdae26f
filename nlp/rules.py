"""Keyword rules: the default document, validation and compilation.

This module owns the rules document format (``nlp/data/rules.yaml``, or the same structure
edited by administrators and stored by the desk): reading the project defaults, checking an
edited document for problems a person can fix, and compiling one department's spec into
weighted terms, whole-token words, regular-expression patterns and negative terms.

Document::

    fallback: ESB            # department for messages without evidence
    aliases: {注消: 注销}     # misspellings rewritten before matching
    departments:
      MSA:
        name: 市场监督管理局
        strong: [营业执照, ...]      # 3 points each
        medium: [...]               # 2 points
        weak: [...]                 # 1 point
        terms: {term: weight}       # any other weight
        tokens: {word: weight}      # only when jieba yields exactly this word
        patterns: {regex: weight}   # colloquial variants
        negative: {term: weight}    # subtracted when present
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from nlp.normalize import normalize, to_simplified

SAFE_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "DEFAULT_FALLBACK",
    "DEFAULT_RULES_PATH",
    "LEVEL_WEIGHTS",
    "DepartmentRule",
    "compile_department",
    "load_default_rules",
    "validate_rules",
]

DEFAULT_RULES_PATH: Final = Path(__file__).resolve().parent / "data" / "rules.yaml"
DEFAULT_FALLBACK: Final = "ESB"
LEVEL_WEIGHTS: Final[Mapping[str, float]] = {"strong": 3.0, "medium": 2.0, "weak": 1.0}
_SPEC_KEYS: Final = frozenset({"name", "terms", "tokens", "patterns", "negative", *LEVEL_WEIGHTS})
_DOC_KEYS: Final = frozenset({"version", "fallback", "aliases", "departments"})
_CODE_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


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


def compile_department(code: str, spec: Mapping[str, Any]) -> DepartmentRule:
    """Compile one department's rule spec (see the module docstring)."""
    terms: dict[str, float] = {}
    for level, weight in LEVEL_WEIGHTS.items():
        for term, w in _as_weighted(spec.get(level), weight).items():
            terms[term] = max(terms.get(term, 0.0), w)
    for term, w in _as_weighted(spec.get("terms"), 2.0).items():
        terms[term] = max(terms.get(term, 0.0), w)
    patterns = tuple(
        (re.compile(to_simplified(str(p))), float(w))
        for p, w in (spec.get("patterns") or {}).items()
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
        # libyaml's loader when PyYAML was built with it: the same document in a quarter of
        # the time (the rules are read at every start-up, ~50 ms with the pure-Python one).
        data = yaml.load(fh, Loader=SAFE_LOADER)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: rules document must be a mapping")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_terms(where: str, value: Any) -> list[str]:
    problems: list[str] = []
    if isinstance(value, Mapping):
        for term, weight in value.items():
            if not isinstance(term, str) or not normalize(term):
                problems.append(f"{where}: empty or non-text term {term!r}")
            if not _is_number(weight):
                problems.append(f"{where}: weight of {term!r} must be a number, got {weight!r}")
            elif not -100 <= float(weight) <= 100:
                problems.append(f"{where}: weight of {term!r} is out of range (-100..100)")
    elif isinstance(value, list | tuple):
        for term in value:
            if not isinstance(term, str | int) or not normalize(str(term)):
                problems.append(f"{where}: empty or non-text term {term!r}")
    else:
        problems.append(f"{where}: expected a list or a mapping, got {type(value).__name__}")
    return problems


def validate_rules(rules: Mapping[str, Any]) -> list[str]:
    """Check a rules document; return human-readable problems (empty when it is usable).

    Accepts the full document or directly the ``{code: spec}`` mapping, like the router.
    """
    if not isinstance(rules, Mapping):
        return [f"rules must be a mapping, got {type(rules).__name__}"]
    problems: list[str] = []
    full = "departments" in rules
    departments = rules.get("departments") if full else rules
    if full:
        for key in rules:
            if key not in _DOC_KEYS:
                problems.append(f"unknown top-level key {key!r}")
    if not isinstance(departments, Mapping) or not departments:
        return [*problems, "rules must define at least one department"]
    for code, spec in departments.items():
        where = f"department {code}"
        if not isinstance(code, str) or not _CODE_RE.match(code):
            problems.append(f"{where}: code must be latin letters/digits (e.g. TAX)")
        if spec is None:
            continue
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: spec must be a mapping, got {type(spec).__name__}")
            continue
        for key, value in spec.items():
            if key not in _SPEC_KEYS:
                problems.append(f"{where}: unknown key {key!r}")
            elif key == "name":
                if not isinstance(value, str) or not value.strip():
                    problems.append(f"{where}: name must be non-empty text")
            elif key == "patterns":
                if not isinstance(value, Mapping):
                    problems.append(f"{where}.patterns: expected a mapping of regex to weight")
                    continue
                for pattern, weight in value.items():
                    try:
                        re.compile(str(pattern))
                    except re.error as exc:
                        problems.append(f"{where}.patterns: bad regex {pattern!r}: {exc}")
                    if not _is_number(weight):
                        problems.append(f"{where}.patterns: weight of {pattern!r} not a number")
            elif value is not None:
                problems.extend(_check_terms(f"{where}.{key}", value))
    fallback = rules.get("fallback", DEFAULT_FALLBACK) if full else DEFAULT_FALLBACK
    if full and "fallback" in rules and fallback not in departments:
        problems.append(f"fallback department {fallback!r} has no rules")
    aliases = rules.get("aliases") if full else None
    if aliases is not None:
        if not isinstance(aliases, Mapping):
            problems.append("aliases: expected a mapping of misspelling to correct form")
        else:
            for wrong, right in aliases.items():
                if not isinstance(wrong, str) or not normalize(wrong):
                    problems.append(f"aliases: empty misspelling {wrong!r}")
                if not isinstance(right, str) or not normalize(right):
                    problems.append(f"aliases: empty replacement for {wrong!r}")
    return problems
