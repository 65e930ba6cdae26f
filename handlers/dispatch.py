"""Pressed buttons, for every chat channel: callback data → one ``desk`` call.

Telegram's handlers and the web chat both call :func:`press`, so a button means the same and
is checked the same way whichever channel showed it.
"""

from __future__ import annotations

from desk import broadcast, guide, manage, matching, tickets
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import DeskError

from . import callbacks as cb


async def press(cfg: DeskConfig, *, actor: Actor, data: cb.Callback) -> str:
    """Carry out one pressed button for ``actor``; the short answer to show (a toast).

    The scope decides which desk service runs, and only from where it may: ticket cards and
    decisions in groups, an enterprise's own buttons in its private chat (Telegram or web).
    The desk then checks state and role again.

    Raises:
        DeskError: the press changes nothing (its message says why).
    """
    private = actor.kind == "enterprise"
    if data.scope == "t" and not private:
        return await tickets.card_action(
            cfg, actor=actor, ticket_id=data.id, action=data.action, arg=data.arg
        )
    if data.scope == "d" and private:
        ticket_id = int(data.arg) if data.arg and data.arg.isdigit() else None
        action = {"ok": "ok", "no": "no", "add": "add"}.get(data.action)
        if action is None:
            raise DeskError("无效的操作。")
        return await tickets.decide_draft(
            cfg, actor=actor, draft_id=data.id, action=action, ticket_id=ticket_id
        )
    if data.scope == "v" and private:
        return await tickets.rate(cfg, actor=actor, ticket_id=data.id, choice=data.action)
    if data.scope == "x" and not private:
        if data.action not in ("ok", "no"):
            raise DeskError("无效的操作。")
        return await tickets.decide_extension(
            cfg, actor=actor, request_id=data.id, approve=data.action == "ok"
        )
    if data.scope == "c" and private:
        return await tickets.cancel_ticket(cfg, actor=actor, ticket_id=data.id)
    if data.scope == "g" and private:
        assert actor.chat_id is not None
        if data.action in ("ok", "human"):
            return await tickets.decide_answer(
                cfg, actor=actor, answer_id=data.id, action=data.action
            )
        if data.action == "dept":
            return await guide.show_department(chat_id=actor.chat_id, department_id=data.id)
        if data.action == "item":
            return await guide.show_item(chat_id=actor.chat_id, item_id=data.id)
        raise DeskError("无效的操作。")
    if data.scope == "s" and private and data.action in ("on", "off"):
        assert actor.user_id is not None
        return await broadcast.toggle(user_id=actor.user_id, index=data.id, on=data.action == "on")
    if data.scope == "k" and private and data.action in ("yes", "no"):
        assert actor.user_id is not None
        return await matching.consent(
            user_id=actor.user_id, intro_id=data.id, agree=data.action == "yes", now=cfg.now()
        )
    if data.scope == "m" and data.action == "sup":
        return await manage.supervise(cfg, actor=actor, ticket_id=data.id)
    raise DeskError("无效的操作。")
