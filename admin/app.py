"""The admin web's aiohttp application, mounted by ``bot.app`` at ``/admin``.

It shares the parent's database connection (opened by the parent's ``cleanup_ctx``) and the
desk configuration, so a dispatch here is the same service call as the triage group's button.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from desk.context import DeskConfig

from . import (
    pages_broadcast,
    pages_config,
    pages_directory,
    pages_grid,
    pages_guide,
    pages_liaison,
    pages_matching,
    pages_tickets,
    views,
)
from .security import csrf_middleware, headers_middleware

HERE = Path(__file__).resolve().parent
COOKIE = "desk_admin"
SESSION_MAX_AGE = 12 * 3600


def create_admin_app(
    cfg: DeskConfig, *, secret_key: bytes, secure_cookies: bool
) -> web.Application:
    """Build the admin sub-application.

    Args:
        cfg: the desk configuration shared with the bot (clock, time zone, router).
        secret_key: 32 bytes encrypting the session cookie.
        secure_cookies: mark the cookie ``Secure`` (serve the admin web over HTTPS only).
    """
    if len(secret_key) != 32:
        raise ValueError("the admin session key must be 32 bytes")
    app = web.Application(middlewares=[headers_middleware])
    app[views.CONFIG] = cfg
    setup_session(
        app,
        EncryptedCookieStorage(
            secret_key,
            cookie_name=COOKIE,
            path="/admin",
            max_age=SESSION_MAX_AGE,
            secure=secure_cookies,
            httponly=True,
            samesite="Lax",
        ),
    )
    # After the session middleware (it needs the session), before any handler.
    app.middlewares.append(csrf_middleware)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        default_helpers=False,
    )
    app.router.add_get("/", views.dashboard, name="dashboard")
    app.router.add_get("/login", views.login_page, name="login")
    app.router.add_post("/login", views.login_submit)
    app.router.add_post("/logout", views.logout, name="logout")
    app.router.add_get("/triage", views.triage, name="triage")
    app.router.add_post(r"/triage/{ticket_id:\d+}/dispatch", views.dispatch, name="dispatch")
    for pages in (
        pages_tickets,
        pages_config,
        pages_directory,
        pages_guide,
        pages_broadcast,
        pages_matching,
        pages_grid,
        pages_liaison,
    ):
        pages.setup(app)
    app.router.add_static("/static", HERE / "static", name="static")
    return app
