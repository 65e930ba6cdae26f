"""The composition root: builds the whole desk from settings loaded once.

``create_app`` returns the aiohttp application; its ``cleanup_ctx`` opens the database,
starts the Telegram channel (when a token is set) and the scheduler, and closes them in reverse
order. ``/healthz`` answers 200 while the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from admin import create_admin_app
from admin.auth import FIRST_ADMIN_HINT, has_admin
from admin.webchat import WebChatChannel, create_chat_app
from desk import escalation, liaison, manage, tickets, webchat
from desk.context import DeskConfig, utcnow
from desk.routing import RouterHolder
from desk.worktime import calendar_key, load_calendar, missing_years

from . import db
from .metrics import Metrics
from .metrics import handle as metrics_handle
from .settings import Settings
from .shared import RedisBus, Shared, make_shared
from .telegram_channel import TelegramChannel

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
CONFIG = web.AppKey("desk_config", DeskConfig)
SHARED = web.AppKey("shared", Shared)
CHANNEL = web.AppKey("telegram", TelegramChannel)
WEBCHAT = web.AppKey("webchat", WebChatChannel)


def desk_config(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> DeskConfig:
    """The desk core's configuration, derived from the process settings."""
    return DeskConfig(
        admin_ids=settings.admin_ids,
        tz=settings.tz,
        auto_threshold=settings.auto_threshold,
        clock=clock,
        router=RouterHolder(),
        guide_first=settings.guide_first,
    )


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    await db.connect(settings.database_url)
    await db.prepare(settings.database_url)
    shared = make_shared(settings.redis_url)
    app[SHARED] = shared
    cfg = app[CONFIG]
    if isinstance(cfg.router, RouterHolder):
        await cfg.router.refresh()  # rules and model from the database
        await asyncio.to_thread(cfg.router.warm)
    cfg.calendar = await load_calendar()  # holidays, 调休 and admin overrides
    if not await has_admin():
        log.warning(FIRST_ADMIN_HINT)
    for year in missing_years(cfg.calendar, cfg.now().astimezone(cfg.tz).date()):
        log.warning(
            "工作日历缺少 %s 年的官方数据：截止时间按周末和法定节假日估算。"
            "请升级 chinesecalendar 或用 desk calendar 录入调休安排。",
            year,
        )
    yield
    await shared.close()
    await db.close()


async def _webchat(app: web.Application) -> AsyncIterator[None]:
    channel = app[WEBCHAT]
    settings = app[SETTINGS]
    bus = RedisBus(settings.redis_url) if settings.redis_url else None
    listener = None
    if bus is not None:
        # Several workers: a page open on one hears what another delivered, at once.
        channel.bus = bus
        listener = asyncio.create_task(bus.listen(channel.tell_pages), name="webchat-bus")
    await channel.start()
    yield
    await channel.stop()
    if listener is not None and bus is not None:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await bus.close()


async def _telegram(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.telegram_token:
        log.warning(
            "Telegram 渠道未启用 / Telegram channel is OFF: DESK_TELEGRAM_TOKEN is not set. "
            "Web, health check and scheduler are running. To turn Telegram on, set "
            "DESK_TELEGRAM_TOKEN (from @BotFather) in the environment or .env and restart."
        )
        yield
        return
    channel = TelegramChannel(
        settings=settings, cfg=app[CONFIG], shared=app[SHARED], clock=app[CONFIG].clock
    )
    await channel.start()
    app[CHANNEL] = channel
    app[WEBCHAT].on_outbox = channel.sender.wake  # the web chat's cards go out at once
    yield
    await channel.stop()


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    settings, cfg, shared = app[SETTINGS], app[CONFIG], app[SHARED]
    # Shutdown does not rely on cancellation alone: a library may turn the cancel into an
    # ordinary error (redis-py does when it meets an expiring socket timeout, e.g. while Redis
    # hangs), which the loops catch and log like any failed round; they stop at the next check.
    stopping = asyncio.Event()

    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)

    async def loop() -> None:
        while not stopping.is_set():
            try:
                # One process at a time runs the periodic jobs.
                if await shared.lease("scheduler", settings.scheduler_interval * 2):
                    closed = await tickets.close_unrated(cfg)
                    steps = await escalation.scan(cfg)
                    await escalation.warn_missing_calendar(cfg)
                    digests = await manage.daily_digests(cfg)
                    digests += await liaison.tick(cfg)  # liaison officers' monthly reports
                    if digests and CHANNEL in app:
                        app[CHANNEL].sender.wake()
                    if closed or steps:
                        log.info(
                            "scheduler: %d closed as 未评价, %d SLA steps: %s",
                            closed,
                            len(steps),
                            "; ".join(map(str, steps))[:500],
                        )
                        if CHANNEL in app:
                            app[CHANNEL].sender.wake()
            except Exception:
                log.exception("scheduler tick failed")
            await pause(settings.scheduler_interval)

    async def reload_router() -> None:
        # Every process picks up retrained models, edited rules and calendar overrides
        # without a restart.
        calendar = await calendar_key()
        while not stopping.is_set():
            await pause(settings.router_refresh_interval)
            if stopping.is_set():
                return
            try:
                if isinstance(cfg.router, RouterHolder):
                    await cfg.router.refresh()
                key = await calendar_key()
                if key != calendar:
                    cfg.calendar, calendar = await load_calendar(), key
                    log.info("working-day calendar reloaded")
            except Exception:
                log.exception("refresh failed; keeping the current router and calendar")

    async def reports() -> None:
        # Briefings take seconds to build: requests wait in report_job, one at a time here.
        while not stopping.is_set():
            try:
                job = await manage.claim_report_job(now=cfg.now())
                if job is not None:
                    await manage.run_report_job(cfg, job)
                    if CHANNEL in app:
                        app[CHANNEL].sender.wake()
                    continue
            except Exception:
                log.exception("building a report failed; it will be retried")
            await pause(settings.report_interval)

    tasks = [
        asyncio.create_task(loop(), name="scheduler"),
        asyncio.create_task(reload_router(), name="router-refresh"),
        asyncio.create_task(reports(), name="reports"),
    ]
    yield
    stopping.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    ok = await db.ping()
    channel = app.get(CHANNEL)
    body = {
        "status": "ok" if ok else "database unavailable",
        "database": ok,
        "telegram": channel.mode if channel else "off",
    }
    return web.json_response(body, status=200 if ok else 503)


async def _webhook(request: web.Request) -> web.Response:
    channel = request.app.get(CHANNEL)
    if channel is None:
        return web.json_response({"ok": False, "error": "telegram is off"}, status=503)
    return await channel.webhook(request)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> web.Application:
    """Build the aiohttp application (web, webhook, health) with its lifecycle contexts."""
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[SETTINGS] = settings
    app[CONFIG] = desk_config(settings, clock=clock)
    app[WEBCHAT] = WebChatChannel(
        app[CONFIG], senders=webchat.make_senders(settings.webchat_code_senders)
    )
    # Order matters: the database first, the chat channels after it, the scheduler last
    # (cleanup reverses).
    app.cleanup_ctx.extend([_database, _webchat, _telegram, _scheduler])
    app.router.add_get("/healthz", healthz)
    registry = Metrics()

    async def metrics(request: web.Request) -> web.Response:
        return await metrics_handle(request, registry)

    app.router.add_get("/metrics", metrics)
    if settings.webhook_path:
        app.router.add_post(settings.webhook_path, _webhook)
    key = settings.admin_secret_key
    if key is None:
        key = secrets.token_bytes(32)
        log.warning(
            "DESK_ADMIN_SECRET is not set: the admin web uses a key generated at start-up, so "
            "its sessions do not survive a restart (set it to 64 hex digits, e.g. the output "
            "of python -c 'import secrets; print(secrets.token_hex(32))')"
        )

    async def admin_home(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/admin/")

    async def chat_home(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/chat/")

    app.router.add_get("/admin", admin_home)
    app.add_subapp(
        "/admin",
        create_admin_app(
            app[CONFIG], secret_key=key, secure_cookies=settings.admin_secure_cookies
        ),
    )
    app.router.add_get("/chat", chat_home)
    app.add_subapp(
        "/chat",
        create_chat_app(
            app[WEBCHAT], secret_key=key, secure_cookies=settings.admin_secure_cookies
        ),
    )
    return app
