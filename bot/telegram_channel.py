"""The Telegram channel: PTB Application, durable intake (polling or webhook), the sender.

Every inbound update is stored in the inbox before it is acknowledged: the webhook answers 200
only after the row is written, and in polling mode the offset is confirmed (by the next
getUpdates) only after the fetched updates are stored. A worker handles the inbox in order per
chat; each update's effects are committed together with its processed-update marker, so a crash
at any point loses nothing and a redelivered or retried update changes nothing.
Pending updates are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import warnings
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.warnings import PTBUserWarning

from desk import inbox, webchat
from desk.context import DeskConfig
from desk.db import update_scope
from handlers.telegram import FAILURE, register
from models.system import InboxUpdate

from .retry import database_away, keep_trying
from .sender import RedisBudget, Sender, wake_or_done
from .settings import Settings
from .shared import RedisShared, Shared

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
STORE_TIMEOUT = 3.0  # seconds a webhook request waits for its inbox write before a 503
INBOX_BATCH = 20  # inbox rows claimed ahead of those being handled
FETCH_INTERVAL = 1.0  # seconds between looks for files to fetch for the web chat


class TelegramChannel:
    """Owns the PTB application and the tasks that move updates and outbox messages."""

    def __init__(
        self,
        *,
        settings: Settings,
        cfg: DeskConfig,
        shared: Shared,
        clock: Callable[[], datetime],
    ) -> None:
        assert settings.telegram_token
        self.settings = settings
        self.cfg = cfg
        self.shared = shared
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.telegram_token)
            .base_url(settings.telegram_api_url)
            .base_file_url(settings.telegram_file_url)
            .updater(None)  # we poll ourselves: confirm offsets only after commit
            .build()
        )
        register(self.app, cfg)
        budget = None
        if isinstance(shared, RedisShared):
            # Several workers share one bot token: one send budget for all of them.
            token_id = settings.telegram_token.split(":", 1)[0]
            budget = RedisBudget(shared.redis, token_id=token_id)
        self.sender = Sender(
            bot=self.app.bot, clock=clock, interval=settings.sender_interval, budget=budget
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._inbox_wake = asyncio.Event()
        self._batch: list[tuple[dict[str, Any], str | None, asyncio.Future[None]]] = []
        self.clock = clock
        self.mode = "webhook" if settings.webhook_url else "polling"
        # SQLite has one connection: handlers running side by side would share its
        # transactions, so there updates are handled one at a time.
        sqlite = settings.database_url.startswith("sqlite")
        self.inbox_parallel = 1 if sqlite else settings.inbox_parallel

    async def start(self) -> None:
        await self.app.initialize()
        await self.app.start()
        if self.mode == "webhook":
            await self.app.bot.set_webhook(
                url=self.settings.webhook_url or "",
                secret_token=self.settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        else:
            # A webhook left behind would block getUpdates; its pending updates are kept.
            try:
                await self.app.bot.delete_webhook(drop_pending_updates=False)
            except TelegramError as exc:
                log.warning("deleteWebhook failed (%s); polling anyway", exc)
            self._tasks.append(asyncio.create_task(self._poll(), name="telegram-poller"))
        self._tasks.append(asyncio.create_task(self._handle_inbox(), name="inbox"))
        self._tasks.append(asyncio.create_task(self.sender.run(), name="outbox-sender"))
        self._tasks.append(asyncio.create_task(self._fetch_files(), name="file-fetcher"))
        log.info("Telegram channel on (%s) as @%s", self.mode, self.app.bot.username)

    async def stop(self) -> None:
        self._stopping.set()
        self._inbox_wake.set()
        self.sender.stop()
        for task in self._tasks:
            task.cancel() if task.get_name() == "telegram-poller" else None
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        await self.app.stop()
        await self.app.shutdown()

    async def _fetch_files(self) -> None:
        """Download files staff sent for web chats (desk.webchat.queue_fetch) and hand them on.

        The web chat cannot show a Telegram file id; the bot can fetch it (getFile, up to
        20 MB). A failure is retried later; after several the enterprise gets the text with a
        note to ask for the file.
        """
        while not self._stopping.is_set():
            try:
                jobs = await webchat.due_fetches(now=self.clock())
                for job in jobs:
                    try:
                        remote = await self.app.bot.get_file(job.tg_file_id)
                        data = bytes(await remote.download_as_bytearray())
                    except TelegramError as exc:
                        await webchat.fetch_failed(job, error=repr(exc), now=self.clock())
                        continue
                    await webchat.fetched(job, data=data, now=self.clock())
            except Exception:
                log.exception("fetching files for the web chat failed; retrying")
                jobs = []
            if not jobs:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), FETCH_INTERVAL)

    async def process(self, update: Update, *, first_try: bool = False) -> None:
        """Handle one update exactly once, then wake the sender.

        Args:
            update: the update.
            first_try: no worker ever handled this update before (its inbox row was never
                tried): the pre-check for a handled update (a Redis and a database read) is
                left out. The processed-update marker written with the effects stays the
                real guard either way.

        Raises:
            Exception: an unexpected error in a handler (the inbox retries the update later).
        """
        key = f"tg:{update.update_id}"
        if not first_try and await self.shared.seen(key):
            log.info("update %s already processed; skipped", update.update_id)
            return
        failure: dict[str, BaseException] = {}
        token = FAILURE.set(failure)
        try:
            with update_scope(key):
                await self.app.process_update(update)
        finally:
            FAILURE.reset(token)
        if "error" in failure:
            raise failure["error"]
        await self.shared.remember(key)
        self.sender.wake()

    async def _handle_inbox(self) -> None:
        """Handle stored updates, oldest first per chat, until stopped.

        Each claimed row is the head of its own chat's queue (a chat's next update is claimable
        only once this one is done), so up to ``parallel`` rows run side by side without ever
        reordering one chat. Rows are claimed a batch ahead, so a finished row is followed by
        the next at once, without a claim query in between each time.
        """
        parallel = self.inbox_parallel
        ready: deque[InboxUpdate] = deque()
        active: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping.is_set():
                self._inbox_wake.clear()  # a wake from now on (a new row) is not missed
                if len(ready) < parallel:
                    try:
                        ready.extend(
                            await inbox.claim(
                                now=self.clock(), limit=INBOX_BATCH + parallel - len(ready)
                            )
                        )
                    except Exception:
                        log.exception("inbox claim failed; retrying")
                        await asyncio.sleep(1)
                        continue
                while ready and len(active) < parallel:
                    task = asyncio.create_task(self._handle_row_safely(ready.popleft()))
                    active.add(task)
                    task.add_done_callback(active.discard)
                # Wait for a new row (wake), a row finishing (room, maybe its chat's next
                # update), or at most a second (rows of other workers whose lease ran out).
                await wake_or_done(self._inbox_wake, active, at_most=1.0)
        finally:
            # Stopping: finish what is claimed (each row is short), then return.
            while ready:
                active.add(asyncio.create_task(self._handle_row_safely(ready.popleft())))
            if active:
                await asyncio.gather(*active, return_exceptions=True)

    async def _handle_row_safely(self, row: InboxUpdate) -> None:
        try:
            await self._handle_row(row)
        except Exception:
            # Recording the outcome failed (the database went away): the row's lease runs
            # out and it is handled again, its committed effects skipped.
            log.exception("inbox row %s: outcome not recorded; retried later", row.key)

    async def _handle_row(self, row: InboxUpdate) -> None:
        try:
            update = Update.de_json(row.payload, self.app.bot)
        except Exception as exc:
            log.warning("malformed update %s parked", row.update_id)
            row.attempts = inbox.MAX_ATTEMPTS
            await inbox.failed(row, error=f"malformed: {exc}")
            return
        # The inbox stores an update once (its key is unique, rows are kept), so a row leased
        # for the first time and never failed has not been handled by anyone: no pre-check.
        # A row taken again (a lease ran out, a failure, an attempt given back) has its error
        # or attempts set and is checked.
        first_try = row.attempts <= 1 and row.error is None
        try:
            await self.process(update, first_try=first_try)
        except Exception as exc:
            log.exception("update %s failed; it will be retried", row.update_id)
            await inbox.failed(row, error=repr(exc), count=not database_away(exc))
            return
        # Handled and committed: mark it done as soon as the database lets us, so the chat's
        # next update is not held up until the lease runs out.
        await keep_trying(
            lambda: inbox.done(row, now=self.clock()), within=inbox.LEASE, what="inbox done"
        )

    def _store(self, payload: dict[str, Any], *, text: str | None = None) -> asyncio.Future[None]:
        """Store one update durably, sharing a write with updates arriving meanwhile.

        Returns the future the write resolves. Group commit without a timer: the first update
        starts a flush at once, and updates arriving while that write is in flight go together
        into the next one, so batches grow with the load by themselves and nothing waits on a
        clock when the desk is quiet. Each request is answered only after the statement holding
        its row has committed.

        ``text`` is the update's JSON as received: stored as it is, not encoded again (one
        ``json.dumps`` less per update on the acknowledgement path).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batch.append((payload, text, future))
        if len(self._batch) == 1:  # no flush running: it runs while the batch is not empty
            asyncio.create_task(self._flush())  # noqa: RUF006 - awaited through the futures
        return future

    async def _flush(self) -> None:
        """Write the waiting updates, again and again until none is left.

        The rows being written stay at the head of ``self._batch`` until their write ends, so
        that ``_store`` starts no second flush meanwhile: one write at a time, in arrival order.
        """
        try:
            await asyncio.sleep(0)  # requests read in this same loop turn join the first write
            while self._batch:
                batch = self._batch[:]
                texts = [text for _, text, _ in batch]
                try:
                    await inbox.store_many(
                        [payload for payload, _, _ in batch],
                        texts=None if None in texts else texts,  # type: ignore[arg-type]
                    )
                except Exception as exc:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_result(None)
                    self._inbox_wake.set()
                del self._batch[: len(batch)]
        except BaseException as exc:  # cancelled (shutdown): nobody is left waiting forever
            for _, _, future in self._batch:
                if not future.done():
                    future.set_exception(
                        exc if isinstance(exc, Exception) else ConnectionError("intake stopped")
                    )
            self._batch.clear()
            raise

    async def _poll(self) -> None:
        offset: int | None = None
        timeout = self.settings.poll_timeout
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                # Raw getUpdates: PTB's get_updates parses the whole batch at once, so one
                # malformed update would block every later one. We parse one by one instead.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PTBUserWarning)  # "use Bot.get_updates"
                    raw = await self.app.bot.do_api_request(
                        "getUpdates",
                        api_kwargs={
                            "offset": offset,
                            "timeout": timeout,
                            "allowed_updates": ALLOWED_UPDATES,
                        },
                        read_timeout=timeout + 10,
                    )
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(
                    float(
                        exc.retry_after
                        if isinstance(exc.retry_after, int)
                        else exc.retry_after.total_seconds()
                    )
                )
                continue
            except InvalidToken:
                log.error("Telegram rejected the token (DESK_TELEGRAM_TOKEN); polling stopped")
                return
            except (Conflict, NetworkError, TelegramError) as exc:
                log.warning("getUpdates failed: %s; retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)
                continue
            valid = []
            for item in raw or []:
                update_id = item.get("update_id") if isinstance(item, dict) else None
                if not isinstance(update_id, int):
                    log.warning("malformed update without update_id ignored: %.200r", item)
                    continue
                valid.append(item)
            if not valid:
                continue
            try:
                await inbox.store_many(valid)
            except Exception:
                # Not stored: do not confirm them; Telegram sends them again.
                log.exception("could not store %d updates; will fetch them again", len(valid))
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)
                continue
            self._inbox_wake.set()
            # Confirmed at the next getUpdates, now that they are stored.
            offset = max(int(item["update_id"]) for item in valid) + 1

    async def webhook(self, request: web.Request) -> web.Response:
        """The webhook endpoint: 403 on a wrong secret; 200 only after the effects commit."""
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        expected = self.settings.webhook_secret or ""
        # Constant-time comparison: the secret must not leak through response timing.
        if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            body = await request.text()
            data = json.loads(body)
        except ValueError:
            return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        try:
            # Bounded: a database that hangs (no reset: a partition, a frozen host) must not
            # hold Telegram's request; a 503 makes Telegram retry, and a write that commits
            # after the timeout only turns the retry into an acknowledged duplicate.
            # A timed-out wait cancels only the future: the write goes on and skips it.
            async with asyncio.timeout(STORE_TIMEOUT):
                await self._store(data, text=body)
        except Exception:
            log.exception("could not store update %s", data.get("update_id"))
            # Not stored, not acknowledged: Telegram retries.
            return web.json_response({"ok": False, "error": "try again"}, status=503)
        return web.json_response({"ok": True})
