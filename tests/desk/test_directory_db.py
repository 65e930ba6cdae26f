"""The directory services on SQLite and PostgreSQL: enterprises, departments, web accounts,
Telegram roles. Every change writes one audit entry; every refusal changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from desk import directory, manage
from desk.audit import Editor
from desk.context import DeskConfig
from desk.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models.audit import AuditEntry
from models.department import Department, GroupBinding
from models.enterprise import Enterprise, Member
from models.sla import SlaPolicy
from models.staff import RoleGrant
from models.ticket import Ticket, TicketStatus
from models.webuser import WebUser
from nlp import RouteDecision

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
ADMIN = Editor(name="chief", role="admin", ip="10.0.0.9", at=NOW)
SECRET = "a-very-secret-password"


def fake_hash(password: str) -> str:
    return f"hashed-{len(password)}"


async def admin_account() -> WebUser:
    return await WebUser.create(username="chief", password_hash="x", role="admin")


async def audit_actions() -> list[str]:
    return [e.action for e in await AuditEntry.all().order_by("id")]


async def snapshot() -> list[tuple[object, ...]]:
    users = [
        (u.username, u.role, u.department_code, u.active, u.password_hash)
        for u in await WebUser.all().order_by("id")
    ]
    grants = [(g.user_id, g.role, g.name) for g in await RoleGrant.all().order_by("id")]
    return [*users, *grants, await AuditEntry.all().count()]


async def enterprise_with_tickets() -> Enterprise:
    tax = await Department.get(code="TAX")
    env = await Department.get(code="ENV")
    ent = await Enterprise.create(
        name="天津泰达测试科技有限公司", credit_code="91120116MA05ABCD1X"
    )
    linked = await Member.create(
        enterprise=ent, tg_user_id=5001, chat_id=5001, contact_name="王小明", phone="13812345678"
    )
    await Member.create(enterprise=ent, contact_name="李四", phone="13987654321")
    for n, (dept, status, sat) in enumerate(
        [
            (tax, TicketStatus.CLOSED, "满意"),
            (env, TicketStatus.CLAIMED, None),
            (None, TicketStatus.TRIAGE, None),
        ],
        start=1,
    ):
        await Ticket.create(
            ref=f"TD20261130-{n:04d}",
            enterprise=ent,
            member=linked,
            text="诉求",
            department=dept,
            status=status,
            rating_satisfaction=sat,
            rating_solved=True if sat else None,
            due_at=NOW - dt.timedelta(hours=1),
        )
    other = await Enterprise.create(name="滨海另一家公司")
    await Member.create(enterprise=other, contact_name="赵六", phone="13700000000")
    return ent


async def test_enterprise_list_search_and_counts(db: str) -> None:
    ent = await enterprise_with_tickets()
    everything = await directory.list_enterprises()
    assert everything.total == 2
    row = next(r for r in everything.rows if r.id == ent.id)
    assert (row.contacts, row.linked, row.tickets, row.open) == (2, 1, 3, 2)
    other = next(r for r in everything.rows if r.id != ent.id)
    assert (other.contacts, other.linked, other.tickets, other.open) == (1, 0, 0, 0)

    by_name = await directory.list_enterprises(query="  泰达 ")
    assert [r.id for r in by_name.rows] == [ent.id] and by_name.query == "泰达"
    by_code = await directory.list_enterprises(query="ma05abcd")  # any case
    assert [r.id for r in by_code.rows] == [ent.id]
    assert (await directory.list_enterprises(query="不存在")).rows == []
    # A page beyond the end shows the last one.
    assert (await directory.list_enterprises(page=99)).page == 1


async def test_enterprise_profile_masks_for_managers(db: str) -> None:
    ent = await enterprise_with_tickets()
    office = await directory.enterprise_profile(enterprise_id=ent.id, reveal_personal=True)
    assert office.credit_code == "91120116MA05ABCD1X"
    assert [(c.name, c.phone, c.linked, c.tg_user_id, c.tickets) for c in office.contacts] == [
        ("王小明", "13812345678", True, 5001, 3),
        ("李四", "13987654321", False, None, 0),
    ]
    assert (office.tickets, office.open) == (3, 2)
    history = {h.ref: h for h in office.history}
    assert history["TD20261130-0001"].department == "税务局"
    assert history["TD20261130-0001"].satisfaction == "满意"
    assert history["TD20261130-0001"].status_label == "已关闭"
    assert history["TD20261130-0003"].department == "待分拨"

    manager = await directory.enterprise_profile(enterprise_id=ent.id, reveal_personal=False)
    assert [(c.name, c.phone, c.tg_user_id) for c in manager.contacts] == [
        ("王**", "138****5678", None),
        ("李*", "139****4321", None),
    ]
    assert manager.contacts[0].linked
    with pytest.raises(NotFound):
        await directory.enterprise_profile(enterprise_id=99999, reveal_personal=True)


async def test_departments_with_groups_counts_and_accounts(db: str) -> None:
    await enterprise_with_tickets()
    await GroupBinding.create(code="TAX", chat_id=-100200, title="税务局工单群")
    await Department.filter(code="TAX").update(leader_user_id=777)
    await RoleGrant.create(user_id=777, role="manager", name="张局长")
    await WebUser.create(
        username="taxstaff", password_hash="x", role="staff", department_code="TAX"
    )
    await WebUser.create(
        username="oldtax", password_hash="x", role="staff", department_code="TAX", active=False
    )
    await SlaPolicy.create(
        type="投诉", urgent=True, department_code="TAX", respond_hours=2, resolve_days=3
    )
    await SlaPolicy.create(type="投诉", urgent=True, respond_hours=4, resolve_days=5)

    rows = {r.code: r for r in await directory.list_departments(now=NOW)}
    tax, env = rows["TAX"], rows["ENV"]
    assert (tax.group_title, tax.group_chat_id) == ("税务局工单群", -100200)
    assert (tax.leader_user_id, tax.leader_name) == (777, "张局长")
    assert (tax.open, tax.overdue) == (0, 0)  # its ticket is closed
    assert (env.open, env.overdue) == (1, 1)
    assert env.group_chat_id is None and env.staff == []
    assert [(a.username, a.active) for a in tax.staff] == [("oldtax", False), ("taxstaff", True)]

    detail = await directory.department_detail(code="tax", now=NOW)
    assert detail.row.code == "TAX" and "纳税申报" in detail.scope
    assert [(p.type, p.urgent, p.respond_hours, p.resolve_days) for p in detail.sla] == [
        ("投诉", True, 2, 3)
    ]  # only this department's overrides
    with pytest.raises(NotFound):
        await directory.department_detail(code="NOPE", now=NOW)


async def test_create_account_validates_then_audits(db: str) -> None:
    await admin_account()
    await Department.filter(code="ENV").update(active=False)
    before = await snapshot()
    refusals = [
        (dict(username="li", password="short", role="staff", department_code="TAX"), "至少 10"),
        (
            dict(username="li", password=SECRET, role="staff", department_code=None),
            "须选择所属部门",
        ),
        (dict(username="li", password=SECRET, role="staff", department_code="ENV"), "ENV"),
        (dict(username="li", password=SECRET, role="root", department_code=None), "请选择角色"),
        (dict(username="李", password=SECRET, role="office", department_code=None), "用户名"),
        (dict(username="chief", password=SECRET, role="office", department_code=None), "已被使用"),
        (dict(username="li", password=" " + SECRET, role="office", department_code=None), "空格"),
    ]
    for kwargs, words in refusals:
        with pytest.raises(InvalidInput) as err:
            await directory.create_account(who=ADMIN, hash_password=fake_hash, **kwargs)
        assert words in err.value.message, kwargs
    assert await snapshot() == before

    made = await directory.create_account(
        who=ADMIN,
        username="li",
        password=SECRET,
        role="staff",
        department_code="tax",
        hash_password=fake_hash,
    )
    assert (made.role, made.department_code, made.active) == ("staff", "TAX", True)
    stored = await WebUser.get(username="li")
    assert stored.password_hash == f"hashed-{len(SECRET)}"
    # Other roles carry no department, whatever the form sent.
    boss = await directory.create_account(
        who=ADMIN,
        username="boss",
        password=SECRET,
        role="MANAGER",
        department_code="TAX",
        hash_password=fake_hash,
    )
    assert (boss.role, boss.department_code) == ("manager", "")
    entry = await AuditEntry.filter(action="user.create").order_by("id").first()
    assert entry is not None
    assert (entry.actor, entry.role, entry.ip, entry.target) == (
        "chief",
        "admin",
        "10.0.0.9",
        "li",
    )
    assert entry.data == {"role": "staff", "department_code": "TAX"}
    assert SECRET not in json.dumps([e.data for e in await AuditEntry.all()])


async def test_role_changes_and_the_last_admin(db: str) -> None:
    chief = await admin_account()
    staff = await WebUser.create(
        username="li", password_hash="x", role="staff", department_code="TAX"
    )
    # The only admin cannot demote or deactivate themself, nor be demoted.
    with pytest.raises(NotAllowed, match="自己的角色"):
        await directory.change_account(
            who=ADMIN, user_id=chief.id, role="office", department_code=None
        )
    with pytest.raises(NotAllowed, match="自己"):
        await directory.set_account_active(who=ADMIN, user_id=chief.id, active=False)
    other = Editor(name="deputy", role="admin", ip="", at=NOW)
    with pytest.raises(NotAllowed, match="唯一"):
        await directory.change_account(
            who=other, user_id=chief.id, role="office", department_code=None
        )
    with pytest.raises(NotAllowed, match="唯一"):
        await directory.set_account_active(who=other, user_id=chief.id, active=False)
    with pytest.raises(InvalidInput, match="部门"):
        await directory.change_account(
            who=ADMIN, user_id=staff.id, role="staff", department_code=""
        )
    with pytest.raises(NotFound):
        await directory.change_account(
            who=ADMIN, user_id=9999, role="office", department_code=None
        )
    assert await audit_actions() == []

    row = await directory.change_account(
        who=ADMIN, user_id=staff.id, role="staff", department_code="ENV"
    )
    assert row.department_code == "ENV"
    row = await directory.change_account(
        who=ADMIN, user_id=staff.id, role="admin", department_code="ENV"
    )
    assert (row.role, row.department_code) == ("admin", "")
    # Two admins now: the other one may be demoted and deactivated.
    await directory.change_account(
        who=other, user_id=chief.id, role="office", department_code=None
    )
    await directory.set_account_active(who=other, user_id=chief.id, active=False)
    await directory.set_account_active(who=other, user_id=chief.id, active=True)
    # An unchanged form changes nothing and logs nothing.
    await directory.set_account_active(who=other, user_id=chief.id, active=True)
    assert await audit_actions() == [
        "user.update",
        "user.update",
        "user.update",
        "user.deactivate",
        "user.reactivate",
    ]
    first = await AuditEntry.filter(action="user.update").order_by("id").first()
    assert first is not None and first.data == {
        "before": {"role": "staff", "department_code": "TAX"},
        "after": {"role": "staff", "department_code": "ENV"},
    }


async def test_password_reset(db: str) -> None:
    await admin_account()
    li = await WebUser.create(username="li", password_hash="old", role="office")
    with pytest.raises(InvalidInput, match="至少 10"):
        await directory.reset_password(
            who=ADMIN, user_id=li.id, password="123456789", hash_password=fake_hash
        )
    assert (await WebUser.get(id=li.id)).password_hash == "old"
    await directory.reset_password(
        who=ADMIN, user_id=li.id, password=SECRET, hash_password=fake_hash
    )
    assert (await WebUser.get(id=li.id)).password_hash == f"hashed-{len(SECRET)}"
    entry = await AuditEntry.get(action="user.password_reset")
    assert entry.target == "li" and entry.data == {}


class NoRouter:
    def route(self, text: str) -> RouteDecision:  # pragma: no cover - never asked here
        raise AssertionError("not used")


async def test_telegram_manager_grant_and_revoke(db: str) -> None:
    cfg = DeskConfig(admin_ids=frozenset({1}), router=NoRouter(), clock=lambda: NOW)
    assert not await manage.is_manager(cfg, 424242)
    for raw in ("", "abc", "-5", "0", "1" * 20):
        with pytest.raises(InvalidInput):
            directory.parse_tg_user_id(raw)
    with pytest.raises(InvalidInput, match="可授予的角色"):
        await directory.grant_role(who=ADMIN, role="god", user_id=424242, name="x")
    assert await RoleGrant.all().count() == 0

    row = await directory.grant_role(
        who=ADMIN, role="manager", user_id=directory.parse_tg_user_id(" 424242 "), name=" 周 主任 "
    )
    assert (row.user_id, row.role, row.name, row.role_label) == (
        424242,
        "manager",
        "周 主任",
        "管理人员",
    )
    assert await manage.is_manager(cfg, 424242)  # the bot sees the web's grant
    with pytest.raises(Conflict, match="已是管理人员"):
        await directory.grant_role(who=ADMIN, role="manager", user_id=424242, name="again")
    grants = await directory.list_role_grants()
    assert [(g.user_id, g.name) for g in grants] == [(424242, "周 主任")]

    with pytest.raises(NotFound):
        await directory.revoke_role(who=ADMIN, role="manager", user_id=1234)
    await directory.revoke_role(who=ADMIN, role="manager", user_id=424242)
    assert not await manage.is_manager(cfg, 424242)
    entries = await AuditEntry.all().order_by("id")
    assert [(e.action, e.target, e.data) for e in entries] == [
        ("role.grant", "tg:424242", {"role": "manager", "name": "周 主任"}),
        ("role.revoke", "tg:424242", {"role": "manager", "name": "周 主任"}),
    ]
