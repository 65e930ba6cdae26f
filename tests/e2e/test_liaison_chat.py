"""Liaison officers' monthly reports in the chats: the role, reminders, the dialog, the briefing.

The desk runs with a clock the test sets (December 2026: the 19th, 20th, 26th and 27th are a
weekend), and the scheduler's liaison job is called with explicit moments, as the scheduler
loop would call it. A liaison fills the seven parts in the private chat, edits one part from the
review and submits; reminders stop for that department, the late one is named to the screening
group on the 28th (the first working day from the 26th), and the briefing prints the report.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from conftest import ADMIN, ENV_G, TAX1, TAX_G, TRIAGE_G, Desk, Dialog, bind_groups, make_settings
from docx import Document
from fakebot import FakeBotAPI

from bot.app import CONFIG, create_app
from desk import briefing, liaison, stats
from desk.context import DeskConfig
from models.liaison import LiaisonReport, LiaisonSession
from models.staff import RoleGrant

SH = ZoneInfo("Asia/Shanghai")
LIA = {"id": 5001, "first_name": "刘", "last_name": "联络员"}
LIA2 = {"id": 5002, "first_name": "吴", "last_name": "联络员"}


def at(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=SH)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class ClockedDesk(Desk):
    clock: Clock = field(default_factory=lambda: Clock(at(18)))

    async def start(self) -> None:
        settings = make_settings(self.fake, self.db_url, webhook=self.webhook, port=self.port)
        self.runner = web.AppRunner(create_app(settings, clock=self.clock))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    @property
    def cfg(self) -> DeskConfig:
        assert self.runner is not None
        return self.runner.app[CONFIG]


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_kind(request: pytest.FixtureRequest) -> str:  # drives db_url (tests/conftest.py)
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def desk(fake: FakeBotAPI, db_url: str) -> AsyncIterator[ClockedDesk]:
    running = ClockedDesk(fake=fake, db_url=db_url, webhook=False)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def grant_liaison(d: Dialog, user: dict, group: dict) -> None:
    said = await d.send(user, "我是本部门联络员", chat=group)
    m = d.mark()
    await d.send(ADMIN, "/grant liaison", chat=group, reply_to=said["message"]["message_id"])
    await d.expect(group["id"], "已授予", after=m)


async def tick(desk: ClockedDesk, moment: dt.datetime) -> int:
    desk.clock.now = moment
    return await liaison.tick(desk.cfg, now=moment)


async def test_liaison_report_reminders_dialog_and_briefing(
    desk: ClockedDesk, dialog: Dialog
) -> None:
    d = dialog
    await bind_groups(d)

    # Not a liaison yet: refused, nothing stored.
    m = d.mark()
    await d.send(LIA, "/liaison")
    await d.expect(LIA["id"], "仅限各部门联络员", after=m)
    assert not await LiaisonReport.exists()

    # Only an admin grants, and only in a department's group.
    said = await d.send(LIA, "请授予我联络员", chat=TAX_G)
    m = d.mark()
    await d.send(TAX1, "/grant liaison", chat=TAX_G, reply_to=said["message"]["message_id"])
    await d.expect(TAX_G["id"], "只有管理员", after=m)
    said = await d.send(LIA, "请授予我联络员", chat=TRIAGE_G)
    m = d.mark()
    await d.send(ADMIN, "/grant liaison", chat=TRIAGE_G, reply_to=said["message"]["message_id"])
    await d.expect(TRIAGE_G["id"], "请在部门工作群中", after=m)
    assert not await RoleGrant.exists(role="liaison")
    await grant_liaison(d, LIA, TAX_G)
    await grant_liaison(d, LIA2, ENV_G)
    grants = {g.user_id: g.department_code for g in await RoleGrant.filter(role="liaison")}
    assert grants == {LIA["id"]: "TAX", LIA2["id"]: "ENV"}

    # No reminder before the 20th, on the weekend, or before 09:00.
    m = d.mark()
    assert await tick(desk, at(18)) == 0
    assert await tick(desk, at(19)) == 0
    assert await tick(desk, at(20)) == 0  # Sunday
    assert await tick(desk, at(21, 8, 30)) == 0
    # Monday the 21st: both liaisons, once.
    assert await tick(desk, at(21)) == 2
    assert await tick(desk, at(21, 15)) == 0
    remind = await d.expect(LIA["id"], "联络员信息报送提醒", after=m)
    await d.expect(LIA2["id"], "联络员信息报送提醒", after=m)
    assert "12月25日" in (remind.plain_text or "")
    assert len([t for t in d.texts(LIA["id"]) if "报送提醒" in t]) == 1

    # The reminder's button starts the dialog; the seven parts one at a time.
    m = d.mark()
    await d.press(LIA, LIA["id"], "开始填写", message=remind)
    ask = await d.expect(LIA["id"], "第1/7部分", after=m)
    assert "指标推进情况" in (ask.plain_text or "") and "「无」" in (ask.plain_text or "")
    answers = [
        ("推进“获得电力”指标，接电时间压缩至15个工作日", "第2/7部分"),
        ("无", "第3/7部分"),
        ("推行税费“一网通办”，新办企业套餐式服务", "第4/7部分"),
    ]
    for text, next_prompt in answers:
        m = d.mark()
        await d.send(LIA, text)
        await d.expect(LIA["id"], next_prompt, after=m)
    m = d.mark()
    await d.send(LIA, "宣讲会现场", photo=True)
    await d.expect(LIA["id"], "已附到第4部分", after=m)
    for text, next_prompt in (
        ("无", "第5/7部分"),
        ("举办留抵退税政策宣讲会，80家企业参加", "第6/7部分"),
        ("走访12家企业，了解到2家扩产计划；收集问题5个，已解决4个", "第7/7部分"),
    ):
        m = d.mark()
        await d.send(LIA, text)
        await d.expect(LIA["id"], next_prompt, after=m)
    m = d.mark()
    await d.send(LIA, "学习上海浦东“一业一证”改革经验")
    review = await d.expect(LIA["id"], "请核对", after=m)
    text = review.plain_text or ""
    assert "接电时间压缩至15个工作日" in text and "一业一证" in text
    assert "学习宣传情况（附件 1 个）：宣讲会现场" in text  # the caption stands for the text

    # Edit part 2 from the review, then submit.
    m = d.mark()
    await d.press(LIA, LIA["id"], "修改2", message=review)
    await d.expect(LIA["id"], "第2/7部分", after=m)
    m = d.mark()
    await d.send(LIA, "完成年度纳税信用评价任务")
    review = await d.expect(LIA["id"], "请核对", after=m)
    assert "完成年度纳税信用评价任务" in (review.plain_text or "")
    m = d.mark()
    assert "已提交" in await d.press(LIA, LIA["id"], "提交", message=review)
    await d.expect(LIA["id"], "联络员信息报送已提交", after=m)
    report = await LiaisonReport.get(department_code="TAX", month="2026-12")
    assert report.status == "submitted" and report.author_name == "刘 联络员"
    assert not await LiaisonSession.exists(user_id=LIA["id"])

    # Locked: the old review's buttons change nothing, /liaison shows it read-only.
    assert "不能再修改" in await d.press(LIA, LIA["id"], "修改1", message=review)
    m = d.mark()
    await d.send(LIA, "/liaison")
    locked = await d.expect(LIA["id"], "不能再修改", after=m)
    assert not d.fake.buttons(locked)

    # Reminders stop for the department that submitted; the other keeps getting them.
    m = d.mark()
    assert await tick(desk, at(22)) == 1
    await d.expect(LIA2["id"], "联络员信息报送提醒", after=m)
    assert len([t for t in d.texts(LIA["id"]) if "报送提醒" in t]) == 1

    # Weekend of the 26th: nothing; Monday the 28th: the late list to the screening group.
    assert await tick(desk, at(26)) == 0
    assert await tick(desk, at(27)) == 0
    m = d.mark()
    assert await tick(desk, at(28)) == 2  # ENV's liaison, and the screening group
    late = await d.expect(TRIAGE_G["id"], "尚未提交", after=m)
    assert "生态环境局" in (late.plain_text or "") and "吴 联络员" in (late.plain_text or "")
    assert "税务局" not in (late.plain_text or "")
    overdue = await d.expect(LIA2["id"], "已超过", after=m)
    assert overdue.plain_text
    assert await tick(desk, at(28, 16)) == 0  # once a day, once a month

    # The monthly briefing gains the section.
    cfg = desk.cfg
    period = stats.parse_period("2026-12", now=at(31), tz=cfg.tz)
    built = await briefing.monthly_briefing(period=period, now=at(31), tz=cfg.tz)
    doc = Document(io.BytesIO(built.docx))
    paragraphs = "\n".join(p.text for p in doc.paragraphs)
    assert "七、联络员信息报送" in paragraphs
    assert "按时提交 1 个" in paragraphs and "未提交：生态环境局" in paragraphs
    assert "完成年度纳税信用评价任务" in paragraphs and "（附件 1 个）" in paragraphs
    rows = [[c.text for c in r.cells] for t in doc.tables for r in t.rows]
    assert ["税务局", "刘 联络员", "已提交", "2026-12-21 15:00"] in rows
    assert ["生态环境局", "吴 联络员", "未提交", "—"] in rows


async def test_dialog_cancel_keeps_draft_and_other_department_refused(
    desk: ClockedDesk, dialog: Dialog
) -> None:
    d = dialog
    await bind_groups(d)
    await grant_liaison(d, LIA, TAX_G)
    await grant_liaison(d, LIA2, ENV_G)
    desk.clock.now = at(23)
    m = d.mark()
    await d.send(LIA, "/liaison")
    await d.expect(LIA["id"], "第1/7部分", after=m)
    m = d.mark()
    await d.send(LIA, "x" * 2001)
    await d.expect(LIA["id"], "每部分不超过 2000 字", after=m)
    m = d.mark()
    await d.send(LIA, "本月推进纳税缴费便利度指标")
    await d.expect(LIA["id"], "第2/7部分", after=m)
    m = d.mark()
    await d.send(LIA, "/cancel")
    await d.expect(LIA["id"], "草稿已保存", after=m)
    assert not await LiaisonSession.exists(user_id=LIA["id"])
    # After /cancel a text is no longer part of the report.
    report = await LiaisonReport.get(department_code="TAX", month="2026-12")
    assert report.parts["1"]["text"] == "本月推进纳税缴费便利度指标"

    # /liaison again: the draft's review; ENV's liaison cannot press TAX's buttons.
    m = d.mark()
    await d.send(LIA, "/liaison")
    review = await d.expect(LIA["id"], "请核对", after=m)
    data = next(x for t, x in d.fake.buttons(review) if "提交" in t)
    m = d.mark()
    await d.send(LIA2, "/liaison")
    own = await d.expect(LIA2["id"], "第1/7部分", after=m)
    toast = await d.press_data(LIA2, LIA2["id"], own.message_id, data)
    assert "只能填写本部门" in toast
    await report.refresh_from_db()
    assert report.status == "draft"
    # "暂存草稿" leaves the dialog; the draft keeps its content.
    m = d.mark()
    assert "草稿已保存" in await d.press(LIA, LIA["id"], "暂存草稿", message=review)
    await d.expect(LIA["id"], "12月25日前提交", after=m)
    assert not await LiaisonSession.exists(user_id=LIA["id"])
