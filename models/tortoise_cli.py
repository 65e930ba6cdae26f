"""Config for ``python -m tortoise makemigrations`` / ``migrate`` (developer tooling only).

The running service never imports this module: ``bot`` builds its config from settings.
"""

from __future__ import annotations

import os

from models import tortoise_config

TORTOISE_ORM = tortoise_config(os.environ.get("DESK_DATABASE_URL", "sqlite://data/desk.sqlite3"))
