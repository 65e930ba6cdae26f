"""Pressed buttons and enterprises' commands, for every chat channel: one ``desk`` call each.

Telegram's handlers and the web chat both call :func:`press` and :func:`private_command`, so a
button or a command means the same and is checked the same way whichever channel showed it.
"""

from __future__ import annotations

from desk import (
    broadcast,
    grid,
    guide,
    keyaccounts,
    liaison,
    manage,
    matching,
    registration,
    tickets,
)
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
    if data.scope == "t" and await keyaccounts.is_butler(actor.user_id):
        # A key enterprise's butler acts from its private copy of the card like staff; the
        # desk checks it is this ticket's enterprise's butler, in its own private chat.
        return await tickets.card_action(
            cfg,
            actor=keyaccounts.as_staff(actor),
            ticket_id=data.id,
            action=data.action,
            arg=data.arg,
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
    if data.scope == "l" and private:
        return await liaison.press(
            cfg, actor=actor, report_id=data.id, action=data.action, arg=data.arg
        )
    if data.scope == "w" and private:
        if data.action == "pick":
            return await grid.pick(actor=actor, enterprise_id=data.id)
        if data.action in ("ok", "no"):
            return await grid.decide(
                cfg, actor=actor, draft_id=data.id, confirm=data.action == "ok"
            )
        raise DeskError("无效的操作。")
    if data.scope == "m" and data.action == "sup":
        return await manage.supervise(cfg, actor=actor, ticket_id=data.id)
    raise DeskError("无效的操作。")


#: The commands of an enterprise's private chat (Telegram's private chat and the web chat).
PRIVATE_COMMANDS = ("start", "tickets", "cancel", "guide", "subscribe", "need", "offer")


async def private_command(cfg: DeskConfig, *, actor: Actor, name: str, args: str = "") -> None:
    """Carry out ``/name args`` typed by ``actor`` in its private chat.

    A name outside :data:`PRIVATE_COMMANDS` gets the "unknown command" reply.
    """
    assert actor.chat_id is not None
    if name == "start":
        await registration.start(actor=actor)
    elif name == "tickets":
        await tickets.list_tickets(cfg, actor=actor)
    elif name == "cancel":
        await cancel(actor=actor)
    elif name == "guide":
        await guide.show_menu(chat_id=actor.chat_id)
    elif name == "subscribe":
        assert actor.user_id is not None
        await broadcast.show_subscriptions(user_id=actor.user_id, chat_id=actor.chat_id)
    elif name in ("need", "offer"):
        assert actor.user_id is not None
        await matching.post(user_id=actor.user_id, chat_id=actor.chat_id, kind=name, text=args)
    else:
        await tickets.say(chat_id=actor.chat_id, kind="unknown_command")


async def cancel(*, actor: Actor) -> None:
    """``/cancel``: a grid worker's /submit, the registration dialog, else a pending question,
    else "nothing to cancel"."""
    assert actor.chat_id is not None
    if (
        await grid.cancel(actor=actor)
        or await registration.cancel(actor=actor)
        or await liaison.cancel(actor=actor)
        or await tickets.cancel_pending(actor=actor)
    ):
        return
    await tickets.say(chat_id=actor.chat_id, kind="nothing_to_cancel")
