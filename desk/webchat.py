"""The web chat's rules, independent of the web server: sign-in codes, identities, history.

An enterprise without Telegram signs in on the web chat with its phone and a one-time code.
The code reaches the person through a :class:`CodeSender`: there is no SMS gateway here, so the
shipped senders use channels the desk already has (the contact's own Telegram chat, or the
hotline office's screening group, which reads it to the caller after checking who calls). An SMS
gateway is one more class with the same two members.

A signed-in phone is a :class:`~models.webchat.WebIdentity`; its chat id on the desk is
``WEB_BASE + id``, a number no Telegram chat can have (Telegram ids fit in 52 bits), so every
desk service that addresses "the chat the request came from" works unchanged, and
``notify.enqueue`` files messages for such chats under the ``web`` channel. A phone that belongs
to a registered contact acts as that contact (same enterprise, same tickets, whichever channel
opened them); a new phone registers through the same dialog as in Telegram, minus the phone
step, because the code has just proved the phone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from models.department import TRIAGE_CODE
from models.enterprise import Member
from models.outbox import MessageLink, OutboxFile, OutboxMessage, OutboxStatus
from models.webchat import FileFetch, SignInCode, WebChatMessage, WebIdentity

from .actors import Actor
from .db import atomic
from .errors import DeskError, InvalidInput, RateLimited
from .notify import WEB_BASE, channel_of, enqueue, group_chat
from .validators import mask_phone, normalize_mobile

CODE_TTL = dt.timedelta(minutes=10)
CODE_TRIES = 5  # wrong codes before a code is void
CODE_GAP = dt.timedelta(seconds=60)  # between two codes for one phone
CODES_PER_HOUR = 5
TEXT_LIMIT = 4000  # what one web chat message may hold (Telegram allows 4096)


def web_chat(identity_id: int) -> int:
    """The desk chat id of a web identity."""
    return WEB_BASE + identity_id


def is_web(chat_id: int | None) -> bool:
    """Whether a chat id belongs to the web chat (not to Telegram)."""
    return channel_of(chat_id) == "web"


# ---------------------------------------------------------------- one-time codes


class CodeSender(Protocol):
    """Delivers a sign-in code to the person who owns a phone number.

    ``deliver`` returns the hint the sign-in page shows ("已发送到……"), or None when this
    sender cannot reach that phone (the next sender is tried). It is called inside the
    transaction that stores the code, so a code is never stored undelivered nor delivered
    unstored.
    """

    name: str

    async def deliver(self, *, phone: str, code: str, member: Member | None) -> str | None: ...


class TelegramContactSender:
    """Sends the code to the contact's own Telegram chat, when the phone is a registered
    contact who uses Telegram."""

    name = "telegram"

    async def deliver(self, *, phone: str, code: str, member: Member | None) -> str | None:
        if member is None or member.chat_id is None or is_web(member.chat_id):
            return None
        minutes = int(CODE_TTL.total_seconds() // 60)
        await enqueue(
            chat_id=member.chat_id, kind="signin_code", params={"code": code, "minutes": minutes}
        )
        return "验证码已发送到您在 Telegram 上与热线机器人的对话中。"


class OfficeSender:
    """Shows the code to the hotline office in its screening group; the office reads it to the
    caller after checking the caller (e.g. by calling the number back)."""

    name = "office"

    async def deliver(self, *, phone: str, code: str, member: Member | None) -> str | None:
        chat = await group_chat(TRIAGE_CODE)
        if chat is None:
            return None
        if member is not None:
            await member.fetch_related("enterprise")
        minutes = int(CODE_TTL.total_seconds() // 60)
        await enqueue(
            chat_id=chat,
            kind="signin_code_office",
            params={
                "code": code,
                "minutes": minutes,
                "phone": mask_phone(phone),
                "enterprise": member.enterprise.name if member is not None else "",
            },
        )
        return "请致电企业服务热线 25201111，热线办核实身份后告知验证码。"


SENDERS: dict[str, type[TelegramContactSender] | type[OfficeSender]] = {
    "telegram": TelegramContactSender,
    "office": OfficeSender,
}


def make_senders(names: Sequence[str]) -> list[CodeSender]:
    """Senders by name, in the order tried (``DESK_WEBCHAT_CODE_SENDERS``).

    Raises:
        ValueError: for an unknown name.
    """
    unknown = [n for n in names if n not in SENDERS]
    if unknown:
        raise ValueError(f"unknown code sender(s): {', '.join(unknown)}; known: telegram, office")
    return [SENDERS[n]() for n in names]


def _hash(phone: str, code: str) -> str:
    return hashlib.sha256(f"{phone}:{code}".encode()).hexdigest()


async def contact_for(phone: str) -> Member | None:
    """The registered contact with this phone (the newest, if several registered it)."""
    return await Member.filter(phone=phone).order_by("-id").first()


async def request_code(*, phone: str, now: dt.datetime, senders: Sequence[CodeSender]) -> str:
    """Make a one-time code for ``phone`` and deliver it.

    Returns:
        The hint for the page: where the code went.

    Raises:
        InvalidInput: not a mobile number.
        RateLimited: asked too often.
        DeskError: no sender could reach the phone (nothing stored).
    """
    phone = normalize_mobile(phone)
    async with atomic():
        recent = await SignInCode.filter(phone=phone, created_at__gt=now - dt.timedelta(hours=1))
        last = max((c.created_at for c in recent), default=None)
        if last is not None and now - last < CODE_GAP:
            wait = int((CODE_GAP - (now - last)).total_seconds()) + 1
            raise RateLimited(f"验证码已发送，请 {wait} 秒后再重新获取。")
        if len(recent) >= CODES_PER_HOUR:
            raise RateLimited("获取验证码次数过多，请一小时后再试，或致电热线 25201111。")
        code = f"{secrets.randbelow(10**6):06d}"
        member = await contact_for(phone)
        for sender in senders:
            hint = await sender.deliver(phone=phone, code=code, member=member)
            if hint is not None:
                await SignInCode.create(
                    phone=phone,
                    code_hash=_hash(phone, code),
                    created_at=now,
                    expires_at=now + CODE_TTL,
                    delivered_by=sender.name,
                )
                # An older code stops working once a new one is out.
                await SignInCode.filter(
                    phone=phone, used_at__isnull=True, created_at__lt=now
                ).update(used_at=now)
                return hint
    raise DeskError("暂时无法发送验证码，请致电企业服务热线 25201111。")


async def verify_code(*, phone: str, code: str, now: dt.datetime) -> WebIdentity:
    """Check a code; the phone's web identity when it is right (created on first sign-in).

    Raises:
        InvalidInput: wrong, used or expired code (a wrong try counts; five void the code).
    """
    phone = normalize_mobile(phone)
    code = code.strip()
    left: int | None = None
    async with atomic():
        current = (
            await SignInCode.filter(phone=phone, used_at__isnull=True, expires_at__gt=now)
            .order_by("-id")
            .select_for_update()
            .first()
        )
        if current is None or current.attempts >= CODE_TRIES:
            raise InvalidInput("验证码已失效，请重新获取。")
        if hmac.compare_digest(current.code_hash, _hash(phone, code)):
            current.used_at = now
            await current.save(update_fields=["used_at"])
            identity, _ = await WebIdentity.get_or_create(phone=phone)
            identity.last_seen_at = now
            await identity.save(update_fields=["last_seen_at"])
            return identity
        # A wrong try must count: it is committed before the refusal is raised (raising inside
        # the transaction would roll the count back and allow guessing forever).
        current.attempts += 1
        await current.save(update_fields=["attempts"])
        left = CODE_TRIES - current.attempts
    raise InvalidInput(
        f"验证码不正确，还可再试 {left} 次。" if left else "验证码已失效，请重新获取。"
    )


# ---------------------------------------------------------------- who acts


async def actor_for(identity_id: int) -> tuple[Actor, Member | None]:
    """How a signed-in web identity acts on the desk, and its contact if registered.

    A registered contact acts under its own user id (its tickets, drafts and pending questions
    are the same as in Telegram); the desk's answers go to the web chat.

    Raises:
        NotFound-like DeskError: the identity is gone (signed out everywhere).
    """
    identity = await WebIdentity.get_or_none(id=identity_id)
    if identity is None:
        raise DeskError("登录已失效，请重新登录。")
    chat = web_chat(identity.id)
    member = await contact_for(identity.phone)
    if member is not None and member.tg_user_id is None:
        # A contact entered by the office without a channel: the web becomes its channel.
        await Member.filter(id=member.id, tg_user_id__isnull=True).update(
            tg_user_id=chat, chat_id=chat
        )
        member = await Member.get(id=member.id)
    user_id = member.tg_user_id if member is not None else chat
    name = member.contact_name if member is not None else mask_phone(identity.phone)
    return Actor(kind="enterprise", user_id=user_id, name=name, chat_id=chat), member


async def identity_phone(identity_id: int) -> str | None:
    identity = await WebIdentity.get_or_none(id=identity_id)
    return identity.phone if identity else None


async def chat_for_phone(phone: str) -> int | None:
    """The web chat of a phone that has signed in on the web, if any."""
    identity = await WebIdentity.get_or_none(phone=phone)
    return web_chat(identity.id) if identity else None


# ---------------------------------------------------------------- history and delivery


@dataclass(frozen=True)
class WebPart:
    """One rendered piece of an outgoing message: new, or an edit of the ticket's message of
    ``edit_role`` in the chat (shown anew when there is none)."""

    html: str
    buttons: list[list[list[str]]]  # rows of [label, callback data]
    edit_role: str | None = None
    file_id: int | None = None  # an OutboxFile the page offers for download
    file_name: str | None = None


def as_dict(msg: WebChatMessage) -> dict[str, Any]:
    """What the page receives of one message."""
    return {
        "id": msg.id,
        "dir": msg.direction,
        "html": msg.html,
        "buttons": msg.buttons,
        "at": msg.created_at.isoformat(),
        "seq": msg.seq,
        "edited": msg.updated_at != msg.created_at,
        "file": {"id": msg.file_id, "name": msg.file_name} if msg.file_id else None,
    }


async def store_incoming(
    *,
    chat_id: int,
    html: str,
    now: dt.datetime,
    file_id: int | None = None,
    file_name: str | None = None,
) -> WebChatMessage:
    """Keep what the enterprise typed (or uploaded) in its history (escaped by the caller)."""
    return await WebChatMessage.create(
        chat_id=chat_id,
        direction="in",
        html=html,
        buttons=[],
        created_at=now,
        updated_at=now,
        seq=next_seq(),
        file_id=file_id,
        file_name=file_name,
    )


async def deliver(row: OutboxMessage, parts: Sequence[WebPart], *, now: dt.datetime) -> list[int]:
    """Store an outbox row's rendered parts in the chat's history and mark the row sent.

    One transaction: a crash before it commits leaves the row to be delivered again, after it
    nothing is repeated (``outbox_id, part`` is unique).

    Returns:
        The ids of the messages created or edited (the page shows them).
    """
    touched: list[int] = []
    async with atomic():
        if await WebChatMessage.exists(outbox_id=row.id):
            await _mark_sent(row, now=now, links=[])
            return touched
        links: list[int] = []
        for index, part in enumerate(parts):
            target = None
            if part.edit_role and row.ticket_id is not None:
                link = (
                    await MessageLink.filter(
                        chat_id=row.chat_id, ticket_id=row.ticket_id, role=part.edit_role
                    )
                    .order_by("-id")
                    .first()
                )
                if link is not None:
                    target = await WebChatMessage.get_or_none(
                        id=link.message_id, chat_id=row.chat_id
                    )
            if target is not None:
                target.html, target.buttons, target.updated_at = part.html, part.buttons, now
                target.seq = next_seq()
                await target.save(update_fields=["html", "buttons", "updated_at", "seq"])
                touched.append(target.id)
                continue
            msg = await WebChatMessage.create(
                chat_id=row.chat_id,
                direction="out",
                html=part.html,
                buttons=part.buttons,
                outbox_id=row.id,
                part=index,
                ticket_id=row.ticket_id,
                role=part.edit_role or row.link_role,
                created_at=now,
                updated_at=now,
                seq=next_seq(),
                file_id=part.file_id,
                file_name=part.file_name,
            )
            touched.append(msg.id)
            links.append(msg.id)
        await _mark_sent(row, now=now, links=links)
    return touched


async def _mark_sent(row: OutboxMessage, *, now: dt.datetime, links: list[int]) -> None:
    await OutboxMessage.filter(id=row.id).update(
        status=OutboxStatus.SENT, sent_at=now, locked_until=None, error=None, message_ids=links
    )
    if row.ticket_id is not None and row.link_role:
        for mid in links:
            await MessageLink.create(
                chat_id=row.chat_id, message_id=mid, ticket_id=row.ticket_id, role=row.link_role
            )


async def history(*, chat_id: int, limit: int = 200) -> list[WebChatMessage]:
    """The newest ``limit`` messages of a chat, oldest first."""
    rows = await WebChatMessage.filter(chat_id=chat_id).order_by("-id").limit(limit)
    return list(reversed(rows))


SEQ_OVERLAP = 5 * 10**9  # ns: a write that committed late is still found by the next look


def next_seq() -> int:
    return time.time_ns()


async def changed_since(*, chat_id: int, seq: int) -> list[WebChatMessage]:
    """Messages written (new or edited) since ``seq``, with an overlap: a transaction that
    took its ``seq`` before a page looked but committed after it is still found. The page
    drops what it already shows (same id and seq)."""
    return (
        await WebChatMessage.filter(chat_id=chat_id, seq__gt=seq - SEQ_OVERLAP)
        .order_by("id")
        .limit(500)
    )


async def owns_message(*, chat_id: int, message_id: int) -> bool:
    """Whether a message id is one of this chat's (a press or reply names only its own)."""
    return await WebChatMessage.exists(id=message_id, chat_id=chat_id)


async def store_upload(*, name: str, mime: str, data: bytes) -> dict[str, Any]:
    """Keep a file an enterprise uploaded on the web (call inside the message's transaction).

    Returns:
        The file as the desk's intake takes it (``stored_id`` names the kept file, which the
        desk sends to the department's group as a document).
    """
    stored = await OutboxFile.create(name=name[:128], mime=mime[:128], data=data)
    return {
        "kind": "document",
        "file_id": f"web:{stored.id}",
        "stored_id": stored.id,
        "name": name[:255],
        "mime": mime[:128],
        "size": len(data),
        "message_id": None,
    }


async def may_download(*, chat_id: int, file_id: int) -> OutboxFile | None:
    """A file a chat's history offers (its own upload, or one staff sent), else None."""
    if not await WebChatMessage.exists(chat_id=chat_id, file_id=file_id):
        return None
    return await OutboxFile.get_or_none(id=file_id)


# ---------------------------------------------------------------- files from Telegram staff

FETCH_TRIES = 5
FETCH_LEASE = dt.timedelta(seconds=60)
FETCH_FAILED_NOTE = "（附件获取失败，请致电 25201111 索取）"


async def queue_fetch(
    *, chat_id: int, ticket_id: int | None, file: dict[str, Any], params: dict[str, Any]
) -> FileFetch:
    """Staff sent a file in Telegram for a web chat: the Telegram channel fetches it first."""
    kind = str(file.get("kind") or "document")
    name = str(file.get("name") or ("图片.jpg" if kind == "photo" else "附件"))
    mime = str(
        file.get("mime") or ("image/jpeg" if kind == "photo" else "application/octet-stream")
    )
    return await FileFetch.create(
        tg_file_id=str(file["file_id"]),
        name=name[:255],
        mime=mime[:128],
        chat_id=chat_id,
        ticket_id=ticket_id,
        params=params,
    )


async def due_fetches(*, now: dt.datetime, limit: int = 5) -> list[FileFetch]:
    """Lease the fetches that are due (a compare-and-set on the lease, so workers share)."""
    rows = (
        await FileFetch.filter(state="pending")
        .filter(not_before__isnull=True)
        .order_by("id")
        .limit(limit)
    ) + (await FileFetch.filter(state="pending", not_before__lte=now).order_by("id").limit(limit))
    taken = []
    for row in rows[:limit]:
        won = await FileFetch.filter(id=row.id, state="pending", not_before=row.not_before).update(
            not_before=now + FETCH_LEASE
        )
        if won:
            taken.append(row)
    return taken


async def fetched(fetch: FileFetch, *, data: bytes, now: dt.datetime) -> None:
    """The file is here: keep it and queue the message that offers it in the web chat."""
    async with atomic():
        stored = await OutboxFile.create(name=fetch.name[:128], mime=fetch.mime, data=data)
        params = dict(fetch.params, file_id=stored.id, name=fetch.name)
        await enqueue(
            chat_id=fetch.chat_id,
            kind="progress_file",
            params=params,
            ticket_id=fetch.ticket_id,
            link_role="progress",
        )
        await FileFetch.filter(id=fetch.id).update(state="done", error=None)


async def fetch_failed(fetch: FileFetch, *, error: str, now: dt.datetime) -> None:
    """Try again later; after ``FETCH_TRIES`` the enterprise gets the text with a note."""
    attempts = fetch.attempts + 1
    async with atomic():
        if attempts < FETCH_TRIES:
            await FileFetch.filter(id=fetch.id).update(
                attempts=attempts,
                not_before=now + dt.timedelta(seconds=30 * attempts),
                error=error[:1000],
            )
            return
        await FileFetch.filter(id=fetch.id).update(
            attempts=attempts, state="failed", error=error[:1000]
        )
        params = dict(fetch.params)
        params["text"] = (str(params.get("text") or "") + "\n" + FETCH_FAILED_NOTE).strip()
        await enqueue(
            chat_id=fetch.chat_id,
            kind="progress",
            params=params,
            ticket_id=fetch.ticket_id,
            link_role="progress",
        )
