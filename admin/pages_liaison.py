"""The liaison officers' reports page (联络员报送): the month's reports per department.

The hotline office, admins and managers read every department's; a department's staff read
their own department's. The office and admins may reopen a submitted report (the liaison
officers are told in their private chats; the audit log records ``liaison.reopen``).

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from desk import liaison
from desk.errors import DeskError
from models.webuser import WebRole, WebUser

from .security import ALL_ROLES, OFFICE_ROLES, READ_ALL_ROLES, USER, require
from .views import _cfg, _context, _url, editor, flash


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/liaison", liaison_page, name="liaison")
    app.router.add_get(r"/liaison/{report_id:\d{1,9}}", liaison_report, name="liaison_report")
    app.router.add_post(
        r"/liaison/{report_id:\d{1,9}}/reopen", liaison_reopen, name="liaison_reopen"
    )


def _scope(request: web.Request) -> str | None:
    """The department a user may read (``None``: every department)."""
    user: WebUser = request[USER]
    if WebRole(user.role) in READ_ALL_ROLES:
        return None
    return user.department_code or "-"  # staff without a department read nothing


@require(ALL_ROLES)
async def liaison_page(request: web.Request) -> web.StreamResponse:
    cfg = _cfg(request)
    try:
        month = liaison.parse_month_arg(
            request.query.get("month"), today=cfg.now().astimezone(cfg.tz).date()
        )
    except DeskError as exc:
        raise web.HTTPBadRequest(text=exc.message) from None
    rows = await liaison.month_reports(month=month, tz=cfg.tz, department_code=_scope(request))
    ctx = await _context(
        request,
        month=month,
        month_label=liaison.month_label(month),
        due=liaison.due_label(month),
        rows=rows,
    )
    return aiohttp_jinja2.render_template("liaison.html", request, ctx)


@require(ALL_ROLES)
async def liaison_report(request: web.Request) -> web.StreamResponse:
    cfg = _cfg(request)
    try:
        detail = await liaison.report_detail(
            report_id=int(request.match_info["report_id"]), tz=cfg.tz
        )
    except DeskError as exc:
        raise web.HTTPNotFound(text=exc.message) from None
    scope = _scope(request)
    if scope is not None and detail.row.department_code != scope:
        raise web.HTTPForbidden(text="只能查看本部门的报送。")
    user: WebUser = request[USER]
    ctx = await _context(
        request,
        detail=detail,
        can_reopen=WebRole(user.role) in OFFICE_ROLES
        and detail.row.status in ("submitted", "late"),
    )
    return aiohttp_jinja2.render_template("liaison_report.html", request, ctx)


@require(OFFICE_ROLES)
async def liaison_reopen(request: web.Request) -> web.StreamResponse:
    report_id = int(request.match_info["report_id"])
    try:
        await liaison.reopen(who=editor(request), report_id=report_id)
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    else:
        await flash(request, "已退回该报告，联络员可修改后重新提交。")
    raise web.HTTPFound(_url(request, "liaison_report", report_id=str(report_id)))
