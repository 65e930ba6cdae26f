"""Pages of the admin web: login, logout, dashboard, triage queue.

Each handler is wrapped by ``require`` with the roles it serves (login excepted); the data a
page shows is scoped on the server too (staff see their own department only).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from desk import audit, stats, tickets, workbench
from desk.context import DeskConfig
from desk.errors import DeskError
from models.department import Department
from models.webuser import WEB_ROLE_LABELS, WebRole, WebUser

from . import auth
from .security import (
    ALL_ROLES,
    OFFICE_ROLES,
    READ_ALL_ROLES,
    USER,
    csrf_token,
    current_user,
    fresh_session,
    require,
)

CONFIG = web.AppKey("admin_desk_config", DeskConfig)
TREND_DAYS = 14


def _cfg(request: web.Request) -> DeskConfig:
    return request.app[CONFIG]


def _url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


async def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    """What every page's template needs: the user, the CSRF token, URLs, a flash message."""
    session = await get_session(request)
    user = request.get(USER)
    flash = session.pop("flash", None)
    return {
        "user": user,
        "role_label": WEB_ROLE_LABELS.get(WebRole(user.role)) if user else "",
        "can_triage": user is not None and WebRole(user.role) in OFFICE_ROLES,
        "nav": _nav(request, user),
        "csrf": csrf_token(session),
        "url": lambda name, **parts: _url(request, name, **parts),
        "static": lambda path: _url(request, "static", filename=path),
        "flash": flash,
        "request_path": request.path,
        **extra,
    }


# The menu: (route name, label, roles that see it). An entry shows only once its page exists
# (its route is registered) and only to the roles it serves; the handlers check again.
NAV: tuple[tuple[str, str, frozenset[WebRole]], ...] = (
    ("dashboard", "首页概览", ALL_ROLES),
    ("triage", "待分拨队列", OFFICE_ROLES),
    ("tickets", "工单", ALL_ROLES),
    ("intake", "代企业登记", OFFICE_ROLES),
    ("enterprises", "企业", READ_ALL_ROLES),
    ("departments", "部门", READ_ALL_ROLES),
    ("rules", "分拨规则", OFFICE_ROLES),
    ("sla", "时限与日历", OFFICE_ROLES),
    ("guide", "办事指南", READ_ALL_ROLES),
    ("broadcast", "群发", OFFICE_ROLES),
    ("matching", "供需对接", OFFICE_ROLES),
    ("liaison", "联络员报送", ALL_ROLES),
    ("grid", "网格员", OFFICE_ROLES),
    ("users", "账号与角色", frozenset({WebRole.ADMIN})),
    ("audit", "操作日志", frozenset({WebRole.ADMIN})),
)


def _nav(request: web.Request, user: WebUser | None) -> list[dict[str, str]]:
    if user is None:
        return []
    role = WebRole(user.role)
    named = request.app.router.named_resources()
    return [
        {"name": name, "label": label, "href": _url(request, name)}
        for name, label, roles in NAV
        if role in roles and name in named
    ]


def request_viewer(request: web.Request) -> workbench.Viewer:
    """The logged-in user as the workbench checks what they may see and do."""
    user: WebUser = request[USER]
    return workbench.Viewer(
        username=user.username, role=user.role, department_code=user.department_code
    )


def editor(request: web.Request) -> audit.Editor:
    """The logged-in user as the audit log records a change they make."""
    user: WebUser = request[USER]
    return audit.Editor(
        name=user.username, role=user.role, ip=request.remote or "", at=_cfg(request).now()
    )


async def flash(request: web.Request, text: str, *, ok: bool = True) -> None:
    """A message for the next page the user sees (after a redirect)."""
    session = await get_session(request)
    session["flash"] = {"ok": ok, "text": text}


def _safe_next(request: web.Request, value: str | None) -> str:
    """Only a local path under the admin app (no open redirect)."""
    home = _url(request, "dashboard")
    if not value:
        return home
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(home.rstrip("/")):
        return home
    return value


# ---------------------------------------------------------------- login


async def login_page(request: web.Request) -> web.StreamResponse:
    if await current_user(request) is not None:
        raise web.HTTPFound(_url(request, "dashboard"))
    ctx = await _context(request, error=None, username="", next=request.query.get("next", ""))
    return aiohttp_jinja2.render_template("login.html", request, ctx)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    result = await auth.authenticate(
        username, password, ip=request.remote or "-", now=_cfg(request).now()
    )
    if result.user is None:
        ctx = await _context(
            request, error=result.error, username=username, next=str(form.get("next", ""))
        )
        status = 429 if result.error == auth.THROTTLED else 401
        return aiohttp_jinja2.render_template("login.html", request, ctx, status=status)
    await fresh_session(request, result.user)
    raise web.HTTPFound(_safe_next(request, str(form.get("next", ""))))


@require(ALL_ROLES)
async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound(_url(request, "login"))


# ---------------------------------------------------------------- dashboard


@require(ALL_ROLES)
async def dashboard(request: web.Request) -> web.StreamResponse:
    cfg = _cfg(request)
    user: WebUser = request[USER]
    now = cfg.now()
    own: Department | None = None
    if WebRole(user.role) == WebRole.STAFF:
        own = await Department.get_or_none(code=user.department_code or "")
        if own is None:
            raise web.HTTPForbidden(text="账号未关联有效部门，请联系管理员。")
    figures = await stats.dashboard_figures(now=now, tz=cfg.tz, department=own)
    rows: list[dict[str, Any]] = []
    for rank, r in enumerate(figures.league, start=1):
        rows.append(
            {
                "rank": rank if r.score is not None else "—",
                "code": r.code,
                "name": r.name,
                "open": figures.open_by_code.get(r.code, 0),
                "overdue": r.figures.open_overdue,
                "response": stats.percent(r.figures.response_rate),
                "resolution": stats.percent(r.figures.resolution_rate),
                "satisfaction": stats.percent(r.figures.satisfaction_rate),
                "score": stats.percent(r.score),
            }
        )
    trend = await stats.intake_trend(
        now=now, tz=cfg.tz, days=TREND_DAYS, department_id=own.id if own else None
    )
    ctx = await _context(
        request,
        scope=own.short if own else "全部部门",
        today_label=figures.today.period.label,
        month_label=figures.month.period.label,
        received_today=figures.today.total.received,
        open_total=figures.open_total,
        overdue_total=figures.month.total.open_overdue,
        triage_waiting=figures.triage_waiting,
        rows=rows,
        trend_json=json.dumps(
            {
                "days": [f"{day:%m-%d}" for day in trend.days],
                "received": trend.received,
                "resolved": trend.resolved,
            },
            ensure_ascii=False,
        ),
    )
    return aiohttp_jinja2.render_template("dashboard.html", request, ctx)


# ---------------------------------------------------------------- triage


@require(OFFICE_ROLES)
async def triage(request: web.Request) -> web.StreamResponse:
    cfg = _cfg(request)
    waiting, departments = await workbench.triage_queue()
    names = {d.code: d.short for d in departments}
    items = []
    for t in waiting:
        candidates = [
            {"code": code, "name": names[code], "score": f"{float(score):.2f}"}
            for code, score in (t.route_candidates or [])
            if code in names
        ]
        items.append(
            {
                "id": t.id,
                "ref": t.ref,
                "text": t.text if len(t.text) <= 400 else t.text[:400] + "…",
                "enterprise": t.enterprise.name,
                "created": f"{t.created_at.astimezone(cfg.tz):%m-%d %H:%M}",
                "confidence": f"{t.route_confidence:.2f}",
                "terms": [str(x) for x in (t.route_terms or [])][:12],
                "candidates": candidates,
            }
        )
    ctx = await _context(
        request, items=items, departments=[{"code": d.code, "name": d.short} for d in departments]
    )
    return aiohttp_jinja2.render_template("triage.html", request, ctx)


@require(OFFICE_ROLES)
async def dispatch(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = str(form.get("code", ""))
    try:
        ticket_id = int(request.match_info["ticket_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    try:
        answer = await tickets.dispatch_by_office(
            _cfg(request),
            actor=workbench.web_actor(request_viewer(request)),
            ticket_id=ticket_id,
            code=code,
        )
        await flash(request, answer)
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(_url(request, "triage"))
