"""The service guide (办事指南): the catalog of service items each department publishes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from .enterprise import Member
    from .ticket import Draft, Ticket


class ServiceItem(Model):
    """One service item (服务事项) of a department's service list.

    ``code`` is a stable slug (``msa-license-change``) that links, the chat's buttons and the
    import file use; ``department_code`` is a :class:`~models.department.Department` code, as
    in the other tables that name a department. ``materials`` and ``steps`` are lists of
    strings, ``aliases`` the other names enterprises use for the item.
    """

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    department_code = fields.CharField(max_length=16, db_index=True)
    name = fields.CharField(max_length=128)
    aliases: list = fields.JSONField(default=list)
    conditions = fields.TextField(default="")
    materials: list = fields.JSONField(default=list)
    steps: list = fields.JSONField(default=list)
    time_limit = fields.CharField(max_length=255, default="")  # legal time limit (法定时限)
    fees = fields.CharField(max_length=255, default="")
    location = fields.TextField(default="")  # where to apply: window, online platform
    online_url = fields.CharField(max_length=512, default="")
    contact = fields.CharField(max_length=255, default="")  # responsible office (no phone)
    sort = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    source = fields.CharField(max_length=16, default="default")  # default | import | admin
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "service_item"
        ordering = ["department_code", "sort", "id"]

    def __str__(self) -> str:
        return self.name


ANSWER_STATES = ("offered", "solved", "human")


class GuideAnswer(Model):
    """A question the service guide answered in the chat before any ticket (answer first).

    ``state``: ``offered`` (answer sent, no button pressed yet), ``solved`` (the enterprise
    pressed 已解决 and ``draft`` was withdrawn), ``human`` (it pressed 仍需人工, or 确认 under
    ``draft``, and ``ticket`` was opened with the question). ``draft`` is the usual draft sent
    right after the answer (null for answers given before drafts followed them). Kept to
    measure the share of questions answered without a ticket and how many of those
    enterprises opened a ticket later anyway.
    """

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "desk.Member", related_name="guide_answers", on_delete=fields.CASCADE
    )
    member_id: int
    question = fields.TextField()
    item_code = fields.CharField(max_length=64)
    score = fields.FloatField(default=0.0)
    state = fields.CharField(max_length=16, default="offered", db_index=True)
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "desk.Ticket", related_name="guide_answers", null=True, on_delete=fields.SET_NULL
    )
    ticket_id: int | None
    draft: fields.ForeignKeyNullableRelation[Draft] = fields.ForeignKeyField(
        "desk.Draft", related_name="guide_answers", null=True, on_delete=fields.SET_NULL
    )
    draft_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "guide_answer"
