"""Pages of the ticket workbench: list, search, detail and actions, operator intake, exports.

Every handler is wrapped by ``require``; what a ticket page shows and accepts is checked again
per ticket by ``desk.workbench`` (staff: their own department only). ``desk`` errors become
HTTP 403 (``NotAllowed``), 404 (``NotFound``), or a flash message on the page the user came
from (anything else: nothing was changed).

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
from aiohttp import web

from desk import keyaccounts, search, workbench
from desk.errors import DeskError, InvalidInput, NotAllowed, NotFound
from desk.notify import fmt_deadline
from desk.search import QUERY_KEYS, TicketFilter
from desk.validators import mask_name, mask_phone
from desk.workbench import INTAKE_CHANNELS
from desk.workflow import STATUS_LABELS
from models.department import Department
from models.enterprise import Member
from models.webuser import WebRole
from nlp import REQUEST_TYPES

from .security import ALL_ROLES, OFFICE_ROLES, require
from .views import _cfg, _context, _url, flash, request_viewer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACTIONS = ("claim", "reply", "transfer", "return", "resolve", "wait", "extend")


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/tickets", tickets_list, name="tickets")
    app.router.add_get("/tickets/export", tickets_export, name="tickets_export")
    app.router.add_get(r"/tickets/{ticket_id:\d+}", ticket_page, name="ticket")
    app.router.add_post(
        r"/tickets/{ticket_id:\d+}/{action:[a-z]+}", ticket_action, name="ticket_action"
    )
    app.router.add_post(
        r"/extensions/{request_id:\d+}/decide", extension_decide, name="extension_decide"
    )
    app.router.add_get("/intake", intake_page, name="intake")
    app.router.add_post("/intake", intake_submit)


def _http_error(exc: DeskError) -> web.HTTPException | None:
    """The HTTP answer for errors that are not a flash message."""
    if isinstance(exc, NotAllowed):
        return web.HTTPForbidden(text=exc.message)
    if isinstance(exc, NotFound):
        return web.HTTPNotFound(text=exc.message)
    return None


def _local(value: dt.datetime | None, tz: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(tz).strftime(fmt) if value else "—"


async def _departments() -> list[Department]:
    return list(await Department.filter(active=True))


# ---------------------------------------------------------------- the list


@require(ALL_ROLES)
async def tickets_list(request: web.Request) -> web.StreamResponse:
    cfg = _cfg(request)
    viewer = request_viewer(request)
    now = cfg.now()
    error = None
    flt = TicketFilter()
    found = search.TicketPage(rows=[], total=0, page=1, per_page=search.PER_PAGE)
    try:
        flt = TicketFilter.from_query(request.query)
        page, per_page = search.parse_page(request.query)
        found = await search.find_tickets(
            filter=flt, viewer=viewer, now=now, tz=cfg.tz, page=page, per_page=per_page
        )
    except DeskError as exc:
        if (answer := _http_error(exc)) is not None:
            raise answer from None
        error = exc.message
    query = flt.to_query()
    base = _url(request, "tickets")

    def page_href(n: int) -> str:
        return base + "?" + urlencode({**query, "page": str(n), "per_page": str(found.per_page)})

    flags = await keyaccounts.flags_for([t.enterprise_id for t in found.rows])
    rows = [
        {
            "id": t.id,
            "ref": t.ref,
            "key": flags.get(t.enterprise_id, ""),
            "created": _local(t.created_at, cfg.tz, "%m-%d %H:%M"),
            "department": t.department.short if t.department else "待分拨",
            "type": t.type,
            "urgent": t.urgent,
            "status": t.status.value,
            "status_label": STATUS_LABELS[t.status],
            "enterprise": t.enterprise.name,
            "text": t.text if len(t.text) <= 60 else t.text[:60] + "…",
            "claimant": t.claimed_by_name or "",
            "due": _local(t.due_at, cfg.tz, "%m-%d %H:%M"),
            "overdue": search.is_overdue(t, now=now),
        }
        for t in found.rows
    ]
    staff = not viewer.reads_all
    ctx = await _context(
        request,
        rows=rows,
        total=found.total,
        page=found.page,
        pages=found.pages,
        per_page=found.per_page,
        per_page_choices=search.PER_PAGE_CHOICES,
        prev_href=page_href(found.page - 1) if found.page > 1 else None,
        next_href=page_href(found.page + 1) if found.page < found.pages else None,
        export_href=_url(request, "tickets_export") + ("?" + urlencode(query) if query else ""),
        error=error,
        f=_filter_form(flt, request.query if error else None),
        states=search.STATE_CHOICES,
        departments=[] if staff else [(d.code, d.short) for d in await _departments()],
        types=REQUEST_TYPES,
        urgencies=search.URGENCY_CHOICES,
        scope=viewer.department_code if staff else "",
    )
    return aiohttp_jinja2.render_template(
        "tickets.html", request, ctx, status=400 if error else 200
    )


def _filter_form(flt: TicketFilter, raw: Any) -> dict[str, str]:
    """The form's values: the parsed filter, or what was typed when it did not parse."""
    values = flt.to_query() if raw is None else {k: str(raw.get(k, "")) for k in QUERY_KEYS}
    return {k: values.get(k, "") for k in QUERY_KEYS}


@require(ALL_ROLES)
async def tickets_export(request: web.Request) -> web.StreamResponse:
    """The filtered list (all its pages) as an xlsx download."""
    cfg = _cfg(request)
    try:
        flt = TicketFilter.from_query(request.query)
        rows = await search.export_rows(
            filter=flt, viewer=request_viewer(request), now=cfg.now(), tz=cfg.tz
        )
    except DeskError as exc:
        if (answer := _http_error(exc)) is not None:
            raise answer from None
        await flash(request, exc.message, ok=False)
        raise web.HTTPFound(_url(request, "tickets") + "?" + urlencode(request.query)) from None
    body = await search.export_workbook(rows=rows, tz=cfg.tz)
    name = f"工单导出-{cfg.now().astimezone(cfg.tz):%Y%m%d-%H%M}.xlsx"
    ascii_name = f"tickets-{cfg.now().astimezone(cfg.tz):%Y%m%d-%H%M}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------- one ticket


def _ticket_id(request: web.Request, key: str = "ticket_id") -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise web.HTTPNotFound() from None


@require(ALL_ROLES)
async def ticket_page(request: web.Request) -> web.StreamResponse:
    cfg = _cfg(request)
    viewer = request_viewer(request)
    now = cfg.now()
    try:
        ticket = await workbench.visible_ticket(viewer=viewer, ticket_id=_ticket_id(request))
    except DeskError as exc:
        raise _http_error(exc) or web.HTTPBadRequest(text=exc.message) from None
    member = ticket.member
    assert isinstance(member, Member)
    whole = WebRole(viewer.role) in OFFICE_ROLES  # the hotline office sees personal data
    dept = ticket.department
    entries = await search.timeline(ticket=ticket)
    actions = search.ticket_actions(ticket=ticket, viewer=viewer)
    decide = search.may_decide_extensions(viewer)
    pending = [
        {
            "id": r.id,
            "who": r.requested_by_name,
            "reason": r.reason,
            "new_due": fmt_deadline(r.new_due_at, cfg.tz),
            "asked": _local(r.created_at, cfg.tz),
        }
        for r in await search.pending_extensions(ticket=ticket)
    ]
    ctx = await _context(
        request,
        t={
            "id": ticket.id,
            "ref": ticket.ref,
            "status": ticket.status.value,
            "status_label": STATUS_LABELS[ticket.status],
            "department": dept.short if isinstance(dept, Department) else "待分拨",
            "department_code": dept.code if isinstance(dept, Department) else "",
            "type": ticket.type,
            "urgent": ticket.urgent,
            "level": ticket.escalation_level,
            "channel": search.CHANNEL_LABELS.get(ticket.channel, ticket.channel),
            "enterprise": ticket.enterprise.name,
            "key": keyaccounts.flag(await keyaccounts.for_enterprise(ticket.enterprise_id)),
            "credit_code": ticket.enterprise.credit_code or "",
            "contact": member.contact_name if whole else mask_name(member.contact_name),
            "phone": member.phone if whole else mask_phone(member.phone),
            "telegram": member.chat_id is not None,
            "text": ticket.text,
            "created": _local(ticket.created_at, cfg.tz),
            "respond_by": fmt_deadline(ticket.response_due_at, cfg.tz),
            "due": fmt_deadline(ticket.due_at, cfg.tz)
            + ("（估算）" if ticket.due_estimated else ""),
            "overdue": search.is_overdue(ticket, now=now),
            "claimant": ticket.claimed_by_name or "",
            "claimed": _local(ticket.claimed_at, cfg.tz),
            "result": ticket.result or "",
            "resolved": _local(ticket.resolved_at, cfg.tz),
            "reopen_count": ticket.reopen_count,
        },
        timeline=[
            {
                "at": _local(e.at, cfg.tz, "%Y-%m-%d %H:%M:%S"),
                "kind": e.kind,
                "title": e.title,
                "actor": e.actor,
                "note": e.note,
                "from": e.from_label,
                "to": e.to_label,
                "direction": e.direction,
                "attachment": e.attachment,
            }
            for e in entries
        ],
        actions=actions,
        pending=pending,
        may_decide=decide,
        transfer_to=[
            (d.code, d.short)
            for d in await _departments()
            if not isinstance(dept, Department) or d.code != dept.code
        ],
        min_day=f"{now.astimezone(cfg.tz).date() + dt.timedelta(days=1):%Y-%m-%d}",
    )
    return aiohttp_jinja2.render_template("ticket.html", request, ctx)


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("请选择延期后的截止日期（格式 2026-12-15）。") from None


@require(ALL_ROLES)
async def ticket_action(request: web.Request) -> web.StreamResponse:
    """One action of the detail page's forms; the result is a flash message on that page."""
    cfg = _cfg(request)
    viewer = request_viewer(request)
    ticket_id = _ticket_id(request)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound(text="没有这个操作。")
    form = await request.post()

    def field(name: str) -> str:
        value = form.get(name, "")
        return value if isinstance(value, str) else ""

    try:
        # A foreign ticket is 403 whatever the form holds (the action checks it again).
        await workbench.visible_ticket(viewer=viewer, ticket_id=ticket_id)
        if action == "claim":
            answer = await workbench.claim(cfg, viewer=viewer, ticket_id=ticket_id)
        elif action == "reply":
            answer = await workbench.reply(
                cfg, viewer=viewer, ticket_id=ticket_id, text=field("text")
            )
        elif action == "transfer":
            answer = await workbench.transfer(
                cfg, viewer=viewer, ticket_id=ticket_id, code=field("code")
            )
        elif action == "return":
            answer = await workbench.return_to_triage(
                cfg, viewer=viewer, ticket_id=ticket_id, reason=field("reason")
            )
        elif action == "resolve":
            answer = await workbench.resolve(
                cfg, viewer=viewer, ticket_id=ticket_id, result=field("result")
            )
        elif action == "wait":
            answer = await workbench.ask_enterprise(
                cfg, viewer=viewer, ticket_id=ticket_id, need=field("need")
            )
        else:
            answer = await workbench.request_extension(
                cfg,
                viewer=viewer,
                ticket_id=ticket_id,
                day=_day(field("day")),
                reason=field("reason"),
            )
        await flash(request, answer)
    except DeskError as exc:
        if (http := _http_error(exc)) is not None:
            raise http from None
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(_url(request, "ticket", ticket_id=str(ticket_id)))


@require(ALL_ROLES)
async def extension_decide(request: web.Request) -> web.StreamResponse:
    """批准 / 驳回 an extension request (managers, the office, admins; checked in desk)."""
    cfg = _cfg(request)
    viewer = request_viewer(request)
    request_id = _ticket_id(request, "request_id")
    form = await request.post()
    approve = form.get("approve")
    if approve not in ("1", "0"):
        raise web.HTTPBadRequest(text="请选择批准或驳回。")
    ticket_id = form.get("ticket_id")
    back = (
        _url(request, "ticket", ticket_id=ticket_id)
        if isinstance(ticket_id, str) and ticket_id.isdigit()
        else _url(request, "tickets")
    )
    try:
        answer = await workbench.decide_extension(
            cfg, viewer=viewer, request_id=request_id, approve=approve == "1"
        )
        await flash(request, answer)
    except DeskError as exc:
        if (http := _http_error(exc)) is not None:
            raise http from None
        await flash(request, exc.message, ok=False)
    raise web.HTTPFound(back)


# ---------------------------------------------------------------- operator intake

INTAKE_FIELDS = ("enterprise_name", "credit_code", "contact_name", "phone", "channel", "text")


async def _intake_form(
    request: web.Request, values: dict[str, str], error: str | None, status: int = 200
) -> web.StreamResponse:
    ctx = await _context(request, v=values, error=error, channels=INTAKE_CHANNELS)
    return aiohttp_jinja2.render_template("intake.html", request, ctx, status=status)


@require(OFFICE_ROLES)
async def intake_page(request: web.Request) -> web.StreamResponse:
    return await _intake_form(request, dict.fromkeys(INTAKE_FIELDS, ""), None)


@require(OFFICE_ROLES)
async def intake_submit(request: web.Request) -> web.StreamResponse:
    """代企业登记: a request taken by phone, visit, grid round or letter becomes a ticket."""
    form = await request.post()
    values = {k: v if isinstance(v := form.get(k, ""), str) else "" for k in INTAKE_FIELDS}
    try:
        ticket = await workbench.open_for_enterprise(
            _cfg(request),
            viewer=request_viewer(request),
            enterprise_name=values["enterprise_name"],
            credit_code=values["credit_code"],
            contact_name=values["contact_name"],
            phone=values["phone"],
            text=values["text"],
            channel=values["channel"],
        )
    except DeskError as exc:
        if (http := _http_error(exc)) is not None:
            raise http from None
        return await _intake_form(request, values, exc.message, status=400)
    dept = ticket.department  # loaded by the desk with the new ticket
    where = (
        f"已分派至{dept.short}"
        if isinstance(dept, Department)
        else "进入待分拨队列，由热线办人工分拨"
    )
    await flash(request, f"已登记工单 {ticket.ref}，{where}。")
    raise web.HTTPFound(_url(request, "ticket", ticket_id=str(ticket.id)))
