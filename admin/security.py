"""Sessions, CSRF and roles: every admin handler goes through ``require``.

The session is an encrypted cookie (Fernet, via aiohttp-session) holding the user id and the
CSRF token. Every POST must carry the token (form field ``csrf_token`` or header
``X-CSRF-Token``) or it is refused with 403 before any handler runs. Roles are checked on the
server for every request; what the templates hide is a convenience, not a control.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from models.webuser import WebRole, WebUser

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

USER = web.RequestKey("admin_user", WebUser)  # the request's user, set by ``require``
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

ALL_ROLES = frozenset(WebRole)
OFFICE_ROLES = frozenset({WebRole.ADMIN, WebRole.OFFICE})
READ_ALL_ROLES = frozenset({WebRole.ADMIN, WebRole.OFFICE, WebRole.MANAGER})


def csrf_token(session: Session) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def fresh_session(request: web.Request, user: WebUser) -> None:
    """Log in: a new session (no fixation), a new CSRF token."""
    session = await new_session(request)
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        session = await get_session(request)
        expected = session.get("csrf")
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not (
            isinstance(expected, str)
            and sent
            and hmac.compare_digest(expected.encode(), sent.encode())
        ):
            raise web.HTTPForbidden(text="CSRF 校验失败：请刷新页面后重试。")
    return await handler(request)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def current_user(request: web.Request) -> WebUser | None:
    session = await get_session(request)
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    user = await WebUser.get_or_none(id=uid, active=True)
    if user is None:
        session.invalidate()
    return user


def require(roles: Iterable[WebRole]) -> Callable[[Handler], Handler]:
    """Decorate a handler: log-in required (else to the login page), role required (else 403)."""
    allowed = frozenset(roles)

    def wrap(handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            user = await current_user(request)
            if user is None:
                if request.method == "GET":
                    login = request.app.router["login"].url_for().with_query(next=request.path)
                    raise web.HTTPFound(login)
                raise web.HTTPUnauthorized(text="请先登录。")
            if WebRole(user.role) not in allowed:
                raise web.HTTPForbidden(text="无权访问此页面。")
            request[USER] = user
            return await handler(request)

        checked.__name__ = handler.__name__
        checked.__doc__ = handler.__doc__
        return checked

    return wrap
