"""The supply–demand page (供需对接): the hotline office sees the enterprises' needs with the
offers that fit them best, and introduces a need to an offer with one press.

For the hotline office and admins. Introducing asks both enterprises first (contacts are shared
only when both agree), exactly as ``/introduce`` in the screening group does; the introduction
and its audit entry ``matching.introduce`` are written together. A refused one (already
introduced, a listing gone) changes nothing and says why.

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from desk import matching
from desk.errors import DeskError

from .security import OFFICE_ROLES, require
from .views import _cfg, _context, _url, editor, flash


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/matching", matching_page, name="matching")
    app.router.add_post("/matching/introduce", matching_introduce, name="matching_introduce")


@require(OFFICE_ROLES)
async def matching_page(request: web.Request) -> web.StreamResponse:
    tz = _cfg(request).tz
    needs = await matching.office_view()
    intros = await matching.recent_introductions()
    ctx = await _context(
        request,
        needs=[{"view": n, "at": f"{n.posted_at.astimezone(tz):%Y-%m-%d %H:%M}"} for n in needs],
        intros=[
            dict(i, at=f"{i['at'].astimezone(tz):%Y-%m-%d %H:%M}")  # type: ignore[attr-defined]
            for i in intros
        ],
    )
    return aiohttp_jinja2.render_template("matching.html", request, ctx)


def _id(value: object) -> int:
    text = str(value or "")
    if not text.isdigit() or len(text) > 9:
        raise web.HTTPBadRequest(text="编号不正确。")
    return int(text)


@require(OFFICE_ROLES)
async def matching_introduce(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    need_id, offer_id = _id(data.get("need")), _id(data.get("offer"))
    who = editor(request)
    try:
        await matching.introduce(
            need_id=need_id, offer_id=offer_id, by=f"{who.name}（管理后台）", editor=who
        )
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    else:
        await flash(
            request,
            f"已向需求 #{need_id} 与供给 #{offer_id} 双方征询对接意向；"
            "双方都同意后才会互换联系方式。",
        )
    raise web.HTTPFound(_url(request, "matching"))
