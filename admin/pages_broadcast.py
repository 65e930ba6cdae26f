"""The broadcast page (群发): send a policy interpretation, an event or a notice to every
enterprise contact that did not opt out of its topic, and see how past broadcasts are delivered.

For the hotline office and admins. A broadcast, its outbox rows and its audit entry
``broadcast.send`` are written in one transaction (the same as ``desk broadcast`` in the shell);
a refused one (empty title, text too long) changes nothing and says why.

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from desk import broadcast
from desk.errors import DeskError

from .security import OFFICE_ROLES, require
from .views import _cfg, _context, _url, editor, flash

LIST_SIZE = 50


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/broadcast", broadcast_page, name="broadcast")
    app.router.add_post("/broadcast", broadcast_send, name="broadcast_send")


async def _page(
    request: web.Request,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.StreamResponse:
    rows = await broadcast.recent(limit=LIST_SIZE)
    counts = await broadcast.delivery_counts(broadcast_ids=[b.id for b in rows])
    tz = _cfg(request).tz
    sent: list[dict[str, Any]] = [
        {
            "id": b.id,
            "topic": broadcast.TOPICS.get(b.topic, b.topic),
            "title": b.title,
            "text": b.text,
            "by": b.created_by,
            "at": f"{b.created_at.astimezone(tz):%Y-%m-%d %H:%M}",
            "recipients": b.recipients,
            "delivery": counts.get(b.id, broadcast.Delivery()),
        }
        for b in rows
    ]
    ctx = await _context(
        request,
        topics=list(broadcast.TOPICS.items()),
        form=form or {"topic": next(iter(broadcast.TOPICS)), "title": "", "text": ""},
        title_max=broadcast.TITLE_MAX,
        text_max=broadcast.TEXT_MAX,
        error=error,
        sent=sent,
    )
    return aiohttp_jinja2.render_template("broadcast.html", request, ctx, status=status)


@require(OFFICE_ROLES)
async def broadcast_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@require(OFFICE_ROLES)
async def broadcast_send(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    form = {k: str(data.get(k, "")) for k in ("topic", "title", "text")}
    try:  # the broadcast, its outbox rows and its audit entry, together
        done = await broadcast.send(
            topic=form["topic"], title=form["title"], text=form["text"], editor=editor(request)
        )
    except DeskError as exc:
        return await _page(request, form=form, error=exc.message, status=400)
    await flash(
        request,
        f"已排队：【{broadcast.TOPICS[done.topic]}】{done.title}，{done.recipients} 位联系人"
        "（工单消息优先，按发送限额陆续送达）。",
    )
    raise web.HTTPFound(_url(request, "broadcast"))
