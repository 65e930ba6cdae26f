"""Durable intake: every inbound update is stored before it is acknowledged, then handled.

Handling takes rows with a lease, only the oldest pending row of each chat, so every chat is
handled in order and several workers can share the inbox: on PostgreSQL one statement picks the
rows ``FOR UPDATE SKIP LOCKED`` and leases them; on SQLite each row is taken with a
compare-and-set update. A row whose worker died
is taken again after its lease; the processed-update marker written with the effects makes the
retry change nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from tortoise import connections, timezone
from tortoise.backends.base.executor import BaseExecutor
from tortoise.expressions import Q
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from models.system import InboxUpdate

from .db import claim_rows

MAX_ATTEMPTS = 5
LEASE = 20.0  # seconds a worker holds an update it is handling

# The due head of each chat (and chat-less updates), locked without waiting and leased in one
# statement; the outer WHERE re-checks the state on the locked row.
_CLAIM_PG = """
WITH heads AS (
    SELECT min(update_id) AS update_id FROM inbox_update
    WHERE status IN ('pending', 'working') AND chat_id IS NOT NULL
    GROUP BY chat_id
), picked AS (
    SELECT i.key FROM inbox_update i
    WHERE (i.status = 'pending' OR (i.status = 'working' AND i.locked_until < $1))
      AND (i.chat_id IS NULL OR i.update_id IN (SELECT update_id FROM heads))
    ORDER BY i.update_id
    LIMIT $2
    FOR UPDATE OF i SKIP LOCKED
)
UPDATE inbox_update SET status = 'working', locked_until = $3,
    attempts = inbox_update.attempts + 1
FROM picked
WHERE inbox_update.key = picked.key
  AND (inbox_update.status = 'pending' OR inbox_update.locked_until < $1)
RETURNING inbox_update.*
"""


def chat_of(payload: dict[str, Any]) -> int | None:
    """The chat an update belongs to (for per-chat ordering), if it has one."""
    for key in ("message", "edited_message", "channel_post", "my_chat_member", "chat_member"):
        chat = (payload.get(key) or {}).get("chat") if isinstance(payload.get(key), dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    query = payload.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance((message.get("chat") or {}).get("id"), int):
            return int(message["chat"]["id"])
        user = query.get("from")
        if isinstance(user, dict) and isinstance(user.get("id"), int):
            return int(user["id"])
    return None


async def store(payload: dict[str, Any], *, channel: str = "telegram") -> bool:
    """Store a raw update. Returns False when it was stored before (a redelivery)."""
    return await _insert([payload], channel=channel) == 1


async def store_many(
    payloads: list[dict[str, Any]],
    *,
    channel: str = "telegram",
    texts: list[str] | None = None,
) -> None:
    """Store several raw updates at once (group commit); redeliveries are ignored.

    ``texts``, when given, are the payloads' JSON as received (``texts[i]`` encodes
    ``payloads[i]``), stored as they are instead of being encoded again.
    """
    await _insert(payloads, channel=channel, texts=texts)


# SQLite rows per INSERT statement: 8 parameters a row stays far below its limit of 32766
# bound parameters. (PostgreSQL takes columns as arrays: one statement whatever the count.)
_ROWS_PER_STATEMENT = 500
_COLUMNS = '"key","channel","update_id","chat_id","payload","status","attempts","received_at"'
# (Counted through RETURNING: Tortoise reads the OID of an "INSERT 0 n" tag as the count.)
_INSERT_PG = f"""
WITH added AS (
    INSERT INTO inbox_update ({_COLUMNS})
    SELECT k, $5::varchar, u, c, p::jsonb, 'pending', 0, $6::timestamptz
    FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::text[]) AS t(k, u, c, p)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*) AS n FROM added
"""


async def _insert(
    payloads: list[dict[str, Any]], *, channel: str, texts: list[str] | None = None
) -> int:
    """Insert updates with ``INSERT … ON CONFLICT DO NOTHING``; returns how many were new.

    This is the acknowledgement path of every webhook request. The ORM's ``bulk_create``
    builds a model instance per row and wraps the statement in BEGIN/COMMIT round trips, which
    cost more than the write itself; one multi-row statement is one round trip, atomic and
    committed on its own. Same columns and encodings as the model (the payload through the
    field's own JSON encoder, unless the received text is given).
    """
    if not payloads:
        return 0
    if texts is not None and len(texts) != len(payloads):
        raise ValueError("texts must match payloads one to one")
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    numbered = conn.executor_class.parameter is BaseExecutor.parameter  # $1 (asyncpg), not %s
    if dialect != "sqlite" and not (dialect == "postgres" and numbered):
        return await _insert_orm(payloads, channel=channel)
    encode = InboxUpdate._meta.fields_map["payload"].encoder  # type: ignore[attr-defined]
    keys, update_ids, chats = [], [], []
    for payload in payloads:
        update_id = int(payload["update_id"])
        keys.append(f"tg:{update_id}")
        update_ids.append(update_id)
        chats.append(chat_of(payload))
    if texts is None:
        texts = [encode(payload) for payload in payloads]
    now = timezone.now()
    if dialect == "postgres":
        (row,) = await conn.execute_query_dict(
            _INSERT_PG, [keys, update_ids, chats, texts, channel, now]
        )
        return int(row["n"])
    rows = [
        (key, channel, update_id, chat, text, "pending", 0, now)
        for key, update_id, chat, text in zip(keys, update_ids, chats, texts, strict=True)
    ]
    if len(rows) <= _ROWS_PER_STATEMENT:
        added, _ = await conn.execute_query(_insert_sqlite(len(rows)), _flat(rows))
        return int(added)
    added = 0
    async with in_transaction() as tx:  # several statements: still all or nothing
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            count, _ = await tx.execute_query(_insert_sqlite(len(chunk)), _flat(chunk))
            added += int(count)
    return added


def _flat(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


@functools.lru_cache(maxsize=_ROWS_PER_STATEMENT)
def _insert_sqlite(rows: int) -> str:
    values = ",".join(["(?,?,?,?,?,?,?,?)"] * rows)
    return f"INSERT INTO inbox_update ({_COLUMNS}) VALUES {values} ON CONFLICT DO NOTHING"


async def _insert_orm(payloads: list[dict[str, Any]], *, channel: str) -> int:
    """The same through the ORM, for a backend without the fast path (not SQLite or asyncpg)."""
    added = 0
    async with in_transaction():
        for payload in payloads:
            update_id = int(payload["update_id"])
            _, created = await InboxUpdate.get_or_create(
                key=f"tg:{update_id}",
                defaults={
                    "channel": channel,
                    "update_id": update_id,
                    "chat_id": chat_of(payload),
                    "payload": payload,
                },
            )
            added += created
    return added


async def claim(
    *, now: dt.datetime, limit: int = 20, lease_seconds: float = LEASE
) -> list[InboxUpdate]:
    """Lease the oldest pending update of each chat (and updates without a chat)."""
    lease = now + dt.timedelta(seconds=lease_seconds)
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        _, rows = await conn.execute_query(_CLAIM_PG, [now, limit, lease])
        # The leased rows come back whole (RETURNING inbox_update.*), turned into models the
        # way the ORM's own SELECT does: no second query for them.
        leased = [InboxUpdate._init_from_db(**dict(r)) for r in rows]
        return sorted(leased, key=lambda r: r.update_id)
    due = Q(status="pending") | Q(status="working", locked_until__lt=now)
    # Only the oldest unfinished update of each chat is eligible (per-chat order), so a long
    # backlog in one chat cannot crowd the others out of a batch.
    heads = [
        row["head"]
        for row in await InboxUpdate.filter(status__in=["pending", "working"])
        .filter(chat_id__not_isnull=True)
        .annotate(head=Min("update_id"))
        .group_by("chat_id")
        .values("chat_id", "head")
    ]
    candidates = (
        await InboxUpdate.filter(due)
        .filter(Q(update_id__in=heads) | Q(chat_id__isnull=True))
        .order_by("update_id")
        .limit(limit)
    )
    return await claim_rows(candidates, status="working", until=lease, limit=limit)


async def done(row: InboxUpdate, *, now: dt.datetime) -> None:
    await InboxUpdate.filter(key=row.key).update(status="done", done_at=now, locked_until=None)


async def failed(row: InboxUpdate, *, error: str, count: bool = True) -> None:
    """Handling raised: retry later, park it after ``MAX_ATTEMPTS`` (kept for inspection).

    ``count=False`` (the database was away: nothing to learn about the update) gives back the
    attempt its claim counted.
    """
    attempts = row.attempts if count else max(0, row.attempts - 1)
    status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
    await InboxUpdate.filter(key=row.key).update(
        status=status, locked_until=None, error=error[:2000], attempts=attempts
    )


async def backlog() -> int:
    return await InboxUpdate.filter(status__in=["pending", "working"]).count()
