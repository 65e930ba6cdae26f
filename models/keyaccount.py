"""Key projects and key enterprises (重点项目 / 重点企业) and their butlers (一项目一管家)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class KeyKind(StrEnum):
    PROJECT = "project"  # 重点项目
    ENTERPRISE = "enterprise"  # 重点企业


KEY_LABELS = {KeyKind.PROJECT: "重点项目", KeyKind.ENTERPRISE: "重点企业"}


class KeyAccount(Model):
    """An enterprise marked key, with its butler and an optional stricter SLA.

    The butler is a Telegram user (hotline office or investment department staff) copied
    privately on every card of the enterprise's tickets; removing the row takes that away.
    """

    id = fields.IntField(primary_key=True)
    enterprise_id = fields.IntField(unique=True)
    kind = fields.CharField(max_length=16)
    project = fields.CharField(max_length=128, default="")
    butler_user_id = fields.BigIntField(db_index=True)
    butler_name = fields.CharField(max_length=128)
    # Stricter targets than the SLA policy (None: the policy's own); the stricter one wins.
    respond_hours = fields.FloatField(null=True)
    resolve_days = fields.IntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "key_account"
