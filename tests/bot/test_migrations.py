"""bot.db applies migrations exactly as Tortoise's stock executor does, only faster.

``bot.db.migrate`` runs Tortoise's executor and operations on a project state of its own
(``_State``: copies that render their model classes when first read, only changed models
finalised). These tests hold it to the stock ``tortoise.migrations.api.migrate``: the same
tables, columns, indexes, constraints and views, and the same migration records, from an empty
database and from one migrated half-way, on SQLite and PostgreSQL; and the same SQL for every
operation, including ones that read the state before them (which the desk's migrations do not
have yet), and the same model classes in the state and in a copy of it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise, fields
from tortoise.migrations import operations as ops
from tortoise.migrations.api.migrate import migrate as stock_migrate
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.migration import Migration
from tortoise.migrations.schema_generator.state import State
from tortoise.migrations.schema_generator.state_apps import StateApps

from bot import db
from tests.conftest import fresh_pg_database

# The desk's migrations in order, as recorded (tortoise_migrations.name).
MIGRATIONS = sorted(p.stem for p in Path(db.__file__).parents[1].glob("models/migrations/0*.py"))
HALF_WAY = f"desk.{MIGRATIONS[len(MIGRATIONS) // 2]}"


@contextlib.asynccontextmanager
async def empty_database(kind: str, tmp_path: Path, name: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite://{tmp_path / f'{name}.sqlite3'}"
        return
    async with fresh_pg_database() as url:
        yield url


async def schema(url: str) -> dict[str, Any]:
    """Everything the migrations create, and the migration records, in a comparable form."""
    conn = Tortoise.get_connection("default")
    _, records = await conn.execute_query("SELECT app, name FROM tortoise_migrations ORDER BY id")
    out: dict[str, Any] = {"records": [(r["app"], r["name"]) for r in records]}
    if url.startswith("sqlite"):
        _, rows = await conn.execute_query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        )
        out["sqlite_master"] = [tuple(r) for r in rows]
        return out
    queries = {
        "columns": """SELECT table_name, column_name, ordinal_position, column_default,
            is_nullable, data_type, character_maximum_length, numeric_precision, numeric_scale,
            col_description(format('%I', table_name)::regclass, ordinal_position) AS comment
            FROM information_schema.columns WHERE table_schema = 'public'
            ORDER BY table_name, ordinal_position""",
        "tables": """SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') AS comment
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' ORDER BY c.relname""",
        "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes
            WHERE schemaname = 'public' ORDER BY tablename, indexname""",
        "constraints": """SELECT conrelid::regclass::text AS tbl, conname,
            pg_get_constraintdef(oid) AS def FROM pg_constraint
            WHERE connamespace = 'public'::regnamespace ORDER BY tbl, conname""",
        "views": """SELECT table_name, view_definition FROM information_schema.views
            WHERE table_schema = 'public' ORDER BY table_name""",
        "sequences": """SELECT sequence_name, data_type, start_value, increment
            FROM information_schema.sequences WHERE sequence_schema = 'public'
            ORDER BY sequence_name""",
    }
    for key, sql in queries.items():
        _, rows = await conn.execute_query(sql)
        out[key] = [tuple(dict(r).values()) for r in rows]
    return out


async def migrated(url: str, *, stock_first: str | None, ours: bool) -> dict[str, Any]:
    """Connect, apply migrations (stock up to ``stock_first``, then ours or stock), dump."""
    await db.connect(url)
    try:
        if stock_first:
            await stock_migrate(config=db._config(url), target=stock_first)
        if ours:
            applied = await db.migrate(url)
            assert applied and applied[-1] == f"desk.{MIGRATIONS[-1]}"
            assert gc.get_freeze_count() == 0  # it froze the older objects only meanwhile
            assert await db.migrate(url) == []  # up to date: nothing again
        else:
            await stock_migrate(config=db._config(url))
        return await schema(url)
    finally:
        await db.close()


@pytest.mark.parametrize("stock_first", [None, HALF_WAY], ids=["empty", "half-way"])
async def test_same_schema_and_records_as_the_stock_executor(
    db_kind: str, tmp_path: Path, stock_first: str | None
) -> None:
    async with empty_database(db_kind, tmp_path, "stock") as url:
        expected = await migrated(url, stock_first=None, ours=False)
    async with empty_database(db_kind, tmp_path, "ours") as url:
        got = await migrated(url, stock_first=stock_first, ours=True)
    assert expected["records"] == [("desk", name) for name in MIGRATIONS]
    assert got == expected


class _Extra(Migration):
    """Operations whose SQL is derived from the state before them (a lazy copy is read)."""

    operations = [
        ops.AlterField(model_name="OutboxFile", name="name", field=fields.CharField(200)),
        ops.RemoveField(model_name="OutboxFile", name="mime"),
        ops.RenameField(model_name="JobRun", old_name="at", new_name="done_at"),
        ops.AddField(model_name="JobRun", name="note", field=fields.TextField(null=True)),
    ]


def _models(apps: StateApps) -> list[tuple[str, ...]]:
    """What Tortoise derived for each model class of a state: fields, filters, query."""
    return [
        (
            name,
            " ".join(sorted(model._meta.fields_map)),
            " ".join(sorted(model._meta.fetch_fields)),
            " ".join(sorted(model._meta.filters)),
            str(model._meta.basequery_all_fields),
        )
        for name, model in sorted(apps.apps["desk"].items())
    ]


async def _collected_sql(executor: MigrationExecutor) -> tuple[State, list[Any]]:
    """Every migration of the desk then ``_Extra`` applied to the executor's state, as SQL;
    then the model classes of that state and of a copy of it."""
    await executor.loader.build_graph()
    state = await executor._project_state(set())
    migrations = [executor.loader.graph.nodes[key] for key in executor._full_plan()]
    sql: list[Any] = []
    for migration in [*migrations, _Extra("9999_extra", "desk")]:
        assert isinstance(migration, Migration)
        editor = executor._schema_editor(atomic=False, collect_sql=True)
        await migration.apply(state, schema_editor=editor, collect_sql=True)
        sql += editor.collected_sql
    return state, [*sql, _models(state.apps), _models(state.clone().apps)]


async def test_same_sql_for_every_operation_as_the_stock_state(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'desk.sqlite3'}"
    await db.connect(url)
    try:
        apps = db._config(url)["apps"]
        conn = Tortoise.get_connection("default")
        stock = MigrationExecutor(conn, apps)
        ours = db._Executor(conn, apps)
        _, expected = await _collected_sql(stock)
        state, got = await _collected_sql(ours)
        assert isinstance(state, db._State)
    finally:
        await db.close()
    assert "-- Remove field mime from OutboxFile" in expected
    assert len(expected[-1]) > 30 and expected[-1] == expected[-2]
    assert got == expected
