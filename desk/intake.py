"""Entry points for what an enterprise sends in its private chat.

Decides, in one place for every channel, whether a message continues a registration, answers a
pending question, adds to a ticket or starts a new request.
"""

from __future__ import annotations

from typing import Any

from . import grid, keyaccounts, liaison, registration, tickets
from .actors import Actor
from .context import DeskConfig
from .validators import check_upload


async def private_text(
    cfg: DeskConfig,
    *,
    actor: Actor,
    text: str,
    reply_to: int | None = None,
    quoted_ref: str | None = None,
) -> None:
    """A text message (not a command) in an enterprise's private chat."""
    assert actor.user_id is not None and actor.chat_id is not None
    if await keyaccounts.staff_text(actor, reply_to) and await tickets.group_message(
        cfg,
        actor=keyaccounts.as_staff(actor),
        text=text,
        reply_to=reply_to,
        quoted_ref=quoted_ref,
    ):
        return  # a key enterprise's butler answering a prompt or replying to a card copy
    if await liaison.in_progress(actor.user_id):  # a liaison officer's monthly report
        await liaison.answer(cfg, actor=actor, text=text)
        return
    if await grid.in_progress(actor.user_id):  # a grid worker's /submit takes texts while open
        await grid.answer(actor=actor, text=text)
        return
    if await registration.in_progress(actor.user_id):
        await registration.answer(actor=actor, text=text)
        return
    if await registration.member_for(actor.user_id) is None:
        await tickets.say(chat_id=actor.chat_id, kind="not_registered")
        return
    await tickets.enterprise_message(
        cfg, actor=actor, text=text, reply_to=reply_to, quoted_ref=quoted_ref
    )


async def private_contact(*, actor: Actor, phone: str, contact_user_id: int | None) -> None:
    """A shared contact: the phone step of registration accepts the user's own number only."""
    assert actor.user_id is not None and actor.chat_id is not None
    if not await registration.in_progress(actor.user_id):
        await tickets.say(chat_id=actor.chat_id, kind="contact_ignored")
        return
    if contact_user_id is not None and contact_user_id != actor.user_id:
        await tickets.say(
            chat_id=actor.chat_id, kind="error", message="请分享您本人的手机号，或直接输入手机号。"
        )
        return
    await registration.answer(actor=actor, phone=phone)


async def private_file(
    cfg: DeskConfig,
    *,
    actor: Actor,
    file: dict[str, Any],
    caption: str = "",
    reply_to: int | None = None,
    quoted_ref: str | None = None,
) -> None:
    """A photo or document from an enterprise: material for one of its open tickets."""
    assert actor.user_id is not None and actor.chat_id is not None
    if await liaison.in_progress(actor.user_id):  # an attachment to a liaison report's part
        await liaison.attach(cfg, actor=actor, file=file, caption=caption)
        return
    if await grid.in_progress(actor.user_id):
        await grid.answer(actor=actor, text=caption, file=file)
        return
    if await registration.member_for(actor.user_id) is None:
        await tickets.say(chat_id=actor.chat_id, kind="not_registered")
        return
    check_upload(file)  # refused with a clear message, nothing stored
    await tickets.enterprise_message(
        cfg, actor=actor, text=caption, reply_to=reply_to, quoted_ref=quoted_ref, file=file
    )
