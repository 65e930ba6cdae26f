"""Supply–demand matching: enterprises' needs and offers, and the introductions between them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from .enterprise import Member


class Listing(Model):
    """A need (``need``, 【泰企需】) or an offer (``offer``, 【泰服企】) one contact posted."""

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "desk.Member", related_name="listings", on_delete=fields.CASCADE
    )
    member_id: int
    enterprise_id = fields.IntField(db_index=True)
    kind = fields.CharField(max_length=8)  # need | offer
    text = fields.TextField()
    industry = fields.CharField(max_length=16, null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "listing"


class Introduction(Model):
    """The hotline office introduces a need to an offer.

    Contacts are shared only when both enterprises agreed (``state``: ``asked`` →
    ``connected``, or ``declined``). No semicolon in these docstrings: they become table
    comments, and SQLite's schema script is split on semicolons.
    """

    id = fields.IntField(primary_key=True)
    need: fields.ForeignKeyRelation[Listing] = fields.ForeignKeyField(
        "desk.Listing", related_name="as_need", on_delete=fields.CASCADE
    )
    need_id: int
    offer: fields.ForeignKeyRelation[Listing] = fields.ForeignKeyField(
        "desk.Listing", related_name="as_offer", on_delete=fields.CASCADE
    )
    offer_id: int
    need_agreed = fields.BooleanField(null=True)
    offer_agreed = fields.BooleanField(null=True)
    state = fields.CharField(max_length=16, default="asked")
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "introduction"
        unique_together = (("need", "offer"),)
