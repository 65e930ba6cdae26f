"""Loading the project's default configuration (departments, rules, calendar, SLA, service
guide) into the database, idempotently."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from models.department import Department

from .guide import seed_guide
from .routing import seed_rules
from .sla import seed_policies
from .worktime import seed_calendar


def default_departments() -> list[dict[str, Any]]:
    """The departments shipped with the project (``desk/defaults/departments.yaml``)."""
    text = resources.files("desk").joinpath("defaults/departments.yaml").read_text("utf-8")
    # libyaml's safe loader when PyYAML has it: the same data, several times faster.
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(data, list)
    return data


async def load_defaults() -> dict[str, int]:
    """Insert missing default departments; never overwrite an admin's edits.

    Returns:
        Counts of ``created`` and ``kept`` departments.
    """
    created = kept = 0
    for sort, item in enumerate(default_departments()):
        _, was_created = await Department.get_or_create(
            code=item["code"],
            defaults={
                "name": item["name"],
                "short": item.get("short", item["name"]),
                "scope": item.get("scope", ""),
                "sort": sort,
            },
        )
        created += was_created
        kept += not was_created
    rules = await seed_rules()
    calendar_rows = await seed_calendar()
    await seed_policies()
    guide = await seed_guide()
    return {
        "created": created,
        "kept": kept,
        "rules_created": rules["created"],
        "rules_refreshed": rules["refreshed"],
        "calendar_rows": calendar_rows,
        "guide_created": guide["created"],
        "guide_refreshed": guide["refreshed"],
    }
