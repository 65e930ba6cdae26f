"""Fixtures of the soak tests: a fresh PostgreSQL database, a Redis, a Telegram-like fake.

The fresh database comes from the ``pg_url`` fixture of ``tests/conftest.py``; Redis is the
test Redis (``DESK_TEST_REDIS_URL``), shared with other tests, so nothing is flushed: each run
uses its own bot token and update ids and deletes its own keys afterwards. As everywhere,
``DESK_REQUIRE_SERVICES=1`` turns an unreachable service into a failure instead of a skip.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakebot import FakeBotAPI
from soak_harness import Worker, first_update_id, redis_client_or_skip, unique_token

REDIS_URL = os.environ.get("DESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE = os.environ.get("DESK_REQUIRE_SERVICES", "") not in ("", "0", "false")


def _unavailable(what: str, exc: Exception) -> None:
    msg = f"{what} unreachable: {exc}"
    if REQUIRE:
        pytest.fail(msg + " (DESK_REQUIRE_SERVICES=1: services are required)")
    pytest.skip(msg)


@pytest.fixture
async def soak_redis() -> AsyncIterator[Any]:
    """A client of the test Redis (not flushed: the database is shared)."""
    client = await redis_client_or_skip(REDIS_URL, _unavailable)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotAPI]:
    """The fake Bot API delivering webhooks like Telegram: queued, retried until 2xx."""
    async with FakeBotAPI(
        token=unique_token(),
        webhook_retry=True,
        webhook_retry_delay=0.1,
        webhook_retry_max_delay=2.0,
        webhook_timeout=10.0,
        first_update_id=first_update_id(),
    ) as fake:
        yield fake


@pytest.fixture
async def workers() -> AsyncIterator[list[Worker]]:
    """Workers a test starts; every one still running at the end is killed (by its pid)."""
    started: list[Worker] = []
    yield started
    for worker in started:
        await worker.ensure_stopped()


@pytest.fixture
def soak_dir(tmp_path: Path) -> Path:
    """Working folder of the worker processes (their logs are kept here)."""
    folder = tmp_path / "soak"
    folder.mkdir()
    return folder
