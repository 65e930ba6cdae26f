"""The service guide (办事指南) page: the catalog by department, a 试答 box, the items' edit
forms, and how the answer-first line did over the last 30 days.

The hotline office and admins edit; managers read. Every save goes through
``desk.guide.upsert_items`` (which checks the item and refuses it whole, in Chinese) and records
an audit entry ``guide.edit`` in the same transaction; a refused save re-shows the form with
what was typed.

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from desk import directory, guide, stats
from desk.errors import DeskError, InvalidInput, NotFound
from models.guide import ServiceItem
from models.webuser import WebRole, WebUser

from .security import OFFICE_ROLES, READ_ALL_ROLES, USER, require
from .views import _cfg, _context, _url, editor, flash

STATS_DAYS = 30
SEARCH_LIMIT = 5
Q_MAX = 500
REASON_LABELS = {
    "ok": "匹配清晰，先答",
    "no match": "没有匹配的事项",
    "low score": "匹配度不足",
    "close second": "前两项过于接近",
}
SOURCE_LABELS = {"default": "初始目录", "import": "文件导入", "admin": "后台修改"}
# The form's fields: the exchange format's, lists as text with one entry a line.
TEXT_FIELDS = (
    "code",
    "department",
    "name",
    "conditions",
    "time_limit",
    "fees",
    "location",
    "online_url",
    "contact",
)
LIST_FIELDS = ("aliases", "materials", "steps")


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/guide", guide_page, name="guide")
    app.router.add_post("/guide", guide_page)  # the 试答 box, when its question is long
    app.router.add_get("/guide/new", item_new, name="guide_new")
    app.router.add_post("/guide/new", item_create, name="guide_create")
    app.router.add_get(r"/guide/item/{code:[a-z0-9][a-z0-9-]{1,63}}", item_edit, name="guide_item")
    app.router.add_post(r"/guide/item/{code:[a-z0-9][a-z0-9-]{1,63}}", item_save)


def _reason(reason: str) -> str:
    return REASON_LABELS.get(reason, reason)


async def _departments() -> list[dict[str, str]]:
    return [{"code": code, "name": short} for code, short in await directory.department_choices()]


async def _trial(q: str) -> dict[str, Any]:
    """The 试答 box's answer: {"trial": {...}} or {"trial_error": str} or nothing."""
    q = q.strip()
    if not q:
        return {}
    if len(q) > Q_MAX:
        return {"trial_error": f"问题不超过{Q_MAX}字。"}
    try:
        result = await guide.search(query=q, limit=SEARCH_LIMIT)
    except InvalidInput as exc:
        return {"trial_error": exc.message}
    hits = [
        {
            "rank": rank,
            "code": h.code,
            "name": h.name,
            "department": h.department,
            "score": f"{h.score:.2f}",
            "coverage": f"{h.coverage:.0%}",
            "first": rank == 1 and result.answers_well,
        }
        for rank, h in enumerate(result.hits, start=1)
    ]
    return {
        "trial": {
            "answers_well": result.answers_well,
            "reason": _reason(result.reason),
            "confidence": f"{result.confidence:.2f}",
            "terms": list(result.terms)[:20],
            "hits": hits,
        }
    }


async def _answer_figures(request: web.Request) -> dict[str, Any]:
    now = _cfg(request).now()
    s = await guide.answer_stats(since=now - dt.timedelta(days=STATS_DAYS), until=now)
    return {
        "days": STATS_DAYS,
        "questions": s.questions,
        "answered": s.answered,
        "solved": s.solved,
        "human": s.human,
        "no_reply": s.no_reply,
        "without_ticket": s.without_ticket,
        "answered_share": stats.percent(s.answered_share) if s.questions else "—",
        "later_ticket": s.later_ticket,
        "later_days": guide.LATER_DAYS,
        "later_share": stats.percent(s.later_share) if s.without_ticket else "—",
    }


@require(READ_ALL_ROLES)
async def guide_page(request: web.Request) -> web.StreamResponse:
    """The catalog (``?dept=`` one department, ``?all=1`` inactive items too) and 试答 (``q``)."""
    q = request.query.get("q", "")
    if request.method == "POST":
        q = str((await request.post()).get("q", ""))
    departments = await _departments()
    names = {d["code"]: d["name"] for d in departments}
    dept = request.query.get("dept", "")
    if dept not in names:
        dept = ""
    show_all = request.query.get("all") == "1"
    everything = await guide.list_items(include_inactive=True)
    counts: dict[str, int] = {}
    for item in everything:
        counts[item.department_code] = counts.get(item.department_code, 0) + 1
    items = [
        i for i in everything if (show_all or i.active) and (not dept or i.department_code == dept)
    ]
    groups: dict[str, list[ServiceItem]] = {}
    for item in items:
        groups.setdefault(item.department_code, []).append(item)
    ctx = await _context(
        request,
        q=q,
        dept=dept,
        show_all=show_all,
        departments=[{**d, "count": counts.get(d["code"], 0)} for d in departments],
        groups=[
            {"code": code, "name": names.get(code, code), "rows": rows}
            for code, rows in groups.items()
        ],
        total=len(items),
        source_labels=SOURCE_LABELS,
        can_edit=_can_edit(request),
        figures=await _answer_figures(request),
        **await _trial(q),
    )
    return aiohttp_jinja2.render_template("guide.html", request, ctx)


def _can_edit(request: web.Request) -> bool:
    user: WebUser = request[USER]
    return WebRole(user.role) in OFFICE_ROLES


# ---------------------------------------------------------------- editing


def _form_from_item(item: ServiceItem | None) -> dict[str, str]:
    if item is None:
        return {**{k: "" for k in TEXT_FIELDS + LIST_FIELDS}, "active": "1"}
    form = {k: str(getattr(item, k) or "") for k in TEXT_FIELDS if k != "department"}
    form["department"] = item.department_code
    for k in LIST_FIELDS:
        form[k] = "\n".join(getattr(item, k) or [])
    form["active"] = "1" if item.active else ""
    return form


def _form_from_post(data: Mapping[str, Any], *, code: str | None = None) -> dict[str, str]:
    form = {k: str(data.get(k, "")).strip() for k in TEXT_FIELDS}
    for k in LIST_FIELDS:
        form[k] = str(data.get(k, "")).replace("\r\n", "\n").strip()
    form["active"] = "1" if data.get("active") else ""
    if code is not None:
        form["code"] = code  # an item's code is not edited (a new code is a new item)
    return form


def _item_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {k: form[k] for k in TEXT_FIELDS}
    for k in LIST_FIELDS:
        item[k] = form[k]  # text with one entry a line: upsert_items splits it
    item["active"] = bool(form["active"])
    return item


async def _edit_page(
    request: web.Request,
    *,
    form: dict[str, str],
    item: ServiceItem | None,
    error: str | None = None,
    status: int = 200,
) -> web.StreamResponse:
    ctx = await _context(
        request,
        form=form,
        item=item,
        is_new=item is None,
        departments=await _departments(),
        source_labels=SOURCE_LABELS,
        updated=(f"{item.updated_at.astimezone(_cfg(request).tz):%Y-%m-%d %H:%M}" if item else ""),
        can_edit=_can_edit(request),
        error=error,
    )
    return aiohttp_jinja2.render_template("guide_edit.html", request, ctx, status=status)


async def _item_or_404(code: str) -> ServiceItem:
    try:
        return await guide.get_item(code=code)
    except NotFound as exc:
        raise web.HTTPNotFound(text=exc.message) from None


async def _save(request: web.Request, form: dict[str, str], *, create: bool) -> str:
    """Save one item (``desk.guide.save_item``: checked, saved and audited); the flash text.

    Raises:
        DeskError: the item was refused (nothing changed).
    """
    item, changed = await guide.save_item(
        editor=editor(request), item=_item_from_form(form), create=create
    )
    if not changed:
        return f"事项 {item.code} 没有变化，未保存。"
    done = "已新增" if create else "已保存"
    return f"{done}事项 {item.code}「{item.name}」，立即用于检索和试答。"


@require(READ_ALL_ROLES)
async def item_edit(request: web.Request) -> web.StreamResponse:
    item = await _item_or_404(request.match_info["code"])
    return await _edit_page(request, form=_form_from_item(item), item=item)


@require(OFFICE_ROLES)
async def item_save(request: web.Request) -> web.StreamResponse:
    item = await _item_or_404(request.match_info["code"])
    form = _form_from_post(await request.post(), code=item.code)
    try:
        text = await _save(request, form, create=False)
    except DeskError as exc:
        return await _edit_page(request, form=form, item=item, error=exc.message, status=400)
    await flash(request, text)
    raise web.HTTPFound(_url(request, "guide_item", code=item.code))


@require(OFFICE_ROLES)
async def item_new(request: web.Request) -> web.StreamResponse:
    form = _form_from_item(None)
    dept = request.query.get("dept", "")
    if dept:
        form["department"] = dept
    return await _edit_page(request, form=form, item=None)


@require(OFFICE_ROLES)
async def item_create(request: web.Request) -> web.StreamResponse:
    form = _form_from_post(await request.post())
    try:
        text = await _save(request, form, create=True)
    except DeskError as exc:
        return await _edit_page(request, form=form, item=None, error=exc.message, status=400)
    await flash(request, text)
    raise web.HTTPFound(_url(request, "guide_item", code=form["code"]))
