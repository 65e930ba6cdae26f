"""Database lifecycle: connect, apply migrations, load defaults.

Migrations are applied by Tortoise's own executor and operations, with a cheaper project state
(``_State``): on an empty database that replay is most of the first start's extra time.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any, cast

from pypika_tortoise import Query, Table
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.graph import MigrationKey
from tortoise.migrations.schema_generator.state import State
from tortoise.migrations.schema_generator.state_apps import StateApps
from tortoise.models import Model

from desk.setup import load_defaults
from models import tortoise_config

log = logging.getLogger(__name__)


def _ensure_sqlite_dir(db_url: str) -> None:
    if db_url.startswith("sqlite://"):
        path = db_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


# SQLite pragmas on top of Tortoise's own (WAL journal, foreign keys), unless the URL's query
# string sets them. synchronous=NORMAL in WAL mode: a commit is written to the WAL file but not
# fsynced; the fsync happens at checkpoints. A committed transaction survives the process being
# killed (SIGKILL, a crash: the WAL is in the operating system's cache, and the next connection
# reads it), which is the guarantee the inbox needs (the webhook answers 200 only after the
# commit); only a power cut or kernel crash may lose the last commits. FULL would fsync the WAL
# on every commit, several times the cost of the whole webhook request.
SQLITE_PRAGMAS = {"synchronous": "NORMAL"}


async def _keep_session(connection: Any) -> None:
    """asyncpg pool ``reset``: nothing beyond asyncpg's own (rolling back an open transaction).

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL`` when a connection goes back to the pool, one more round trip after every query (the
    query's caller waits for it too). The desk sets no session state (no advisory locks,
    cursors, LISTEN or SET), so there is nothing to reset.
    """


def _config(db_url: str) -> dict[str, Any]:
    config = tortoise_config(db_url)
    connection = expand_db_url(db_url)
    if connection["engine"] == "tortoise.backends.sqlite":
        for pragma, value in SQLITE_PRAGMAS.items():
            connection["credentials"].setdefault(pragma, value)
        config["connections"]["default"] = connection
    elif connection["engine"] == "tortoise.backends.asyncpg":
        connection["credentials"].setdefault("reset", _keep_session)
        config["connections"]["default"] = connection
    return config


async def connect(db_url: str) -> dict[str, Any]:
    """Open the connections (creating the SQLite folder if needed); returns the config."""
    _ensure_sqlite_dir(db_url)
    config = _config(db_url)
    await Tortoise.init(config=config)
    return config


class _State(State):
    """Tortoise's project state for applying migrations, with two costs of its own removed.

    The same operations run on it and the database gets the same statements; only model classes
    nobody reads are no longer built. Tortoise's state renders every model of the project as a
    class (``ModelMeta``: fields, filters, base queries) in two places, and applying the 14
    migrations to an empty database did so ~2,700 times (1.5 s of the first start):

    * ``Migration.apply`` copies the whole state before each operation (``clone``), for the
      operations whose SQL is derived from the state before them (removing or altering a field,
      ``RunPython``). A copy here keeps its model states but renders their classes only when
      its ``apps`` is first read: adding models, fields and indexes never reads it.
    * After an operation, ``_reload`` re-renders the changed models together with every model
      related to them (the classes point at each other), then Tortoise finalises every model of
      the project, the untouched ones again. Here only the re-rendered ones (and, should one
      ever be left out, the models they point at) are finalised; the others did not change.

    Kept equal to the stock executor's result by tests/bot/test_migrations.py, which compares the
    schema and the migration records of both on SQLite and PostgreSQL.
    """

    _template: StateApps  # a copy's: the connections its classes are rendered for

    def clone(self) -> State:
        copy = _State.__new__(_State)
        copy.models = {key: model.clone() for key, model in self.models.items()}
        apps = self.__dict__.get("apps")  # not rendered yet on a copy
        copy._template = apps if apps is not None else self._template
        return copy

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set: a copy's ``apps`` until first read.
        if name != "apps" or "_template" not in self.__dict__:
            raise AttributeError(name)
        self.apps = self._template.clone(model_states=self.models)
        return self.apps

    def _reload(self, models_to_reload: set[tuple[str, str]]) -> None:
        # State._reload, finalising only what changed (StateApps._build_initial_querysets
        # finalises all models).
        rendered: list[type[Model]] = []
        for app_label, model_name in models_to_reload:
            self.apps.unregister_model(app_label, model_name)
            model = self.models[(app_label, model_name)].render(self.apps)
            self.apps.register_model(app_label, model)
            rendered.append(model)
        self.apps._init_relations()
        if self.apps._connections._db_config is None:
            return  # state only, no database: Tortoise builds no querysets either
        changed = dict.fromkeys(rendered)
        for model in rendered:  # relations add their backward side to the model pointed at
            for name in model._meta.fetch_fields:
                related = getattr(model._meta.fields_map[name], "related_model", None)
                if related is not None:
                    changed[related] = None
        for model in changed:
            meta = model._meta
            if meta.default_connection is None or not meta._inited:
                continue
            meta.finalise_model()
            meta.basetable = Table(name=meta.db_table, schema=meta.schema)
            meta.basequery = cast(Query, meta.db.query_class.from_(meta.basetable))
            meta.basequery_all_fields = cast(Query, meta.basequery.select(*meta.db_fields))


class _Executor(MigrationExecutor):
    """Tortoise's migration executor, applying migrations to a ``_State``."""

    async def _project_state(
        self, applied: set[MigrationKey], *, upto: MigrationKey | None = None
    ) -> State:
        state = await super()._project_state(applied, upto=upto)
        return _State(models=state.models, apps=state.apps)


async def migrate(db_url: str) -> list[str]:
    """Apply the pending migrations; returns their names (``app.name``). Needs ``connect``.

    What ``tortoise.migrations.api.migrate`` does for the desk's one app and connection, minus
    its second ``Tortoise.init`` (``connect`` did it) and with the executor above.
    """
    applied: list[str] = []

    def progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app}.{name}")
            gc.collect()

    # tortoise_config: the one app "desk" on the connection "default"
    executor = _Executor(Tortoise.get_connection("default"), _config(db_url)["apps"])
    # Applying a migration leaves the model classes it rendered as garbage in reference cycles
    # (classes, their _meta and fields), which only the cycle collector frees, and mostly not
    # before they reach the oldest generation: on an empty database they piled up to the
    # worker's RSS high-water mark (idle RSS 201 MB at the first start). They are collected
    # after each migration and at the end, with everything older frozen so that each collection
    # looks only at what the migrations made (milliseconds; a full one under the worker's
    # imports takes ~50 ms). A database already up to date replays nothing and collects nothing.
    gc.freeze()
    try:
        await executor.migrate(progress=progress)
        if applied:
            gc.collect()  # the last state, freed when the executor returned
    finally:
        gc.unfreeze()
    return applied


async def prepare(db_url: str) -> dict[str, int]:
    """Apply pending migrations and load default data. Idempotent; needs ``connect`` first."""
    applied = await migrate(db_url)
    if applied:
        log.info("migrations applied: %s", ", ".join(applied))
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
