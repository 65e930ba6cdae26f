"""Tickets, their append-only event log, conversation messages, drafts and pending inputs."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

    from models.department import Department
    from models.enterprise import Enterprise, Member


class TicketStatus(StrEnum):
    """Ticket states (see DESIGN.md "The ticket")."""

    TRIAGE = "triage"
    DISPATCHED = "dispatched"
    CLAIMED = "claimed"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


OPEN_STATUSES = (
    TicketStatus.TRIAGE,
    TicketStatus.DISPATCHED,
    TicketStatus.CLAIMED,
    TicketStatus.WAITING,
    TicketStatus.REOPENED,
)


class Ticket(Model):
    """One enterprise request and everything decided about it."""

    id = fields.IntField(primary_key=True)
    ref = fields.CharField(max_length=24, unique=True)
    enterprise: fields.ForeignKeyRelation[Enterprise] = fields.ForeignKeyField(
        "desk.Enterprise", related_name="tickets"
    )
    enterprise_id: int
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "desk.Member", related_name="tickets"
    )
    member_id: int
    channel = fields.CharField(max_length=16, default="telegram")
    text = fields.TextField()
    department: fields.ForeignKeyNullableRelation[Department] = fields.ForeignKeyField(
        "desk.Department", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    department_id: int | None
    status = fields.CharEnumField(TicketStatus, max_length=16, db_index=True)
    type = fields.CharField(max_length=4, default="咨询")
    urgent = fields.BooleanField(default=False)
    escalation_level = fields.SmallIntField(default=0)
    route_confidence = fields.FloatField(default=0.0)
    route_terms: list = fields.JSONField(default=list)
    route_candidates: list = fields.JSONField(default=list)
    claimed_by_id = fields.BigIntField(null=True)
    claimed_by_name = fields.CharField(max_length=128, null=True)
    claimed_at = fields.DatetimeField(null=True)
    due_at = fields.DatetimeField(null=True)
    response_due_at = fields.DatetimeField(null=True)
    sla_start_at = fields.DatetimeField(null=True)  # when the current resolution clock started
    due_estimated = fields.BooleanField(default=False)
    paused_at = fields.DatetimeField(null=True)
    result = fields.TextField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    resolved_by_name = fields.CharField(max_length=128, null=True)
    rating_solved = fields.BooleanField(null=True)
    rating_satisfaction = fields.CharField(max_length=8, null=True)
    rating_reason = fields.TextField(null=True)
    rated_at = fields.DatetimeField(null=True)
    dispatched_at = fields.DatetimeField(null=True)  # first reached a department
    claim_hours = fields.FloatField(null=True)  # working hours from the clock start to 认领
    resolve_hours = fields.FloatField(null=True)  # working hours from the clock start to 办结
    reopen_count = fields.SmallIntField(default=0)
    close_reason = fields.CharField(max_length=16, null=True)
    closed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    async def fetch_related(self, *args: Any, using_db: BaseDBAsyncClient | None = None) -> None:
        """Fetch related fields, except a foreign key whose object this ticket already holds.

        Tortoise's ``fetch_related`` queries again whatever is loaded; the ticket paths ask for
        ``department``, ``member`` and ``enterprise`` before every message they write (the
        ticket, its ack, its card), which made ~8 of the ~45 queries of a new ticket. An object
        counts as held only when it is the one the foreign key names now (``department_id``),
        so a key changed without its object is fetched as before.

        Args:
            *args: the related fields to fetch (names or ``Prefetch`` objects).
            using_db: a connection to use instead of the default one.
        """
        wanted = [name for name in args if not self._holds(name)]
        if wanted:
            await super().fetch_related(*wanted, using_db=using_db)

    def _holds(self, name: Any) -> bool:
        """Whether foreign key ``name`` has its current object loaded."""
        if not isinstance(name, str) or name not in self._meta.fk_fields:
            return False
        try:
            held = getattr(self, f"_{name}")  # where Tortoise keeps a loaded foreign object
        except AttributeError:
            return False
        current = getattr(self, f"{name}_id")
        if held is None:
            return current is None
        field = self._meta.fields_map[name]
        return isinstance(held, Model) and getattr(held, field.to_field) == current  # type: ignore[attr-defined]

    class Meta:
        table = "ticket"
        # The statistics are range aggregates over these timestamps (desk/stats.py). Each index
        # also holds what its query groups and filters on, so PostgreSQL answers from the index
        # alone (bench/reports.py: a month of a 1M-ticket table in ~100 ms instead of ~600 ms).
        indexes = (
            ("created_at", "department_id", "id"),
            ("dispatched_at", "department_id", "status", "claimed_at", "response_due_at", "id"),
            ("claimed_at", "department_id", "claim_hours", "id"),
            ("resolved_at", "department_id", "status", "due_at", "resolve_hours", "id"),
            ("due_at", "department_id", "status", "resolved_at", "id"),
        )


class TicketEvent(Model):
    """One row of the append-only log: who did what, when, from which state to which."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "desk.Ticket", related_name="events"
    )
    ticket_id: int
    at = fields.DatetimeField(auto_now_add=True)
    actor_kind = fields.CharField(max_length=16)
    actor_id = fields.BigIntField(null=True)
    actor_name = fields.CharField(max_length=128, default="")
    action = fields.CharField(max_length=24)
    from_status = fields.CharField(max_length=16, null=True)
    to_status = fields.CharField(max_length=16, null=True)
    note = fields.TextField(default="")
    data: dict = fields.JSONField(default=dict)
    department_id = fields.IntField(null=True)  # the department holding the ticket when it acted

    class Meta:
        table = "ticket_event"
        ordering = ["id"]
        # A ticket's history; the statistics' events use a partial index (migration 0006).
        indexes = (("ticket_id", "id"),)


class TicketMessage(Model):
    """A message in a ticket's conversation: follow-ups, progress, attachments."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "desk.Ticket", related_name="messages"
    )
    ticket_id: int
    at = fields.DatetimeField(auto_now_add=True)
    direction = fields.CharField(max_length=8)  # "in" from the enterprise, "out" from staff
    author_id = fields.BigIntField(null=True)
    author_name = fields.CharField(max_length=128, default="")
    kind = fields.CharField(max_length=12, default="text")  # text | photo | document
    text = fields.TextField(default="")
    file_id = fields.CharField(max_length=255, null=True)
    file_name = fields.CharField(max_length=255, null=True)
    file_mime = fields.CharField(max_length=128, null=True)
    file_size = fields.BigIntField(null=True)
    source_chat_id = fields.BigIntField(null=True)
    source_message_id = fields.BigIntField(null=True)

    class Meta:
        table = "ticket_message"
        ordering = ["id"]


class Draft(Model):
    """A request the enterprise typed, waiting for its 确认 before it becomes a ticket.

    ``withdrawn``: a guide answer sent with the draft solved the question (已解决), so the
    draft can no longer be confirmed.
    """

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "desk.Member", related_name="drafts"
    )
    member_id: int
    text = fields.TextField()
    # pending | submitted | cancelled | withdrawn
    state = fields.CharField(max_length=12, default="pending")
    ticket_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "draft"


class PendingInput(Model):
    """The next text a user sends in a chat answers a question (a reason, a result)."""

    id = fields.IntField(primary_key=True)
    chat_id = fields.BigIntField()
    user_id = fields.BigIntField()
    kind = fields.CharField(max_length=16)  # resolve | return | reason
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "desk.Ticket", related_name="pending_inputs"
    )
    ticket_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pending_input"
        unique_together = (("chat_id", "user_id"),)


class DailyCounter(Model):
    """Per-day sequence behind ticket references (TD20261129-0007)."""

    day = fields.CharField(max_length=8, primary_key=True)
    value = fields.IntField(default=0)

    class Meta:
        table = "daily_counter"
