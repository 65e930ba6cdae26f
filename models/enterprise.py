"""Enterprises, the people who speak for them, and registrations in progress."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Enterprise(Model):
    """A registered company. Several members (Telegram users) may belong to one enterprise."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=128)
    credit_code = fields.CharField(max_length=18, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    members: fields.ReverseRelation[Member]

    class Meta:
        table = "enterprise"


class Member(Model):
    """A contact person of an enterprise, reachable on a channel (Telegram user id / chat id)."""

    id = fields.IntField(primary_key=True)
    enterprise: fields.ForeignKeyRelation[Enterprise] = fields.ForeignKeyField(
        "desk.Enterprise", related_name="members", on_delete=fields.CASCADE
    )
    enterprise_id: int
    tg_user_id = fields.BigIntField(unique=True, null=True)
    chat_id = fields.BigIntField(null=True)
    contact_name = fields.CharField(max_length=64)
    phone = fields.CharField(max_length=20)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member"


class Registration(Model):
    """A registration dialog in progress, kept in the database so a restart loses nothing."""

    id = fields.IntField(primary_key=True)
    tg_user_id = fields.BigIntField(unique=True)
    chat_id = fields.BigIntField()
    step = fields.CharField(max_length=16)
    data: dict = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "registration"
