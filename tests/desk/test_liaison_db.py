"""Liaison officers' reports on SQLite and PostgreSQL: roles, the dialog's edges, the calendar,
statuses and the briefing rows.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from desk import directory, liaison, manage
from desk.actors import Actor
from desk.audit import shell
from desk.context import DeskConfig
from desk.errors import Conflict, InvalidInput, NotAllowed
from models.department import GroupBinding
from models.liaison import LiaisonReport, LiaisonSession
from models.outbox import OutboxMessage
from models.staff import RoleGrant

SH = ZoneInfo("Asia/Shanghai")
ADMIN = 9001
TAX_G, TRIAGE_G = -100200, -100400


def cfg_at(moment: dt.datetime) -> DeskConfig:
    return DeskConfig(admin_ids=frozenset({ADMIN}), clock=lambda: moment, router=_NoRouter())


class _NoRouter:
    def route(self, text: str) -> object:  # never called here
        raise AssertionError(text)


def person(user_id: int, name: str = "刘联络员") -> Actor:
    return Actor(kind="enterprise", user_id=user_id, name=name, chat_id=user_id)


async def groups() -> None:
    await GroupBinding.create(code="TAX", chat_id=TAX_G, title="税务局工单群")
    await GroupBinding.create(code="TRIAGE", chat_id=TRIAGE_G, title="分拨群")


async def test_roles_and_who_may_fill(db: str) -> None:
    await groups()
    cfg = cfg_at(dt.datetime(2026, 12, 21, 10, tzinfo=SH))
    admin = Actor(kind="staff", user_id=ADMIN, name="管理员", chat_id=TRIAGE_G)
    # /grant liaison outside a department's group: refused, nothing granted.
    with pytest.raises(InvalidInput, match="部门工作群"):
        await manage.grant(cfg, actor=admin, role="liaison", user_id=5001, name="刘联络员")
    assert not await RoleGrant.exists(user_id=5001)
    in_tax = Actor(kind="staff", user_id=ADMIN, name="管理员", chat_id=TAX_G)
    await manage.grant(cfg, actor=in_tax, role="liaison", user_id=5001, name="刘联络员")
    assert (await RoleGrant.get(user_id=5001)).department_code == "TAX"
    # A web grant needs an active department.
    with pytest.raises(InvalidInput, match="部门"):
        await directory.grant_role(who=shell(), role="liaison", user_id=5002, name="吴")
    with pytest.raises(InvalidInput, match="没有代码为 NOPE"):
        await directory.grant_role(
            who=shell(), role="liaison", user_id=5002, name="吴", department_code="nope"
        )
    row = await directory.grant_role(
        who=shell(), role="liaison", user_id=5002, name="吴", department_code="env"
    )
    assert row.department_code == "ENV"

    # A non-liaison (a manager, an enterprise) can neither start nor press.
    stranger = person(7777, "王经理")
    with pytest.raises(NotAllowed, match="仅限各部门联络员"):
        await liaison.start(cfg, actor=stranger)
    await liaison.start(cfg, actor=person(5001))
    report = await LiaisonReport.get(department_code="TAX", month="2026-12")
    for action, arg in (("submit", None), ("edit", "1"), ("draft", None)):
        with pytest.raises(NotAllowed):
            await liaison.press(cfg, actor=stranger, report_id=report.id, action=action, arg=arg)
    # ENV's liaison may not submit TAX's report.
    with pytest.raises(NotAllowed, match="本部门"):
        await liaison.press(
            cfg, actor=person(5002), report_id=report.id, action="submit", arg=None
        )
    # Bad input changes nothing.
    with pytest.raises(InvalidInput, match="无效的部分"):
        await liaison.press(cfg, actor=person(5001), report_id=report.id, action="edit", arg="8")
    with pytest.raises(InvalidInput, match="均为空"):
        await liaison.press(
            cfg, actor=person(5001), report_id=report.id, action="submit", arg=None
        )
    with pytest.raises(InvalidInput, match="本月或以前"):
        await liaison.start(cfg, actor=person(5001), month="2027-01")
    with pytest.raises(InvalidInput, match="用法"):
        await liaison.start(cfg, actor=person(5001), month="十二月")
    await report.refresh_from_db()
    assert report.status == "draft" and report.parts == {}


async def test_dialog_edges_and_submission(db: str) -> None:
    await RoleGrant.create(user_id=5001, role="liaison", name="刘", department_code="TAX")
    cfg = cfg_at(dt.datetime(2026, 12, 26, 10, tzinfo=SH))  # after the 25th: late
    me = person(5001)
    await liaison.start(cfg, actor=me)
    photo = {"kind": "photo", "file_id": "F1", "message_id": 10, "size": 1000}
    await liaison.attach(cfg, actor=me, file=photo, caption="现场照片")
    await liaison.answer(cfg, actor=me, text="无")  # keeps the caption as part 1's text
    report = await LiaisonReport.get(department_code="TAX")
    assert report.parts["1"]["text"] == "现场照片" and len(report.parts["1"]["files"]) == 1
    # A file type the desk does not take is refused and not stored.
    bad = {"kind": "document", "file_id": "F2", "name": "a.exe", "mime": "application/x-msdos"}
    with pytest.raises(InvalidInput):
        await liaison.attach(cfg, actor=me, file=bad)
    for _ in range(6):
        await liaison.answer(cfg, actor=me, text="无")
    session = await LiaisonSession.get(user_id=5001)
    assert session.step == 0  # the review
    with pytest.raises(InvalidInput, match="修改"):
        await liaison.attach(cfg, actor=me, file=photo)
    before = await OutboxMessage.filter(chat_id=5001, kind="liaison_review").count()
    await liaison.answer(cfg, actor=me, text="随便说点什么")  # the review is shown again
    assert await OutboxMessage.filter(chat_id=5001, kind="liaison_review").count() == before + 1
    report = await LiaisonReport.get(department_code="TAX")
    assert await liaison.press(cfg, actor=me, report_id=report.id, action="submit", arg=None) == (
        "已提交。"
    )
    await report.refresh_from_db()
    assert liaison.status_of(report, SH) == "late"
    with pytest.raises(Conflict):
        await liaison.press(cfg, actor=me, report_id=report.id, action="edit", arg="1")
    rows = await liaison.month_reports(month="2026-12", tz=SH)
    assert [(r.department_code, r.status_label, r.filled) for r in rows] == [
        ("TAX", "逾期提交", 1)
    ]
    found = await liaison.briefing_rows(month="2026-12", tz=SH)
    assert found is not None
    paragraphs, table = found
    assert "逾期提交：税务局。" in paragraphs
    assert "1. 指标推进情况：现场照片（附件 1 个）" in paragraphs
    assert table == [["税务局", "刘", "逾期提交", "2026-12-26 10:00"]]
    assert await liaison.briefing_rows(month="2026-11", tz=SH) is not None  # TAX has a liaison
    await RoleGrant.all().delete()
    assert await liaison.briefing_rows(month="2026-11", tz=SH) is None


async def test_revoked_liaison_leaves_the_dialog(db: str) -> None:
    await RoleGrant.create(user_id=5001, role="liaison", name="刘", department_code="TAX")
    cfg = cfg_at(dt.datetime(2026, 12, 21, 10, tzinfo=SH))
    me = person(5001)
    await liaison.start(cfg, actor=me)
    await liaison.answer(cfg, actor=me, text="第一部分内容")
    await RoleGrant.filter(user_id=5001).delete()  # /revoke liaison
    with pytest.raises(NotAllowed):
        await liaison.answer(cfg, actor=me, text="第二部分内容")
    assert not await liaison.in_progress(5001)  # later texts are no longer the report's
    report = await LiaisonReport.get(department_code="TAX")
    assert report.parts == {"1": {"text": "第一部分内容", "files": []}}  # the draft stays


async def test_reminders_follow_the_calendar(db: str) -> None:
    """September 2025: the 28th is a Sunday made a working day (调休) before National Day."""
    await groups()
    await RoleGrant.create(user_id=5001, role="liaison", name="刘", department_code="TAX")

    async def tick(day: int, hour: int = 10) -> int:
        moment = dt.datetime(2025, 9, day, hour, tzinfo=SH)
        return await liaison.tick(cfg_at(moment), now=moment)

    assert await tick(19) == 0  # before the 20th
    assert await tick(20) == 0  # Saturday
    assert await tick(21) == 0  # Sunday
    assert await tick(22) == 1
    assert await tick(22, 17) == 0
    assert await tick(26) == 2  # Friday the 26th: a reminder and the late list
    assert await tick(27) == 0  # Saturday
    assert await tick(28) == 1  # Sunday, but a make-up working day; the list went already
    late = await OutboxMessage.filter(chat_id=TRIAGE_G, kind="liaison_late").all()
    assert len(late) == 1 and late[0].params["missing"] == [["税务局", "刘"]]
    assert await OutboxMessage.filter(chat_id=5001, kind="liaison_remind").count() == 3
    # A department that submitted gets nothing more.
    await LiaisonReport.create(
        department_code="TAX",
        month="2025-09",
        status="submitted",
        submitted_at=dt.datetime.now(dt.UTC),
    )
    assert await tick(29) == 0
