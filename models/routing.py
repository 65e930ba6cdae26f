"""What the router learns from: editable keyword rules, labelled corrections, trained models."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class RoutingRule(Model):
    """The rule spec of one department (terms, weights, negatives), or ``_global`` settings.

    ``source`` is ``default`` while the row mirrors the project's shipped rules (``desk init``
    refreshes it when they change) and ``admin`` once someone edited it (then it is kept).
    """

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    spec: dict = fields.JSONField(default=dict)
    source = fields.CharField(max_length=8, default="default")
    updated_at = fields.DatetimeField(auto_now=True)
    updated_by = fields.CharField(max_length=128, default="")

    class Meta:
        table = "routing_rule"


class RoutingExample(Model):
    """A labelled message: a triage decision, a transfer or an accepted return, or an import."""

    id = fields.IntField(primary_key=True)
    text = fields.TextField()
    department = fields.CharField(max_length=16)
    type = fields.CharField(max_length=4, null=True)
    urgent = fields.BooleanField(null=True)
    source = fields.CharField(max_length=16)  # triage | transfer | return | import
    predicted = fields.CharField(max_length=16, null=True)
    ticket_id = fields.IntField(null=True, db_index=True)
    actor_id = fields.BigIntField(null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "routing_example"


class RouterModel(Model):
    """A trained text model (serialised by ``nlp``). The active one is what every process uses."""

    id = fields.IntField(primary_key=True)
    version = fields.CharField(max_length=64)
    data = fields.BinaryField()
    trained_on = fields.IntField(default=0)
    metrics: dict = fields.JSONField(default=dict)
    active = fields.BooleanField(default=False, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "router_model"
