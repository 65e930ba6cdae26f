"""``/metrics`` in the Prometheus text format: counts and backlogs only, never personal data."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from tortoise.functions import Count

from models.outbox import OutboxMessage
from models.system import InboxUpdate
from models.ticket import Ticket


class Metrics:
    """A registry of its own per app (no process-global state), filled at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tickets = Gauge(
            "desk_tickets", "Tickets by status", ["status"], registry=self.registry
        )
        self.overdue = Gauge(
            "desk_tickets_escalation_level",
            "Open tickets by escalation level",
            ["level"],
            registry=self.registry,
        )
        self.outbox = Gauge(
            "desk_outbox_messages", "Outbox messages by status", ["status"], registry=self.registry
        )
        self.inbox = Gauge(
            "desk_inbox_updates", "Inbound updates by status", ["status"], registry=self.registry
        )

    async def collect(self) -> bytes:
        for gauge, model, key in (
            (self.tickets, Ticket, "id"),
            (self.outbox, OutboxMessage, "id"),
            (self.inbox, InboxUpdate, "key"),
        ):
            gauge.clear()
            field = "status"
            rows = await model.all().annotate(n=Count(key)).group_by(field).values(field, "n")
            for row in rows:
                gauge.labels(str(row[field])).set(row["n"])
        self.overdue.clear()
        open_states = ["dispatched", "claimed", "waiting", "reopened"]
        for row in (
            await Ticket.filter(status__in=open_states)
            .annotate(n=Count("id"))
            .group_by("escalation_level")
            .values("escalation_level", "n")
        ):
            self.overdue.labels(str(row["escalation_level"])).set(row["n"])
        return generate_latest(self.registry)


async def handle(request: web.Request, metrics: Metrics) -> web.Response:
    body = await metrics.collect()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
