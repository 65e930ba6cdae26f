"""The directory: enterprises and their contacts, departments, admin-web accounts, Telegram roles.

Reads return plain rows for the admin web's pages, each list in a fixed number of queries (one
per kind of thing shown, never one per row). Changes are keyword-only services that validate
everything first (bad input raises ``InvalidInput`` and changes nothing) and then, in one
transaction, make the change and record it in the audit log (``desk.audit``). Passwords never
reach the log; hashing is injected (``hash_password``) so the argon2 policy stays with the web.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Count

from models.department import Department, GroupBinding
from models.enterprise import Enterprise, Member
from models.sla import SlaPolicy
from models.staff import ROLE_LABELS, Role, RoleGrant
from models.ticket import OPEN_STATUSES, Ticket, TicketStatus
from models.webuser import WEB_ROLE_LABELS, LoginFailure, WebRole, WebUser

from . import audit, liaison
from .audit import Editor
from .db import atomic
from .errors import Conflict, InvalidInput, NotAllowed, NotFound
from .validators import mask_name, mask_phone, strip_controls
from .workflow import STATUS_LABELS

PAGE_SIZE = 50
HISTORY_MAX = 200
MIN_PASSWORD = 10  # accounts made on the web; ``desk user add`` keeps its own minimum
MAX_PASSWORD = 256
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{2,64}")
TG_ID_MAX = 2**53  # Telegram user ids fit in 52 bits
_OPEN = [s.value for s in OPEN_STATUSES]


# ---------------------------------------------------------------- enterprises


@dataclass(frozen=True)
class EnterpriseRow:
    id: int
    name: str
    credit_code: str
    contacts: int
    linked: int
    tickets: int
    open: int
    created_at: dt.datetime


@dataclass(frozen=True)
class EnterprisePage:
    rows: list[EnterpriseRow]
    total: int
    page: int
    pages: int
    query: str


def _search_text(raw: str | None) -> str:
    return " ".join(strip_controls(raw or "").split())[:64]


async def list_enterprises(*, query: str | None = None, page: int = 1) -> EnterprisePage:
    """Enterprises, newest first, matching ``query`` in the name or the credit code.

    Four queries whatever the page size: the count, the page, ticket and contact counts.
    """
    text = _search_text(query)
    base = Enterprise.all()
    if text:
        base = base.filter(Q(name__icontains=text) | Q(credit_code__icontains=text.upper()))
    total = await base.count()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    ents = await base.order_by("-id").offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ids = [e.id for e in ents]
    tickets: dict[int, dict[str, int]] = {}
    contacts: dict[int, dict[str, int]] = {}
    if ids:
        for row in (
            await Ticket.filter(enterprise_id__in=ids)
            .annotate(n=Count("id"), open=Count("id", _filter=Q(status__in=_OPEN)))
            .group_by("enterprise_id")
            .values("enterprise_id", "n", "open")
        ):
            tickets[row["enterprise_id"]] = row
        for row in (
            await Member.filter(enterprise_id__in=ids)
            .annotate(n=Count("id"), linked=Count("id", _filter=Q(tg_user_id__isnull=False)))
            .group_by("enterprise_id")
            .values("enterprise_id", "n", "linked")
        ):
            contacts[row["enterprise_id"]] = row
    rows = [
        EnterpriseRow(
            id=e.id,
            name=e.name,
            credit_code=e.credit_code or "",
            contacts=int(contacts.get(e.id, {}).get("n", 0)),
            linked=int(contacts.get(e.id, {}).get("linked", 0)),
            tickets=int(tickets.get(e.id, {}).get("n", 0)),
            open=int(tickets.get(e.id, {}).get("open", 0)),
            created_at=e.created_at,
        )
        for e in ents
    ]
    return EnterprisePage(rows=rows, total=total, page=page, pages=pages, query=text)


@dataclass(frozen=True)
class ContactRow:
    name: str
    phone: str
    linked: bool  # reachable on Telegram (a linked Telegram user)
    tg_user_id: int | None
    tickets: int
    created_at: dt.datetime


@dataclass(frozen=True)
class HistoryRow:
    id: int
    ref: str
    status: str
    status_label: str
    department: str
    created_at: dt.datetime
    solved: bool | None
    satisfaction: str


@dataclass(frozen=True)
class EnterpriseProfile:
    id: int
    name: str
    credit_code: str
    created_at: dt.datetime
    contacts: list[ContactRow]
    history: list[HistoryRow]
    tickets: int  # all of them (the history shows the newest ``HISTORY_MAX``)
    open: int


async def enterprise_profile(*, enterprise_id: int, reveal_personal: bool) -> EnterpriseProfile:
    """One enterprise: its contacts and its ticket history, newest first.

    Args:
        enterprise_id: the enterprise.
        reveal_personal: show names and phones whole (the hotline office); masked otherwise.

    Raises:
        NotFound: no such enterprise.
    """
    ent = await Enterprise.get_or_none(id=enterprise_id)
    if ent is None:
        raise NotFound("找不到该企业。")
    members = await Member.filter(enterprise_id=ent.id).order_by("id")
    per_member = {
        row["member_id"]: int(row["n"])
        for row in await Ticket.filter(enterprise_id=ent.id)
        .annotate(n=Count("id"))
        .group_by("member_id")
        .values("member_id", "n")
    }
    contacts = [
        ContactRow(
            name=m.contact_name if reveal_personal else mask_name(m.contact_name),
            phone=m.phone if reveal_personal else mask_phone(m.phone),
            linked=m.tg_user_id is not None,
            tg_user_id=m.tg_user_id if reveal_personal else None,
            tickets=per_member.get(m.id, 0),
            created_at=m.created_at,
        )
        for m in members
    ]
    query = Ticket.filter(enterprise_id=ent.id)
    total = await query.count()
    open_now = await query.filter(status__in=_OPEN).count()
    history = [
        HistoryRow(
            id=t.id,
            ref=t.ref,
            status=t.status.value,
            status_label=STATUS_LABELS[TicketStatus(t.status)],
            department=t.department.short if t.department else "待分拨",
            created_at=t.created_at,
            solved=t.rating_solved,
            satisfaction=t.rating_satisfaction or "",
        )
        for t in await Ticket.filter(enterprise_id=ent.id)
        .order_by("-created_at", "-id")
        .limit(HISTORY_MAX)
        .prefetch_related("department")
    ]
    return EnterpriseProfile(
        id=ent.id,
        name=ent.name,
        credit_code=ent.credit_code or "",
        created_at=ent.created_at,
        contacts=contacts,
        history=history,
        tickets=total,
        open=open_now,
    )


# ---------------------------------------------------------------- departments


@dataclass(frozen=True)
class AccountRow:
    id: int
    username: str
    role: str
    role_label: str
    department_code: str
    active: bool
    last_login: dt.datetime | None
    created_at: dt.datetime


def _account(u: WebUser) -> AccountRow:
    try:
        label = WEB_ROLE_LABELS[WebRole(u.role)]
    except ValueError:
        label = u.role
    return AccountRow(
        id=u.id,
        username=u.username,
        role=u.role,
        role_label=label,
        department_code=u.department_code or "",
        active=u.active,
        last_login=u.last_login,
        created_at=u.created_at,
    )


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str
    short: str
    active: bool
    group_title: str  # the bound Telegram group, "" when none
    group_chat_id: int | None
    leader_user_id: int | None
    leader_name: str
    open: int
    overdue: int
    staff: list[AccountRow] = field(default_factory=list)


@dataclass(frozen=True)
class SlaRow:
    type: str
    urgent: bool
    respond_hours: float
    respond_clock: bool
    resolve_days: int
    resolve_hours: float


@dataclass(frozen=True)
class DepartmentDetail:
    row: DepartmentRow
    scope: str
    sla: list[SlaRow]


async def _department_rows(depts: list[Department], *, now: dt.datetime) -> list[DepartmentRow]:
    """Rows for these departments in four queries (groups, counts, accounts, leader names)."""
    codes = [d.code for d in depts]
    ids = [d.id for d in depts]
    groups = {b.code: b for b in await GroupBinding.filter(code__in=codes)} if codes else {}
    counts: dict[int, dict[str, Any]] = {}
    staff: dict[str, list[AccountRow]] = {}
    if ids:
        counts = {
            row["department_id"]: row
            for row in await Ticket.filter(department_id__in=ids, status__in=_OPEN)
            .annotate(n=Count("id"), late=Count("id", _filter=Q(due_at__lt=now)))
            .group_by("department_id")
            .values("department_id", "n", "late")
        }
        for u in await WebUser.filter(department_code__in=codes).order_by("username"):
            staff.setdefault(u.department_code or "", []).append(_account(u))
    leaders = [d.leader_user_id for d in depts if d.leader_user_id]
    names: dict[int, str] = {}
    if leaders:
        for grant in await RoleGrant.filter(user_id__in=leaders).order_by("id"):
            if grant.name:
                names.setdefault(grant.user_id, grant.name)
    rows = []
    for d in depts:
        g = groups.get(d.code)
        c = counts.get(d.id, {})
        rows.append(
            DepartmentRow(
                code=d.code,
                name=d.name,
                short=d.short,
                active=d.active,
                group_title=(g.title or str(g.chat_id)) if g else "",
                group_chat_id=g.chat_id if g else None,
                leader_user_id=d.leader_user_id,
                leader_name=names.get(d.leader_user_id or 0, ""),
                open=int(c.get("n", 0)),
                overdue=int(c.get("late", 0)),
                staff=staff.get(d.code, []),
            )
        )
    return rows


async def list_departments(*, now: dt.datetime) -> list[DepartmentRow]:
    """Every department (active ones first, in their order) with its group, counts, accounts."""
    depts = await Department.all().order_by("-active", "sort", "id")
    return await _department_rows(depts, now=now)


async def department_detail(*, code: str, now: dt.datetime) -> DepartmentDetail:
    """One department with its scope and its SLA overrides.

    Raises:
        NotFound: no department with this code.
    """
    dept = await Department.get_or_none(code=code.strip().upper()[:16])
    if dept is None:
        raise NotFound(f"没有代码为 {code} 的部门。")
    (row,) = await _department_rows([dept], now=now)
    sla = [
        SlaRow(
            type=p.type,
            urgent=p.urgent,
            respond_hours=p.respond_hours,
            respond_clock=p.respond_clock,
            resolve_days=p.resolve_days,
            resolve_hours=p.resolve_hours,
        )
        for p in await SlaPolicy.filter(department_code=dept.code).order_by("type", "urgent")
    ]
    return DepartmentDetail(row=row, scope=dept.scope, sla=sla)


async def department_choices() -> list[tuple[str, str]]:
    """(code, short name) of the active departments, for a staff account's department."""
    return [(d.code, d.short) for d in await Department.filter(active=True).order_by("sort", "id")]


# ---------------------------------------------------------------- web accounts


async def list_accounts() -> list[AccountRow]:
    """Every admin-web account: active ones first, then by name."""
    return [_account(u) for u in await WebUser.all().order_by("-active", "username")]


def _role(value: str) -> WebRole:
    try:
        return WebRole(value.strip().lower())
    except ValueError:
        names = "、".join(f"{WEB_ROLE_LABELS[r]}（{r.value}）" for r in WebRole)
        raise InvalidInput(f"请选择角色：{names}。") from None


async def _department_for(role: WebRole, department_code: str | None) -> str | None:
    """Staff belong to one active department; the other roles to none."""
    if role != WebRole.STAFF:
        return None
    code = (department_code or "").strip().upper()
    if not code:
        raise InvalidInput("部门工作人员账号须选择所属部门。")
    if not await Department.exists(code=code, active=True):
        raise InvalidInput(f"没有代码为 {code} 的在用部门。")
    return code


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD} 个字符。")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"密码不能超过 {MAX_PASSWORD} 个字符。")
    if password.strip() != password or not password.isprintable():
        raise InvalidInput("密码首尾不能有空格，也不能含控制字符。")


async def create_account(
    *,
    who: Editor,
    username: str,
    password: str,
    role: str,
    department_code: str | None,
    hash_password: Callable[[str], str],
) -> AccountRow:
    """Create an admin-web account (``user.create`` in the audit log).

    Raises:
        InvalidInput: a bad username or role, a staff account without an active department,
            a short password, a name already taken.
    """
    username = username.strip()
    if not USERNAME.fullmatch(username):
        raise InvalidInput("用户名须为 2–64 个字母、数字或 _ . @ - 字符。")
    web_role = _role(role)
    code = await _department_for(web_role, department_code)
    _check_password(password)
    if await WebUser.exists(username=username):
        raise InvalidInput(f"用户名 {username} 已被使用。")
    password_hash = hash_password(password)
    try:
        async with atomic():
            user = await WebUser.create(
                username=username,
                password_hash=password_hash,
                role=web_role.value,
                department_code=code,
            )
            await audit.log(
                who, "user.create", username, {"role": web_role.value, "department_code": code}
            )
    except IntegrityError:
        raise InvalidInput(f"用户名 {username} 已被使用。") from None
    return _account(user)


async def _locked_user(user_id: int) -> WebUser:
    user = await WebUser.filter(id=user_id).select_for_update().first()
    if user is None:
        raise NotFound("找不到该账号。")
    return user


async def _other_active_admins(user: WebUser) -> int:
    # Locks the admins' rows (PostgreSQL), so two admins demoting each other cannot both win.
    admins = await WebUser.filter(role=WebRole.ADMIN.value, active=True).select_for_update()
    return sum(1 for a in admins if a.id != user.id)


async def change_account(
    *, who: Editor, user_id: int, role: str, department_code: str | None
) -> AccountRow:
    """Change an account's role and department (``user.update``).

    Raises:
        InvalidInput: a bad role, a staff account without an active department.
        NotAllowed: changing one's own role, or demoting the last active admin.
        NotFound: no such account.
    """
    web_role = _role(role)
    code = await _department_for(web_role, department_code)
    async with atomic():
        user = await _locked_user(user_id)
        before = {"role": user.role, "department_code": user.department_code}
        after = {"role": web_role.value, "department_code": code}
        if before == after:
            return _account(user)
        if user.username == who.name and user.role != web_role.value:
            raise NotAllowed("不能修改自己的角色；请由另一位管理员操作。")
        if (
            user.role == WebRole.ADMIN.value
            and user.active
            and web_role != WebRole.ADMIN
            and not await _other_active_admins(user)
        ):
            raise NotAllowed("这是唯一在用的管理员账号，不能改为其他角色。")
        user.role, user.department_code = web_role.value, code
        await user.save(update_fields=["role", "department_code"])
        await audit.log(who, "user.update", user.username, {"before": before, "after": after})
    return _account(user)


async def set_account_active(*, who: Editor, user_id: int, active: bool) -> AccountRow:
    """Deactivate (``user.deactivate``) or reactivate (``user.reactivate``) an account.

    A deactivated account cannot log in, and its open sessions end at their next request.

    Raises:
        NotAllowed: deactivating oneself or the last active admin.
        NotFound: no such account.
    """
    async with atomic():
        user = await _locked_user(user_id)
        if user.active == active:
            return _account(user)
        if not active:
            if user.username == who.name:
                raise NotAllowed("不能停用自己的账号。")
            if user.role == WebRole.ADMIN.value and not await _other_active_admins(user):
                raise NotAllowed("这是唯一在用的管理员账号，不能停用。")
        user.active = active
        await user.save(update_fields=["active"])
        action = "user.reactivate" if active else "user.deactivate"
        await audit.log(who, action, user.username, {"role": user.role})
    return _account(user)


async def reset_password(
    *, who: Editor, user_id: int, password: str, hash_password: Callable[[str], str]
) -> AccountRow:
    """Set a new password for an account (``user.password_reset``; the password is not logged).

    Raises:
        InvalidInput: a short password.
        NotFound: no such account.
    """
    _check_password(password)
    password_hash = hash_password(password)
    async with atomic():
        user = await _locked_user(user_id)
        user.password_hash = password_hash
        await user.save(update_fields=["password_hash"])
        # A reset is how a locked-out person gets back in: their failed logins are forgotten.
        await LoginFailure.filter(username=user.username).delete()
        await audit.log(who, "user.password_reset", user.username, {})
    return _account(user)


# ---------------------------------------------------------------- Telegram roles


@dataclass(frozen=True)
class GrantRow:
    user_id: int
    role: str
    role_label: str
    name: str
    granted_by: int | None
    granted_at: dt.datetime
    department_code: str = ""  # a liaison officer's department


async def list_role_grants() -> list[GrantRow]:
    """The roles granted to Telegram users (``/grant`` in the chat or from the admin web)."""
    rows = []
    for g in await RoleGrant.all().order_by("role", "granted_at", "id"):
        try:
            label = ROLE_LABELS[Role(g.role)]
        except ValueError:
            label = g.role
        rows.append(
            GrantRow(
                user_id=g.user_id,
                role=g.role,
                role_label=label,
                name=g.name,
                granted_by=g.granted_by,
                granted_at=g.granted_at,
                department_code=g.department_code or "",
            )
        )
    return rows


def _tg_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        names = "、".join(f"{ROLE_LABELS[r]}（{r.value}）" for r in Role)
        raise InvalidInput(f"没有「{value}」这个角色；可授予的角色：{names}。") from None


def parse_tg_user_id(raw: str) -> int:
    """A Telegram user id typed into a form (digits only, positive).

    Raises:
        InvalidInput: not a plausible Telegram user id.
    """
    text = raw.strip()
    if not text.isdigit() or not 0 < int(text) < TG_ID_MAX:
        raise InvalidInput("Telegram 用户 ID 须为正整数（可让对方向机器人发送 /start 后查看）。")
    return int(text)


async def grant_role(
    *, who: Editor, role: str, user_id: int, name: str = "", department_code: str | None = None
) -> GrantRow:
    """Grant a Telegram user a role from the web (``role.grant``).

    A liaison officer (``liaison``) needs an active department (``department_code``).

    Raises:
        InvalidInput: an unknown role, a bad user id, a name too long, a liaison without an
            active department.
        Conflict: the user holds the role already (nothing changes).
    """
    granted = _tg_role(role)
    if not 0 < user_id < TG_ID_MAX:
        raise InvalidInput("Telegram 用户 ID 须为正整数。")
    dept = await liaison.check_department(department_code) if granted == Role.LIAISON else None
    clean = " ".join(strip_controls(name).split())
    if len(clean) > 128:
        raise InvalidInput("姓名不能超过 128 个字。")
    label = ROLE_LABELS[granted]
    if await RoleGrant.exists(user_id=user_id, role=granted.value):
        raise Conflict(f"用户 {user_id} 已是{label}，无需重复授予。")
    try:
        async with atomic():
            grant = await RoleGrant.create(
                user_id=user_id, role=granted.value, name=clean, department_code=dept
            )
            data = {"role": granted.value, "name": clean}
            if dept:
                data["department_code"] = dept
            await audit.log(who, "role.grant", f"tg:{user_id}", data)
    except IntegrityError:
        raise Conflict(f"用户 {user_id} 已是{label}，无需重复授予。") from None
    return GrantRow(
        user_id=grant.user_id,
        role=grant.role,
        role_label=label,
        name=grant.name,
        granted_by=None,
        granted_at=grant.granted_at,
        department_code=dept or "",
    )


async def revoke_role(*, who: Editor, role: str, user_id: int) -> None:
    """Take a Telegram user's role back (``role.revoke``).

    Raises:
        InvalidInput: an unknown role.
        NotFound: the user does not hold the role (nothing changes).
    """
    revoked = _tg_role(role)
    async with atomic():
        grant = await RoleGrant.filter(user_id=user_id, role=revoked.value).first()
        if grant is None:
            raise NotFound(f"用户 {user_id} 没有{ROLE_LABELS[revoked]}角色。")
        await RoleGrant.filter(id=grant.id).delete()
        await audit.log(
            who, "role.revoke", f"tg:{user_id}", {"role": revoked.value, "name": grant.name}
        )
