"""The outbox: every outgoing message, written in the same transaction as the change."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Model):
    """A message to deliver: a semantic ``kind`` and its ``params``, rendered by each channel."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16, default="telegram")
    chat_id = fields.BigIntField(db_index=True)
    kind = fields.CharField(max_length=32)
    params: dict = fields.JSONField(default=dict)
    ticket_id = fields.IntField(null=True)
    link_role = fields.CharField(max_length=16, null=True)
    status = fields.CharEnumField(OutboxStatus, max_length=8, default=OutboxStatus.PENDING)
    attempts = fields.SmallIntField(default=0)
    parts_done = fields.SmallIntField(default=0)
    not_before = fields.DatetimeField(null=True)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    error = fields.TextField(null=True)
    message_ids: list = fields.JSONField(default=list)
    # A broadcast: sent after every ticket message and within a share of the bot's second, and
    # ordered only among broadcasts (it never holds up a chat's ticket messages).
    bulk = fields.BooleanField(default=False)

    class Meta:
        table = "outbox"
        indexes = (("status", "not_before"),)


class MessageLink(Model):
    """Which delivered message belongs to which ticket, so replies to it find the ticket."""

    id = fields.BigIntField(primary_key=True)
    chat_id = fields.BigIntField()
    message_id = fields.BigIntField()
    ticket_id = fields.IntField(db_index=True)
    role = fields.CharField(max_length=16)  # card | ack | followup | result | visit | other
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "message_link"
        unique_together = (("chat_id", "message_id"),)


class OutboxFile(Model):
    """A file an outbox message sends (a generated report), kept until it was delivered."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=128)
    mime = fields.CharField(max_length=128)
    data = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "outbox_file"
