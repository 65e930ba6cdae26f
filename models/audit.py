"""The audit log: who changed the desk's configuration or accounts, from where, and what."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditEntry(Model):
    """One change made from the admin web or the shell (tickets keep their own event log).

    ``action`` is a dotted name such as ``rule.update`` or ``user.create``; ``target`` names
    the thing changed (a department code, a username, a date); ``data`` holds what changed.
    """

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    actor = fields.CharField(max_length=128)
    role = fields.CharField(max_length=16, default="")
    ip = fields.CharField(max_length=64, default="")
    action = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=128, default="")
    data: dict = fields.JSONField(default=dict)

    class Meta:
        table = "audit_entry"
