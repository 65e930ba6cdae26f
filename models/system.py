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


class InboxUpdate(Model):
    """A raw inbound update, stored before it is acknowledged (durable intake).

    Handling reads from here in order per chat; ``processed_update`` (written in the same
    transaction as the effects) is what makes a retry after a crash change nothing.
    """

    key = fields.CharField(max_length=64, primary_key=True)  # tg:<update_id>
    channel = fields.CharField(max_length=16, default="telegram")
    update_id = fields.BigIntField()
    chat_id = fields.BigIntField(null=True, db_index=True)
    payload: dict = fields.JSONField()
    status = fields.CharField(max_length=10, default="pending", db_index=True)
    attempts = fields.SmallIntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)
    done_at = fields.DatetimeField(null=True)
    error = fields.TextField(null=True)

    class Meta:
        table = "inbox_update"


class JobRun(Model):
    """A scheduled job already done for its key (e.g. the daily digest of one group and day)."""

    key = fields.CharField(max_length=96, primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "job_run"


class ReportJob(Model):
    """A document someone asked for (the monthly briefing), built by a background worker.

    Building takes seconds, so it is not done while handling the request: the request is stored
    here (nothing lost if the process stops) and the finished file goes out through the outbox.
    """

    id = fields.IntField(primary_key=True)
    chat_id = fields.BigIntField()
    user_id = fields.BigIntField(null=True)
    kind = fields.CharField(max_length=16, default="briefing")
    period = fields.CharField(max_length=16)  # YYYY-MM
    status = fields.CharField(max_length=10, default="pending", db_index=True)
    attempts = fields.SmallIntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    done_at = fields.DatetimeField(null=True)
    error = fields.TextField(null=True)

    class Meta:
        table = "report_job"
