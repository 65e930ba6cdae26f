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
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from models.system import InboxUpdate

MAX_ATTEMPTS = 5

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
RETURNING inbox_update.key
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
    update_id = int(payload["update_id"])
    try:
        async with in_transaction():
            await InboxUpdate.create(
                key=f"tg:{update_id}",
                channel=channel,
                update_id=update_id,
                chat_id=chat_of(payload),
                payload=payload,
            )
    except IntegrityError:
        return False
    return True


async def store_many(payloads: list[dict[str, Any]], *, channel: str = "telegram") -> None:
    """Store several raw updates in one transaction (group commit); redeliveries are ignored."""
    rows = [
        InboxUpdate(
            key=f"tg:{int(p['update_id'])}",
            channel=channel,
            update_id=int(p["update_id"]),
            chat_id=chat_of(p),
            payload=p,
        )
        for p in payloads
    ]
    async with in_transaction():
        await InboxUpdate.bulk_create(rows, ignore_conflicts=True)


async def claim(
    *, now: dt.datetime, limit: int = 50, lease_seconds: float = 120
) -> list[InboxUpdate]:
    """Lease the oldest pending update of each chat (and updates without a chat)."""
    lease = now + dt.timedelta(seconds=lease_seconds)
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        keys = [r["key"] for r in await conn.execute_query_dict(_CLAIM_PG, [now, limit, lease])]
        if not keys:
            return []
        return await InboxUpdate.filter(key__in=keys).order_by("update_id")
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
    taken: list[InboxUpdate] = []
    for row in candidates:
        won = await InboxUpdate.filter(
            key=row.key, status=row.status, locked_until=row.locked_until
        ).update(status="working", locked_until=lease, attempts=row.attempts + 1)
        if won:
            row.status, row.locked_until, row.attempts = "working", lease, row.attempts + 1
            taken.append(row)
            if len(taken) >= limit:
                break
    return taken


async def done(row: InboxUpdate, *, now: dt.datetime) -> None:
    await InboxUpdate.filter(key=row.key).update(status="done", done_at=now, locked_until=None)


async def failed(row: InboxUpdate, *, error: str) -> None:
    """Handling raised: retry later, park it after ``MAX_ATTEMPTS`` (kept for inspection)."""
    status = "failed" if row.attempts >= MAX_ATTEMPTS else "pending"
    await InboxUpdate.filter(key=row.key).update(
        status=status, locked_until=None, error=error[:2000]
    )


async def backlog() -> int:
    return await InboxUpdate.filter(status__in=["pending", "working"]).count()
