"""Outgoing notifications: semantic messages written to the outbox, never sent from here.

A notification is a ``kind`` plus ``params`` (a JSON snapshot of what to say). Each channel
renders kinds into its own words and widgets (``handlers.render`` for Telegram). Writing happens
inside the caller's transaction, so a message exists exactly when the change it reports exists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError

from models.department import TRIAGE_CODE, Department, GroupBinding
from models.outbox import OutboxMessage, OutboxStatus
from models.system import JobRun
from models.ticket import Ticket, TicketEvent

from . import keyaccounts
from .db import atomic
from .validators import mask_name, mask_phone
from .workflow import STATUS_LABELS

WEEKDAYS = "一二三四五六日"

# The messages of the current ``batched`` block, written when it ends.
_batch: ContextVar[list[OutboxMessage] | None] = ContextVar("outbox_batch", default=None)

# Chats of the web chat have ids from here up (see ``desk.webchat``): above every Telegram chat
# id (those fit in 52 bits), so one integer says both the chat and the channel that reaches it.
WEB_BASE = 1 << 52


def channel_of(chat_id: int | None) -> str:
    """The channel that delivers to ``chat_id``: ``web`` or ``telegram``."""
    return "web" if chat_id is not None and chat_id >= WEB_BASE else "telegram"


async def enqueue(
    *,
    chat_id: int,
    kind: str,
    params: dict[str, Any] | None = None,
    ticket_id: int | None = None,
    link_role: str | None = None,
    channel: str | None = None,
) -> OutboxMessage:
    """Write one message to the outbox (call inside the transaction of the change).

    Args:
        chat_id: the destination chat.
        kind: what the message says (a key the channel renderer knows).
        params: the snapshot the renderer needs.
        ticket_id: the ticket it is about; delivered messages are linked to it.
        link_role: the role of the delivered message (``card``, ``ack``, ``visit`` …), so replies
            to it and later edits of it find the ticket.
        channel: the channel that delivers it (by default the one the chat id belongs to).
    """
    row = OutboxMessage(
        channel=channel or channel_of(chat_id),
        chat_id=chat_id,
        kind=kind,
        params=params or {},
        ticket_id=ticket_id,
        link_role=link_role,
    )
    batch = _batch.get()
    if batch is not None:
        batch.append(row)  # written by ``batched`` (the row has no id until then)
    else:
        await row.save(force_create=True)
    return row


@asynccontextmanager
async def batched() -> AsyncIterator[None]:
    """Write the messages enqueued inside in one statement when the block ends.

    For a change that sends several messages at once (a new ticket: the ack and the card).
    Still inside the caller's transaction; in the order enqueued; nothing is written when the
    block raises.
    """
    rows: list[OutboxMessage] = []
    token = _batch.set(rows)
    try:
        yield
    finally:
        _batch.reset(token)
    if rows:
        await OutboxMessage.bulk_create(rows)


async def group_chat(code: str) -> int | None:
    """The chat bound to a department code (or ``TRIAGE``), if any."""
    # Read for every card: the one column, not a model instance.
    rows = await GroupBinding.filter(code=code).limit(1).values("chat_id")
    return int(rows[0]["chat_id"]) if rows else None


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
        **({"filed_by": await grid_filer_name(ticket.id)} if ticket.channel == "grid" else {}),
        "key": keyaccounts.flag(await keyaccounts.for_enterprise(ticket.enterprise_id)),
    }


async def grid_filer(ticket_id: int) -> TicketEvent | None:
    """Who filed a ticket of channel ``grid``: its ``create`` event (a grid worker, 网格员)."""
    return await TicketEvent.filter(ticket_id=ticket_id, action="create").first()


async def grid_filer_name(ticket_id: int) -> str:
    event = await grid_filer(ticket_id)
    return event.actor_name if event else ""


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
    await keyaccounts.copy_card(ticket, params, enqueue=enqueue)  # the butler's private copy
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


async def group_unreachable(
    *, chat_id: int, reason: str, ticket_id: int | None, now: datetime
) -> bool:
    """A department's group refused a message for good (bot removed, group deleted).

    The screening group is told, at most once an hour per department, with what to do; the
    department's messages are parked meanwhile, and binding a group again posts the cards of
    its open tickets.

    Returns:
        True when the alert was queued.
    """
    binding = await GroupBinding.get_or_none(chat_id=chat_id)
    if binding is None or binding.code == TRIAGE_CODE:
        return False  # not a department's group, or the screening group itself
    triage = await group_chat(TRIAGE_CODE)
    if triage is None:
        return False
    dept = await Department.get_or_none(code=binding.code)
    ticket = await Ticket.get_or_none(id=ticket_id) if ticket_id is not None else None
    try:
        async with atomic():
            await JobRun.create(key=f"unreachable:{binding.code}:{now:%Y%m%d%H}")
            await enqueue(
                chat_id=triage,
                kind="group_unreachable",
                params={
                    "department": dept.short if dept else binding.code,
                    "code": binding.code,
                    "title": binding.title or str(chat_id),
                    "reason": reason[:200],
                    "ref": ticket.ref if ticket else "",
                },
            )
    except IntegrityError:
        return False  # told within this hour already
    return True


async def move_chat(*, old: int, new: int) -> int:
    """A group became a supergroup (Telegram's ``migrate_to_chat_id``): follow it.

    The binding and the messages not yet sent move to the new chat id.

    Returns:
        How many unsent messages moved.
    """
    await GroupBinding.filter(chat_id=old).update(chat_id=new)
    return await OutboxMessage.filter(
        chat_id=old, status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
    ).update(chat_id=new)
