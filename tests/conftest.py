"""Shared fixtures: real databases (SQLite file, a fresh PostgreSQL database), real Redis.

PostgreSQL and Redis tests skip when the service is unreachable, unless
``DESK_REQUIRE_SERVICES=1`` (set by ``make test`` and CI), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

PG_URL = os.environ.get("DESK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("DESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE = os.environ.get("DESK_REQUIRE_SERVICES", "") not in ("", "0", "false")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _unavailable(what: str, exc: Exception) -> None:
    msg = f"{what} unreachable: {exc}"
    if REQUIRE:
        pytest.fail(msg + " (DESK_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(msg)


async def _pg_admin():  # type: ignore[no-untyped-def]
    import asyncpg

    dsn = PG_URL.replace("postgres://", "postgresql://", 1)
    return await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    try:
        admin = await _pg_admin()
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
    name = f"desk_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        from tortoise import Tortoise

        await Tortoise.close_connections()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'desk.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """Each test using it runs on SQLite and on PostgreSQL."""
    if db_kind == "sqlite":
        yield f"sqlite://{tmp_path / 'desk.sqlite3'}"
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    """Connected, migrated database with the default departments."""
    from bot import db as dbmod

    await dbmod.connect(db_url)
    await dbmod.prepare(db_url)
    try:
        yield db_url
    finally:
        await dbmod.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A reachable Redis (database 15), flushed before and after the test."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), timeout=5)
    except Exception as exc:
        await client.aclose()
        _unavailable("Redis", exc)
    await client.flushdb()
    try:
        yield REDIS_URL
    finally:
        await client.flushdb()
        await client.aclose()
