"""SLA policies, extension requests, and the marks that make each reminder happen once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.ticket import Ticket


class SlaPolicy(Model):
    """Targets for one request type and urgency, optionally for one department only.

    ``respond_hours`` is working hours unless ``respond_clock`` (then clock hours);
    ``resolve_days`` is working days. A department-specific row wins over the general one.
    """

    id = fields.IntField(primary_key=True)
    type = fields.CharField(max_length=4)  # 咨询 … 表扬, or * for any
    urgent = fields.BooleanField(default=False)
    department_code = fields.CharField(max_length=16, null=True)
    respond_hours = fields.FloatField()
    respond_clock = fields.BooleanField(default=False)
    resolve_days = fields.IntField()
    resolve_hours = fields.FloatField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sla_policy"
        unique_together = (("type", "urgent", "department_code"),)


class SlaMark(Model):
    """A reminder or escalation step already taken for a ticket (unique: never twice)."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "desk.Ticket", related_name="sla_marks"
    )
    ticket_id: int
    key = fields.CharField(max_length=64)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sla_mark"
        unique_together = (("ticket_id", "key"),)


class ExtensionRequest(Model):
    """A department's request for a later deadline (申请延期), decided by a manager."""

    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "desk.Ticket", related_name="extensions"
    )
    ticket_id: int
    requested_by_id = fields.BigIntField(null=True)
    requested_by_name = fields.CharField(max_length=128, default="")
    reason = fields.TextField()
    old_due_at = fields.DatetimeField(null=True)
    new_due_at = fields.DatetimeField()
    status = fields.CharField(max_length=10, default="pending")  # pending|approved|rejected
    decided_by_id = fields.BigIntField(null=True)
    decided_by_name = fields.CharField(max_length=128, default="")
    decided_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "extension_request"
