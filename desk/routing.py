"""The desk side of routing: rules kept in the database, corrections as labelled examples,
retraining, and a router holder that every process refreshes without a restart.

``nlp`` stays pure; this module feeds it rules and examples and stores what it trains.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import nlp
from models.department import Department
from models.routing import RouterModel, RoutingExample, RoutingRule
from models.ticket import Ticket
from nlp.normalize import normalize, to_simplified
from nlp.rules import DEFAULT_FALLBACK, LEVEL_WEIGHTS

from .context import RouterLike
from .db import atomic
from .errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

GLOBAL = "_global"


# ---------------------------------------------------------------- rules in the database


async def seed_rules() -> dict[str, int]:
    """Mirror the shipped default rules into the database; never overwrite an admin's edit."""
    defaults = nlp.load_default_rules()
    rows = {GLOBAL: {k: v for k, v in defaults.items() if k != "departments"}}
    rows.update(defaults.get("departments") or {})
    created = refreshed = kept = 0
    for code, spec in rows.items():
        rule = await RoutingRule.get_or_none(code=code)
        if rule is None:
            await RoutingRule.create(code=code, spec=spec, source="default")
            created += 1
        elif rule.source == "default" and rule.spec != spec:
            rule.spec = spec
            await rule.save()
            refreshed += 1
        else:
            kept += 1
    return {"created": created, "refreshed": refreshed, "kept": kept}


async def rules_document() -> dict[str, Any]:
    """The rules as ``nlp`` reads them, assembled from the database rows."""
    doc: dict[str, Any] = {"departments": {}}
    for rule in await RoutingRule.all().order_by("code"):
        if rule.code == GLOBAL:
            doc.update(rule.spec)
        else:
            doc["departments"][rule.code] = rule.spec
    return doc


async def replace_rules(document: Mapping[str, Any], *, by: str) -> dict[str, int]:
    """Replace the rules with an edited document (validated first; nothing changes if invalid).

    Raises:
        InvalidInput: the document has problems; the message lists them.
    """
    problems = nlp.validate_rules(document)
    if problems:
        raise InvalidInput("规则有误：\n" + "\n".join(problems[:20]))
    departments = document.get("departments") or {}
    globals_ = {k: v for k, v in document.items() if k != "departments"}
    changed = 0
    async with atomic():
        for code, spec in [(GLOBAL, globals_), *departments.items()]:
            rule = await RoutingRule.get_or_none(code=code)
            if rule is None:
                await RoutingRule.create(code=code, spec=spec, source="admin", updated_by=by)
                changed += 1
            elif rule.spec != spec:
                rule.spec, rule.source, rule.updated_by = dict(spec), "admin", by
                await rule.save()
                changed += 1
        removed = await RoutingRule.filter(code__not_in=[GLOBAL, *departments.keys()]).delete()
    return {"changed": changed, "removed": removed}


# ---------------------------------------------------------------- corrections


async def record_example(
    *, ticket: Ticket, department: str, source: str, actor_id: int | None
) -> None:
    """Store a human routing decision about a ticket as a labelled example (in the caller's
    transaction). The router's own first guess is kept beside it, for reports."""
    predicted = None
    candidates = ticket.route_candidates or []
    if candidates:
        predicted = str(candidates[0][0])
    await RoutingExample.create(
        text=ticket.text,
        department=department,
        type=ticket.type,
        urgent=ticket.urgent,
        source=source,
        predicted=predicted,
        ticket_id=ticket.id,
        actor_id=actor_id,
    )


async def examples() -> list[nlp.Example]:
    """Active corrections, newest decision per ticket winning (a later transfer overrides)."""
    latest: dict[Any, RoutingExample] = {}
    for ex in await RoutingExample.filter(active=True).order_by("id"):
        latest[ex.ticket_id if ex.ticket_id is not None else f"x{ex.id}"] = ex
    return [
        nlp.Example(text=e.text, department=e.department, type=e.type, urgent=e.urgent)
        for e in latest.values()
    ]


# ---------------------------------------------------------------- the live router


async def build_router() -> tuple[nlp.Router, str]:
    """A router from the database's rules and active model (defaults where there are none)."""
    rules = await rules_document()
    row = await RouterModel.filter(active=True).order_by("-id").first()
    model = nlp.TextModel.from_bytes(bytes(row.data)) if row is not None else None
    if model is None:
        router = nlp.Router.from_default()
        if rules.get("departments"):
            router = nlp.Router(rules=rules, model=router.model)
    else:
        router = nlp.Router(rules=rules if rules.get("departments") else None, model=model)
    return router, await state_key()


async def state_key() -> str:
    """Changes whenever the rules or the active model change (cheap to poll)."""
    model = await RouterModel.filter(active=True).order_by("-id").first()
    newest = await RoutingRule.all().order_by("-updated_at").first()
    count = await RoutingRule.all().count()
    last = newest.updated_at.isoformat() if newest else "-"
    return f"{model.version if model else 'default'}|{last}|{count}"


class RouterHolder:
    """The router a process uses; ``refresh`` swaps in a new one when the database changed.

    The shipped default router is built on first use only: a worker refreshes from the
    database before it serves anything, and building the default first as well cost every
    start-up ~0.15 s (the model and the corpus hash read twice).
    """

    def __init__(self, router: nlp.Router | None = None, key: str = "boot") -> None:
        self._router = router
        self.key = key

    @property
    def router(self) -> nlp.Router:
        """The router in use (the shipped default until a refresh or reload)."""
        if self._router is None:
            self._router = nlp.Router.from_default()
        return self._router

    @router.setter
    def router(self, router: nlp.Router) -> None:
        self._router = router

    def route(self, text: str) -> nlp.RouteDecision:
        return self.router.route(text)

    async def refresh(self) -> bool:
        """Rebuild from the database if the rules or the model changed. Returns True if so."""
        key = await state_key()
        if key == self.key:
            return False
        router, key = await build_router()
        self.router, self.key = router, key
        log.info("router reloaded (%s)", key)
        return True

    async def reload(self) -> None:
        """Rebuild from the database now, whatever the state key says (after an edit made by
        this process, so its very next message already uses the new rules)."""
        self.router, self.key = await build_router()
        log.info("router reloaded (%s)", self.key)

    def warm(self) -> None:
        """Route one message so the segmentation dictionary loads now, not at the first request.

        jieba builds its prefix dictionary lazily (~0.4 s); a worker does that before it says
        ready, so the first enterprise after a start or a deploy is not the one who waits.
        """
        self.router.route("营业执照变更需要哪些材料")


# ---------------------------------------------------------------- retraining


@dataclass
class RetrainReport:
    examples: int
    corrections: int
    version: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    before_text: str = ""
    after_text: str = ""


async def retrain(*, eval_rows: Iterable[Mapping[str, Any]] | None = None) -> RetrainReport:
    """Train a new model from the shipped corpus plus the corrections; make it active.

    Args:
        eval_rows: labelled rows (routing_dev.jsonl format) to report before/after figures on.
    """
    corrections = await examples()
    training = [*nlp.default_examples(), *corrections]
    current, _ = await build_router()
    rows = list(eval_rows or [])
    rules = await rules_document()
    doc = rules if rules.get("departments") else None
    # Training takes seconds to a minute: off the event loop.
    model = await asyncio.to_thread(lambda: nlp.train_model(training, rules=doc))
    new = nlp.Router(rules=doc, model=model)
    before = after = None
    before_text = after_text = ""
    if rows:
        b = await asyncio.to_thread(nlp.evaluate, current, rows)
        a = await asyncio.to_thread(nlp.evaluate, new, rows)
        before, after, before_text, after_text = b.as_dict(), a.as_dict(), b.format(), a.format()
    async with atomic():
        await RouterModel.filter(active=True).update(active=False)
        await RouterModel.create(
            version=model.version,
            data=model.to_bytes(),
            trained_on=len(training),
            metrics={"before": before, "after": after, "corrections": len(corrections)},
            active=True,
        )
    return RetrainReport(
        examples=len(training),
        corrections=len(corrections),
        version=model.version,
        before=before,
        after=after,
        before_text=before_text,
        after_text=after_text,
    )


# ---------------------------------------------------------------- editing one department's rules
#
# The admin web edits a department's spec as four blocks of ``词 权重`` lines: keywords (the
# levels strong/medium/weak and ``terms``, all substring matches), whole tokens, regular
# expressions and negative terms. Reading and writing them goes through the functions below, so
# the page only renders text and shows the problems they report.

SECTIONS: tuple[str, ...] = ("keywords", "tokens", "patterns", "negative")
SECTION_LABELS: dict[str, str] = {
    "keywords": "关键词",
    "tokens": "整词",
    "patterns": "正则",
    "negative": "排除词",
}
MAX_WEIGHT = 100.0
MAX_LINES = 2000
MAX_TERM_CHARS = 64
_LEVEL_OF_WEIGHT = {weight: level for level, weight in LEVEL_WEIGHTS.items()}
_SEPARATORS = re.compile(r"[\s=:：,，]+")


@dataclass(frozen=True)
class RuleSummary:
    """One row of the rules list: a department's rule and how much it holds."""

    code: str
    name: str
    keywords: int
    tokens: int
    patterns: int
    negative: int
    source: str
    updated_by: str
    updated_at: dt.datetime | None


def _weight_text(weight: float) -> str:
    return f"{weight:g}"


def _merge(items: Iterable[tuple[Any, Any]], into: dict[str, float], seen: dict[str, str]) -> None:
    """Add ``(term, weight)`` pairs; terms equal once normalised are one (the first spelling
    is kept, the strongest weight wins), as when the router compiles them."""
    for raw, weight in items:
        term = str(raw)
        key = normalize(term)
        if not key:
            continue
        first = seen.setdefault(key, term)
        into[first] = max(into.get(first, float("-inf")), float(weight))


def _weighted(value: Any, default: float) -> list[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        return list(value.items())
    return [(v, default) for v in value or []]


def _keyword_weights(spec: Mapping[str, Any]) -> dict[str, float]:
    """All substring terms of a spec with their weight (the strongest mention wins)."""
    weights: dict[str, float] = {}
    seen: dict[str, str] = {}
    for level, default in (*LEVEL_WEIGHTS.items(), ("terms", 2.0)):
        _merge(_weighted(spec.get(level), default), weights, seen)
    return weights


def _mapping(spec: Mapping[str, Any], key: str, default: float) -> dict[str, float]:
    weights: dict[str, float] = {}
    _merge(_weighted(spec.get(key), default), weights, {})
    return weights


def spec_sections(spec: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """A spec as the four editable sections: ``{section: {term: weight}}``."""
    return {
        "keywords": _keyword_weights(spec),
        "tokens": _mapping(spec, "tokens", 1.0),
        "patterns": {str(k): float(v) for k, v in _weighted(spec.get("patterns"), 1.0)},
        "negative": _mapping(spec, "negative", 2.0),
    }


def spec_to_text(spec: Mapping[str, Any]) -> dict[str, str]:
    """A spec as the text of the four editing boxes: one ``词 权重`` line per term."""
    return {
        section: "\n".join(f"{term} {_weight_text(w)}" for term, w in terms.items())
        for section, terms in spec_sections(spec).items()
    }


def _parse_section(section: str, text: str, problems: list[str]) -> dict[str, float]:
    """Read one box; append a Chinese problem per bad line (and keep reading)."""
    label = SECTION_LABELS[section]
    default = {"keywords": 2.0, "tokens": 1.0, "patterns": 1.0, "negative": 2.0}[section]
    found: dict[str, float] = {}
    first_line: dict[str, int] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) > MAX_LINES:
        problems.append(f"{label}：最多 {MAX_LINES} 行，现有 {len(lines)} 行。")
        return found
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{label}第 {number} 行"
        if section == "patterns":
            # A regex may contain the separators: the weight is what follows the last space.
            head, _, tail = line.rpartition(" ")
            term, weight_text = (head.strip(), tail) if head.strip() else (line, "")
        else:
            parts = [p for p in _SEPARATORS.split(line) if p]
            if line[0] in "=:：,，":
                parts.insert(0, "")
            if len(parts) > 2:
                problems.append(f"{where}「{line}」：格式应为“词 权重”，词中不能有空格。")
                continue
            term, weight_text = parts[0], parts[1] if len(parts) > 1 else ""
        if not term or (section != "patterns" and not normalize(term)):
            problems.append(f"{where}：词为空。")
            continue
        if len(term) > MAX_TERM_CHARS:
            problems.append(f"{where}：“{term[:20]}…”过长（最多 {MAX_TERM_CHARS} 字）。")
            continue
        if weight_text:
            try:
                weight = float(weight_text)
            except ValueError:
                problems.append(f"{where}：“{term}”的权重“{weight_text}”不是数字。")
                continue
            if not math.isfinite(weight) or not 0 < weight <= MAX_WEIGHT:
                problems.append(
                    f"{where}：“{term}”的权重 {weight_text} 超出范围（应大于 0、不超过 "
                    f"{MAX_WEIGHT:g}）。"
                )
                continue
        else:
            weight = default
        if section == "patterns":
            try:
                re.compile(to_simplified(term))
            except re.error as exc:
                problems.append(f"{where}：正则表达式“{term}”有误（{exc}）。")
                continue
            key = term
        else:
            key = normalize(term)
        if key in first_line:
            problems.append(f"{where}：“{term}”与第 {first_line[key]} 行重复。")
            continue
        first_line[key] = number
        found[term] = weight
    return found


def spec_from_text(*, base: Mapping[str, Any], texts: Mapping[str, str]) -> dict[str, Any]:
    """The spec an administrator wrote in the four boxes (``SECTIONS``), on top of ``base``.

    Keywords worth 3, 2 or 1 go back to the ``strong``/``medium``/``weak`` lists, any other
    weight to ``terms``; the department's ``name`` is kept.

    Raises:
        InvalidInput: a line is malformed (empty term, bad or out-of-range weight, duplicate,
            bad regex) or a term is both a keyword and a negative term; the message lists
            every problem, in Chinese.
    """
    problems: list[str] = []
    sections = {s: _parse_section(s, texts.get(s, ""), problems) for s in SECTIONS}
    keywords = {normalize(t): t for t in sections["keywords"]}
    for term in sections["negative"]:
        if normalize(term) in keywords:
            problems.append(f"“{term}”同时是关键词和排除词，请只保留一处。")
    if not sections["keywords"] and not sections["tokens"] and not sections["patterns"]:
        problems.append("至少需要一个关键词、整词或正则，否则该部门永远不会被选中。")
    if problems:
        raise InvalidInput("规则有误：\n" + "\n".join(problems[:30]))
    spec: dict[str, Any] = {}
    if "name" in base:
        spec["name"] = base["name"]
    levels: dict[str, list[str]] = {level: [] for level in LEVEL_WEIGHTS}
    terms: dict[str, float] = {}
    for term, weight in sections["keywords"].items():
        level = _LEVEL_OF_WEIGHT.get(weight)
        if level is not None:
            levels[level].append(term)
        else:
            terms[term] = weight
    for level, items in levels.items():
        if items:
            spec[level] = items
    if terms:
        spec["terms"] = {t: _number(w) for t, w in terms.items()}
    for section in ("tokens", "patterns", "negative"):
        if sections[section]:
            spec[section] = {t: _number(w) for t, w in sections[section].items()}
    problems = nlp.validate_rules({"departments": {"X": spec}, "fallback": "X"})
    if problems:  # a safety net: the checks above should have said it in Chinese
        raise InvalidInput("规则有误：\n" + "\n".join(problems[:10]))
    return spec


def _number(weight: float) -> int | float:
    return int(weight) if weight.is_integer() else weight


def spec_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What an edit changed, per section: added ``{term: weight}``, removed terms, and
    changed ``{term: [old, new]}`` (for the audit log; the whole spec can be long)."""
    old, new = spec_sections(before), spec_sections(after)
    diff: dict[str, Any] = {}
    for section in SECTIONS:
        a, b = old[section], new[section]
        added = {t: _number(w) for t, w in b.items() if t not in a}
        removed = sorted(t for t in a if t not in b)
        changed = {t: [_number(a[t]), _number(b[t])] for t in b if t in a and a[t] != b[t]}
        part = {
            k: v for k, v in (("added", added), ("removed", removed), ("changed", changed)) if v
        }
        if part:
            diff[section] = part
    return diff


async def rule_summaries() -> list[RuleSummary]:
    """Every department's rule row (not the global settings), in the departments' order."""
    order = {
        code: (sort, i)
        for i, (code, sort) in enumerate(await Department.all().values_list("code", "sort"))
    }
    rows = await RoutingRule.exclude(code=GLOBAL).order_by("code")
    rows.sort(key=lambda r: order.get(r.code, (10_000, 0)))
    summaries = []
    for row in rows:
        sections = spec_sections(row.spec)
        summaries.append(
            RuleSummary(
                code=row.code,
                name=str(row.spec.get("name") or row.code),
                keywords=len(sections["keywords"]),
                tokens=len(sections["tokens"]),
                patterns=len(sections["patterns"]),
                negative=len(sections["negative"]),
                source=row.source,
                updated_by=row.updated_by,
                updated_at=row.updated_at,
            )
        )
    return summaries


async def global_settings() -> dict[str, Any]:
    """The rules' global settings (fallback department, misspelling aliases)."""
    row = await RoutingRule.get_or_none(code=GLOBAL)
    spec = dict(row.spec) if row is not None else {}
    return {
        "fallback": str(spec.get("fallback", DEFAULT_FALLBACK)),
        "aliases": dict(spec.get("aliases") or {}),
    }


async def department_rule(*, code: str) -> RoutingRule:
    """The rule row of one department.

    Raises:
        NotFound: no such department rule.
    """
    row = await RoutingRule.get_or_none(code=code) if code != GLOBAL else None
    if row is None:
        raise NotFound(f"没有部门“{code}”的分拨规则。")
    return row


def _plain_router(router: RouterLike) -> nlp.Router | None:
    inner = router.router if isinstance(router, RouterHolder) else router
    return inner if isinstance(inner, nlp.Router) else None


async def router_with_rule(
    *, current: RouterLike, code: str, spec: Mapping[str, Any]
) -> nlp.Router:
    """A router like ``current`` (same learned model) whose rules are the database's with
    ``code``'s spec replaced by ``spec``: the preview of an edit that is not saved yet."""
    doc = await rules_document()
    if not doc.get("departments"):
        doc = nlp.load_default_rules()
    doc["departments"] = {**doc["departments"], code: dict(spec)}
    plain = _plain_router(current)
    model = plain.model if plain is not None else None
    return await asyncio.to_thread(lambda: nlp.Router(rules=doc, model=model))


@dataclass(frozen=True)
class TrialCandidate:
    """A department the router considered: its probability, rule score and matched terms."""

    code: str
    name: str
    probability: float
    rule_score: float
    terms: tuple[str, ...]


@dataclass(frozen=True)
class RouteTrial:
    """The router's answer for a test message, spelled out for the rules page."""

    text: str
    department: str
    department_name: str
    confidence: float
    auto: bool
    type: str
    urgent: bool
    matched_terms: tuple[str, ...]
    candidates: tuple[TrialCandidate, ...]
    model_version: str | None


MAX_TRIAL_CHARS = 2000


async def try_message(*, router: RouterLike, text: str) -> RouteTrial:
    """Route ``text`` with ``router`` and explain it: the decision, the candidates with their
    probabilities, rule scores and matched terms (other departments whose rules matched are
    listed after the top three). Nothing is stored.

    Raises:
        InvalidInput: the text is empty or longer than :data:`MAX_TRIAL_CHARS`.
    """
    text = text.strip()
    if not text:
        raise InvalidInput("请输入要试算的留言。")
    if len(text) > MAX_TRIAL_CHARS:
        raise InvalidInput(f"试算留言最多 {MAX_TRIAL_CHARS} 字。")
    names = {code: short for code, short in await Department.all().values_list("code", "short")}
    decision = router.route(text)
    plain = _plain_router(router)
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    if plain is not None:
        scores, matched = plain.score(plain.prepare(text))
    listed = [(code, float(p)) for code, p in decision.candidates]
    seen = {code for code, _ in listed}
    listed += [
        (code, 0.0)
        for code in sorted(scores, key=lambda c: -scores[c])
        if code not in seen and scores[code] > 0
    ]
    candidates = tuple(
        TrialCandidate(
            code=code,
            name=names.get(code, code),
            probability=p,
            rule_score=round(scores.get(code, 0.0), 2),
            terms=tuple(matched.get(code, ())),
        )
        for code, p in listed
    )
    return RouteTrial(
        text=text,
        department=decision.department,
        department_name=names.get(decision.department, decision.department),
        confidence=decision.confidence,
        auto=decision.auto,
        type=decision.type,
        urgent=decision.urgent,
        matched_terms=decision.matched_terms,
        candidates=candidates,
        model_version=plain.model_version if plain is not None else None,
    )
