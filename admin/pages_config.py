"""Pages of the desk's configuration: routing rules with a test box, SLA policies, the
working-day calendar, and the audit log.

Rules, SLA and calendar are for the hotline office and admins; the audit log for admins only.
Every change goes through :mod:`desk.settings_admin`, which checks the input and records an
audit entry in the same transaction; after a change the running router or calendar of this
process is reloaded at once (other processes poll for it).

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from desk import audit, routing, settings_admin, sla, worktime
from desk.errors import DeskError, InvalidInput
from models.department import Department
from models.sla import SlaPolicy
from models.webuser import WEB_ROLE_LABELS, WebRole

from .security import OFFICE_ROLES, require
from .views import _cfg, _context, _url, editor, flash

ADMIN_ONLY = frozenset({WebRole.ADMIN})
AUDIT_PAGE_SIZE = 50
SOURCE_LABELS = {"default": "默认", "admin": "已修改"}
DAY_SOURCE_LABELS = {"chinese_calendar": "官方", "admin": "管理员设置"}
ACTION_LABELS = {
    "rule.update": "修改分拨规则",
    "sla.create": "新增时限规则",
    "sla.update": "修改时限规则",
    "sla.delete": "删除时限规则",
    "calendar.set": "设置日历",
    "calendar.clear": "撤销日历设置",
    "user.create": "新建账号",
    "user.update": "修改账号",
    "guide.edit": "修改办事指南",
    "broadcast.send": "群发",
    "matching.introduce": "供需撮合",
}
AUDIT_FILTERS = (
    ("", "全部"),
    ("rule.", "分拨规则"),
    ("sla.", "时限"),
    ("calendar.", "工作日历"),
    ("user.", "账号"),
    ("guide.", "办事指南"),
    ("broadcast.", "群发"),
)


def _with_query(url: str, **query: str) -> str:
    query = {k: v for k, v in query.items() if v}
    return f"{url}?{urlencode(query)}" if query else url


def _local(request: web.Request, moment: dt.datetime | None) -> str:
    return f"{moment.astimezone(_cfg(request).tz):%Y-%m-%d %H:%M}" if moment else ""


# ---------------------------------------------------------------- routing rules


async def _trial(request: web.Request, text: str, router: Any = None) -> dict[str, Any]:
    """The test box's answer for ``text``: {"trial": RouteTrial} or {"trial_error": str}."""
    if not text.strip():
        return {}
    try:
        trial = await routing.try_message(router=router or _cfg(request).router, text=text)
    except InvalidInput as exc:
        return {"trial_error": exc.message}
    return {"trial": trial}


async def _reload_router(request: web.Request) -> None:
    router = _cfg(request).router
    if isinstance(router, routing.RouterHolder):
        await router.reload()


# A test message rides along in links (``?q=``) while it is short; a longer one would make
# the URL too long for the server (and is too big for the session cookie), so it is posted.
SHORT_Q = 300


def _q_link(url: str, q: str) -> str:
    return _with_query(url, q=q) if len(q) <= SHORT_Q else url


@require(OFFICE_ROLES)
async def rules_list(request: web.Request) -> web.StreamResponse:
    """The departments' rules and the test box (``?q=`` a message, or posted as ``q``)."""
    q = request.query.get("q", "")
    if request.method == "POST":
        q = str((await request.post()).get("q", ""))
    ctx = await _context(
        request,
        rules=await routing.rule_summaries(),
        settings=await routing.global_settings(),
        source_labels=SOURCE_LABELS,
        local=lambda m: _local(request, m),
        q=q,
        edit_url=lambda code: _q_link(_url(request, "rule_edit", code=code), q),
        **await _trial(request, q),
    )
    return aiohttp_jinja2.render_template("rules.html", request, ctx)


async def _rule_page(
    request: web.Request,
    rule: Any,
    *,
    texts: dict[str, str],
    q: str,
    error: str | None = None,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    ctx = await _context(
        request,
        rule=rule,
        name=str(rule.spec.get("name") or rule.code),
        texts=texts,
        sections=routing.SECTIONS,
        labels=routing.SECTION_LABELS,
        source_labels=SOURCE_LABELS,
        updated=_local(request, rule.updated_at),
        error=error,
        q=q,
        **(extra or {}),
    )
    return aiohttp_jinja2.render_template("rules_edit.html", request, ctx, status=status)


@require(OFFICE_ROLES)
async def rule_edit(request: web.Request) -> web.StreamResponse:
    """One department's rule in four editing boxes, with the test box on the live router."""
    try:
        rule = await routing.department_rule(code=request.match_info["code"])
    except DeskError as exc:
        raise web.HTTPNotFound(text=exc.message) from None
    q = request.query.get("q", "")
    return await _rule_page(
        request, rule, texts=routing.spec_to_text(rule.spec), q=q, extra=await _trial(request, q)
    )


@require(OFFICE_ROLES)
async def rule_save(request: web.Request) -> web.StreamResponse:
    """Save the edited rule (``action=save``), or preview it on the test message without
    saving (``action=preview``)."""
    code = request.match_info["code"]
    try:
        rule = await routing.department_rule(code=code)
    except DeskError as exc:
        raise web.HTTPNotFound(text=exc.message) from None
    form = await request.post()
    texts = {s: str(form.get(s, "")) for s in routing.SECTIONS}
    q = str(form.get("q", ""))
    if form.get("action") == "preview":
        try:
            spec = routing.spec_from_text(base=rule.spec, texts=texts)
        except InvalidInput as exc:
            return await _rule_page(request, rule, texts=texts, q=q, error=exc.message, status=400)
        extra = await _trial(request, q)
        if q.strip():
            edited = await routing.router_with_rule(
                current=_cfg(request).router, code=code, spec=spec
            )
            preview = await _trial(request, q, edited)
            extra["preview"] = preview.get("trial")
        else:
            extra["trial_error"] = "请在“试算”框中输入一条留言，再按编辑中的规则试算。"
        return await _rule_page(request, rule, texts=texts, q=q, extra=extra)
    try:
        diff = await settings_admin.save_rule(editor=editor(request), code=code, texts=texts)
    except InvalidInput as exc:
        return await _rule_page(request, rule, texts=texts, q=q, error=exc.message, status=400)
    if diff:
        await _reload_router(request)
        counts = [
            f"{routing.SECTION_LABELS[s]}："
            + "、".join(
                f"{label}{len(part[key])}"
                for key, label in (("added", "新增"), ("removed", "删除"), ("changed", "修改"))
                if key in part
            )
            for s, part in diff.items()
        ]
        text = f"已保存 {code} 的分拨规则，立即生效（{'；'.join(counts)}）。"
    else:
        text = "规则没有变化，未保存。"
    if len(q) > SHORT_Q:
        # Too long to ride along in the redirect: answer with the page itself (saving the
        # same text again, should the browser repeat the post, changes nothing).
        rule = await routing.department_rule(code=code)
        extra = {"flash": {"ok": True, "text": text}, **await _trial(request, q)}
        return await _rule_page(
            request, rule, texts=routing.spec_to_text(rule.spec), q=q, extra=extra
        )
    await flash(request, text)
    raise web.HTTPFound(_q_link(_url(request, "rule_edit", code=code), q))


# ---------------------------------------------------------------- SLA policies


async def _departments() -> list[dict[str, str]]:
    return [
        {"code": code, "name": short}
        for code, short in await Department.filter(active=True).values_list("code", "short")
    ]


def _resolve_text(row: SlaPolicy) -> str:
    parts = [f"{row.resolve_days} 个工作日"] if row.resolve_days else []
    if row.resolve_hours or not parts:
        parts.append(f"{row.resolve_hours:g} 个工作小时")
    return " + ".join(parts)


def _policy_form(row: SlaPolicy | None) -> dict[str, str]:
    if row is None:
        return {
            "type": "咨询",
            "urgent": "0",
            "department_code": "",
            "respond_hours": "4",
            "respond_clock": "0",
            "resolve_days": "2",
            "resolve_hours": "0",
        }
    return {
        "type": row.type,
        "urgent": "1" if row.urgent else "0",
        "department_code": row.department_code or "",
        "respond_hours": f"{row.respond_hours:g}",
        "respond_clock": "1" if row.respond_clock else "0",
        "resolve_days": str(row.resolve_days),
        "resolve_hours": f"{row.resolve_hours:g}",
    }


async def _sla_page(
    request: web.Request,
    *,
    template: str,
    form: dict[str, str],
    error: str | None = None,
    status: int = 200,
    policy: SlaPolicy | None = None,
) -> web.StreamResponse:
    departments = await _departments()
    names = {d["code"]: d["name"] for d in departments}
    rows = [
        {
            "id": row.id,
            "scope": (
                f"{names.get(row.department_code, row.department_code)}（{row.department_code}）"
                if row.department_code
                else "通用"
            ),
            "override": row.department_code is not None,
            "type": "全部类型" if row.type == sla.ANY_TYPE else row.type,
            "urgent": row.urgent,
            "respond": f"{row.respond_hours:g} {'自然小时' if row.respond_clock else '工作小时'}",
            "resolve": _resolve_text(row),
            "describe": sla.describe_row(row),
            "updated": _local(request, row.updated_at),
        }
        for row in await sla.list_policies()
    ]
    ctx = await _context(
        request,
        rows=rows,
        departments=departments,
        types=[(t, "全部类型" if t == sla.ANY_TYPE else t) for t in sla.POLICY_TYPES],
        form=form,
        error=error,
        policy=policy,
    )
    return aiohttp_jinja2.render_template(template, request, ctx, status=status)


def _parse_policy(form: Any) -> sla.PolicyInput:
    return sla.parse_policy(
        type=str(form.get("type", "")),
        urgent=form.get("urgent") == "1",
        department_code=str(form.get("department_code", "")),
        respond_hours=str(form.get("respond_hours", "")),
        respond_clock=form.get("respond_clock") == "1",
        resolve_days=str(form.get("resolve_days", "")),
        resolve_hours=str(form.get("resolve_hours", "")),
    )


def _form_values(form: Any) -> dict[str, str]:
    keys = _policy_form(None).keys()
    return {k: str(form.get(k, ""))[:64] for k in keys}


def _policy_id(request: web.Request) -> int:
    try:
        return int(request.match_info["policy_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@require(OFFICE_ROLES)
async def sla_list(request: web.Request) -> web.StreamResponse:
    """The SLA policies (general rows and departments' overrides) and the form to add one."""
    return await _sla_page(request, template="sla.html", form=_policy_form(None))


@require(OFFICE_ROLES)
async def sla_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        policy = _parse_policy(form)
        row = await settings_admin.create_policy(editor=editor(request), policy=policy)
    except InvalidInput as exc:
        return await _sla_page(
            request, template="sla.html", form=_form_values(form), error=exc.message, status=400
        )
    await flash(request, f"已新增时限规则 #{row.id}。")
    raise web.HTTPFound(_url(request, "sla"))


@require(OFFICE_ROLES)
async def sla_edit(request: web.Request) -> web.StreamResponse:
    row = await SlaPolicy.get_or_none(id=_policy_id(request))
    if row is None:
        raise web.HTTPNotFound(text="该时限规则不存在。")
    return await _sla_page(request, template="sla_edit.html", form=_policy_form(row), policy=row)


@require(OFFICE_ROLES)
async def sla_update(request: web.Request) -> web.StreamResponse:
    policy_id = _policy_id(request)
    row = await SlaPolicy.get_or_none(id=policy_id)
    if row is None:
        raise web.HTTPNotFound(text="该时限规则不存在。")
    form = await request.post()
    try:
        policy = _parse_policy(form)
        await settings_admin.update_policy(
            editor=editor(request), policy_id=policy_id, policy=policy
        )
    except InvalidInput as exc:
        return await _sla_page(
            request,
            template="sla_edit.html",
            form=_form_values(form),
            error=exc.message,
            status=400,
            policy=row,
        )
    except DeskError as exc:
        raise web.HTTPNotFound(text=exc.message) from None
    await flash(request, f"已保存时限规则 #{policy_id}。")
    raise web.HTTPFound(_url(request, "sla"))


@require(OFFICE_ROLES)
async def sla_delete(request: web.Request) -> web.StreamResponse:
    policy_id = _policy_id(request)
    try:
        await settings_admin.delete_policy(editor=editor(request), policy_id=policy_id)
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
    else:
        await flash(request, f"已删除时限规则 #{policy_id}。")
    raise web.HTTPFound(_url(request, "sla"))


# ---------------------------------------------------------------- working-day calendar


def _month_of(request: web.Request, text: str) -> tuple[int, int, str | None]:
    today = _cfg(request).now().astimezone(_cfg(request).tz).date()
    if not text:
        return today.year, today.month, None
    try:
        year, month = worktime.parse_month(text)
    except ValueError:
        return today.year, today.month, f"月份“{text[:20]}”无效，应为 年-月，如 2026-10。"
    if not settings_admin.FIRST_YEAR <= year <= settings_admin.LAST_YEAR:
        return today.year, today.month, "月份超出范围（2000–2100 年）。"
    return year, month, None


def _shift_month(year: int, month: int, delta: int) -> str:
    index = year * 12 + month - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def _calendar_page(
    request: web.Request,
    *,
    month_text: str,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    year, month, month_error = _month_of(request, month_text)
    cfg = _cfg(request)
    view = await worktime.load_month(cfg.calendar, year=year, month=month)
    overrides = [c for c in view.cells if c.source == "admin"]
    default_day = dt.date(year, month, 1).isoformat()
    ctx = await _context(
        request,
        view=view,
        month=f"{year:04d}-{month:02d}",
        title=f"{year}年{month}月",
        prev_month=_shift_month(year, month, -1),
        next_month=_shift_month(year, month, 1),
        weekdays="一二三四五六日",
        overrides=overrides,
        source_labels=DAY_SOURCE_LABELS,
        office=cfg.calendar.office.describe(),
        error=error or month_error,
        form=form or {"day": default_day, "workday": "0", "name": ""},
    )
    return aiohttp_jinja2.render_template("calendar.html", request, ctx, status=status)


async def _reload_calendar(request: web.Request) -> None:
    cfg = _cfg(request)
    cfg.calendar = await worktime.load_calendar(office=cfg.calendar.office)


@require(OFFICE_ROLES)
async def calendar_page(request: web.Request) -> web.StreamResponse:
    """A month of the working calendar (``?month=YYYY-MM``) and the form to override a day."""
    return await _calendar_page(request, month_text=request.query.get("month", ""))


@require(OFFICE_ROLES)
async def calendar_set(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {
        "day": str(form.get("day", ""))[:32],
        "workday": "1" if form.get("workday") == "1" else "0",
        "name": str(form.get("name", ""))[:200],
    }
    try:
        if form.get("workday") not in ("0", "1"):
            raise InvalidInput("请选择“上班”或“休息”。")
        day = settings_admin.parse_day(values["day"])
        await settings_admin.set_calendar_day(
            editor=editor(request), day=day, workday=values["workday"] == "1", name=values["name"]
        )
    except InvalidInput as exc:
        return await _calendar_page(
            request,
            month_text=str(form.get("month", "")),
            error=exc.message,
            form=values,
            status=400,
        )
    await _reload_calendar(request)
    what = "上班" if values["workday"] == "1" else "休息"
    await flash(
        request,
        f"已将 {day.isoformat()} 设为{what}"
        + (f"（{values['name'].strip()}）" if values["name"].strip() else "")
        + "，立即生效。",
    )
    raise web.HTTPFound(_with_query(_url(request, "calendar"), month=f"{day:%Y-%m}"))


@require(OFFICE_ROLES)
async def calendar_clear(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    month = str(form.get("month", ""))
    try:
        day = settings_admin.parse_day(str(form.get("day", "")))
        await settings_admin.clear_calendar_day(editor=editor(request), day=day)
    except DeskError as exc:
        await flash(request, exc.message, ok=False)
        raise web.HTTPFound(_with_query(_url(request, "calendar"), month=month)) from None
    await _reload_calendar(request)
    await flash(request, f"已撤销 {day.isoformat()} 的管理员设置，恢复官方安排。")
    raise web.HTTPFound(_with_query(_url(request, "calendar"), month=f"{day:%Y-%m}"))


# ---------------------------------------------------------------- audit log


def _role_label(role: str) -> str:
    try:
        return WEB_ROLE_LABELS[WebRole(role)]
    except (ValueError, KeyError):
        return role


@require(ADMIN_ONLY)
async def audit_page(request: web.Request) -> web.StreamResponse:
    """The audit log, newest first, ``?action=`` a prefix, ``?page=`` from 1."""
    prefix = request.query.get("action", "").strip()[:64]
    try:
        page = max(1, min(int(request.query.get("page", "1")), 100_000))
    except ValueError:
        page = 1
    found = await audit.recent(
        limit=AUDIT_PAGE_SIZE + 1,
        offset=(page - 1) * AUDIT_PAGE_SIZE,
        action_prefix=prefix or None,
    )
    entries = [
        {
            "id": e.id,
            "at": _local(request, e.at),
            "actor": e.actor,
            "role": _role_label(e.role),
            "ip": e.ip,
            "action": e.action,
            "action_label": ACTION_LABELS.get(e.action, ""),
            "target": e.target,
            "data": json.dumps(e.data, ensure_ascii=False, indent=1, sort_keys=True)
            if e.data
            else "",
        }
        for e in found[:AUDIT_PAGE_SIZE]
    ]
    base = _url(request, "audit")
    ctx = await _context(
        request,
        entries=entries,
        prefix=prefix,
        filters=AUDIT_FILTERS,
        page=page,
        filter_url=lambda p: _with_query(base, action=p),
        prev_url=_with_query(base, action=prefix, page=str(page - 1)) if page > 1 else None,
        next_url=(
            _with_query(base, action=prefix, page=str(page + 1))
            if len(found) > AUDIT_PAGE_SIZE
            else None
        ),
    )
    return aiohttp_jinja2.render_template("audit.html", request, ctx)


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
    app.router.add_get("/rules", rules_list, name="rules")
    app.router.add_post("/rules", rules_list)
    app.router.add_get(r"/rules/{code:[A-Za-z][A-Za-z0-9_]{0,31}}", rule_edit, name="rule_edit")
    app.router.add_post(r"/rules/{code:[A-Za-z][A-Za-z0-9_]{0,31}}", rule_save)
    app.router.add_get("/sla", sla_list, name="sla")
    app.router.add_post("/sla/new", sla_create, name="sla_create")
    app.router.add_get(r"/sla/{policy_id:\d+}", sla_edit, name="sla_edit")
    app.router.add_post(r"/sla/{policy_id:\d+}", sla_update)
    app.router.add_post(r"/sla/{policy_id:\d+}/delete", sla_delete, name="sla_delete")
    app.router.add_get("/calendar", calendar_page, name="calendar")
    app.router.add_post("/calendar/set", calendar_set, name="calendar_set")
    app.router.add_post("/calendar/clear", calendar_clear, name="calendar_clear")
    app.router.add_get("/audit", audit_page, name="audit")
