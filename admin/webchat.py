"""The web chat: the second intake line, for enterprises without Telegram (mounted at ``/chat``).

An enterprise contact signs in with its phone and a one-time code (``desk.webchat``), then talks
to the desk over a WebSocket exactly as in its Telegram private chat: the same registration
dialog, drafts with 确认, follow-ups, ticket list, return visits and ratings, the same
slash commands. Messages for a web chat are outbox rows of the ``web`` channel; the
:class:`WebChatChannel` here delivers them (rendered by the same renderer as Telegram's, then
sanitized to a small set of tags) into the chat's history, and every open page of that chat
is woken to fetch what changed. Pages also look every few seconds, so a message delivered by
another worker arrives too.

Inbound, each message carries a client id; it is handled under the update scope
``web:<chat>:<id>``, so a message the page sends again after a lost answer changes nothing
twice (the page resends until it gets its ``ack``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import BodyPartReader, WSMsgType, web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from desk import intake, registration, tickets
from desk import webchat as wc
from desk.actors import Actor
from desk.context import DeskConfig
from desk.db import atomic, update_scope
from desk.errors import AlreadyProcessed, DeskError, InvalidInput
from desk.outbox import claim_batch, mark_retry
from desk.validators import UPLOAD_MAX_BYTES, check_upload
from handlers import callbacks as cb
from handlers import render as R
from handlers.dispatch import press, private_command

from .security import csrf_middleware, csrf_token, headers_middleware

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "desk_chat"
SESSION_MAX_AGE = 30 * 24 * 3600  # an enterprise stays signed in for a month on its device
WS_MAX_MESSAGE = 64 * 1024
LOOK_EVERY = 3.0  # seconds between a page's own looks for messages other workers delivered
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
# Code requests per client address in ten minutes (per worker): the per-phone limits keep one
# phone from being flooded, this keeps one client from flooding the screening group with codes
# for many phones.
CODES_PER_ADDRESS = 10
ADDRESS_WINDOW = 600.0


# ---------------------------------------------------------------- rendering


class _Sanitizer(HTMLParser):
    """Keeps the tags the renderer uses for Telegram (bold, italic, code, links…) and
    escapes everything else, so the page can show a message as HTML without trusting it."""

    TAGS = {
        "b": "b",
        "strong": "b",
        "i": "i",
        "em": "i",
        "u": "u",
        "ins": "u",
        "s": "s",
        "strike": "s",
        "del": "s",
        "code": "code",
        "pre": "pre",
        "blockquote": "blockquote",
        "tg-spoiler": "span",
        "a": "a",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        name = self.TAGS.get(tag)
        if name is None:
            return
        if name == "a":
            href = dict(attrs).get("href") or ""
            if not re.fullmatch(r"https?://[^\s\"'<>]{1,2000}", href):
                self.open.append("")
                return
            self.out.append(f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">')
        else:
            self.out.append(f"<{name}>")
        self.open.append(name)

    def handle_endtag(self, tag: str) -> None:
        if self.TAGS.get(tag) is None or not self.open:
            return
        name = self.open.pop()
        if name:
            self.out.append(f"</{name}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{n}>" for n in reversed(self.open) if n)


def sanitize(html: str) -> str:
    """Telegram-style HTML → HTML safe to insert into the page."""
    parser = _Sanitizer()
    parser.feed(html)
    return parser.result()


def _buttons(rows: R.Buttons | None) -> list[list[list[str]]]:
    return [[[label, data] for label, data in row] for row in rows or []]


ATTACHMENT_NOTE = "（工作人员发送了附件，网页版暂不能显示附件，请致电 25201111 索取）"


def to_parts(ops: Sequence[R.Op], *, name: str | None = None) -> list[wc.WebPart]:
    """The renderer's operations for one message, as the web chat shows them (``name``: the
    file name of a document the message offers)."""
    parts: list[wc.WebPart] = []
    for op in ops:
        if isinstance(op, R.Send):
            parts.append(wc.WebPart(html=sanitize(op.text), buttons=_buttons(op.buttons)))
        elif isinstance(op, R.Edit):
            parts.append(
                wc.WebPart(html=sanitize(op.text), buttons=_buttons(op.buttons), edit_role=op.role)
            )
        elif isinstance(op, R.Document):
            parts.append(
                wc.WebPart(
                    html=sanitize(op.caption), buttons=[], file_id=op.file_id, file_name=name
                )
            )
        elif isinstance(op, R.Copy):
            caption = sanitize(op.caption)
            parts.append(
                wc.WebPart(html=(caption + "\n" if caption else "") + ATTACHMENT_NOTE, buttons=[])
            )
    return parts


# ---------------------------------------------------------------- the channel


class PageBus(Protocol):
    """Tells the other workers that a chat's history changed (``bot.shared.RedisBus``)."""

    async def publish(self, chat_id: int) -> None: ...


class WebChatChannel:
    """Delivers the outbox's ``web`` rows into chat histories and wakes the open pages.

    Pages held by this worker are woken directly; with a ``bus`` (set by the composition root
    when Redis is configured) so are pages held by the other workers, through
    :meth:`tell_pages` on their side.

    Started and stopped by the composition root (``bot.app``), after the database is open.
    """

    def __init__(
        self,
        cfg: DeskConfig,
        *,
        senders: Sequence[wc.CodeSender],
        interval: float = 0.5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.cfg = cfg
        self.senders = list(senders)
        self.interval = interval
        self.clock = clock or cfg.now
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pages: dict[int, set[asyncio.Event]] = {}
        self._asked: dict[str, list[float]] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        # Set by the composition root when Telegram runs: wakes its sender after a web message
        # queued Telegram messages (a card for the department), instead of its next look.
        self.on_outbox: Callable[[], None] | None = None
        self.bus: PageBus | None = None

    def wake_telegram(self) -> None:
        if self.on_outbox is not None:
            self.on_outbox()

    # pages ----------------------------------------------------------

    def listen(self, chat_id: int, ws: web.WebSocketResponse) -> asyncio.Event:
        """An open page of a chat: the event is set when the chat has something new."""
        event = asyncio.Event()
        self._pages.setdefault(chat_id, set()).add(event)
        self._sockets.add(ws)
        return event

    def unlisten(self, chat_id: int, event: asyncio.Event, ws: web.WebSocketResponse) -> None:
        self._sockets.discard(ws)
        pages = self._pages.get(chat_id)
        if pages is not None:
            pages.discard(event)
            if not pages:
                del self._pages[chat_id]

    def tell_pages(self, chat_id: int) -> None:
        """Wake this worker's open pages of ``chat_id`` (they read what is new)."""
        for event in self._pages.get(chat_id, ()):
            event.set()

    def may_ask_code(self, address: str) -> bool:
        """Count one code request of a client address; whether it is within the limit."""
        now = asyncio.get_running_loop().time()
        recent = [t for t in self._asked.get(address, []) if now - t < ADDRESS_WINDOW]
        if len(self._asked) > 10_000:  # forget idle addresses rather than grow without bound
            self._asked = {a: ts for a, ts in self._asked.items() if now - ts[-1] < ADDRESS_WINDOW}
        if len(recent) >= CODES_PER_ADDRESS:
            self._asked[address] = recent
            return False
        self._asked[address] = [*recent, now]
        return True

    # delivery -------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webchat-delivery")

    async def close_pages(self) -> None:
        """Tell open pages the server goes away (1001), rather than cutting them at the end of
        the shutdown timeout; they reconnect, to this worker when it is back or to another."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server restarting")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = await self.deliver_once()
            except Exception:
                log.exception("web chat delivery round failed; retrying")
                busy = False
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def deliver_once(self) -> bool:
        """Deliver what is due; whether anything was."""
        now = self.clock()
        rows = await claim_batch(now=now, limit=0, private_limit=100, bulk_limit=50, channel="web")
        delivered: set[int] = set()
        for row in rows:
            try:
                parts = to_parts(R.render(row.kind, row.params), name=row.params.get("name"))
                await wc.deliver(row, parts, now=now)
            except Exception as exc:
                log.exception("web chat message %s could not be stored", row.id)
                await mark_retry(row, now=now, delay=5, error=repr(exc))
                continue
            self.tell_pages(row.chat_id)
            delivered.add(row.chat_id)
        if self.bus is not None:
            for chat_id in delivered:
                await self.bus.publish(chat_id)
        return bool(rows)


CHANNEL = web.AppKey("webchat_channel", WebChatChannel)


# ---------------------------------------------------------------- pages and API


def _json_error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="请以 JSON 提交。")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="请求格式不正确。") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="请求格式不正确。")
    return body


def _field(body: dict[str, Any], name: str, limit: int = 40) -> str:
    value = body.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput("请填写完整。")
    return value


async def page(request: web.Request) -> web.Response:
    session = await get_session(request)
    identity = session.get("wid")
    phone = await wc.identity_phone(identity) if isinstance(identity, int) else None
    return aiohttp_jinja2.render_template(
        "chat.html",
        request,
        {
            "csrf": csrf_token(session),
            "signed_in": phone is not None,
            "phone": phone[:3] + "****" + phone[-4:] if phone else "",
            "static": lambda path: str(request.app.router["chat_static"].url_for(filename=path)),
        },
    )


async def ask_code(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    body = await _body(request)
    if not channel.may_ask_code(request.remote or "?"):
        return _json_error("获取验证码过于频繁，请十分钟后再试，或致电 25201111。", status=429)
    try:
        hint = await wc.request_code(
            phone=_field(body, "phone"), now=channel.clock(), senders=channel.senders
        )
    except DeskError as exc:
        return _json_error(exc.message)
    channel.wake_telegram()
    return web.json_response({"ok": True, "hint": hint})


async def sign_in(request: web.Request) -> web.Response:
    channel = request.app[CHANNEL]
    body = await _body(request)
    try:
        identity = await wc.verify_code(
            phone=_field(body, "phone"), code=_field(body, "code", 12), now=channel.clock()
        )
    except DeskError as exc:
        return _json_error(exc.message)
    session = await new_session(request)  # a new session on sign-in: no fixation
    session["wid"] = identity.id
    return web.json_response({"ok": True, "csrf": csrf_token(session)})


async def sign_out(request: web.Request) -> web.Response:
    session = await get_session(request)
    session.invalidate()
    return web.json_response({"ok": True})


async def upload(request: web.Request) -> web.Response:
    """A file for one of the enterprise's tickets (multipart: ``file``, ``cid``, optional
    ``caption`` and ``reply_to``). Checked like a file sent in Telegram; read in chunks, so an
    oversized one is refused without being held in memory whole."""
    session = await get_session(request)
    identity = session.get("wid")
    if not isinstance(identity, int):
        return _json_error("请先登录。", status=401)
    channel = request.app[CHANNEL]
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError):
        return _json_error("请以表单上传文件。")
    fields: dict[str, str] = {}
    name, mime, data = "", "", b""
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            name = (part.filename or "").strip()[:255]
            mime = part.headers.get("Content-Type", "application/octet-stream")
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > UPLOAD_MAX_BYTES:
                    limit = UPLOAD_MAX_BYTES // 1024 // 1024
                    return _json_error(f"文件过大，单个文件请不超过 {limit} MB。", status=413)
                chunks.append(chunk)
            data = b"".join(chunks)
        elif part.name in ("cid", "caption", "reply_to"):
            fields[part.name] = (await part.read(decode=True)).decode("utf-8", "replace")[:2000]
    cid = fields.get("cid", "")
    if not data or not name or not CLIENT_ID.fullmatch(cid):
        return _json_error("请选择要上传的文件。")
    try:
        check_upload({"kind": "document", "name": name, "mime": mime, "size": len(data)})
        actor, _ = await wc.actor_for(identity)
    except DeskError as exc:
        return _json_error(exc.message)
    assert actor.chat_id is not None
    reply = fields.get("reply_to", "")
    reply_to = int(reply) if reply.isdigit() and len(reply) < 19 else None
    if reply_to is not None and not await wc.owns_message(
        chat_id=actor.chat_id, message_id=reply_to
    ):
        reply_to = None
    caption = fields.get("caption", "").strip()

    shown = (
        "📎 "
        + escape(name, quote=False)
        + (f"\n{escape(caption, quote=False)}" if caption else "")
    )

    chat = actor.chat_id

    async def take() -> None:
        file = await wc.store_upload(name=name, mime=mime, data=data)
        await wc.store_incoming(
            chat_id=chat,
            html=shown,
            now=channel.clock(),
            file_id=file["stored_id"],
            file_name=name,
        )
        await intake.private_file(
            channel.cfg, actor=actor, file=file, caption=caption, reply_to=reply_to
        )

    await _run(channel, actor, cid, take)
    channel.wake()
    channel.wake_telegram()
    return web.json_response({"ok": True, "cid": cid})


async def download(request: web.Request) -> web.StreamResponse:
    """A file the chat's history offers; always as an attachment (never shown inline)."""
    session = await get_session(request)
    identity = session.get("wid")
    if not isinstance(identity, int):
        raise web.HTTPUnauthorized(text="请先登录。")
    stored = await wc.may_download(
        chat_id=wc.web_chat(identity), file_id=int(request.match_info["file_id"])
    )
    if stored is None:
        raise web.HTTPNotFound(text="文件不存在。")
    return web.Response(
        body=stored.data,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": "attachment; filename*=UTF-8''" + quote(stored.name),
            "Cache-Control": "private, no-store",
        },
    )


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


async def socket(request: web.Request) -> web.StreamResponse:
    """The chat's WebSocket: history first, then both directions until the page closes."""
    session = await get_session(request)
    identity = session.get("wid")
    if not isinstance(identity, int):
        raise web.HTTPUnauthorized(text="请先登录。")
    if not _same_origin(request):
        raise web.HTTPForbidden(text="来源不符。")  # no cross-site WebSocket hijacking
    channel = request.app[CHANNEL]
    try:
        actor, member = await wc.actor_for(identity)
    except DeskError:
        session.invalidate()
        raise web.HTTPUnauthorized(text="登录已失效，请重新登录。") from None
    chat = wc.web_chat(identity)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=WS_MAX_MESSAGE)
    await ws.prepare(request)
    wakeup = channel.listen(chat, ws)
    shown: dict[int, int] = {}

    async def push(rows: Sequence[Any]) -> None:
        fresh = [r for r in rows if shown.get(r.id) != r.seq]
        for r in fresh:
            shown[r.id] = r.seq
        if fresh:
            await ws.send_json({"t": "messages", "items": [wc.as_dict(r) for r in fresh]})

    async def pusher() -> None:
        seq = 0
        while not ws.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), LOOK_EVERY)
            wakeup.clear()
            rows = await wc.changed_since(chat_id=chat, seq=seq)
            await push(rows)
            seq = max([seq, *(r.seq for r in rows)])

    try:
        past = await wc.history(chat_id=chat)
        await push(past)
        if not past:
            # First visit: greet a contact, or begin registration (the phone is proven).
            phone = await wc.identity_phone(identity)
            await _run(channel, actor, "hello", lambda: _hello(actor, member, phone))
        task = asyncio.create_task(pusher())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await _receive(channel, ws, chat, msg.data)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    finally:
        channel.unlisten(chat, wakeup, ws)
    return ws


async def _hello(actor: Actor, member: Any, phone: str | None) -> None:
    if member is not None:
        await registration.start(actor=actor)
    elif not await registration.in_progress(actor.user_id or 0):
        await registration.start(actor=actor, phone=phone)


async def _receive(
    channel: WebChatChannel, ws: web.WebSocketResponse, chat: int, raw: str
) -> None:
    """One message from the page: ``text`` (typed, maybe a slash command) or ``press``."""
    try:
        data = json.loads(raw)
    except ValueError:
        await ws.send_json({"t": "error", "error": "消息格式不正确。"})
        return
    if not isinstance(data, dict) or not CLIENT_ID.fullmatch(str(data.get("cid", ""))):
        await ws.send_json({"t": "error", "error": "消息格式不正确。"})
        return
    cid = str(data["cid"])
    identity = chat - wc.WEB_BASE
    try:
        actor, _ = await wc.actor_for(identity)
    except DeskError as exc:
        await ws.send_json({"t": "nack", "cid": cid, "error": exc.message})
        return
    kind = data.get("t")
    try:
        if kind == "text":
            toast = await _text(channel, actor, cid, data)
        elif kind == "press":
            toast = await _press(channel, actor, cid, data)
        else:
            await ws.send_json({"t": "nack", "cid": cid, "error": "不支持的操作。"})
            return
    except Exception:
        log.exception("web chat message %s of chat %s failed", cid, chat)
        await ws.send_json({"t": "nack", "cid": cid, "error": "处理失败，请稍后重发。"})
        return
    channel.wake()
    channel.wake_telegram()
    await ws.send_json({"t": "ack", "cid": cid, "toast": toast})


async def _text(channel: WebChatChannel, actor: Actor, cid: str, data: dict[str, Any]) -> str:
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return "请输入内容。"
    assert actor.chat_id is not None
    if len(text) > wc.TEXT_LIMIT:
        # Refused whole, and said so in the chat: nothing is half-taken.
        await _run(
            channel,
            actor,
            cid,
            lambda: tickets.say(
                chat_id=actor.chat_id or 0,
                kind="error",
                message=f"消息过长（{len(text)} 字），每条最多 {wc.TEXT_LIMIT} 字，请分段发送。",
            ),
        )
        return ""
    reply_to = data.get("reply_to")
    if not isinstance(reply_to, int) or not await wc.owns_message(
        chat_id=actor.chat_id, message_id=reply_to
    ):
        reply_to = None
    shown = escape(text, quote=False)
    await _run(
        channel, actor, cid, lambda: _command_or_text(channel.cfg, actor, text, reply_to), shown
    )
    return ""


async def _command_or_text(cfg: DeskConfig, actor: Actor, text: str, reply_to: int | None) -> None:
    """A slash command does what it does in Telegram; anything else is a message."""
    match = re.fullmatch(r"/([A-Za-z]+)(?:@\w+)?(?:\s+(.*))?", text.strip(), flags=re.S)
    if match is None:
        await intake.private_text(cfg, actor=actor, text=text, reply_to=reply_to)
        return
    name, args = match.group(1).lower(), (match.group(2) or "").strip()
    await private_command(cfg, actor=actor, name=name, args=args)


async def _press(channel: WebChatChannel, actor: Actor, cid: str, data: dict[str, Any]) -> str:
    parsed = cb.parse(data.get("data") if isinstance(data.get("data"), str) else None)
    mid = data.get("mid")
    assert actor.chat_id is not None
    if (
        parsed is None
        or not isinstance(mid, int)
        or not await wc.owns_message(chat_id=actor.chat_id, message_id=mid)
    ):
        return "无效的操作。"  # forged or foreign: nothing runs
    try:
        with update_scope(f"web:{actor.chat_id}:{cid}"):
            return await press(channel.cfg, actor=actor, data=parsed)
    except AlreadyProcessed:
        return ""
    except DeskError as exc:
        return exc.message


async def _run(
    channel: WebChatChannel,
    actor: Actor,
    cid: str,
    fn: Callable[[], Any],
    shown: str | None = None,
) -> None:
    """Handle one typed message once: its effects, and its place in the history, commit
    together under the scope ``web:<chat>:<cid>``; a desk error becomes a reply in the chat."""
    assert actor.chat_id is not None
    now = channel.clock()
    with update_scope(f"web:{actor.chat_id}:{cid}"):
        try:
            async with atomic():
                if shown is not None:
                    await wc.store_incoming(chat_id=actor.chat_id, html=shown, now=now)
                await fn()
        except AlreadyProcessed:
            return
        except DeskError as exc:
            try:
                async with atomic():
                    if shown is not None:
                        await wc.store_incoming(chat_id=actor.chat_id, html=shown, now=now)
                    await tickets.say(chat_id=actor.chat_id, kind="error", message=exc.message)
            except AlreadyProcessed:
                return


# ---------------------------------------------------------------- the sub-application


def chat_key(admin_key: bytes) -> bytes:
    """The chat's cookie key, derived from the admin's: one secret to set, two cookies that
    cannot be swapped for each other."""
    return hmac.new(admin_key, b"teda-desk web chat", hashlib.sha256).digest()


def create_chat_app(
    channel: WebChatChannel, *, secret_key: bytes, secure_cookies: bool
) -> web.Application:
    """Build the web chat sub-application (pages, sign-in API, WebSocket)."""
    app = web.Application(middlewares=[headers_middleware])
    app[CHANNEL] = channel
    setup_session(
        app,
        EncryptedCookieStorage(
            chat_key(secret_key),
            cookie_name=COOKIE,
            path="/chat",
            max_age=SESSION_MAX_AGE,
            secure=secure_cookies,
            httponly=True,
            samesite="Lax",
        ),
    )
    app.middlewares.append(csrf_middleware)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        default_helpers=False,
    )

    async def close_pages(_: web.Application) -> None:
        # on_shutdown runs before the server waits for open handlers (a socket never ends
        # by itself), so pages are closed here, not in the channel's cleanup.
        await channel.close_pages()

    app.on_shutdown.append(close_pages)
    app.router.add_get("/", page, name="chat")
    app.router.add_post("/api/code", ask_code)
    app.router.add_post("/api/signin", sign_in)
    app.router.add_post("/api/signout", sign_out)
    app.router.add_post("/api/upload", upload)
    app.router.add_get(r"/file/{file_id:\d{1,12}}", download)
    app.router.add_get("/ws", socket)
    app.router.add_static("/static", HERE / "static", name="chat_static")
    return app
