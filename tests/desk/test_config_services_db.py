"""Configuration changes made by a person (``desk.settings_admin``) and the helpers behind the
admin web's configuration pages, on SQLite and PostgreSQL.

Every change is checked first (bad input changes nothing and logs nothing), then written
together with one audit entry in the same transaction; the routing rules typed as
``词 权重`` lines read back to exactly what the router compiles.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import nlp
from desk import audit, routing, settings_admin, sla, worktime
from desk.audit import Editor
from desk.errors import InvalidInput, NotFound
from models.audit import AuditEntry
from models.calendar import CalendarDay, DayKind, DaySource
from models.routing import RoutingRule
from models.sla import SlaPolicy
from nlp.rules import compile_department

AT = dt.datetime(2026, 9, 1, 2, 0, tzinfo=dt.UTC)
OFFICE = Editor(name="office", role="office", ip="127.0.0.1", at=AT)
MESSAGE = "公司门口的下水道堵了"


def texts(spec: dict[str, Any], **changes: str) -> dict[str, str]:
    return {**routing.spec_to_text(spec), **changes}


# ---------------------------------------------------------------- rules as text (pure)


@pytest.mark.parametrize("code", sorted(nlp.load_default_rules()["departments"]))
def test_default_rules_read_back_to_what_the_router_compiles(code: str) -> None:
    spec = nlp.load_default_rules()["departments"][code]
    again = routing.spec_from_text(base=spec, texts=routing.spec_to_text(spec))
    a, b = compile_department(code, spec), compile_department(code, again)
    assert (a.name, a.terms, a.tokens, a.negative) == (b.name, b.terms, b.tokens, b.negative)
    assert [(p.pattern, w) for p, w in a.patterns] == [(p.pattern, w) for p, w in b.patterns]
    assert routing.spec_diff(spec, again) == {}


def test_weights_go_back_to_levels_and_terms() -> None:
    spec = routing.spec_from_text(
        base={"name": "生态环境局"},
        texts={"keywords": "噪声 3\n扬尘 2\n异味\n气味 1\n环评 4.5", "negative": "关税 2"},
    )
    assert spec == {
        "name": "生态环境局",
        "strong": ["噪声"],
        "medium": ["扬尘", "异味"],
        "weak": ["气味"],
        "terms": {"环评": 4.5},
        "negative": {"关税": 2},
    }


@pytest.mark.parametrize(
    ("box", "text", "message"),
    [
        ("keywords", "噪声 三", "权重“三”不是数字"),
        ("keywords", "噪声 0", "超出范围"),
        ("keywords", "噪声 -2", "超出范围"),
        ("keywords", "噪声 101", "超出范围"),
        ("keywords", "噪声 nan", "超出范围"),
        ("keywords", "：3", "词为空"),
        ("keywords", "噪声 3\n扬尘 2\n噪声 1", "关键词第 3 行：“噪声”与第 1 行重复"),
        ("keywords", "噪 声 3", "词中不能有空格"),
        ("patterns", "电.*停( 2", "正则表达式"),
        ("negative", "噪声 2", "同时是关键词和排除词"),
        ("keywords", "", "至少需要一个关键词"),
    ],
)
def test_bad_lines_are_reported_in_chinese(box: str, text: str, message: str) -> None:
    boxes = {"keywords": "噪声 3", box: text}
    with pytest.raises(InvalidInput) as caught:
        routing.spec_from_text(base={"name": "生态环境局"}, texts=boxes)
    assert message in caught.value.message


# ---------------------------------------------------------------- rules in the database


async def test_saving_a_rule_changes_routing_and_is_audited(db: str) -> None:
    router, _ = await routing.build_router()
    before = await routing.try_message(router=router, text=MESSAGE)
    assert before.department == "CNT"
    env = await routing.department_rule(code="ENV")
    boxes = texts(env.spec)
    boxes["keywords"] += "\n下水道堵了 20"

    # The preview uses the edited rule without writing it.
    spec = routing.spec_from_text(base=env.spec, texts=boxes)
    preview = await routing.router_with_rule(current=router, code="ENV", spec=spec)
    assert (await routing.try_message(router=preview, text=MESSAGE)).department == "ENV"
    assert (await RoutingRule.get(code="ENV")).source == "default"

    diff = await settings_admin.save_rule(editor=OFFICE, code="ENV", texts=boxes)
    assert diff == {"keywords": {"added": {"下水道堵了": 20}}}
    row = await RoutingRule.get(code="ENV")
    assert (row.source, row.updated_by) == ("admin", "office")
    entry = await AuditEntry.get(action="rule.update")
    assert (entry.actor, entry.role, entry.ip, entry.target) == (
        "office",
        "office",
        "127.0.0.1",
        "ENV",
    )
    assert entry.data == diff

    holder = routing.RouterHolder()
    await holder.reload()
    after = await routing.try_message(router=holder, text=MESSAGE)
    assert after.department == "ENV" and after.department_name
    assert "下水道堵了" in after.matched_terms
    env_row = next(c for c in after.candidates if c.code == "ENV")
    assert env_row.rule_score >= 20 and "下水道堵了" in env_row.terms
    # The longer term hides the shorter one it contains (CNT's 下水道) from every department.
    assert all(c.rule_score == 0 for c in after.candidates if c.code == "CNT")

    # Saving the same text again changes nothing and logs nothing.
    assert await settings_admin.save_rule(editor=OFFICE, code="ENV", texts=boxes) == {}
    assert await AuditEntry.filter(action="rule.update").count() == 1


async def test_a_bad_rule_changes_nothing(db: str) -> None:
    env = await routing.department_rule(code="ENV")
    with pytest.raises(InvalidInput):
        await settings_admin.save_rule(
            editor=OFFICE, code="ENV", texts=texts(env.spec, keywords="噪声 abc")
        )
    with pytest.raises(NotFound):
        await settings_admin.save_rule(editor=OFFICE, code="NOPE", texts={"keywords": "x 1"})
    with pytest.raises(NotFound):
        await routing.department_rule(code=routing.GLOBAL)
    row = await RoutingRule.get(code="ENV")
    assert (row.spec, row.source) == (env.spec, "default")
    assert not await AuditEntry.exists()


async def test_change_and_audit_entry_commit_together(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(**kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audit, "record", broken)
    env = await routing.department_rule(code="ENV")
    with pytest.raises(RuntimeError):
        await settings_admin.save_rule(
            editor=OFFICE, code="ENV", texts=texts(env.spec, negative="关税 3")
        )
    assert (await RoutingRule.get(code="ENV")).spec == env.spec
    with pytest.raises(RuntimeError):
        await settings_admin.set_calendar_day(
            editor=OFFICE, day=dt.date(2026, 9, 7), workday=False, name="台风停工"
        )
    assert not await CalendarDay.exists(day=dt.date(2026, 9, 7))


async def test_rule_summaries_and_trial_errors(db: str) -> None:
    summaries = await routing.rule_summaries()
    codes = [s.code for s in summaries]
    assert routing.GLOBAL not in codes and {"TAX", "ENV", "ESB"} <= set(codes)
    tax = next(s for s in summaries if s.code == "TAX")
    assert tax.keywords > 50 and tax.tokens == 2 and tax.negative == 3
    assert (await routing.global_settings())["fallback"] == "ESB"
    router, _ = await routing.build_router()
    for text in ("", "   ", "很" * (routing.MAX_TRIAL_CHARS + 1)):
        with pytest.raises(InvalidInput):
            await routing.try_message(router=router, text=text)


# ---------------------------------------------------------------- SLA policies


def policy(**changes: Any) -> sla.PolicyInput:
    fields: dict[str, Any] = {
        "type": "投诉",
        "urgent": False,
        "department_code": "TAX",
        "respond_hours": "3",
        "respond_clock": False,
        "resolve_days": "5",
        "resolve_hours": "0",
    }
    fields.update(changes)
    return sla.parse_policy(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "抱怨"}, "诉求类型“抱怨”无效"),
        ({"respond_hours": ""}, "请填写响应时限"),
        ({"respond_hours": "abc"}, "不是数字"),
        ({"respond_hours": "0"}, "响应时限应大于 0"),
        ({"respond_hours": "inf"}, "不是有效数字"),
        ({"resolve_days": "2.5"}, "办结工作日应为 0 到 365 之间的整数"),
        ({"resolve_days": "-1"}, "办结工作日应为"),
        ({"resolve_hours": "100"}, "办结附加工作小时应在"),
        ({"resolve_days": "0", "resolve_hours": "0"}, "办结时限不能为 0"),
    ],
)
def test_bad_policies_are_reported_in_chinese(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        policy(**changes)
    assert message in caught.value.message


async def test_policy_override_create_update_delete(db: str) -> None:
    general = await sla.policy_for(type="投诉", urgent=False, department="TAX")
    row = await settings_admin.create_policy(editor=OFFICE, policy=policy())
    assert await sla.policy_for(type="投诉", urgent=False, department="TAX") == sla.Policy(
        3, False, 5, 0
    )
    assert await sla.policy_for(type="投诉", urgent=False, department="ENV") == general
    listed = await sla.list_policies()
    assert listed[-1].id == row.id  # department overrides after the general rows
    assert all(r.department_code is None for r in listed[:-1])

    # The same type/urgency/department twice, or an unknown department: refused.
    with pytest.raises(InvalidInput, match="已有一条相同的规则"):
        await settings_admin.create_policy(editor=OFFICE, policy=policy(respond_hours="1"))
    with pytest.raises(InvalidInput, match="部门“XYZ”不存在"):
        await settings_admin.create_policy(editor=OFFICE, policy=policy(department_code="XYZ"))
    general_row = await SlaPolicy.get(type="投诉", urgent=False, department_code=None)
    with pytest.raises(InvalidInput, match="已有一条相同的规则"):
        await settings_admin.update_policy(
            editor=OFFICE, policy_id=general_row.id, policy=policy()
        )
    assert await SlaPolicy.filter(type="投诉").count() == 2

    await settings_admin.update_policy(
        editor=OFFICE, policy_id=row.id, policy=policy(resolve_days="8")
    )
    assert (await SlaPolicy.get(id=row.id)).resolve_days == 8
    await settings_admin.delete_policy(editor=OFFICE, policy_id=row.id)
    assert not await SlaPolicy.exists(id=row.id)
    with pytest.raises(NotFound):
        await settings_admin.delete_policy(editor=OFFICE, policy_id=row.id)
    assert await sla.policy_for(type="投诉", urgent=False, department="TAX") == general

    entries = await audit.recent(action_prefix="sla.")
    assert [e.action for e in entries] == ["sla.delete", "sla.update", "sla.create"]
    assert entries[1].data["before"]["resolve_days"] == 5
    assert entries[1].data["after"]["resolve_days"] == 8
    assert entries[0].data["before"]["department_code"] == "TAX"
    assert all(e.target == f"#{row.id}" for e in entries)


# ---------------------------------------------------------------- working-day calendar


async def test_calendar_day_set_and_cleared_with_audit(db: str) -> None:
    national = dt.date(2026, 10, 5)  # 国庆节, from chinese_calendar
    await settings_admin.set_calendar_day(editor=OFFICE, day=national, workday=True, name="值班")
    typhoon = dt.date(2026, 10, 14)  # a Wednesday
    await settings_admin.set_calendar_day(
        editor=OFFICE, day=typhoon, workday=False, name=" 台风停工 "
    )
    cal = await worktime.load_calendar()
    assert cal.is_workday(national) and not cal.is_workday(typhoon)
    view = await worktime.load_month(cal, year=2026, month=10)
    assert len(view.cells) == 31 and all(len(week) == 7 for week in view.weeks)
    assert view.weeks[0][:3] == [None, None, None]  # 2026-10-01 is a Thursday
    cell = {c.day: c for c in view.cells}
    assert (cell[typhoon].mark, cell[typhoon].source, cell[typhoon].updated_by) == (
        "休",
        "admin",
        "office",
    )
    assert cell[typhoon].info.name == "台风停工"
    assert cell[dt.date(2026, 10, 1)].source == "chinese_calendar"
    assert cell[dt.date(2026, 10, 10)].mark == "班"  # 调休上班 Saturday
    assert cell[dt.date(2026, 10, 20)].source == ""

    await settings_admin.clear_calendar_day(editor=OFFICE, day=national)
    row = await CalendarDay.get(day=national)
    assert (row.source, row.workday, row.kind) == (
        DaySource.CHINESE_CALENDAR,
        False,
        DayKind.HOLIDAY,
    )
    with pytest.raises(NotFound, match="没有管理员设置"):
        await settings_admin.clear_calendar_day(editor=OFFICE, day=dt.date(2026, 10, 20))

    entries = await audit.recent(action_prefix="calendar.")
    assert [(e.action, e.target) for e in entries] == [
        ("calendar.clear", "2026-10-05"),
        ("calendar.set", "2026-10-14"),
        ("calendar.set", "2026-10-05"),
    ]
    assert entries[2].data["before"]["source"] == "chinese_calendar"
    assert entries[2].data["after"] == {
        "workday": True,
        "kind": "workday",
        "name": "值班",
        "source": "admin",
    }
    assert entries[1].data["before"] is None
    assert entries[0].data["after"]["source"] == "chinese_calendar"


async def test_bad_calendar_input_changes_nothing(db: str) -> None:
    for text in ("2026-13-01", "tomorrow", "1999-12-31", ""):
        with pytest.raises(InvalidInput):
            settings_admin.parse_day(text)
    assert settings_admin.parse_day(" 2026-10-14 ") == dt.date(2026, 10, 14)
    with pytest.raises(InvalidInput, match="最多 64 个字"):
        await settings_admin.set_calendar_day(
            editor=OFFICE, day=dt.date(2026, 10, 14), workday=False, name="长" * 65
        )
    assert not await CalendarDay.exists(day=dt.date(2026, 10, 14))
    assert not await AuditEntry.exists()
