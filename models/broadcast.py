"""Broadcasts (政策解读、活动发布、通知公告) to enterprises, and their topic opt-outs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from .enterprise import Member


class Broadcast(Model):
    """One message sent to every enterprise contact that did not opt out of its topic."""

    id = fields.IntField(primary_key=True)
    topic = fields.CharField(max_length=16)
    title = fields.CharField(max_length=128)
    text = fields.TextField()
    created_by = fields.CharField(max_length=128)
    recipients = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "broadcast"


class TopicOptOut(Model):
    """A contact who does not want one topic's broadcasts (every contact gets them unless)."""

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "desk.Member", related_name="topic_opt_outs", on_delete=fields.CASCADE
    )
    member_id: int
    topic = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "topic_opt_out"
        unique_together = (("member", "topic"),)
