"""The desk side of routing: rules kept in the database, corrections as labelled examples,
retraining, and a router holder that every process refreshes without a restart.

``nlp`` stays pure; this module feeds it rules and examples and stores what it trains.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import nlp
from models.routing import RouterModel, RoutingExample, RoutingRule
from models.ticket import Ticket

from .db import atomic
from .errors import InvalidInput

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


@dataclass
class RouterHolder:
    """The router a process uses; ``refresh`` swaps in a new one when the database changed."""

    router: nlp.Router = field(default_factory=nlp.Router.from_default)
    key: str = "boot"

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
