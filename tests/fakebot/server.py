"""A small, local, aiohttp-based fake of the Telegram Bot API.

The real python-telegram-bot (PTB 22) ``Bot`` is pointed at it with::

    fake = FakeBotAPI()
    await fake.start()
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )

Request format (PTB 22, ``telegram/request``): every API call is an HTTP POST to
``{base_url}{token}/{method}``. Parameters arrive as a form body
(``application/x-www-form-urlencoded``, or ``multipart/form-data`` when files are uploaded)
where string values are sent verbatim and every other value (ints, bools, dicts, lists) is
JSON-encoded. The fake also accepts JSON bodies and query strings. Answers are Telegram-shaped:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``
with the matching HTTP status, so PTB raises the same exceptions as against the real server
(``RetryAfter``, ``BadRequest``, ``Forbidden``, ``Conflict``, ``NetworkError``...).

Simulated users (:meth:`FakeBotAPI.user_sends`, :meth:`FakeBotAPI.user_presses`) create
updates that are queued for ``getUpdates`` (polling mode) or POSTed to the webhook URL
(webhook mode, after ``setWebhook``).

Webhook delivery has two modes:
    * direct (the default): ``user_sends`` POSTs the update once and waits for the answer;
      a failed delivery is recorded (:attr:`FakeBotAPI.webhook_deliveries`) and not retried.
    * Telegram-like (``FakeBotAPI(webhook_retry=True)``): updates are queued and ``user_sends``
      returns at once. Each queued update is POSTed until the receiver answers 2xx; anything
      else (connection refused or reset, a timeout, 5xx, 4xx) is retried with exponential
      backoff. At most ``max_connections`` POSTs are in flight at once (the ``setWebhook``
      parameter, default 40, as on Telegram). :attr:`FakeBotAPI.webhook_targets` can list
      several receiver URLs that stand in for one public address behind a load balancer:
      every attempt goes to the next one, round-robin, whatever URL the bot set.
      :meth:`FakeBotAPI.wait_webhook_idle` waits until every queued update was acknowledged.

Deliberate simplifications:
    * Texts are stored exactly as sent (HTML tags included); ``SentMessage.plain_text`` gives
      a tag-stripped version. No entities are computed for bot messages.
    * With ``parse_mode="HTML"`` the markup is validated (allowed tags, balanced, no bare
      ``<``) and a Telegram-like ``400 Bad Request: can't parse entities`` is returned on
      errors. MarkdownV2 is not validated.
    * Privacy mode is not simulated: every group message is delivered to the bot.
    * Direct webhook deliveries (the default) are not retried on failure; see above for the
      Telegram-like mode that retries them.
    * Telegram-like webhook delivery retries each update on its own (Telegram may hold back
      later updates while one fails) and never gives up unless ``webhook_max_attempts`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Self

from aiohttp import ClientError, ClientSession, ClientTimeout, web

__all__ = ["Call", "FakeBotAPI", "SentMessage", "UploadedFile", "WebhookDelivery"]

JSONDict = dict[str, Any]
MethodHandler = Callable[[JSONDict], Awaitable[Any]]
MessagePredicate = Callable[["SentMessage"], bool]

#: Parameters whose values are strings in the Bot API and must never be JSON-decoded
#: (PTB sends ``str`` values verbatim, so ``text="123"`` arrives as ``123``).
STRING_PARAMS: frozenset[str] = frozenset(
    """
    text caption parse_mode url secret_token callback_query_id file_id action ip_address
    language_code business_connection_id message_effect_id inline_message_id emoji title
    description short_description name photo document
    """.split()
)

#: Update types Telegram delivers when ``allowed_updates`` is empty / not specified.
DEFAULT_UPDATE_TYPES: frozenset[str] = frozenset(
    """
    message edited_message channel_post edited_channel_post business_connection
    business_message edited_business_message deleted_business_messages inline_query
    chosen_inline_result callback_query shipping_query pre_checkout_query purchased_paid_media
    poll poll_answer my_chat_member chat_join_request chat_boost removed_chat_boost
    """.split()
)

_HTML_ALLOWED_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
_HTML_TAG_RE = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_TAG_STRIP_RE = re.compile(r"<[^<>]*>")

_ALL_UPDATE_TYPES: frozenset[str] = DEFAULT_UPDATE_TYPES | {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}

_BUILTIN_METHODS: tuple[str, ...] = tuple(
    """
    getMe getUpdates setWebhook deleteWebhook getWebhookInfo sendMessage editMessageText
    editMessageCaption editMessageReplyMarkup answerCallbackQuery sendPhoto sendDocument
    copyMessage forwardMessage deleteMessage getFile setMyCommands getMyCommands
    deleteMyCommands getChat getChatMember sendChatAction close logOut
    """.split()
)

_USE_STORED_SECRET: Any = object()

_DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: injected failure",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class ApiError(Exception):
    """A Telegram-style API error raised inside a method handler.

    Attributes:
        error_code: The HTTP status / Telegram ``error_code``.
        description: The Telegram ``description`` string.
        parameters: Optional ``ResponseParameters`` (e.g. ``{"retry_after": 2}``).
    """

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        """Create the error.

        Args:
            error_code: HTTP status code and Telegram ``error_code``.
            description: Human readable Telegram description.
            parameters: Optional ``ResponseParameters`` dict.
        """
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        """Return the Telegram JSON error body.

        Returns:
            The ``{"ok": false, ...}`` dict.
        """
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class Call(tuple[str, JSONDict]):
    """One recorded Bot API call; unpacks as ``(method, params)``.

    Attributes:
        method: Canonical method name, e.g. ``"sendMessage"``.
        params: Decoded parameters (JSON values decoded, uploads as :class:`UploadedFile`).
        ts: ``time.monotonic()`` when the request arrived.
        status: HTTP status the fake answered with (``0`` for a dropped connection).
    """

    method: str
    params: JSONDict
    ts: float
    status: int

    def __new__(cls, method: str, params: JSONDict, ts: float) -> Self:
        """Create a call record.

        Args:
            method: Canonical method name.
            params: Decoded parameters.
            ts: Monotonic timestamp.

        Returns:
            The new record.
        """
        obj = super().__new__(cls, (method, params))
        obj.method = method
        obj.params = params
        obj.ts = ts
        obj.status = 200
        return obj

    @property
    def chat_id(self) -> int | str | None:
        """The ``chat_id`` parameter of the call, if any."""
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None

    def __repr__(self) -> str:
        """Return a readable representation."""
        return f"Call({self.method!r}, {self.params!r}, status={self.status})"


@dataclass
class UploadedFile:
    """A file uploaded by the bot in a multipart request.

    Attributes:
        filename: The client supplied file name.
        content_type: The part's content type.
        data: The raw bytes.
    """

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class SentMessage:
    """A message sent by the bot, as recorded by the fake.

    Attributes:
        message_id: Per-chat message id.
        chat_id: Chat the message was sent to.
        text: Message text, or the caption for media messages (raw, markup included).
        reply_markup: Decoded ``reply_markup`` dict, or ``None``.
        reply_to_message_id: Id of the replied-to message (from ``reply_parameters`` or
            ``reply_to_message_id``), or ``None``.
        parse_mode: ``parse_mode`` parameter, or ``None``.
        method: API method that created it (``sendMessage``, ``sendPhoto``, ``copyMessage``...).
        edits: History of edits, oldest first; each a dict with ``method``, ``text``,
            ``reply_markup``, ``params``, ``ts``.
        params: The parameters of the creating call.
        raw: The Telegram ``Message`` JSON as currently stored (kept in sync with edits).
        deleted: Whether the bot deleted it with ``deleteMessage``.
        seq: Change sequence number (bumped on creation and each edit); see
            :meth:`FakeBotAPI.mark`.
        ts: Monotonic timestamp of creation.
    """

    message_id: int
    chat_id: int
    text: str | None
    reply_markup: JSONDict | None
    reply_to_message_id: int | None
    parse_mode: str | None
    method: str
    edits: list[JSONDict] = field(default_factory=list)
    params: JSONDict = field(default_factory=dict)
    raw: JSONDict = field(default_factory=dict)
    deleted: bool = False
    seq: int = 0
    ts: float = 0.0

    @property
    def plain_text(self) -> str | None:
        """The text with HTML tags stripped and entities unescaped (for ``HTML`` messages)."""
        if self.text is None:
            return None
        if (self.parse_mode or "").upper() == "HTML":
            return html.unescape(_TAG_STRIP_RE.sub("", self.text))
        return self.text

    def matches(self, contains: str) -> bool:
        """Check whether ``contains`` occurs in the raw or plain text.

        Args:
            contains: Substring to look for.

        Returns:
            ``True`` if found.
        """
        if self.text is None:
            return False
        return contains in self.text or contains in (self.plain_text or "")


@dataclass
class WebhookDelivery:
    """One POST of an update to the webhook URL.

    Attributes:
        url: Target URL.
        update: The posted update.
        secret: Value of the ``X-Telegram-Bot-Api-Secret-Token`` header, or ``None`` if absent.
        status: HTTP status of the receiver, or ``0`` if the connection failed.
        error: Error text for failed connections.
        attempt: 1 for the first POST of this update, 2 for its first retry, and so on
            (Telegram-like mode; direct POSTs are always 1).
        ts: ``time.monotonic()`` when the answer (or the failure) came.
    """

    url: str
    update: JSONDict
    secret: str | None
    status: int
    error: str | None = None
    attempt: int = 1
    ts: float = 0.0


@dataclass
class _Failure:
    method: str
    error_code: int
    description: str | None
    retry_after: int | None
    drop_connection: bool
    remaining: int
    chat_id: int | str | None


class _TelegramHTMLChecker(HTMLParser):
    """Validates Telegram-flavoured HTML roughly like the server does."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_ALLOWED_TAGS and self.error is None:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error is None:
            self.error = f'Unsupported start tag "{tag}"'

    def handle_endtag(self, tag: str) -> None:
        if self.error is not None:
            return
        if not self.stack or self.stack[-1] != tag:
            self.error = f'Unmatched end tag "{tag}"'
            return
        self.stack.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"} and self.error is None:
            self.error = f'Unsupported HTML entity "&{name};"'


def _check_html(text: str) -> str | None:
    """Return an error description if ``text`` is not valid Telegram HTML."""
    # Every '<' must start a well-formed tag (Telegram rejects bare '<').
    for idx, char in enumerate(text):
        if char == "<" and not _HTML_TAG_RE.match(text, idx):
            return f"Can't find end of the tag starting at byte offset {idx}"
    checker = _TelegramHTMLChecker()
    checker.feed(text)
    checker.close()
    if checker.error:
        return checker.error
    if checker.stack:
        return f'Can\'t find end tag corresponding to start tag "{checker.stack[-1]}"'
    return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode_value(name: str, value: str) -> Any:
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _flatten_buttons(reply_markup: JSONDict | None) -> list[tuple[str, str | None]]:
    if not reply_markup:
        return []
    rows = reply_markup.get("inline_keyboard") or reply_markup.get("keyboard") or []
    out: list[tuple[str, str | None]] = []
    for row in rows:
        for button in row:
            if isinstance(button, str):
                out.append((button, None))
            else:
                out.append((str(button.get("text", "")), button.get("callback_data")))
    return out


class FakeBotAPI:
    """A fake Telegram Bot API server bound to 127.0.0.1 on a free port.

    Usable as ``async with FakeBotAPI() as fake: ...`` or via :meth:`start`/:meth:`stop`.

    Attributes:
        token: Bot token the fake accepts (other tokens get ``401 Unauthorized``).
        bot_id: Bot user id (defaults to the numeric token prefix, as on Telegram).
        username: Bot username (without ``@``).
        first_name: Bot first name.
        calls: Every API call received, in order (see :class:`Call`).
        webhook_url: Current webhook URL (``""`` = polling mode).
        webhook_secret: Current webhook secret token, or ``None``.
        webhook_deliveries: Every webhook POST made by the fake.
        drop_pending_history: ``drop_pending_updates`` value of every ``deleteWebhook`` /
            ``setWebhook`` call (``None`` when the parameter was not sent).
        callback_answers: ``answerCallbackQuery`` params keyed by callback query id.
        commands: Stored bot commands keyed by ``(scope_json, language_code)``.
        member_status: Overrides for ``getChatMember`` keyed by ``(chat_id, user_id)``;
            defaults to ``"member"``.
        blocked_chats: Chat ids for which sending returns ``403 Forbidden`` (see :meth:`block`).
        files: Known files by ``file_id`` (``{"data": bytes, "file_path": str, ...}``).
        webhook_retry: Whether webhook delivery is Telegram-like (queued and retried).
        webhook_targets: Receiver URLs used instead of :attr:`webhook_url` (round-robin per
            attempt), to stand for several workers behind one public address; ``None`` =
            POST to :attr:`webhook_url`.
        webhook_max_connections: ``max_connections`` of the last ``setWebhook`` (default 40).
        webhook_acked: How many 2xx answers each ``update_id`` got (Telegram-like mode).
        webhook_dropped: Updates given up after ``webhook_max_attempts`` (Telegram-like mode).
    """

    def __init__(
        self,
        token: str = "123:ABC",
        bot_id: int | None = None,
        username: str = "teda_desk_bot",
        first_name: str = "Teda Desk",
        *,
        strict_html: bool = True,
        webhook_retry: bool = False,
        webhook_retry_delay: float = 0.1,
        webhook_retry_max_delay: float = 2.0,
        webhook_timeout: float = 10.0,
        webhook_max_attempts: int | None = None,
        first_update_id: int = 10_000,
    ) -> None:
        """Create the fake (not started yet).

        Args:
            token: Bot token; PTB must be configured with the same one.
            bot_id: Bot user id; defaults to the numeric part of the token before ``:``.
            username: Bot username without ``@``.
            first_name: Bot first name.
            strict_html: Validate ``parse_mode="HTML"`` texts and reject bad markup with 400.
            webhook_retry: Telegram-like webhook delivery (queued, retried until 2xx, at most
                ``max_connections`` at once); ``False`` keeps the direct, single POST.
            webhook_retry_delay: First backoff delay in seconds (Telegram-like mode).
            webhook_retry_max_delay: Backoff ceiling in seconds (Telegram-like mode).
            webhook_timeout: Seconds to wait for the receiver's answer to one POST.
            webhook_max_attempts: Give an update up after this many POSTs (Telegram-like
                mode; ``None`` = retry until acknowledged). Given-up updates are listed in
                :attr:`webhook_dropped`.
            first_update_id: ``update_id`` of the first simulated update.
        """
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = bot_id if bot_id is not None else (int(prefix) if prefix.isdigit() else 1)
        self.username = username
        self.first_name = first_name
        self.strict_html = strict_html

        self.calls: list[Call] = []
        self.webhook_url: str = ""
        self.webhook_secret: str | None = None
        self.webhook_allowed_updates: list[str] | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.drop_pending_history: list[bool | None] = []
        self.callback_answers: dict[str, JSONDict] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.member_status: dict[tuple[int, int], str] = {}
        self.blocked_chats: set[int] = set()
        self.files: dict[str, JSONDict] = {}
        self.webhook_retry = webhook_retry
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_retry_max_delay = webhook_retry_max_delay
        self.webhook_timeout = webhook_timeout
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_targets: list[str] | None = None
        self.webhook_max_connections = 40
        self.webhook_acked: dict[int, int] = {}
        self.webhook_dropped: list[JSONDict] = []

        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(first_update_id)
        self._webhook_queue: dict[int, JSONDict] = {}  # queued and not yet acknowledged
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._webhook_slots = asyncio.Semaphore(self.webhook_max_connections)
        self._webhook_idle = asyncio.Condition()
        self._webhook_rr = itertools.count()
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._updates_cond = asyncio.Condition()
        self._changes_cond = asyncio.Condition()
        self._seq = 0
        self._closing = False

        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._sent: dict[int, list[SentMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._failures: list[_Failure] = []
        self._extra_methods: dict[str, MethodHandler] = {}

        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._port: int | None = None
        self._methods: dict[str, tuple[str, MethodHandler]] = {}
        for name in _BUILTIN_METHODS:
            self._methods[name.lower()] = (name, getattr(self, f"_api_{name}"))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start serving (idempotent)."""
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self._session = ClientSession(timeout=ClientTimeout(total=10))

    async def stop(self) -> None:
        """Wake pending long polls, stop the server and close the webhook client."""
        self._closing = True
        async with self._updates_cond:
            self._updates_cond.notify_all()
        tasks = list(self._webhook_tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server.

        Returns:
            The started fake.
        """
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (only after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url`` (``http://127.0.0.1:{port}/bot``)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url`` (``http://127.0.0.1:{port}/file/bot``)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_user(self) -> JSONDict:
        """The bot's ``User`` object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    # ------------------------------------------------------------------ HTTP layer

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            file_prefix = f"/file/bot{self.token}/"
            if not path.startswith(file_prefix):
                return _error_response(401, "Unauthorized")
            return self._serve_file(path[len(file_prefix) :])
        if not path.startswith("/bot"):
            return _error_response(404, "Not Found")
        token, _, method = path[len("/bot") :].partition("/")
        params = await self._read_params(request)
        handler = self._extra_methods.get(method.lower())
        canonical = method
        if handler is None and method.lower() in self._methods:
            canonical, handler = self._methods[method.lower()]
        call = Call(canonical, params, time.monotonic())
        self.calls.append(call)

        def reply(status: int, body: JSONDict) -> web.Response:
            call.status = status
            return web.json_response(body, status=status)

        if token != self.token:
            return reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})

        failure = self._take_failure(canonical, params)
        if failure is not None:
            if failure.drop_connection:
                call.status = 0
                if request.transport is not None:
                    request.transport.abort()
                raise ConnectionResetError("FakeBotAPI: injected dropped connection")
            return reply(failure.error_code, self._failure_payload(failure))

        if handler is None:
            return reply(
                404,
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
            )
        try:
            result = await handler(params)
        except ApiError as exc:
            return reply(exc.error_code, exc.payload())
        return reply(200, {"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = {}
        for key, value in request.query.items():
            params[key] = _decode_value(key, value)
        if request.method != "POST" or not request.can_read_body:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
            return params
        form = await request.post()
        for name, item in form.items():
            if isinstance(item, web.FileField):
                params[name] = UploadedFile(item.filename, item.content_type, item.file.read())
            elif isinstance(item, str):
                params[name] = _decode_value(name, item)
            else:
                params[name] = _decode_value(name, bytes(item).decode())
        return params

    def _serve_file(self, file_path: str) -> web.Response:
        for info in self.files.values():
            if info["file_path"] == file_path:
                return web.Response(body=info["data"], content_type="application/octet-stream")
        return _error_response(404, "Not Found")

    # ------------------------------------------------------------------ failures

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        retry_after: int | None = 2,
        description: str | None = None,
        count: int = 1,
        *,
        drop_connection: bool = False,
        chat_id: int | str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail.

        Args:
            method: API method name (case-insensitive), e.g. ``"sendMessage"``; ``"*"``
                matches any method.
            error_code: HTTP status / Telegram ``error_code`` (429, 400, 403, 500, 502...).
            retry_after: ``parameters.retry_after`` seconds; only used for ``error_code=429``.
            description: Telegram description; a realistic default is used when ``None``
                (429: ``"Too Many Requests: retry after N"``).
            count: How many matching calls fail.
            drop_connection: Abort the TCP connection without any response instead (PTB
                raises ``NetworkError``).
            chat_id: Only fail calls whose ``chat_id`` parameter equals this.
        """
        self._failures.append(
            _Failure(
                method=method,
                error_code=error_code,
                description=description,
                retry_after=retry_after if error_code == 429 else None,
                drop_connection=drop_connection,
                remaining=count,
                chat_id=chat_id,
            )
        )

    def _take_failure(self, method: str, params: JSONDict) -> _Failure | None:
        for failure in self._failures:
            if failure.method != "*" and failure.method.lower() != method.lower():
                continue
            if failure.chat_id is not None and str(params.get("chat_id")) != str(failure.chat_id):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            return failure
        return None

    @staticmethod
    def _failure_payload(failure: _Failure) -> JSONDict:
        description = failure.description
        parameters: JSONDict | None = None
        if failure.error_code == 429:
            retry = failure.retry_after or 1
            parameters = {"retry_after": retry}
            description = description or f"Too Many Requests: retry after {retry}"
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(failure.error_code, "Injected failure")
        return ApiError(failure.error_code, description, parameters).payload()

    # ------------------------------------------------------------------ extension hooks

    def add_method(self, name: str, handler: MethodHandler) -> None:
        """Register (or override) an API method.

        Args:
            name: Method name (case-insensitive).
            handler: ``async def handler(params) -> result``; raise :class:`ApiError` for
                Telegram-style errors.
        """
        self._extra_methods[name.lower()] = handler

    def block(self, chat_id: int) -> None:
        """Simulate the user blocking the bot: sends to ``chat_id`` return 403 Forbidden.

        Args:
            chat_id: The private chat id.
        """
        self.blocked_chats.add(chat_id)

    # ------------------------------------------------------------------ state helpers

    def _bump(self) -> int:
        self._seq += 1
        return self._seq

    async def _notify_change(self) -> None:
        async with self._changes_cond:
            self._changes_cond.notify_all()

    def _chat_object(self, chat_id: int) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
            if chat_id > 0:
                user = self._users.get(chat_id)
                chat["first_name"] = (user or {}).get("first_name", f"User{chat_id}")
                if user and user.get("username"):
                    chat["username"] = user["username"]
            else:
                chat["title"] = f"Group {chat_id}"
        return dict(chat)

    def _new_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _store_message(self, chat_id: int, message: JSONDict) -> None:
        self._messages.setdefault(chat_id, {})[message["message_id"]] = message

    def _get_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        return self._messages.get(chat_id, {}).get(message_id)

    def _embedded_reply(self, chat_id: int, message_id: int) -> JSONDict | None:
        message = self._get_message(chat_id, message_id)
        if message is None:
            return None
        embedded = copy.deepcopy(message)
        embedded.pop("reply_to_message", None)
        return embedded

    def _find_sent(self, chat_id: int, message_id: int) -> SentMessage | None:
        for msg in self._sent.get(chat_id, []):
            if msg.message_id == message_id:
                return msg
        return None

    def _require_chat_id(self, params: JSONDict) -> int:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            if params.get("chat_id") in (None, ""):
                raise _bad_request("chat_id is empty")
            raise _bad_request("chat not found")
        if chat_id in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _check_text(self, text: Any, parse_mode: Any, *, caption: bool = False) -> None:
        if text is None:
            return
        if not isinstance(text, str):
            raise _bad_request("text must be a string")
        limit = 1024 if caption else 4096
        if _utf16_len(text) > limit:
            raise _bad_request("message caption is too long" if caption else "message is too long")
        if self.strict_html and isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            error = _check_html(text)
            if error:
                raise _bad_request(f"can't parse entities: {error}")

    def _reply_target(self, chat_id: int, params: JSONDict) -> int | None:
        reply_params = params.get("reply_parameters")
        reply_id: int | None = None
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply_params, dict):
            reply_id = _as_int(reply_params.get("message_id"))
            allow_missing = allow_missing or bool(reply_params.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            reply_id = _as_int(params.get("reply_to_message_id"))
        if reply_id is not None and self._get_message(chat_id, reply_id) is None:
            if allow_missing:
                return None
            raise _bad_request("message to be replied not found")
        return reply_id

    def _create_bot_message(
        self,
        method: str,
        params: JSONDict,
        chat_id: int,
        content: JSONDict,
        text: str | None,
    ) -> SentMessage:
        reply_id = self._reply_target(chat_id, params)
        reply_markup = params.get("reply_markup")
        if not isinstance(reply_markup, dict):
            reply_markup = None
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat_object(chat_id),
            "date": int(time.time()),
            **content,
        }
        if reply_id is not None:
            embedded = self._embedded_reply(chat_id, reply_id)
            if embedded is not None:
                message["reply_to_message"] = embedded
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            # Only inline keyboards are part of the Message object.
            message["reply_markup"] = reply_markup
        self._store_message(chat_id, message)
        sent = SentMessage(
            message_id=message["message_id"],
            chat_id=chat_id,
            text=text,
            reply_markup=reply_markup,
            reply_to_message_id=reply_id,
            parse_mode=params.get("parse_mode"),
            method=method,
            params=params,
            raw=message,
            seq=self._bump(),
            ts=time.monotonic(),
        )
        self._sent.setdefault(chat_id, []).append(sent)
        return sent

    def _register_file(self, kind: str, data: bytes | None = None, ext: str = "bin") -> JSONDict:
        number = next(self._file_ids)
        payload = data if data is not None else f"fake {kind} content #{number}".encode()
        info: JSONDict = {
            "file_id": f"{kind}-file-{number}",
            "file_unique_id": f"uniq-{kind}-{number}",
            "file_size": len(payload),
            "file_path": f"{kind}s/file_{number}.{ext}",
            "data": payload,
        }
        self.files[info["file_id"]] = info
        return info

    def _photo_sizes(self, data: bytes | None = None) -> list[JSONDict]:
        sizes = []
        for width, height in ((90, 67), (320, 240), (1280, 960)):
            info = self._register_file("photo", data, "jpg")
            sizes.append(
                {
                    "file_id": info["file_id"],
                    "file_unique_id": info["file_unique_id"],
                    "width": width,
                    "height": height,
                    "file_size": info["file_size"],
                }
            )
        return sizes

    def _document_object(
        self, data: bytes | None = None, file_name: str = "document.pdf", mime: str | None = None
    ) -> JSONDict:
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        info = self._register_file("document", data, ext)
        return {
            "file_id": info["file_id"],
            "file_unique_id": info["file_unique_id"],
            "file_name": file_name,
            "mime_type": mime or "application/octet-stream",
            "file_size": info["file_size"],
        }

    # ------------------------------------------------------------------ API methods

    async def _api_getMe(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_getUpdates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        # A new getUpdates request terminates an older pending long poll, like Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        async with self._updates_cond:
            self._updates_cond.notify_all()

        offset = _as_int(params.get("offset"))
        limit = max(1, min(100, _as_int(params.get("limit")) or 100))
        timeout = max(0, _as_int(params.get("timeout")) or 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(item) for item in allowed]

        if offset is not None:
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if _update_id(u) >= offset]
        self._drop_disallowed()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._updates_cond:
            while not self._updates and not self._closing:
                if self._poll_generation != generation:
                    break
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._updates_cond.wait(), remaining)
                self._drop_disallowed()
        if self._poll_generation != generation and not self._closing:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            )
        return copy.deepcopy(self._updates[:limit])

    def _drop_disallowed(self) -> None:
        allowed = set(self._allowed_updates) if self._allowed_updates else DEFAULT_UPDATE_TYPES
        kept = []
        for update in self._updates:
            kinds = {key for key in update if key != "update_id"}
            # Unknown/malformed updates are kept so tests can inject them.
            if kinds & allowed or not kinds & _ALL_UPDATE_TYPES:
                kept.append(update)
        self._updates = kept

    def _record_drop(self, params: JSONDict) -> None:
        drop = params.get("drop_pending_updates")
        self.drop_pending_history.append(None if drop is None else bool(drop))
        if drop:
            self._updates.clear()
            for task in list(self._webhook_tasks):
                task.cancel()

    async def _api_setWebhook(self, params: JSONDict) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise _bad_request("bad webhook: URL must be provided")
        self._record_drop(params)
        self.webhook_url = url
        secret = params.get("secret_token")
        self.webhook_secret = str(secret) if secret not in (None, "") else None
        allowed = params.get("allowed_updates")
        self.webhook_allowed_updates = allowed if isinstance(allowed, list) else None
        if isinstance(allowed, list):
            self._allowed_updates = [str(item) for item in allowed]
        connections = _as_int(params.get("max_connections"))
        if connections is not None and not 1 <= connections <= 100:
            raise _bad_request("bad webhook: max_connections must be between 1 and 100")
        connections = connections or 40
        if connections != self.webhook_max_connections:
            # Deliveries in flight finish on the old limit; new attempts use the new one.
            self.webhook_max_connections = connections
            self._webhook_slots = asyncio.Semaphore(connections)
        return True

    async def _api_deleteWebhook(self, params: JSONDict) -> bool:
        self._record_drop(params)
        self.webhook_url = ""
        self.webhook_secret = None
        return True

    async def _api_getWebhookInfo(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates) + len(self._webhook_queue),
            "max_connections": self.webhook_max_connections,
        }
        if self.webhook_allowed_updates is not None:
            info["allowed_updates"] = self.webhook_allowed_updates
        failed = [d for d in self.webhook_deliveries if not 200 <= d.status < 300]
        if failed:
            info["last_error_date"] = int(time.time())
            info["last_error_message"] = failed[-1].error or f"Wrong response: {failed[-1].status}"
        return info

    async def _api_sendMessage(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        self._check_text(text, params.get("parse_mode"))
        content: JSONDict = {"text": text}
        if isinstance(params.get("entities"), list):
            content["entities"] = params["entities"]
        sent = self._create_bot_message("sendMessage", params, chat_id, content, text)
        await self._notify_change()
        return sent.raw

    async def _api_sendPhoto(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        caption = params.get("caption")
        self._check_text(caption, params.get("parse_mode"), caption=True)
        photo = params.get("photo")
        if isinstance(photo, UploadedFile):
            sizes = self._photo_sizes(photo.data)
        elif isinstance(photo, str) and photo:
            known = self.files.get(photo)
            sizes = self._photo_sizes(known["data"] if known else None)
        else:
            raise _bad_request("there is no photo in the request")
        content: JSONDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
        sent = self._create_bot_message("sendPhoto", params, chat_id, content, caption)
        await self._notify_change()
        return sent.raw

    async def _api_sendDocument(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        caption = params.get("caption")
        self._check_text(caption, params.get("parse_mode"), caption=True)
        document = params.get("document")
        if isinstance(document, UploadedFile):
            doc = self._document_object(
                document.data, document.filename or "document.bin", document.content_type
            )
        elif isinstance(document, str) and document:
            known = self.files.get(document)
            doc = self._document_object(known["data"] if known else None)
        else:
            raise _bad_request("there is no document in the request")
        content: JSONDict = {"document": doc}
        if caption:
            content["caption"] = caption
        sent = self._create_bot_message("sendDocument", params, chat_id, content, caption)
        await self._notify_change()
        return sent.raw

    def _source_message(self, params: JSONDict, what: str) -> JSONDict:
        from_chat = _as_int(params.get("from_chat_id"))
        message_id = _as_int(params.get("message_id"))
        source = None
        if from_chat is not None and message_id is not None:
            source = self._get_message(from_chat, message_id)
        if source is None:
            raise _bad_request(f"message to {what} not found")
        return source

    @staticmethod
    def _content_of(message: JSONDict) -> JSONDict:
        keys = ("text", "entities", "caption", "caption_entities", "photo", "document", "contact")
        return {key: copy.deepcopy(message[key]) for key in keys if key in message}

    async def _api_copyMessage(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        content = self._content_of(self._source_message(params, "copy"))
        if "caption" in params:
            self._check_text(params["caption"], params.get("parse_mode"), caption=True)
            content["caption"] = params["caption"]
        text = content.get("text", content.get("caption"))
        sent = self._create_bot_message("copyMessage", params, chat_id, content, text)
        await self._notify_change()
        return {"message_id": sent.message_id}

    async def _api_forwardMessage(self, params: JSONDict) -> JSONDict:
        chat_id = self._require_chat_id(params)
        source = self._source_message(params, "forward")
        content = self._content_of(source)
        content["forward_origin"] = {
            "type": "user",
            "date": source.get("date", int(time.time())),
            "sender_user": source.get("from") or self.bot_user,
        }
        text = content.get("text", content.get("caption"))
        sent = self._create_bot_message("forwardMessage", params, chat_id, content, text)
        await self._notify_change()
        return sent.raw

    def _editable(self, params: JSONDict) -> tuple[SentMessage, JSONDict] | None:
        if params.get("inline_message_id"):
            return None
        chat_id = self._require_chat_id(params)
        message_id = _as_int(params.get("message_id"))
        message = self._get_message(chat_id, message_id) if message_id is not None else None
        sent = self._find_sent(chat_id, message_id) if message_id is not None else None
        if message is None:
            raise _bad_request("message to edit not found")
        if sent is None:
            raise _bad_request("message can't be edited")
        return sent, message

    async def _apply_edit(
        self,
        method: str,
        params: JSONDict,
        target: tuple[SentMessage, JSONDict],
        new_text: str | None,
        new_markup: JSONDict | None,
    ) -> JSONDict:
        sent, message = target
        text_key = "text" if "text" in message else "caption"
        if new_text is None:
            new_text = message.get(text_key)
        if new_text == message.get(text_key) and new_markup == message.get("reply_markup"):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        if new_text is not None:
            message[text_key] = new_text
        if new_markup is not None:
            message["reply_markup"] = new_markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        sent.text = new_text
        sent.reply_markup = new_markup
        if method != "editMessageReplyMarkup":
            sent.parse_mode = params.get("parse_mode")
        sent.edits.append(
            {
                "method": method,
                "text": new_text,
                "reply_markup": new_markup,
                "params": params,
                "ts": time.monotonic(),
            }
        )
        sent.seq = self._bump()
        await self._notify_change()
        return message

    @staticmethod
    def _markup_param(params: JSONDict) -> JSONDict | None:
        markup = params.get("reply_markup")
        return markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None

    async def _api_editMessageText(self, params: JSONDict) -> JSONDict | bool:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        self._check_text(text, params.get("parse_mode"))
        target = self._editable(params)
        if target is None:
            return True
        # Like Telegram: omitting reply_markup removes the inline keyboard.
        return await self._apply_edit(
            "editMessageText", params, target, text, self._markup_param(params)
        )

    async def _api_editMessageCaption(self, params: JSONDict) -> JSONDict | bool:
        caption = params.get("caption")
        self._check_text(caption, params.get("parse_mode"), caption=True)
        target = self._editable(params)
        if target is None:
            return True
        return await self._apply_edit(
            "editMessageCaption", params, target, caption or "", self._markup_param(params)
        )

    async def _api_editMessageReplyMarkup(self, params: JSONDict) -> JSONDict | bool:
        target = self._editable(params)
        if target is None:
            return True
        return await self._apply_edit(
            "editMessageReplyMarkup", params, target, None, self._markup_param(params)
        )

    async def _api_answerCallbackQuery(self, params: JSONDict) -> bool:
        query_id = params.get("callback_query_id")
        if not query_id:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_answers[str(query_id)] = params
        return True

    async def _api_deleteMessage(self, params: JSONDict) -> bool:
        chat_id = self._require_chat_id(params)
        message_id = _as_int(params.get("message_id"))
        if message_id is None or self._get_message(chat_id, message_id) is None:
            raise _bad_request("message to delete not found")
        sent = self._find_sent(chat_id, message_id)
        if sent is not None:
            sent.deleted = True
            sent.seq = self._bump()
        del self._messages[chat_id][message_id]
        await self._notify_change()
        return True

    async def _api_getFile(self, params: JSONDict) -> JSONDict:
        info = self.files.get(str(params.get("file_id")))
        if info is None:
            raise _bad_request("invalid file_id")
        return {key: info[key] for key in ("file_id", "file_unique_id", "file_size", "file_path")}

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _api_setMyCommands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _api_getMyCommands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _api_deleteMyCommands(self, params: JSONDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _api_getChat(self, params: JSONDict) -> JSONDict:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            raise _bad_request("chat not found")
        return {
            **self._chat_object(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _api_getChatMember(self, params: JSONDict) -> JSONDict:
        chat_id = _as_int(params.get("chat_id"))
        user_id = _as_int(params.get("user_id"))
        if chat_id is None:
            raise _bad_request("chat not found")
        if user_id is None:
            raise _bad_request("invalid user_id specified")
        if user_id == self.bot_id:
            user = self.bot_user
        else:
            user = self._users.get(user_id) or {
                "id": user_id,
                "is_bot": False,
                "first_name": f"User{user_id}",
            }
        status = self.member_status.get((chat_id, user_id), "member")
        member: JSONDict = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            for key in "can_be_edited is_anonymous can_post_stories can_edit_stories".split():
                member[key] = False
            member["can_delete_stories"] = False
            for key in (
                "can_manage_chat can_delete_messages can_manage_video_chats "
                "can_restrict_members can_promote_members can_change_info can_invite_users"
            ).split():
                member[key] = True
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def _api_sendChatAction(self, params: JSONDict) -> bool:
        self._require_chat_id(params)
        return True

    async def _api_close(self, params: JSONDict) -> bool:
        return True

    async def _api_logOut(self, params: JSONDict) -> bool:
        return True

    # ------------------------------------------------------------------ simulated users

    def _remember_user(self, user: JSONDict) -> JSONDict:
        full = {"is_bot": False, **user}
        full.setdefault("first_name", f"User{full['id']}")
        self._users[int(full["id"])] = full
        return full

    def _remember_chat(self, chat: JSONDict | None, user: JSONDict) -> JSONDict:
        full = dict(chat) if chat is not None else {"id": user["id"], "type": "private"}
        if full.get("type") == "private":
            full.setdefault("first_name", user.get("first_name"))
            if user.get("username"):
                full.setdefault("username", user["username"])
        else:
            full.setdefault("title", f"Group {full['id']}")
        self._chats[int(full["id"])] = full
        return full

    async def _deliver(self, update: JSONDict) -> JSONDict:
        if self.webhook_url and self.webhook_retry:
            self._queue_webhook(update)
        elif self.webhook_url:
            await self.post_webhook(update)
        else:
            async with self._updates_cond:
                self._updates.append(update)
                self._updates_cond.notify_all()
        return update

    def _new_update(self, **payload: Any) -> JSONDict:
        return {"update_id": next(self._update_ids), **payload}

    async def user_sends(
        self,
        user: JSONDict,
        chat: JSONDict | None = None,
        text: str | None = None,
        *,
        reply_to_message_id: int | None = None,
        contact: JSONDict | None = None,
        photo: bool | bytes = False,
        document: bool | bytes | JSONDict = False,
        extra: JSONDict | None = None,
    ) -> JSONDict:
        """Simulate a user sending a message to the bot.

        Args:
            user: ``{"id", "first_name", "username"?, ...}``; ``is_bot`` is added.
            chat: ``{"id", "type": "private"|"group"|"supergroup", "title"?}``; ``None`` means
                the private chat with ``user``.
            text: Message text, or the caption when ``photo``/``document`` is set. A leading
                ``/command`` gets a ``bot_command`` entity at offset 0, like Telegram.
            reply_to_message_id: Embed this earlier message of the chat (bot or user) as
                ``reply_to_message``; raises ``LookupError`` if unknown.
            contact: A ``Contact`` dict (``phone_number``, ``first_name``, ``user_id``?...).
            photo: ``True`` (or the bytes to serve) to attach a ``photo`` PhotoSize array.
            document: ``True``, the bytes to serve, or a dict with ``file_name``/``mime_type``/
                ``data`` to attach a ``document``.
            extra: Additional fields merged into the message (e.g. ``location``).

        Returns:
            The update dict (already queued for ``getUpdates`` or POSTed to the webhook).
        """
        full_user = self._remember_user(user)
        full_chat = self._remember_chat(chat, full_user)
        chat_id = int(full_chat["id"])
        embedded: JSONDict | None = None
        if reply_to_message_id is not None:
            embedded = self._embedded_reply(chat_id, reply_to_message_id)
            if embedded is None:
                raise LookupError(f"no message {reply_to_message_id} in chat {chat_id}")
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "from": full_user,
            "chat": full_chat,
            "date": int(time.time()),
        }
        has_media = bool(photo) or bool(document)
        if text is not None:
            message["caption" if has_media else "text"] = text
            if text.startswith("/") and len(text) > 1 and not text[1].isspace():
                command = text.split(maxsplit=1)[0]
                message["caption_entities" if has_media else "entities"] = [
                    {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
                ]
        if photo:
            message["photo"] = self._photo_sizes(photo if isinstance(photo, bytes) else None)
        if isinstance(document, dict):
            message["document"] = self._document_object(
                document.get("data"),
                document.get("file_name", "document.pdf"),
                document.get("mime_type"),
            )
        elif document:
            message["document"] = self._document_object(
                document if isinstance(document, bytes) else None
            )
        if contact is not None:
            message["contact"] = contact
        if embedded is not None:
            message["reply_to_message"] = embedded
        if extra:
            message.update(extra)
        self._store_message(chat_id, message)
        return await self._deliver(self._new_update(message=copy.deepcopy(message)))

    async def user_edits(self, chat_id: int, message_id: int, text: str) -> JSONDict:
        """Simulate a user editing one of their earlier messages (``edited_message`` update).

        Args:
            chat_id: Chat of the message.
            message_id: The user's message id.
            text: New text (or caption for media messages).

        Returns:
            The update dict; raises ``LookupError`` for unknown or bot messages.
        """
        message = self._get_message(chat_id, message_id)
        if message is None or message.get("from", {}).get("is_bot"):
            raise LookupError(f"no user message {message_id} in chat {chat_id}")
        message["caption" if "caption" in message else "text"] = text
        message["edit_date"] = int(time.time())
        return await self._deliver(self._new_update(edited_message=copy.deepcopy(message)))

    async def user_presses(
        self, user: JSONDict, chat_id: int, message_id: int, callback_data: str | None
    ) -> JSONDict:
        """Simulate a user pressing an inline button of a bot message.

        Args:
            user: The pressing user (``{"id", "first_name", ...}``).
            chat_id: Chat of the bot message.
            message_id: The bot message carrying the keyboard.
            callback_data: The button's ``callback_data``.

        Returns:
            The ``callback_query`` update dict; its ``message`` is the stored message with its
            current text and reply_markup. Raises ``LookupError`` for unknown messages.
        """
        full_user = self._remember_user(user)
        message = self._get_message(chat_id, message_id)
        if message is None:
            raise LookupError(f"no message {message_id} in chat {chat_id}")
        query: JSONDict = {
            "id": f"cbq-{next(self._callback_ids)}",
            "from": full_user,
            "message": copy.deepcopy(message),
            "chat_instance": f"ci{chat_id}",
        }
        if callback_data is not None:
            query["data"] = callback_data
        return await self._deliver(self._new_update(callback_query=query))

    async def inject_raw_update(self, update: JSONDict, *, assign_id: bool = True) -> JSONDict:
        """Deliver an arbitrary (possibly malformed) update as-is.

        Args:
            update: The update dict.
            assign_id: Add a fresh ``update_id`` if the dict has none.

        Returns:
            The delivered dict.
        """
        if assign_id and "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        return await self._deliver(update)

    async def post_webhook(
        self,
        update: JSONDict,
        secret: str | None = _USE_STORED_SECRET,
        url: str | None = None,
        *,
        attempt: int = 1,
    ) -> int:
        """POST an update to the webhook once, like Telegram does (no retry).

        Args:
            update: The update JSON.
            secret: ``X-Telegram-Bot-Api-Secret-Token`` header value; defaults to the stored
                secret, ``None`` omits the header.
            url: Target URL; defaults to the stored webhook URL.
            attempt: Attempt number recorded in :attr:`webhook_deliveries`.

        Returns:
            The receiver's HTTP status, or ``0`` if the connection failed or timed out.
        """
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no webhook URL set")
        if self._session is None:
            raise RuntimeError("FakeBotAPI is not started")
        header_secret = self.webhook_secret if secret is _USE_STORED_SECRET else secret
        headers = {"Content-Type": "application/json"}
        if header_secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = header_secret
        delivery = WebhookDelivery(target, update, header_secret, 0, attempt=attempt)
        try:
            async with self._session.post(
                target,
                data=json.dumps(update),
                headers=headers,
                timeout=ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                delivery.status = response.status
        except (ClientError, OSError, TimeoutError) as exc:
            delivery.error = repr(exc)
        delivery.ts = time.monotonic()
        self.webhook_deliveries.append(delivery)
        return delivery.status

    # ------------------------------------------------------------------ Telegram-like webhooks

    def _webhook_target(self) -> str | None:
        """The URL of the next attempt (round-robin over the targets), or ``None`` (no webhook)."""
        if not self.webhook_url:
            return None
        targets = self.webhook_targets or [self.webhook_url]
        return targets[next(self._webhook_rr) % len(targets)]

    def _queue_webhook(self, update: JSONDict) -> None:
        self._webhook_queue[_update_id(update)] = update
        task = asyncio.create_task(self._webhook_deliver(update), name="fakebot-webhook")
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    async def _webhook_deliver(self, update: JSONDict) -> None:
        """POST one queued update until it is acknowledged (2xx), with backoff between tries."""
        update_id = _update_id(update)
        delay = self.webhook_retry_delay
        attempt = 0
        try:
            while not self._closing:
                slots = self._webhook_slots
                async with slots:
                    target = self._webhook_target()
                    if target is None:
                        # The webhook was deleted: Telegram keeps the update for getUpdates.
                        async with self._updates_cond:
                            self._updates.append(update)
                            self._updates.sort(key=_update_id)
                            self._updates_cond.notify_all()
                        return
                    attempt += 1
                    status = await self.post_webhook(update, url=target, attempt=attempt)
                if 200 <= status < 300:
                    self.webhook_acked[update_id] = self.webhook_acked.get(update_id, 0) + 1
                    return
                if self.webhook_max_attempts is not None and attempt >= self.webhook_max_attempts:
                    self.webhook_dropped.append(update)
                    return
                await asyncio.sleep(delay)
                delay = min(self.webhook_retry_max_delay, delay * 2)
        finally:
            self._webhook_queue.pop(update_id, None)
            async with self._webhook_idle:
                self._webhook_idle.notify_all()

    @property
    def webhook_pending(self) -> list[JSONDict]:
        """Queued webhook updates not acknowledged yet (Telegram-like mode), oldest first."""
        return [self._webhook_queue[key] for key in sorted(self._webhook_queue)]

    async def wait_webhook_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until every queued webhook update has been acknowledged (or given up).

        Args:
            timeout: Seconds to wait.

        Raises:
            TimeoutError: Updates are still queued after ``timeout`` (their ids are listed).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._webhook_idle:
            while self._webhook_queue:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(self._webhook_queue)} webhook updates still unacknowledged "
                        f"after {timeout}s: {sorted(self._webhook_queue)[:20]}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._webhook_idle.wait(), remaining)

    # ------------------------------------------------------------------ inspection

    def sent(self, chat_id: int) -> list[SentMessage]:
        """All messages the bot sent to a chat, oldest first (deleted ones included).

        Args:
            chat_id: The chat id.

        Returns:
            The recorded messages.
        """
        return list(self._sent.get(chat_id, []))

    def last(self, chat_id: int) -> SentMessage:
        """The most recent message the bot sent to a chat.

        Args:
            chat_id: The chat id.

        Returns:
            The message; raises ``LookupError`` if none.
        """
        messages = self._sent.get(chat_id)
        if not messages:
            raise LookupError(f"bot sent nothing to chat {chat_id}")
        return messages[-1]

    def all_texts(self, chat_id: int) -> list[str]:
        """Current texts/captions of all bot messages in a chat, oldest first.

        Args:
            chat_id: The chat id.

        Returns:
            The texts (messages without text are skipped).
        """
        return [m.text for m in self._sent.get(chat_id, []) if m.text is not None]

    @staticmethod
    def buttons(msg: SentMessage) -> list[tuple[str, str | None]]:
        """Flatten a message's keyboard.

        Args:
            msg: The message.

        Returns:
            ``(text, callback_data)`` pairs row by row (``callback_data`` is ``None`` for URL
            buttons and reply-keyboard buttons).
        """
        return _flatten_buttons(msg.reply_markup)

    def find_button(self, chat_id: int, contains: str) -> tuple[SentMessage, str]:
        """Find an inline button whose text contains ``contains``, newest message first.

        Args:
            chat_id: The chat id.
            contains: Substring of the button text.

        Returns:
            ``(message, callback_data)``; raises ``LookupError`` when not found.
        """
        for msg in reversed(self._sent.get(chat_id, [])):
            if msg.deleted:
                continue
            for text, data in self.buttons(msg):
                if contains in text and data is not None:
                    return msg, data
        available = [
            (m.message_id, [t for t, _ in self.buttons(m)]) for m in self._sent.get(chat_id, [])
        ]
        raise LookupError(f"no button containing {contains!r} in chat {chat_id}: {available}")

    def mark(self) -> int:
        """Current change sequence number, to pass as ``after=`` to :meth:`wait_for`.

        Returns:
            The sequence number.
        """
        return self._seq

    def _match(
        self, target: MessagePredicate | int, contains: str | None, after: int
    ) -> SentMessage | None:
        if callable(target):
            candidates = [m for msgs in self._sent.values() for m in msgs]
        else:
            candidates = list(self._sent.get(target, []))
        best: SentMessage | None = None
        for msg in candidates:
            if msg.seq <= after or msg.deleted:
                continue
            if callable(target):
                if not target(msg):
                    continue
            elif contains is not None and not msg.matches(contains):
                continue
            if best is None or msg.seq > best.seq:
                best = msg
        return best

    async def wait_for(
        self,
        target: MessagePredicate | int,
        contains: str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the documented helper API
        after: int = 0,
    ) -> SentMessage:
        """Wait until a matching bot message is sent or edited.

        Already present messages count, unless ``after`` (from :meth:`mark`) excludes them.

        Args:
            target: Either a predicate over :class:`SentMessage` (all chats) or a chat id.
            contains: With a chat id: substring the raw or plain text must contain
                (``None`` = any message).
            timeout: Seconds to wait.
            after: Only consider messages created/edited after this :meth:`mark` value.

        Returns:
            The matching message with the most recent change.

        Raises:
            TimeoutError: Nothing matched in time (the message lists what the chat got).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changes_cond:
            while True:
                found = self._match(target, contains, after)
                if found is not None:
                    return found
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changes_cond.wait(), remaining)
        if callable(target):
            got: object = {cid: self.all_texts(cid) for cid in self._sent}
            where = "any chat"
        else:
            got = self.all_texts(target)
            where = f"chat {target}"
        raise TimeoutError(
            f"no matching message ({contains!r}) in {where} within {timeout}s; got {got}"
        )

    def calls_of(self, method: str, chat_id: int | str | None = None) -> list[Call]:
        """Recorded calls of one method, optionally restricted to a chat.

        Args:
            method: Method name (case-insensitive).
            chat_id: Only calls whose ``chat_id`` param equals this.

        Returns:
            Matching calls, oldest first.
        """
        return [
            c
            for c in self.calls
            if c.method.lower() == method.lower()
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    def call_times(
        self, method: str | None = None, chat_id: int | str | None = None
    ) -> list[float]:
        """Monotonic timestamps of calls (for rate-limit spacing checks).

        Args:
            method: Restrict to this method (``None`` = every call carrying a ``chat_id``).
            chat_id: Restrict to this chat.

        Returns:
            Timestamps, oldest first.
        """
        calls = self.calls if method is None else self.calls_of(method)
        return [
            c.ts
            for c in calls
            if "chat_id" in c.params
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    @property
    def drop_pending_updates_requested(self) -> bool:
        """Whether any setWebhook/deleteWebhook call asked to drop pending updates."""
        return any(self.drop_pending_history)

    @property
    def last_webhook_status(self) -> int | None:
        """HTTP status of the latest webhook delivery (``0`` = connection failed)."""
        return self.webhook_deliveries[-1].status if self.webhook_deliveries else None

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued for ``getUpdates`` and not yet confirmed."""
        return copy.deepcopy(self._updates)


def _error_response(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


def _update_id(update: JSONDict) -> int:
    value = update.get("update_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else 1 << 62
