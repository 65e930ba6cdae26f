"""Telegram handlers: turn an Update into one ``desk`` call. Thin by design.

``register`` is the one ordered registration point. Errors from ``desk`` become a reply here,
at the edge; a redelivered update (``AlreadyProcessed``) is dropped silently.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from desk import (
    escalation,
    grid,
    intake,
    liaison,
    manage,
    matching,
    tickets,
)
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import AlreadyProcessed, DeskError, InvalidInput
from desk.refs import find_ref

from . import callbacks as cb
from . import dispatch
from .dispatch import press

log = logging.getLogger(__name__)

CFG_KEY = "desk_cfg"

# The channel puts a dict here before processing an update; an unexpected error is recorded in
# it, because PTB hands handler exceptions to error handlers instead of raising them, and the
# inbox must know to retry the update later (a database restart, say).
FAILURE: ContextVar[dict[str, BaseException] | None] = ContextVar("desk_failure", default=None)


def _record_failure(exc: BaseException) -> None:
    holder = FAILURE.get()
    if holder is not None:
        holder["error"] = exc


Ctx = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Ctx], Coroutine[Any, Any, Any]]


def _cfg(context: Ctx) -> DeskConfig:
    cfg = context.application.bot_data[CFG_KEY]
    assert isinstance(cfg, DeskConfig)
    return cfg


def _actor(update: Update) -> Actor:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    kind = "enterprise" if chat.type == ChatType.PRIVATE else "staff"
    name = (user.full_name or str(user.id))[:128]  # two 64-character names and a space: 129
    return Actor(kind=kind, user_id=user.id, name=name, chat_id=chat.id)


def edge(fn: Handler) -> Handler:
    """Translate desk errors into a reply in the same chat (through the outbox)."""

    @functools.wraps(fn)
    async def wrapped(update: Update, context: Ctx) -> Any:
        try:
            return await fn(update, context)
        except AlreadyProcessed:
            return None
        except DeskError as exc:
            chat = update.effective_chat
            if chat is not None:
                try:
                    await tickets.say(chat_id=chat.id, kind="error", message=exc.message)
                except AlreadyProcessed:
                    pass
            return None
        except Exception as exc:
            _record_failure(exc)
            raise

    return wrapped


def _reply_to(update: Update) -> int | None:
    msg = update.effective_message
    return msg.reply_to_message.message_id if msg and msg.reply_to_message else None


def _quoted_ref(update: Update, context: Ctx) -> str | None:
    """The ticket reference in the bot's own message being replied to, if any.

    Used when that message is not linked to a ticket: a copy the bot sent twice (a crash
    between Telegram's answer and recording it) still names its ticket. Only the bot's own
    messages count, so quoting a colleague who typed a reference relays nothing.
    """
    msg = update.effective_message
    quoted = msg.reply_to_message if msg else None
    if quoted is None or quoted.from_user is None or quoted.from_user.id != context.bot.id:
        return None
    return find_ref(quoted.text or quoted.caption or "")


# ---------------------------------------------------------------- private chat


@edge
async def private_command(update: Update, context: Ctx) -> None:
    """An enterprise's command (``dispatch.PRIVATE_COMMANDS``), the same as in the web chat."""
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    name = msg.text.split(maxsplit=1)[0].lstrip("/").split("@", 1)[0].lower()
    await dispatch.private_command(
        _cfg(context), actor=_actor(update), name=name, args=" ".join(_args(context))
    )


@edge
async def cancel(update: Update, context: Ctx) -> None:
    await dispatch.cancel(actor=_actor(update))


@edge
async def submit(update: Update, context: Ctx) -> None:
    """``/submit`` in a grid worker's private chat: a request on behalf of an enterprise."""
    await grid.start(actor=_actor(update))


@edge
async def introduce(update: Update, context: Ctx) -> None:
    """``/introduce NEED OFFER`` in the screening group: the hotline office introduces two."""
    actor = _actor(update)
    assert actor.chat_id is not None
    args = _args(context)
    if len(args) != 2 or not all(a.isdigit() and len(a) < 10 for a in args):
        raise InvalidInput("用法：/introduce 需求编号 供给编号")
    await matching.introduce_in_group(
        chat_id=actor.chat_id, need_id=int(args[0]), offer_id=int(args[1]), by=actor.name
    )


@edge
async def liaison_command(update: Update, context: Ctx) -> None:
    """``/liaison [YYYY-MM]``: a liaison officer fills the department's monthly report."""
    args = _args(context)
    await liaison.start(_cfg(context), actor=_actor(update), month=args[0] if args else "")


@edge
async def private_text(update: Update, context: Ctx) -> None:
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    await intake.private_text(
        _cfg(context),
        actor=_actor(update),
        text=msg.text,
        reply_to=_reply_to(update),
        quoted_ref=_quoted_ref(update, context),
    )


@edge
async def private_contact(update: Update, context: Ctx) -> None:
    msg = update.effective_message
    assert msg is not None and msg.contact is not None
    await intake.private_contact(
        actor=_actor(update),
        phone=msg.contact.phone_number,
        contact_user_id=msg.contact.user_id,
    )


def _file(update: Update) -> dict[str, Any] | None:
    msg = update.effective_message
    if msg is None:
        return None
    if msg.photo:
        largest = msg.photo[-1]
        return {
            "kind": "photo",
            "file_id": largest.file_id,
            "message_id": msg.message_id,
            "size": largest.file_size,
        }
    if msg.document:
        doc = msg.document
        return {
            "kind": "document",
            "file_id": doc.file_id,
            "message_id": msg.message_id,
            "name": doc.file_name,
            "mime": doc.mime_type,
            "size": doc.file_size,
        }
    return None


@edge
async def private_file(update: Update, context: Ctx) -> None:
    msg = update.effective_message
    file = _file(update)
    assert msg is not None and file is not None
    await intake.private_file(
        _cfg(context),
        actor=_actor(update),
        file=file,
        caption=msg.caption or "",
        reply_to=_reply_to(update),
        quoted_ref=_quoted_ref(update, context),
    )


@edge
async def unknown_private_command(update: Update, context: Ctx) -> None:
    chat = update.effective_chat
    assert chat is not None
    await tickets.say(chat_id=chat.id, kind="unknown_command")


# ---------------------------------------------------------------- groups


@edge
async def bind(update: Update, context: Ctx) -> None:
    chat = update.effective_chat
    assert chat is not None
    if not context.args or len(context.args) != 1:
        await tickets.say(chat_id=chat.id, kind="bind_usage")
        return
    await tickets.bind_group(
        _cfg(context), actor=_actor(update), code=context.args[0], title=chat.title or ""
    )


@edge
async def done(update: Update, context: Ctx) -> None:
    msg = update.effective_message
    chat = update.effective_chat
    assert msg is not None and msg.text is not None and chat is not None
    parts = msg.text.split(maxsplit=2)
    ref = find_ref(parts[1]) if len(parts) >= 2 else None
    if ref is None or len(parts) < 3:
        await tickets.say(chat_id=chat.id, kind="done_usage")
        return
    await tickets.done_command(_cfg(context), actor=_actor(update), ref=ref, result=parts[2])


@edge
async def escalate(update: Update, context: Ctx) -> None:
    chat = update.effective_chat
    msg = update.effective_message
    assert chat is not None and msg is not None and msg.text is not None
    parts = msg.text.split(maxsplit=2)
    ref = find_ref(parts[1]) if len(parts) >= 2 else None
    if ref is None:
        await tickets.say(chat_id=chat.id, kind="escalate_usage")
        return
    answer = await escalation.escalate_by_hand(
        _cfg(context), actor=_actor(update), ref=ref, reason=parts[2] if len(parts) > 2 else ""
    )
    await tickets.say(chat_id=chat.id, kind="info", message=answer)


@edge
async def leader(update: Update, context: Ctx) -> None:
    msg = update.effective_message
    chat = update.effective_chat
    assert msg is not None and chat is not None
    target = msg.reply_to_message.from_user if msg.reply_to_message else None
    if target is None or target.is_bot:
        await tickets.say(chat_id=chat.id, kind="leader_usage")
        return
    await tickets.set_leader(
        _cfg(context),
        actor=_actor(update),
        leader_id=target.id,
        leader_name=target.full_name or str(target.id),
    )


@edge
async def group_help(update: Update, context: Ctx) -> None:
    chat = update.effective_chat
    assert chat is not None
    await tickets.say(chat_id=chat.id, kind="group_help")


@edge
async def group_message(update: Update, context: Ctx) -> None:
    msg = update.effective_message
    assert msg is not None
    await tickets.group_message(
        _cfg(context),
        actor=_actor(update),
        text=msg.text or msg.caption or "",
        reply_to=_reply_to(update),
        quoted_ref=_quoted_ref(update, context),
        file=_file(update),
    )


# ---------------------------------------------------------------- managers (any chat)


def _args(context: Ctx) -> list[str]:
    return list(context.args or [])


@edge
async def grant_role(update: Update, context: Ctx) -> None:
    """``/grant ROLE`` or ``/revoke ROLE`` in reply to the user's message (admins only)."""
    msg = update.effective_message
    chat = update.effective_chat
    assert msg is not None and chat is not None and msg.text is not None
    target = msg.reply_to_message.from_user if msg.reply_to_message else None
    args = _args(context)
    if target is None or target.is_bot or len(args) != 1:
        await tickets.say(chat_id=chat.id, kind="grant_usage")
        return
    action = manage.revoke if msg.text.lstrip("/").lower().startswith("revoke") else manage.grant
    await action(
        _cfg(context),
        actor=_actor(update),
        role=args[0],
        user_id=target.id,
        name=(target.full_name or str(target.id))[:128],
    )


@edge
async def stats_command(update: Update, context: Ctx) -> None:
    args = _args(context)
    await manage.show_stats(_cfg(context), actor=_actor(update), period=args[0] if args else None)


@edge
async def dept_command(update: Update, context: Ctx) -> None:
    args = _args(context)
    if not args:
        raise InvalidInput("用法：/dept 部门代码 [today|week|month|2026-11]，例如 /dept TAX month")
    await manage.show_stats(
        _cfg(context),
        actor=_actor(update),
        department=args[0],
        period=args[1] if len(args) > 1 else "month",
    )


@edge
async def rank_command(update: Update, context: Ctx) -> None:
    args = _args(context)
    await manage.show_rank(_cfg(context), actor=_actor(update), period=args[0] if args else None)


@edge
async def overdue_command(update: Update, context: Ctx) -> None:
    await manage.show_overdue(_cfg(context), actor=_actor(update))


@edge
async def ticket_command(update: Update, context: Ctx) -> None:
    args = _args(context)
    ref = find_ref(args[0]) if args else None
    if ref is None:
        raise InvalidInput("用法：/ticket 工单编号，例如 /ticket TD20261129-0001")
    await manage.show_ticket(_cfg(context), actor=_actor(update), ref=ref)


@edge
async def report_command(update: Update, context: Ctx) -> None:
    args = _args(context)
    await manage.request_report(
        _cfg(context), actor=_actor(update), period=args[0] if args else None
    )


# ---------------------------------------------------------------- buttons


async def button(update: Update, context: Ctx) -> None:
    """Every inline button. The toast says what happened or why nothing did."""
    query = update.callback_query
    assert query is not None
    data = cb.parse(query.data)
    answer = "无效的操作。"
    alert = True
    if data is not None and query.message is not None:
        cfg = _cfg(context)
        actor = _actor(update)
        try:
            answer = await press(cfg, actor=actor, data=data)
            alert = False
        except AlreadyProcessed:
            return
        except DeskError as exc:
            answer = exc.message
        except Exception as exc:
            _record_failure(exc)
            raise
    try:
        await query.answer(text=answer[:200], show_alert=alert)
    except Exception:  # the toast is a courtesy; the change is already committed
        log.debug("answerCallbackQuery failed", exc_info=True)


# ---------------------------------------------------------------- registration point


def register(app: Application[Any, Any, Any, Any, Any, Any], cfg: DeskConfig) -> None:
    """Register every handler, in order. Order matters where noted."""
    app.bot_data[CFG_KEY] = cfg
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    # Edited messages are ignored everywhere: a request is what was sent, not what it became.
    new = filters.UpdateType.MESSAGE

    # Managers' commands work in any chat; each checks the role itself.
    for name, callback in (
        ("grant", grant_role),
        ("revoke", grant_role),
        ("stats", stats_command),
        ("overdue", overdue_command),
        ("rank", rank_command),
        ("dept", dept_command),
        ("ticket", ticket_command),
        ("report", report_command),
    ):
        app.add_handler(CommandHandler(name, callback, filters=new))

    # Private chat: commands first, then contact/files, then plain text, then unknown commands.
    app.add_handler(
        CommandHandler(dispatch.PRIVATE_COMMANDS, private_command, filters=private & new)
    )
    app.add_handler(CommandHandler("submit", submit, filters=private & new))  # 网格员代报
    app.add_handler(CommandHandler("escalate", escalate, filters=new))
    app.add_handler(CommandHandler("liaison", liaison_command, filters=private & new))
    app.add_handler(MessageHandler(private & new & filters.CONTACT, private_contact))
    app.add_handler(
        MessageHandler(private & new & (filters.PHOTO | filters.Document.ALL), private_file)
    )
    app.add_handler(MessageHandler(private & new & filters.TEXT & ~filters.COMMAND, private_text))
    app.add_handler(MessageHandler(private & new & filters.COMMAND, unknown_private_command))

    # Groups: commands before plain messages; unknown commands are ignored (groups are busy).
    app.add_handler(CommandHandler("bind", bind, filters=groups & new))
    app.add_handler(CommandHandler("done", done, filters=groups & new))
    app.add_handler(CommandHandler("cancel", cancel, filters=groups & new))
    app.add_handler(CommandHandler("help", group_help, filters=groups & new))
    app.add_handler(CommandHandler("leader", leader, filters=groups & new))
    app.add_handler(CommandHandler("introduce", introduce, filters=groups & new))
    app.add_handler(
        MessageHandler(
            groups
            & new
            & ((filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.Document.ALL),
            group_message,
        )
    )

    app.add_handler(CallbackQueryHandler(button))
