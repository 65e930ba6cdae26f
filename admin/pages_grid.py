"""The grid workers page (网格员): each grid worker with the enterprises they may submit for.

For the hotline office and admins. The role itself is granted with ``/grant grid`` in the chat
or on the 账号与角色 page; here the office adds an enterprise to a grid worker's list (by its
ID, credit code or full name) or removes one. Every change is audited (``grid.assign``,
``grid.unassign``); a refused one changes nothing and says why.

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from desk import grid
from desk.errors import DeskError

from .security import OFFICE_ROLES, require
from .views import _cfg, _context, _url, editor, flash


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/grid", grid_page, name="grid")
    app.router.add_post("/grid/assign", grid_assign, name="grid_assign")
    app.router.add_post("/grid/unassign", grid_unassign, name="grid_unassign")


@require(OFFICE_ROLES)
async def grid_page(request: web.Request) -> web.StreamResponse:
    tz = _cfg(request).tz
    ctx = await _context(
        request,
        workers=await grid.list_workers(),
        local=lambda moment: f"{moment.astimezone(tz):%Y-%m-%d %H:%M}" if moment else "",
    )
    return aiohttp_jinja2.render_template("grid.html", request, ctx)


def _number(value: object, what: str) -> int:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 16:
        raise web.HTTPBadRequest(text=f"{what}不正确。")
    return int(text)


@require(OFFICE_ROLES)
async def grid_assign(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    user_id = _number(data.get("user_id"), "Telegram 用户 ID")
    try:
        row = await grid.assign(
            who=editor(request), user_id=user_id, enterprise=str(data.get("enterprise", ""))
        )
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    else:
        await flash(request, f"已将 {row.name} 加入网格员 {user_id} 的名单。")
    raise web.HTTPFound(_url(request, "grid"))


@require(OFFICE_ROLES)
async def grid_unassign(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    user_id = _number(data.get("user_id"), "Telegram 用户 ID")
    enterprise_id = _number(data.get("enterprise_id"), "企业编号")
    try:
        await grid.unassign(who=editor(request), user_id=user_id, enterprise_id=enterprise_id)
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    else:
        await flash(request, f"已将企业 #{enterprise_id} 移出网格员 {user_id} 的名单。")
    raise web.HTTPFound(_url(request, "grid"))
