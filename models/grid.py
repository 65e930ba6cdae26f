"""Grid workers (网格员): the enterprises each one looks after, and their /submit dialogs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.enterprise import Enterprise


class GridAssignment(Model):
    """One enterprise on one grid worker's list (kept in the admin web)."""

    id = fields.IntField(primary_key=True)
    user_id = fields.BigIntField(db_index=True)  # the grid worker's Telegram user id
    enterprise: fields.ForeignKeyRelation[Enterprise] = fields.ForeignKeyField(
        "desk.Enterprise", related_name="grid_assignments", on_delete=fields.CASCADE
    )
    enterprise_id: int
    added_by = fields.CharField(max_length=128, default="")
    added_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "grid_assignment"
        unique_together = (("user_id", "enterprise_id"),)


class GridDraft(Model):
    """A grid worker's ``/submit`` in progress, kept in the database (several workers share it).

    ``step``: ``pick`` (choosing the enterprise), ``text`` (describing the problem),
    ``confirm`` (确认提交 / 取消).
    """

    id = fields.IntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    chat_id = fields.BigIntField()
    step = fields.CharField(max_length=8, default="pick")
    enterprise: fields.ForeignKeyNullableRelation[Enterprise] = fields.ForeignKeyField(
        "desk.Enterprise", related_name="grid_drafts", null=True, on_delete=fields.CASCADE
    )
    enterprise_id: int | None
    text = fields.TextField(default="")
    file: dict | None = fields.JSONField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "grid_draft"
