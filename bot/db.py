"""Database lifecycle: connect, apply migrations, load defaults."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api.migrate import migrate

from desk.setup import load_defaults
from models import tortoise_config

log = logging.getLogger(__name__)


def _ensure_sqlite_dir(db_url: str) -> None:
    if db_url.startswith("sqlite://"):
        path = db_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


async def connect(db_url: str) -> dict[str, Any]:
    """Open the connections (creating the SQLite folder if needed); returns the config."""
    _ensure_sqlite_dir(db_url)
    config = tortoise_config(db_url)
    await Tortoise.init(config=config)
    return config


async def prepare(db_url: str) -> dict[str, int]:
    """Apply pending migrations and load default data. Idempotent; needs ``connect`` first."""
    await migrate(config=tortoise_config(db_url))
    counts = await load_defaults()
    log.info("database ready: %s", counts)
    return counts


async def close() -> None:
    await Tortoise.close_connections()
    # Forget the models' per-dialect state too, so the next connect may use another database
    # (tests switch between SQLite and PostgreSQL in one process).
    await Tortoise._reset_apps()
    EXECUTOR_CACHE.clear()  # insert SQL is cached per connection name, not per dialect


async def ping() -> bool:
    """Whether the database answers a trivial query."""
    try:
        conn = Tortoise.get_connection("default")
        await conn.execute_query("SELECT 1")
        return True
    except Exception:
        return False
