"""Departments that handle tickets, and the Telegram groups bound to them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

TRIAGE_CODE = "TRIAGE"


class Department(Model):
    """A department (主办/协办 unit) identified by a stable code such as ``TAX``."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    name = fields.CharField(max_length=64)
    short = fields.CharField(max_length=32)
    scope = fields.TextField(default="")
    active = fields.BooleanField(default=True)
    sort = fields.IntField(default=0)
    leader_user_id = fields.BigIntField(null=True)  # the leader who receives 催办 in private

    class Meta:
        table = "department"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.short


class GroupBinding(Model):
    """A Telegram group bound to a department code, or to ``TRIAGE`` (the screening group)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    chat_id = fields.BigIntField(unique=True)
    title = fields.CharField(max_length=255, default="")
    bound_by = fields.BigIntField(null=True)
    bound_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "group_binding"
