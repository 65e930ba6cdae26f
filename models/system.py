"""Process-level bookkeeping: processed inbound updates and scheduler leases."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ProcessedUpdate(Model):
    """An inbound update already handled (dedup by channel key, e.g. ``tg:123``)."""

    key = fields.CharField(max_length=64, primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "processed_update"


class Lease(Model):
    """A named lease held by one process at a time (scheduler ticks across workers)."""

    name = fields.CharField(max_length=32, primary_key=True)
    holder = fields.CharField(max_length=64)
    until = fields.DatetimeField()

    class Meta:
        table = "lease"
