"""Tortoise ORM models: the schema of the service desk and its migrations.

One module per aggregate. This package imports nothing else of ours; ``desk`` owns the rules.
"""

from __future__ import annotations

from typing import Any

MODEL_MODULES = [
    "models.department",
    "models.enterprise",
    "models.ticket",
    "models.outbox",
    "models.system",
    "models.routing",
    "models.calendar",
    "models.sla",
    "models.staff",
    "models.webuser",
    "models.audit",
    "models.guide",
    "models.broadcast",
    "models.matching",
    "models.webchat",
    "models.liaison",
    "models.grid",
    "models.keyaccount",
]


def tortoise_config(db_url: str) -> dict[str, Any]:
    """Tortoise config dict for one database URL (SQLite or PostgreSQL).

    Args:
        db_url: a Tortoise URL such as ``sqlite://data/desk.sqlite3`` or ``postgres://…``.
    """
    return {
        "connections": {"default": db_url},
        "apps": {
            "desk": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }
