"""Copies of a grid ticket's notices for the grid worker (网格员) who filed it.

A ticket a grid worker filed (channel ``grid``, see ``desk.grid``) belongs to the enterprise,
which gets every notice as usual. The grid worker gets a copy of the progress notices (受理 with
the reference and the deadline, 分拨/转办/认领, staff's progress messages, the result and the
enterprise's rating) as one ``grid_copy`` message each, without any of the enterprise's buttons.
Who filed the ticket is its ``create`` event (``desk.notify.grid_filer``).
"""

from __future__ import annotations

from typing import Any

from models.ticket import Ticket

from .notify import enqueue, grid_filer

#: The enterprise's notice kinds copied to the grid worker, as the copy's ``notice``.
COPIED = {
    "ack": "ack",
    "dispatched": "dispatched",
    "transferred": "transferred",
    "claimed": "claimed",
    "need_info": "need_info",
    "extended": "extended",
    "reopened_ack": "reopened",
    "cancelled": "cancelled",
    "progress": "progress",
    "copy_progress": "progress",
}

_KEEP = ("ticket_id", "ref", "enterprise", "department", "deadline", "status", "result", "text")


def _notice(kind: str, params: dict[str, Any]) -> str | None:
    if kind == "visit":
        if not params.get("edit"):
            return "result"
        if params.get("done"):
            return "expired" if params.get("expired") else "rated"
        return None  # a half-made rating: wait for the whole of it
    return COPIED.get(kind)


async def copy_notice(
    ticket: Ticket, kind: str, params: dict[str, Any], *, reachable: bool = True
) -> None:
    """Queue the grid worker's copy of the enterprise's notice ``kind`` (if it is copied).

    Call in the transaction that queued (or would have queued) the enterprise's notice.

    Args:
        ticket: a ticket of channel ``grid`` (others are ignored).
        kind: the enterprise's notice kind.
        params: the enterprise's notice params.
        reachable: whether the enterprise has a chat that received the notice.
    """
    if ticket.channel != "grid":
        return
    notice = _notice(kind, params)
    if notice is None:
        return
    event = await grid_filer(ticket.id)
    if event is None or event.actor_id is None:
        return
    copy = {key: params[key] for key in _KEEP if key in params}
    copy.update(notice=notice, reachable=reachable)
    if notice == "rated":
        copy.update(solved=params.get("solved"), satisfaction=params.get("satisfaction"))
    if "enterprise" not in copy:
        await ticket.fetch_related("enterprise")
        copy["enterprise"] = ticket.enterprise.name
    # A grid worker acts from their Telegram private chat, whose id is their user id.
    await enqueue(chat_id=event.actor_id, kind="grid_copy", params=copy, ticket_id=ticket.id)
