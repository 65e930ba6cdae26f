"""Taking outbox work and recording delivery; used by the sender in ``bot``.

Rows are claimed with a lease (``status = sending``, ``locked_until``) so several processes can
share the outbox. On PostgreSQL one statement picks the rows ``FOR UPDATE SKIP LOCKED`` and
leases them, so workers never wait on each other's rows; on SQLite (one writer anyway) each row
is taken with a compare-and-set update. Only the oldest undelivered row of each chat is
eligible, which keeps every chat in order. A row whose lease ran out (its process died
mid-send) becomes eligible again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from tortoise import connections
from tortoise.expressions import F, Q
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from models.outbox import MessageLink, OutboxFile, OutboxMessage, OutboxStatus

from .db import claim_rows

MAX_ATTEMPTS = 8

# Heads of each chat's queue that are due, locked without waiting (SKIP LOCKED), leased in the
# same statement. The status is re-checked on the locked row, so a row that another worker
# leased and committed meanwhile is not taken twice.
_CLAIM_PG = """
WITH heads AS (
    SELECT min(id) AS id FROM outbox
    WHERE channel = $1 AND status IN ('pending', 'sending')
    GROUP BY chat_id, bulk
), due AS (
    SELECT o.id, o.chat_id, o.bulk FROM outbox o JOIN heads h ON h.id = o.id
    WHERE (o.status = 'pending' AND (o.not_before IS NULL OR o.not_before <= $2))
       OR (o.status = 'sending' AND o.locked_until < $2)
), groups AS (
    SELECT o.id FROM outbox o JOIN due d ON d.id = o.id
    WHERE d.chat_id < 0
    ORDER BY o.id
    LIMIT $3
    FOR UPDATE OF o SKIP LOCKED
), privates AS (
    SELECT o.id FROM outbox o JOIN due d ON d.id = o.id
    WHERE d.chat_id >= 0 AND NOT d.bulk
    ORDER BY o.id
    LIMIT $5
    FOR UPDATE OF o SKIP LOCKED
), bulk AS (
    SELECT o.id FROM outbox o JOIN due d ON d.id = o.id
    WHERE d.chat_id >= 0 AND d.bulk
    ORDER BY o.id
    LIMIT $6
    FOR UPDATE OF o SKIP LOCKED
), picked AS (
    SELECT id FROM groups UNION ALL SELECT id FROM privates UNION ALL SELECT id FROM bulk
)
UPDATE outbox SET status = 'sending', locked_until = $4, attempts = outbox.attempts + 1
FROM picked
WHERE outbox.id = picked.id
  AND (outbox.status = 'pending' OR outbox.locked_until < $2)
RETURNING outbox.*
"""


async def claim_batch(
    *,
    now: dt.datetime,
    limit: int = 30,
    lease_seconds: float = 60,
    channel: str = "telegram",
    private_limit: int | None = None,
    bulk_limit: int | None = None,
) -> list[OutboxMessage]:
    """Lease deliverable rows (the head of each chat's queue), oldest first.

    Up to ``limit`` group rows, up to ``private_limit`` (default: ``limit``) private-chat rows
    and up to ``bulk_limit`` (default: ``private_limit``) broadcast rows, in that order in the
    result: a card reaching the department is what starts the response clock's work, a sender
    keeps room for cards however many private chats wait, and broadcasts come last. A chat's
    broadcasts queue apart from its other messages (each in order), so a broadcast never holds
    up a ticket's message.

    Two processes can never take the same row: PostgreSQL skips rows another claim holds
    locked, SQLite takes each row with a compare-and-set update on its status and lease.
    """
    privates = limit if private_limit is None else private_limit
    bulk = privates if bulk_limit is None else bulk_limit
    if limit <= 0 and privates <= 0 and bulk <= 0:
        return []
    lease = now + dt.timedelta(seconds=lease_seconds)
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        _, rows = await conn.execute_query(
            _CLAIM_PG, [channel, now, max(0, limit), lease, max(0, privates), max(0, bulk)]
        )
        # The leased rows come back whole (RETURNING outbox.*), turned into models the way
        # the ORM's own SELECT does: no second query for them.
        leased = [OutboxMessage._init_from_db(**dict(r)) for r in rows]
        return sorted(leased, key=lambda r: (r.chat_id >= 0, r.bulk, r.id))  # groups first
    due = (
        Q(status=OutboxStatus.PENDING, not_before__isnull=True)
        | Q(status=OutboxStatus.PENDING, not_before__lte=now)
        | Q(status=OutboxStatus.SENDING, locked_until__lt=now)
    )
    # Only the head (oldest undelivered row) of each chat is eligible (a chat's broadcasts queue
    # apart): chats stay in order, and a backlog in one chat cannot crowd the others out.
    heads = [
        row["head"]
        for row in await OutboxMessage.filter(
            channel=channel, status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
        )
        .annotate(head=Min("id"))
        .group_by("chat_id", "bulk")
        .values("chat_id", "bulk", "head")
    ]
    if not heads:
        return []
    eligible = OutboxMessage.filter(due, channel=channel, id__in=heads)
    groups: list[OutboxMessage] = []
    if limit > 0:
        groups = await eligible.filter(chat_id__lt=0).order_by("id").limit(limit)
    chats: list[OutboxMessage] = []
    if privates > 0:
        chats = await eligible.filter(chat_id__gte=0, bulk=False).order_by("id").limit(privates)
    broadcasts: list[OutboxMessage] = []
    if bulk > 0:
        broadcasts = await eligible.filter(chat_id__gte=0, bulk=True).order_by("id").limit(bulk)
    return [
        *await claim_rows(groups, status=OutboxStatus.SENDING, until=lease),
        *await claim_rows(chats, status=OutboxStatus.SENDING, until=lease),
        *await claim_rows(broadcasts, status=OutboxStatus.SENDING, until=lease),
    ]


async def mark_part_sent(row: OutboxMessage, message_id: int) -> None:
    """One part of a multi-part message went out: remember it so a retry does not repeat it."""
    parts, ids = row.parts_done + 1, [*row.message_ids, message_id]
    await OutboxMessage.filter(id=row.id).update(parts_done=parts, message_ids=ids)
    row.parts_done, row.message_ids = parts, ids  # only once written: a retry repeats nothing


async def mark_sent(row: OutboxMessage, *, now: dt.datetime, link_ids: Sequence[int]) -> None:
    """Delivered: record it and link the delivered messages to the ticket."""
    async with in_transaction():
        await OutboxMessage.filter(id=row.id).update(
            status=OutboxStatus.SENT,
            sent_at=now,
            locked_until=None,
            error=None,
            message_ids=row.message_ids,
        )
        if row.ticket_id is not None and row.link_role:
            for mid in link_ids:
                exists = await MessageLink.exists(chat_id=row.chat_id, message_id=mid)
                if not exists:
                    await MessageLink.create(
                        chat_id=row.chat_id,
                        message_id=mid,
                        ticket_id=row.ticket_id,
                        role=row.link_role,
                    )


async def mark_retry(
    row: OutboxMessage, *, now: dt.datetime, delay: float, error: str, count_attempt: bool = True
) -> None:
    """Try again after ``delay`` seconds; give up after ``MAX_ATTEMPTS`` real failures."""
    attempts = row.attempts if count_attempt else max(0, row.attempts - 1)
    if attempts >= MAX_ATTEMPTS:
        await mark_failed(row, error=f"gave up after {attempts} attempts: {error}")
        return
    await OutboxMessage.filter(id=row.id).update(
        status=OutboxStatus.PENDING,
        not_before=now + dt.timedelta(seconds=delay),
        locked_until=None,
        attempts=attempts,
        error=error[:1000],
    )


async def mark_failed(row: OutboxMessage, *, error: str) -> None:
    """Undeliverable (blocked by the user, chat gone, bad request): stop trying, keep the row."""
    await OutboxMessage.filter(id=row.id).update(
        status=OutboxStatus.FAILED, locked_until=None, error=error[:1000]
    )


async def find_link(*, chat_id: int, ticket_id: int, role: str) -> int | None:
    """The newest delivered message of ``role`` for a ticket in a chat (to edit or reply to)."""
    link = (
        await MessageLink.filter(chat_id=chat_id, ticket_id=ticket_id, role=role)
        .order_by("-id")
        .first()
    )
    return int(link.message_id) if link else None


async def file(file_id: int) -> OutboxFile | None:
    """A stored file an outbox message sends."""
    return await OutboxFile.get_or_none(id=file_id)


async def pending_count() -> int:
    return await OutboxMessage.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
    ).count()


# ---------------------------------------------------------------- burst digests
#
# Telegram lets a bot post 20 messages a minute to a group. When a group's queue holds more than
# its remaining budget, the new cards queued behind the head are merged into one digest message
# (each ticket with its own buttons), so a burst of tickets reaches the group within a minute
# instead of trickling in over many.

DIGEST_KINDS = ("card", "triage_card")
DIGEST_MAX = 15  # tickets per digest: fits one message and Telegram's button limits
DIGEST_HEADROOM = 5  # group sends a minute kept free of cards for staff actions (claim edits…)


def is_new_card(row: OutboxMessage) -> bool:
    """A first posting of a ticket card (not an edit, picker or continuation): mergeable."""
    return (
        row.kind in DIGEST_KINDS
        and row.parts_done == 0
        and not row.params.get("edit")
        and not row.params.get("picker")
    )


async def queued_behind(row: OutboxMessage) -> int:
    """How many undelivered rows wait behind ``row`` in its chat."""
    return await OutboxMessage.filter(
        channel=row.channel, chat_id=row.chat_id, status=OutboxStatus.PENDING, id__gt=row.id
    ).count()


async def take_card_run(
    head: OutboxMessage,
    *,
    now: dt.datetime,
    limit: int = DIGEST_MAX - 1,
    lease_seconds: float = 60,
) -> list[OutboxMessage]:
    """Lease the new cards of the same kind queued right behind ``head`` (consecutive, in order).

    Stops at the first row of another sort, so the chat's messages keep their order.
    """
    following = (
        await OutboxMessage.filter(
            channel=head.channel, chat_id=head.chat_id, status=OutboxStatus.PENDING, id__gt=head.id
        )
        .order_by("id")
        .limit(limit)
    )
    lease = now + dt.timedelta(seconds=lease_seconds)
    run: list[OutboxMessage] = []
    for row in following:
        if not is_new_card(row) or row.kind != head.kind:
            break
        run.append(row)
    if not run:
        return []
    # One compare-and-set for the whole run. Rows behind a chat's head are claimed by nobody
    # else (only heads are), so all are normally won; when not (a row changed meanwhile), the
    # run is cut at the first row not won and the ones won after it are given back.
    ids = [row.id for row in run]
    won = await OutboxMessage.filter(id__in=ids, status=OutboxStatus.PENDING).update(
        status=OutboxStatus.SENDING, locked_until=lease, attempts=F("attempts") + 1
    )
    if won == len(run):
        return run
    ours = set(
        await OutboxMessage.filter(
            id__in=ids, status=OutboxStatus.SENDING, locked_until=lease
        ).values_list("id", flat=True)
    )
    kept: list[OutboxMessage] = []
    for row in run:
        if row.id not in ours:
            break
        kept.append(row)
    await release([row for row in run[len(kept) :] if row.id in ours])
    return kept


def digest_params(rows: Sequence[OutboxMessage]) -> dict[str, Any]:
    """What a digest shows of each card (the cards' own snapshots, shortened)."""
    items = [
        {
            key: row.params.get(key)
            for key in (
                "ticket_id",
                "ref",
                "type",
                "urgent",
                "deadline",
                "enterprise",
                "text",
                "key",  # a key project / key enterprise's flag (desk.keyaccounts)
                "filed_by",  # the grid worker who filed it (desk.grid)
            )
        }
        for row in rows
    ]
    for item in items:
        item["text"] = (item["text"] or "")[:200]
    return {"triage": rows[0].kind == "triage_card", "items": items}


async def mark_digest_sent(
    rows: Sequence[OutboxMessage], *, now: dt.datetime, message_id: int
) -> None:
    """The digest went out: every merged card is delivered (not linked: replies to a digest
    cannot name one ticket, and a later edit of a card posts the full card afresh)."""
    async with in_transaction():
        await OutboxMessage.filter(id__in=[r.id for r in rows]).update(
            status=OutboxStatus.SENT,
            sent_at=now,
            locked_until=None,
            error=None,
            message_ids=[message_id],
        )


async def release(rows: Sequence[OutboxMessage]) -> None:
    """Give leased rows back untouched (the digest they were taken for did not go out)."""
    for row in rows:
        await OutboxMessage.filter(id=row.id, status=OutboxStatus.SENDING).update(
            status=OutboxStatus.PENDING, locked_until=None, attempts=row.attempts
        )
