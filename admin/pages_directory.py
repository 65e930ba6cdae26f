"""Pages of the people and organisations: enterprises, departments, accounts and roles.

Enterprises and departments are read by the hotline office and managers (never department
staff: an enterprise's history spans every department). Accounts and Telegram roles are the
admin's alone. Every change goes through ``desk.directory``, which validates first, then
changes and writes the audit log in one transaction; a refused change re-shows the page with
the reason and changes nothing.

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from desk import directory, keyaccounts
from desk.errors import DeskError
from models.webuser import WEB_ROLE_LABELS, WebRole, WebUser

from . import auth
from .security import OFFICE_ROLES, READ_ALL_ROLES, USER, require
from .views import _cfg, _context, _url, editor, flash

ADMIN_ONLY = frozenset({WebRole.ADMIN})


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/enterprises", enterprises, name="enterprises")
    app.router.add_get(r"/enterprises/{enterprise_id:\d{1,9}}", enterprise, name="enterprise")
    app.router.add_post(
        r"/enterprises/{enterprise_id:\d{1,9}}/key", enterprise_key, name="enterprise_key"
    )
    app.router.add_post(
        r"/enterprises/{enterprise_id:\d{1,9}}/unkey", enterprise_unkey, name="enterprise_unkey"
    )
    app.router.add_get("/departments", departments, name="departments")
    app.router.add_get(r"/departments/{code:[A-Za-z0-9_]{1,16}}", department, name="department")
    app.router.add_get("/users", users, name="users")
    app.router.add_post("/users", user_create, name="user_create")
    app.router.add_post(r"/users/{user_id:\d{1,9}}/role", user_role, name="user_role")
    app.router.add_post(r"/users/{user_id:\d{1,9}}/active", user_active, name="user_active")
    app.router.add_post(r"/users/{user_id:\d{1,9}}/password", user_password, name="user_password")
    app.router.add_post("/users/grants", grant_create, name="grant_create")
    app.router.add_post("/users/grants/revoke", grant_revoke, name="grant_revoke")


def _local(request: web.Request, moment: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(_cfg(request).tz).strftime(fmt) if moment else ""


def _int(value: str, default: int = 1) -> int:
    return int(value) if value.isdigit() and len(value) < 9 else default


# ---------------------------------------------------------------- enterprises


@require(READ_ALL_ROLES)
async def enterprises(request: web.Request) -> web.StreamResponse:
    result = await directory.list_enterprises(
        query=request.query.get("q"), page=_int(request.query.get("page", "1"))
    )
    ctx = await _context(
        request,
        result=result,
        created=lambda e: _local(request, e.created_at, "%Y-%m-%d"),
        page_href=lambda n: str(
            request.app.router["enterprises"]
            .url_for()
            .with_query({**({"q": result.query} if result.query else {}), "page": n})
        ),
    )
    return aiohttp_jinja2.render_template("enterprises.html", request, ctx)


@require(READ_ALL_ROLES)
async def enterprise(request: web.Request) -> web.StreamResponse:
    return await _enterprise_page(request)


async def _enterprise_page(
    request: web.Request,
    *,
    key_error: str | None = None,
    key_form: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    user: WebUser = request[USER]
    enterprise_id = int(request.match_info["enterprise_id"])
    try:
        profile = await directory.enterprise_profile(
            enterprise_id=enterprise_id,
            reveal_personal=WebRole(user.role) in OFFICE_ROLES,
        )
    except DeskError as exc:
        raise web.HTTPNotFound(text=exc.message) from None
    key = await keyaccounts.key_info(enterprise_id)
    if key_form is None:
        key_form = {
            "kind": key.kind if key else "enterprise",
            "project": key.project if key else "",
            "butler_user_id": str(key.butler_user_id) if key else "",
            "butler_name": key.butler_name if key else "",
            "respond_hours": f"{key.respond_hours:g}" if key and key.respond_hours else "",
            "resolve_days": str(key.resolve_days) if key and key.resolve_days else "",
        }
    ctx = await _context(
        request,
        ent=profile,
        revealed=WebRole(user.role) in OFFICE_ROLES,
        may_mark=WebRole(user.role) in OFFICE_ROLES,
        key=key,
        key_kinds=keyaccounts.KIND_CHOICES,
        key_form=key_form,
        key_error=key_error,
        local=lambda moment, fmt="%Y-%m-%d %H:%M": _local(request, moment, fmt),
    )
    return aiohttp_jinja2.render_template("enterprise.html", request, ctx, status=status)


_KEY_FIELDS = ("kind", "project", "butler_user_id", "butler_name", "respond_hours", "resolve_days")


@require(OFFICE_ROLES)
async def enterprise_key(request: web.Request) -> web.StreamResponse:
    """Mark the enterprise 重点项目 / 重点企业 with its butler (hotline office, audited)."""
    data = await request.post()
    form = {k: str(data.get(k, "")) for k in _KEY_FIELDS}
    enterprise_id = int(request.match_info["enterprise_id"])
    try:
        row = await keyaccounts.set_key(
            who=editor(request), enterprise_id=enterprise_id, data=keyaccounts.parse_key(**form)
        )
    except DeskError as exc:
        return await _enterprise_page(request, key_error=exc.message, key_form=form, status=400)
    await flash(request, f"已标记为{keyaccounts.flag(row)}，管家：{row.butler_name}。")
    raise web.HTTPFound(_url(request, "enterprise", enterprise_id=str(enterprise_id)))


@require(OFFICE_ROLES)
async def enterprise_unkey(request: web.Request) -> web.StreamResponse:
    enterprise_id = int(request.match_info["enterprise_id"])
    try:
        await keyaccounts.clear_key(who=editor(request), enterprise_id=enterprise_id)
        await flash(request, "已取消重点标记，原管家不再收到该企业的工单。")
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(_url(request, "enterprise", enterprise_id=str(enterprise_id)))


# ---------------------------------------------------------------- departments


@require(READ_ALL_ROLES)
async def departments(request: web.Request) -> web.StreamResponse:
    rows = await directory.list_departments(now=_cfg(request).now())
    ctx = await _context(request, rows=rows)
    return aiohttp_jinja2.render_template("departments.html", request, ctx)


@require(READ_ALL_ROLES)
async def department(request: web.Request) -> web.StreamResponse:
    try:
        detail = await directory.department_detail(
            code=request.match_info["code"], now=_cfg(request).now()
        )
    except DeskError as exc:
        raise web.HTTPNotFound(text=exc.message) from None
    ctx = await _context(
        request, d=detail, local=lambda moment: _local(request, moment), hours=_hours
    )
    return aiohttp_jinja2.render_template("department.html", request, ctx)


def _hours(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------- accounts and roles


async def _users_page(
    request: web.Request,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    grant_error: str | None = None,
    grant_form: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    ctx = await _context(
        request,
        accounts=await directory.list_accounts(),
        grants=await directory.list_role_grants(),
        choices=await directory.department_choices(),
        roles=[(r.value, WEB_ROLE_LABELS[r]) for r in WebRole],
        min_password=directory.MIN_PASSWORD,
        error=error,
        form=form or {"username": "", "role": WebRole.STAFF.value, "department_code": ""},
        grant_error=grant_error,
        grant_form=grant_form or {"user_id": "", "name": ""},
        local=lambda moment: _local(request, moment),
    )
    return aiohttp_jinja2.render_template("users.html", request, ctx, status=status)


@require(ADMIN_ONLY)
async def users(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


@require(ADMIN_ONLY)
async def user_create(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    form = {
        "username": str(data.get("username", "")).strip(),
        "role": str(data.get("role", "")),
        "department_code": str(data.get("department_code", "")),
    }
    try:
        made = await directory.create_account(
            who=editor(request),
            username=form["username"],
            password=str(data.get("password", "")),
            role=form["role"],
            department_code=form["department_code"] or None,
            hash_password=auth.hash_password,
        )
    except DeskError as exc:
        return await _users_page(request, error=exc.message, form=form, status=400)
    dept = f"（{made.department_code}）" if made.department_code else ""
    await flash(request, f"已创建账号 {made.username}：{made.role_label}{dept}。")
    raise web.HTTPFound(_url(request, "users"))


def _user_id(request: web.Request) -> int:
    return int(request.match_info["user_id"])


@require(ADMIN_ONLY)
async def user_role(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    try:
        row = await directory.change_account(
            who=editor(request),
            user_id=_user_id(request),
            role=str(data.get("role", "")),
            department_code=str(data.get("department_code", "")) or None,
        )
        dept = f"（{row.department_code}）" if row.department_code else ""
        await flash(request, f"{row.username} 的角色现为{row.role_label}{dept}。")
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(_url(request, "users"))


@require(ADMIN_ONLY)
async def user_active(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    active = str(data.get("active", "")) == "1"
    try:
        row = await directory.set_account_active(
            who=editor(request), user_id=_user_id(request), active=active
        )
        done = "已启用" if row.active else "已停用"
        await flash(request, f"{done}账号 {row.username}。")
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(_url(request, "users"))


@require(ADMIN_ONLY)
async def user_password(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    try:
        row = await directory.reset_password(
            who=editor(request),
            user_id=_user_id(request),
            password=str(data.get("password", "")),
            hash_password=auth.hash_password,
        )
        await flash(request, f"已重置 {row.username} 的密码，请通过安全渠道告知本人。")
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(_url(request, "users"))


@require(ADMIN_ONLY)
async def grant_create(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    form = {"user_id": str(data.get("user_id", "")).strip(), "name": str(data.get("name", ""))}
    try:
        row = await directory.grant_role(
            who=editor(request),
            role=str(data.get("role", "manager")),
            user_id=directory.parse_tg_user_id(form["user_id"]),
            name=form["name"],
            department_code=str(data.get("department_code", "")) or None,
        )
    except DeskError as exc:
        return await _users_page(request, grant_error=exc.message, grant_form=form, status=400)
    who = f"{row.name}（{row.user_id}）" if row.name else str(row.user_id)
    await flash(request, f"已授予 {who} {row.role_label}角色。")
    raise web.HTTPFound(_url(request, "users"))


@require(ADMIN_ONLY)
async def grant_revoke(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    try:
        user_id = directory.parse_tg_user_id(str(data.get("user_id", "")))
        await directory.revoke_role(
            who=editor(request), role=str(data.get("role", "")), user_id=user_id
        )
        await flash(request, f"已收回用户 {user_id} 的角色。")
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(_url(request, "users"))
