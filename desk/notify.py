"""Outgoing notifications: semantic messages written to the outbox, never sent from here.

A notification is a ``kind`` plus ``params`` (a JSON snapshot of what to say). Each channel
renders kinds into its own words and widgets (``handlers.render`` for Telegram). Writing happens
inside the caller's transaction, so a message exists exactly when the change it reports exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models.department import TRIAGE_CODE, Department, GroupBinding
from models.outbox import OutboxMessage
from models.ticket import Ticket

from .validators import mask_name, mask_phone
from .workflow import STATUS_LABELS

WEEKDAYS = "一二三四五六日"


async def enqueue(
    *,
    chat_id: int,
    kind: str,
    params: dict[str, Any] | None = None,
    ticket_id: int | None = None,
    link_role: str | None = None,
    channel: str = "telegram",
) -> OutboxMessage:
    """Write one message to the outbox (call inside the transaction of the change).

    Args:
        chat_id: the destination chat.
        kind: what the message says (a key the channel renderer knows).
        params: the snapshot the renderer needs.
        ticket_id: the ticket it is about; delivered messages are linked to it.
        link_role: the role of the delivered message (``card``, ``ack``, ``visit`` …), so replies
            to it and later edits of it find the ticket.
        channel: the channel that delivers it.
    """
    return await OutboxMessage.create(
        channel=channel,
        chat_id=chat_id,
        kind=kind,
        params=params or {},
        ticket_id=ticket_id,
        link_role=link_role,
    )


async def group_chat(code: str) -> int | None:
    """The chat bound to a department code (or ``TRIAGE``), if any."""
    binding = await GroupBinding.get_or_none(code=code)
    return binding.chat_id if binding else None


def fmt_deadline(due: datetime | None, tz: ZoneInfo) -> str:
    """12月04日（周五）17:30 — how deadlines read everywhere."""
    if due is None:
        return "—"
    local = due.astimezone(tz)
    return f"{local:%Y-%m-%d}（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


async def ticket_params(ticket: Ticket, *, tz: ZoneInfo) -> dict[str, Any]:
    """The snapshot every ticket message starts from (personal data masked)."""
    await ticket.fetch_related("department", "enterprise", "member")
    dept: Department | None = ticket.department
    return {
        "ticket_id": ticket.id,
        "ref": ticket.ref,
        "status": ticket.status.value,
        "status_label": STATUS_LABELS[ticket.status],
        "department": dept.short if dept else "待分拨",
        "department_code": dept.code if dept else None,
        "type": ticket.type,
        "urgent": ticket.urgent,
        "deadline": fmt_deadline(ticket.due_at, tz) + ("（估算）" if ticket.due_estimated else ""),
        "respond_by": fmt_deadline(ticket.response_due_at, tz),
        "enterprise": ticket.enterprise.name,
        "contact": mask_name(ticket.member.contact_name),
        "phone": mask_phone(ticket.member.phone),
        "text": ticket.text,
        "claimant": ticket.claimed_by_name,
        "matched": list(ticket.route_terms or []),
        "reopen_count": ticket.reopen_count,
        "result": ticket.result,
    }


def card_actions(ticket: Ticket) -> list[str]:
    """Buttons a department card offers in the ticket's current state."""
    status = ticket.status.value
    if status in ("dispatched", "reopened"):
        return ["claim", "transfer", "return"]
    if status == "claimed":
        return ["resolve", "wait", "extend", "transfer", "return"]
    if status == "waiting":
        return ["resolve", "extend", "transfer", "return"]
    return []


async def department_card(
    ticket: Ticket, *, tz: ZoneInfo, edit: bool, note: str = "", picker: list[Any] | None = None
) -> None:
    """Post (or edit) the ticket's card in its department's group; triage if no group is bound."""
    params = await ticket_params(ticket, tz=tz)
    params.update(actions=card_actions(ticket), note=note, picker=picker, edit=edit)
    code = params["department_code"]
    chat = await group_chat(code) if code else None
    if chat is None:
        # The department has no group yet: the hotline office sees it instead (nothing lost);
        # binding the group later posts the cards of its open tickets.
        triage = await group_chat(TRIAGE_CODE)
        if triage is None or edit:
            return
        params["note"] = (note + "\n" if note else "") + f"（{params['department']}尚未绑定群组）"
        params["actions"] = []
        await enqueue(chat_id=triage, kind="card", params=params, ticket_id=ticket.id)
        return
    await enqueue(chat_id=chat, kind="card", params=params, ticket_id=ticket.id, link_role="card")


async def triage_card(
    ticket: Ticket, *, tz: ZoneInfo, edit: bool, note: str = "", picker: list[Any] | None = None
) -> None:
    """Post (or edit) the screening card in the triage group with the router's candidates."""
    chat = await group_chat(TRIAGE_CODE)
    if chat is None:
        return
    params = await ticket_params(ticket, tz=tz)
    names = {d.code: d.short for d in await Department.filter(active=True)}
    candidates = [
        [code, names.get(code, code), round(score, 2)]
        for code, score in (ticket.route_candidates or [])
        if code in names
    ]
    params.update(
        candidates=candidates,
        confidence=ticket.route_confidence,
        note=note,
        picker=picker,
        edit=edit,
        actions=["dispatch"] if ticket.status.value == "triage" else [],
    )
    await enqueue(
        chat_id=chat, kind="triage_card", params=params, ticket_id=ticket.id, link_role="triage"
    )


async def department_choices(exclude: str | None = None) -> list[list[str]]:
    """``[[code, short], …]`` of active departments, for pickers."""
    return [[d.code, d.short] for d in await Department.filter(active=True) if d.code != exclude]
