"""Tests proving :class:`FakeBotAPI` works with the real python-telegram-bot stack."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from .server import FakeBotAPI

ALICE: dict[str, Any] = {"id": 111, "first_name": "Alice", "username": "alice"}
BOB: dict[str, Any] = {"id": 222, "first_name": "Bob"}
GROUP: dict[str, Any] = {"id": -100500, "type": "supergroup", "title": "Hotline"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """A started fake server, stopped after the test."""
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    """A real PTB ``Bot`` pointed at the fake."""
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


def _build_app(fake: FakeBotAPI) -> Application:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"started with {context.args}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Take ticket", callback_data=f"take:{message.message_id}")]]
        )
        await message.reply_html(
            f"echo: <b>{html.escape(message.text)}</b>", reply_markup=keyboard, do_quote=True
        )

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer("taken!")
        assert isinstance(query.message, Message)
        await query.edit_message_text(
            f"{query.message.text} -> {query.data} by {query.from_user.first_name}"
        )

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_button))
    return app


async def test_real_application_polling_echo_and_button(fake: FakeBotAPI) -> None:
    app = _build_app(fake)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        try:
            await fake.user_sends(ALICE, text="/start deep")
            started = await fake.wait_for(ALICE["id"], "started with ['deep']")
            assert started.reply_to_message_id is None  # PTB quotes only in groups by default

            update = await fake.user_sends(ALICE, text="printer <broken>")
            reply = await fake.wait_for(ALICE["id"], "echo:")
            assert reply.text == "echo: <b>printer &lt;broken&gt;</b>"
            assert reply.plain_text == "echo: printer <broken>"
            assert reply.parse_mode == "HTML"
            assert reply.reply_to_message_id == update["message"]["message_id"]
            assert reply.raw["reply_to_message"]["text"] == "printer <broken>"
            assert fake.buttons(reply) == [("Take ticket", f"take:{reply.reply_to_message_id}")]

            msg, data = fake.find_button(ALICE["id"], "Take")
            assert msg is reply
            mark = fake.mark()
            await fake.user_presses(ALICE, ALICE["id"], msg.message_id, data)
            edited = await fake.wait_for(ALICE["id"], "-> take:", after=mark)
        finally:
            await app.updater.stop()
            await app.stop()

    assert edited is reply
    assert edited.reply_markup is None  # editMessageText without markup drops the keyboard
    assert [e["method"] for e in edited.edits] == ["editMessageText"]
    assert next(iter(fake.callback_answers.values()))["text"] == "taken!"
    assert fake.all_texts(ALICE["id"])[-1].endswith("by Alice")
    methods = [method for method, _ in fake.calls]
    assert "getMe" in methods and "deleteWebhook" in methods and "getUpdates" in methods
    assert not fake.drop_pending_updates_requested
    assert fake.pending_updates == []  # PTB confirmed everything on shutdown


async def test_html_is_validated_like_telegram(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ALICE["id"], "a < b", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ALICE["id"], "<b>open", parse_mode="HTML")
    ok = await bot.send_message(ALICE["id"], "a &lt; <b>b</b>", parse_mode="HTML")
    assert fake.last(ALICE["id"]).plain_text == "a < b"
    assert ok.text == "a &lt; <b>b</b>"


async def test_get_updates_offset_semantics(fake: FakeBotAPI, bot: Bot) -> None:
    first = await fake.user_sends(ALICE, text="one")
    second = await fake.user_sends(BOB, GROUP, text="/new@teda_desk_bot printer")
    assert second["update_id"] == first["update_id"] + 1

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    assert updates[1].message is not None
    assert updates[1].message.entities[0].type == "bot_command"
    assert updates[1].message.entities[0].length == len("/new@teda_desk_bot")
    assert updates[1].message.chat.title == "Hotline"

    # Not confirmed: delivered again.
    again = await bot.get_updates()
    assert [u.update_id for u in again] == [first["update_id"], second["update_id"]]

    # limit + offset confirming the first one.
    limited = await bot.get_updates(offset=first["update_id"] + 1, limit=1)
    assert [u.update_id for u in limited] == [second["update_id"]]
    assert [u["update_id"] for u in fake.pending_updates] == [second["update_id"]]

    assert await bot.get_updates(offset=second["update_id"] + 1) == ()
    assert fake.pending_updates == []

    # Long polling wakes up as soon as an update is queued.
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(offset=second["update_id"] + 1, timeout=5))
    await asyncio.sleep(0.1)
    third = await fake.user_sends(ALICE, text="three")
    woke = await asyncio.wait_for(poll, 3)
    assert [u.update_id for u in woke] == [third["update_id"]]
    assert time.monotonic() - started < 2

    # An empty long poll honours the timeout.
    started = time.monotonic()
    assert await bot.get_updates(offset=third["update_id"] + 1, timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 3

    # allowed_updates filters update types.
    await fake.user_sends(ALICE, text="ignored")
    await fake.user_presses(ALICE, ALICE["id"], third["message"]["message_id"], "x")
    only_cb = await bot.get_updates(allowed_updates=["callback_query"])
    assert len(only_cb) == 1 and only_cb[0].callback_query is not None


async def test_reply_embedding_ids_and_media(fake: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(GROUP["id"], "ticket #1")
    user_update = await fake.user_sends(
        BOB, GROUP, text="any news?", reply_to_message_id=sent.message_id
    )
    user_msg = user_update["message"]
    assert user_msg["message_id"] == sent.message_id + 1  # shared per-chat counter
    assert user_msg["reply_to_message"]["text"] == "ticket #1"
    assert user_msg["reply_to_message"]["from"]["is_bot"] is True

    answer = await bot.send_message(
        GROUP["id"], "soon", reply_parameters=ReplyParameters(user_msg["message_id"])
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "any news?"
    assert fake.last(GROUP["id"]).reply_to_message_id == user_msg["message_id"]
    with pytest.raises(BadRequest, match="replied not found"):
        await bot.send_message(GROUP["id"], "x", reply_to_message_id=999)

    photo_update = await fake.user_sends(ALICE, text="screen", photo=b"PNGDATA")
    update = Update.de_json(photo_update, bot)
    assert update.message is not None and update.message.caption == "screen"
    file = await update.message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == b"PNGDATA"

    doc_update = await fake.user_sends(
        ALICE, document={"file_name": "log.txt", "mime_type": "text/plain", "data": b"log"}
    )
    doc = Update.de_json(doc_update, bot).message.document  # type: ignore[union-attr]
    assert doc is not None and doc.file_name == "log.txt"
    assert bytes(await (await doc.get_file()).download_as_bytearray()) == b"log"

    contact_update = await fake.user_sends(
        ALICE, contact={"phone_number": "+10000", "first_name": "Alice", "user_id": ALICE["id"]}
    )
    assert Update.de_json(contact_update, bot).message.contact.phone_number == "+10000"  # type: ignore[union-attr]

    await bot.send_photo(ALICE["id"], b"\x89PNG-bytes", caption="your screenshot")
    await bot.send_document(ALICE["id"], b"report", filename="r.csv", caption="report")
    photo_msg, doc_msg = fake.sent(ALICE["id"])[-2:]
    assert (photo_msg.method, photo_msg.text) == ("sendPhoto", "your screenshot")
    assert doc_msg.raw["document"]["file_name"] == "r.csv"

    copied = await bot.copy_message(ALICE["id"], GROUP["id"], user_msg["message_id"])
    forwarded = await bot.forward_message(ALICE["id"], GROUP["id"], user_msg["message_id"])
    assert fake.sent(ALICE["id"])[-2].message_id == copied.message_id
    assert forwarded.text == "any news?"
    assert await bot.delete_message(ALICE["id"], forwarded.message_id)
    assert fake.last(ALICE["id"]).deleted
    with pytest.raises(BadRequest, match="not found"):
        await bot.delete_message(ALICE["id"], forwarded.message_id)


async def test_edits_and_misc_methods(fake: FakeBotAPI, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Close", callback_data="close:1")]])
    msg = await bot.send_message(ALICE["id"], "open", reply_markup=markup)
    await bot.edit_message_reply_markup(ALICE["id"], msg.message_id, reply_markup=None)
    stored = fake.last(ALICE["id"])
    assert stored.reply_markup is None and len(stored.edits) == 1
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("open", ALICE["id"], msg.message_id)
    await bot.edit_message_text("closed", ALICE["id"], msg.message_id, reply_markup=markup)
    assert (stored.text, fake.buttons(stored)) == ("closed", [("Close", "close:1")])

    me = await bot.get_me()
    assert (me.id, me.username) == (123, "teda_desk_bot")
    chat = await bot.get_chat(GROUP["id"])
    assert chat.type == "supergroup"
    member = await bot.get_chat_member(GROUP["id"], ALICE["id"])
    assert member.status == "member"
    fake.member_status[(GROUP["id"], BOB["id"])] = "administrator"
    assert (await bot.get_chat_member(GROUP["id"], BOB["id"])).status == "administrator"

    assert await bot.set_my_commands([("new", "New ticket"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["new", "help"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.send_chat_action(ALICE["id"], "typing")
    info = await bot.get_webhook_info()
    assert info.url == ""
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("fooBar")
    assert fake.calls[-1].method == "fooBar" and fake.calls[-1].status == 404
    assert await bot.close()
    assert await bot.log_out()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_failure_injection(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next("sendMessage", error_code=429, retry_after=2)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ALICE["id"], "hi")
    retry = caught.value.retry_after
    seconds = retry.total_seconds() if isinstance(retry, dtm.timedelta) else retry
    assert seconds == 2
    assert fake.calls[-1].status == 429
    await bot.send_message(ALICE["id"], "hi")  # only the next call failed

    fake.fail_next("sendMessage", error_code=403, count=2)
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(ALICE["id"], "hi")
    fake.fail_next("editMessageText", error_code=400, description="Bad Request: nope")
    with pytest.raises(BadRequest, match=r"(?i)nope"):
        await bot.edit_message_text("x", ALICE["id"], 1)
    fake.fail_next("sendMessage", error_code=500)
    with pytest.raises(NetworkError):
        await bot.send_message(ALICE["id"], "hi")
    fake.fail_next("sendMessage", drop_connection=True)
    with pytest.raises(NetworkError):
        await bot.send_message(ALICE["id"], "hi")
    fake.fail_next("sendMessage", chat_id=BOB["id"])
    await bot.send_message(ALICE["id"], "other chat is unaffected")
    with pytest.raises(RetryAfter):
        await bot.send_message(BOB["id"], "hi")

    fake.block(BOB["id"])
    with pytest.raises(Forbidden):
        await bot.send_message(BOB["id"], "hi")

    times = fake.call_times("sendMessage", chat_id=ALICE["id"])
    assert len(times) == 7 and times == sorted(times)
    assert [m.text for m in fake.sent(ALICE["id"])] == ["hi", "other chat is unaffected"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_delivery_and_conflict(fake: FakeBotAPI, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def receive(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return web.Response(status=200 if secret == "s3cret" else 403)

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret")
        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(Conflict):
            await bot.get_updates()

        update = await fake.user_sends(ALICE, text="via webhook")
        assert fake.last_webhook_status == 200
        assert received[-1] == ("s3cret", update)
        assert fake.pending_updates == []

        assert await fake.post_webhook(update, secret="wrong") == 403
        assert await fake.post_webhook(update, secret=None) == 403
        assert received[-1][0] is None

        assert await bot.delete_webhook()
        await fake.user_sends(ALICE, text="polling again")
        assert len(await bot.get_updates()) == 1
        assert fake.drop_pending_history == [None, None]
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert fake.pending_updates == [] and fake.drop_pending_updates_requested
    finally:
        await runner.cleanup()


async def test_raw_updates_and_conflicting_pollers(fake: FakeBotAPI, bot: Bot) -> None:
    raw = await fake.inject_raw_update({"message": {"garbage": True}})
    assert fake.pending_updates == [raw]
    with pytest.raises((KeyError, TypeError)):  # PTB cannot parse it, as with real junk
        await bot.get_updates()
    assert await bot.get_updates(offset=raw["update_id"] + 1) == ()

    async with Bot(fake.token, base_url=fake.base_url) as other:
        first = asyncio.create_task(other.get_updates(offset=raw["update_id"] + 1, timeout=5))
        await asyncio.sleep(0.1)
        # A second long poll terminates the first one, like Telegram does.
        second = asyncio.create_task(bot.get_updates(offset=raw["update_id"] + 1, timeout=1))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await asyncio.wait_for(first, 3)
        assert await second == ()


# ---------------------------------------------------------------- Telegram-like webhook delivery


class Receiver:
    """A webhook receiver on its own port whose answers the test scripts.

    ``script`` is consumed one entry per request: an HTTP status, ``"drop"`` (abort the
    connection without answering) or ``"slow"`` (answer 200 after ``slow_seconds``); once it is
    empty every request gets 200. Each request's update id is recorded with the answer given.
    """

    def __init__(
        self,
        script: list[int | str] | None = None,
        slow_seconds: float = 0.0,
        gauge: dict[str, int] | None = None,
    ) -> None:
        self.script = list(script or [])
        self.slow_seconds = slow_seconds
        self.log: list[tuple[int, int | str]] = []
        # Requests in progress now and at most, shared by receivers given the same dict.
        self.gauge = gauge if gauge is not None else {"active": 0, "max": 0}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._runner: web.AppRunner | None = None

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        update = await request.json()
        step = self.script.pop(0) if self.script else 200
        self.log.append((int(update["update_id"]), step))
        self.gauge["active"] += 1
        self.gauge["max"] = max(self.gauge["max"], self.gauge["active"])
        try:
            if step == "drop":
                assert request.transport is not None
                request.transport.abort()
                raise ConnectionResetError("dropped by the test receiver")
            if step == "slow":
                await asyncio.sleep(self.slow_seconds)
                return web.Response(status=200)
            return web.Response(status=int(step))
        finally:
            self.gauge["active"] -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._receive)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def acked(self) -> list[int]:
        return [uid for uid, step in self.log if step in (200, "slow")]


@pytest.fixture
async def retrying() -> AsyncIterator[FakeBotAPI]:
    """A fake that delivers webhooks like Telegram: queued, retried quickly until 2xx."""
    async with FakeBotAPI(
        webhook_retry=True, webhook_retry_delay=0.02, webhook_retry_max_delay=0.1
    ) as server:
        yield server


async def test_retrying_webhook_redelivers_until_acknowledged(retrying: FakeBotAPI) -> None:
    fake = retrying
    receiver = Receiver(script=[503, "drop", 500, 403])
    await receiver.start()
    try:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            assert await bot.set_webhook(receiver.url, secret_token="s3cret")
        update = await fake.user_sends(ALICE, text="keeps coming back")
        # Queued, not delivered synchronously.
        assert fake.webhook_pending == [update]
        await fake.wait_webhook_idle(timeout=5)
        uid = update["update_id"]
        assert [step for _, step in receiver.log] == [503, "drop", 500, 403, 200]
        assert receiver.acked() == [uid]
        assert fake.webhook_acked == {uid: 1}
        attempts = [(d.attempt, d.status) for d in fake.webhook_deliveries]
        assert attempts == [(1, 503), (2, 0), (3, 500), (4, 403), (5, 200)]
        assert all(d.secret == "s3cret" for d in fake.webhook_deliveries)
        assert fake.webhook_pending == []
    finally:
        await receiver.stop()


async def test_retrying_webhook_survives_a_receiver_that_is_down(retrying: FakeBotAPI) -> None:
    fake = retrying
    receiver = Receiver()
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        assert await bot.set_webhook(receiver.url, secret_token="s3cret")
        sent = [await fake.user_sends(ALICE, text=f"while down {i}") for i in range(3)]
        # Nobody listens yet: connection refused, retried.
        for _ in range(200):
            if len(fake.webhook_deliveries) >= 6:
                break
            await asyncio.sleep(0.01)
        assert fake.webhook_deliveries and all(d.status == 0 for d in fake.webhook_deliveries)
        assert (await bot.get_webhook_info()).pending_update_count == 3
        await receiver.start()
        try:
            await fake.wait_webhook_idle(timeout=5)
            assert sorted(receiver.acked()) == [u["update_id"] for u in sent]
            assert (await bot.get_webhook_info()).pending_update_count == 0
        finally:
            await receiver.stop()


async def test_retrying_webhook_times_out_slow_receivers(fake: FakeBotAPI) -> None:
    async with FakeBotAPI(
        webhook_retry=True, webhook_retry_delay=0.02, webhook_timeout=0.2
    ) as slow_fake:
        receiver = Receiver(script=["slow"], slow_seconds=1.0)
        await receiver.start()
        try:
            async with Bot(slow_fake.token, base_url=slow_fake.base_url) as bot:
                assert await bot.set_webhook(receiver.url, secret_token="s3cret")
            update = await slow_fake.user_sends(ALICE, text="slow")
            await slow_fake.wait_webhook_idle(timeout=5)
            statuses = [d.status for d in slow_fake.webhook_deliveries]
            assert statuses == [0, 200]  # the first POST timed out and was sent again
            assert "Timeout" in (slow_fake.webhook_deliveries[0].error or "")
            assert slow_fake.webhook_acked == {update["update_id"]: 1}
        finally:
            await receiver.stop()


async def test_retrying_webhook_round_robin_and_max_connections(retrying: FakeBotAPI) -> None:
    fake = retrying
    gauge = {"active": 0, "max": 0}
    first = Receiver(slow_seconds=0.05, gauge=gauge)
    second = Receiver(slow_seconds=0.05, gauge=gauge)
    first.script = ["slow"] * 20
    second.script = ["slow"] * 20
    await first.start()
    await second.start()
    try:
        # The bot sets its public URL; the "load balancer" spreads POSTs over two workers.
        fake.webhook_targets = [first.url, second.url]
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            assert await bot.set_webhook(
                "https://desk.example.org/hook", secret_token="s3cret", max_connections=3
            )
            assert (await bot.get_webhook_info()).max_connections == 3
        sent = [await fake.user_sends(ALICE, text=f"m{i}") for i in range(20)]
        await fake.wait_webhook_idle(timeout=10)
        assert len(first.acked()) == len(second.acked()) == 10
        assert sorted(first.acked() + second.acked()) == [u["update_id"] for u in sent]
        assert gauge["max"] == 3  # concurrent, never more than max_connections at once
        assert {d.url for d in fake.webhook_deliveries} == {first.url, second.url}
        # One worker goes away: the retries land on the other one, nothing is lost.
        await second.stop()
        more = [await fake.user_sends(ALICE, text=f"n{i}") for i in range(6)]
        await fake.wait_webhook_idle(timeout=10)
        assert set(first.acked()) >= {u["update_id"] for u in more}
        assert set(fake.webhook_acked) == {u["update_id"] for u in sent + more}
        assert all(count == 1 for count in fake.webhook_acked.values())
    finally:
        await first.stop()
        await second.stop()


async def test_retrying_webhook_pending_updates_on_delete_and_drop(retrying: FakeBotAPI) -> None:
    fake = retrying
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        url = f"http://127.0.0.1:{_free_port()}/hook"  # nobody listens: stays pending
        assert await bot.set_webhook(url, secret_token="s3cret")
        kept = await fake.user_sends(ALICE, text="kept for getUpdates")
        await asyncio.sleep(0.05)
        assert fake.webhook_pending == [kept]
        # Deleting the webhook keeps undelivered updates for getUpdates, like Telegram.
        assert await bot.delete_webhook()
        await fake.wait_webhook_idle(timeout=5)
        assert [u.update_id for u in await bot.get_updates()] == [kept["update_id"]]
        assert await bot.set_webhook(url, secret_token="s3cret")
        await fake.user_sends(ALICE, text="dropped")
        await asyncio.sleep(0.05)
        assert len(fake.webhook_pending) == 1
        assert await bot.set_webhook(url, secret_token="s3cret", drop_pending_updates=True)
        await fake.wait_webhook_idle(timeout=5)
        assert fake.webhook_pending == [] and fake.webhook_acked == {}


async def test_retrying_webhook_can_give_up(fake: FakeBotAPI) -> None:
    async with FakeBotAPI(
        webhook_retry=True, webhook_retry_delay=0.01, webhook_max_attempts=3
    ) as limited:
        async with Bot(limited.token, base_url=limited.base_url) as bot:
            assert await bot.set_webhook(
                f"http://127.0.0.1:{_free_port()}/hook", secret_token="s3cret"
            )
        update = await limited.user_sends(ALICE, text="nobody home")
        await limited.wait_webhook_idle(timeout=5)
        assert [d.attempt for d in limited.webhook_deliveries] == [1, 2, 3]
        assert limited.webhook_dropped == [update]
