"""Liaison officers' monthly reports (联络员信息报送) and the guided dialog that fills them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class LiaisonReport(Model):
    """One department's report for one month (any of its liaison officers may fill it).

    ``parts`` maps the part number (``"1"`` … ``"7"``) to ``{"text": str, "files": [file]}``,
    each file as the chat gave it (``kind``, ``file_id``, ``message_id``, ``chat_id``, ``name``).
    ``status`` is ``draft`` until submitted; a submitted report is locked (the hotline office may
    reopen it from the admin web).
    """

    id = fields.IntField(primary_key=True)
    department_code = fields.CharField(max_length=16)
    month = fields.CharField(max_length=7)  # YYYY-MM
    status = fields.CharField(max_length=16, default="draft")
    parts: dict = fields.JSONField(default=dict)
    author_user_id = fields.BigIntField(null=True)
    author_name = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    submitted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "liaison_report"
        unique_together = (("department_code", "month"),)


class LiaisonSession(Model):
    """A liaison officer filling a report in the private chat (the dialog's state).

    ``step`` is the part being asked (1 … 7) or 0 while the review is shown; ``single`` is set
    when one part is re-asked from the review (the dialog then returns to the review).
    """

    id = fields.IntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    chat_id = fields.BigIntField()
    report: fields.ForeignKeyRelation[LiaisonReport] = fields.ForeignKeyField(
        "desk.LiaisonReport", related_name="sessions", on_delete=fields.CASCADE
    )
    report_id: int
    step = fields.SmallIntField(default=1)
    single = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "liaison_session"
