"""The web chat: who signed in with which phone, one-time codes, and the chat's history."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class WebIdentity(Model):
    """A phone number that signed in to the web chat (verified with a one-time code).

    Its chat id on the desk is ``WEB_BASE + id`` (see ``desk.webchat``), a number no Telegram
    chat can have. The enterprise member behind it is found by phone, so a contact registered
    in Telegram keeps its tickets when signing in on the web.
    """

    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=20, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)

    class Meta:
        table = "web_identity"


class SignInCode(Model):
    """A one-time sign-in code: only its hash is kept, with its expiry and failed tries."""

    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=20, db_index=True)
    code_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    attempts = fields.SmallIntField(default=0)
    used_at = fields.DatetimeField(null=True)
    delivered_by = fields.CharField(max_length=32, default="")

    class Meta:
        table = "signin_code"


class WebChatMessage(Model):
    """One message of a web chat, in either direction (the page's history).

    Outgoing messages are what the outbox delivered to the web channel (``outbox_id`` with
    ``part``, unique, so a redelivery stores nothing twice), in the sanitized HTML the page
    shows, with their buttons. Incoming ones are what the enterprise typed.
    """

    id = fields.BigIntField(primary_key=True)
    chat_id = fields.BigIntField(db_index=True)
    direction = fields.CharField(max_length=3)  # in | out
    html = fields.TextField()
    buttons: list = fields.JSONField(default=list)
    outbox_id = fields.BigIntField(null=True)
    part = fields.SmallIntField(default=0)
    ticket_id = fields.IntField(null=True)
    role = fields.CharField(max_length=16, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    file_id = fields.BigIntField(null=True)  # an OutboxFile the page may download
    file_name = fields.CharField(max_length=255, null=True)
    # Wall-clock nanoseconds of the last write: a page asks for what changed after the newest
    # it saw (new or edited), whichever worker wrote it.
    seq = fields.BigIntField(db_index=True)

    class Meta:
        table = "web_chat_message"
        unique_together = (("outbox_id", "part"),)


class FileFetch(Model):
    """A file staff sent in Telegram for an enterprise on the web chat, to be fetched.

    The web cannot show a Telegram file: the Telegram channel downloads it (``getFile``) into
    an ``OutboxFile`` and then queues the message for the web chat. ``params`` is the message's
    snapshot (reference, department, text). ``state``: ``pending`` → ``done`` or ``failed``.
    """

    id = fields.IntField(primary_key=True)
    tg_file_id = fields.CharField(max_length=255)
    name = fields.CharField(max_length=255)
    mime = fields.CharField(max_length=128)
    chat_id = fields.BigIntField()
    ticket_id = fields.IntField(null=True)
    params: dict = fields.JSONField(default=dict)
    state = fields.CharField(max_length=8, default="pending", db_index=True)
    attempts = fields.SmallIntField(default=0)
    not_before = fields.DatetimeField(null=True)
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "file_fetch"
