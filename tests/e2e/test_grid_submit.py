"""Grid workers (网格员) as a transcript: /grant grid, /submit for an enterprise on their list, the
enterprise gets the ack, progress, result and return visit and rates it; the grid worker gets
copies. Role checks: no /submit without the role, no enterprise outside the list (a forged
button changes nothing), nobody else confirms their draft. SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from conftest import ADMIN, ENT, ENT2, REF, TAX1, TAX_G, TRIAGE_G, Dialog, bind_groups, register
from fakebot import FakeBotAPI

from desk import audit, grid
from models.audit import AuditEntry
from models.enterprise import Enterprise, Member
from models.grid import GridDraft
from models.ticket import Ticket, TicketEvent, TicketStatus

GRID = {"id": 6001, "first_name": "张网格"}
REQUEST = "走访发现该企业出口退税申报已经一个多月了，退税款一直没到账，企业想了解进度"
COMPANY = "天津泰达测试科技有限公司"
OTHER = "天津滨海精密制造有限公司"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:  # drives db_url in tests/conftest.py
    return request.param  # type: ignore[no-any-return]


async def test_grid_worker_submits_for_enterprise_that_rates(
    dialog: Dialog, desk: object, fake: FakeBotAPI
) -> None:
    d = dialog
    gid = GRID["id"]
    await bind_groups(d)
    await register(d, ENT, company=COMPANY)
    await register(d, ENT2, company=OTHER, contact="赵会计", phone="13912345678")
    mine = await Enterprise.get(name=COMPANY)
    other = await Enterprise.get(name=OTHER)

    # Not a grid worker yet: /submit is refused, nothing is kept.
    m = d.mark()
    await d.send(GRID, "/submit")
    await d.expect(gid, "仅限网格员", after=m)
    assert not await GridDraft.exists(user_id=gid)

    # An admin grants the role in reply to the grid worker's message (audited).
    hello = await d.send(GRID, "大家好，我是泰达街网格员张网格", chat=TRIAGE_G)
    m = d.mark()
    await d.send(ADMIN, "/grant grid", chat=TRIAGE_G, reply_to=hello["message"]["message_id"])
    await d.expect(TRIAGE_G["id"], "网格员", after=m)
    assert await AuditEntry.exists(action="role.grant", data={"role": "grid", "via": "telegram"})

    # An empty list: a clear answer.
    m = d.mark()
    await d.send(GRID, "/submit")
    await d.expect(gid, "名单中还没有企业", after=m)

    # The hotline office puts one enterprise on the list (the admin web's service).
    await grid.assign(who=audit.shell(), user_id=gid, enterprise=COMPANY)

    m = d.mark()
    await d.send(GRID, "/submit")
    pick = await d.expect(gid, "请选择要代为提交诉求的企业", after=m)
    labels = [t for t, _ in fake.buttons(pick)]
    assert labels == [COMPANY]

    # A forged button for an enterprise outside the list changes nothing.
    toast = await d.press_data(GRID, gid, pick.message_id, f"w:{other.id}:pick")
    assert "不在您的网格名单中" in toast
    draft = await GridDraft.get(user_id=gid)
    assert draft.step == "pick" and draft.enterprise_id is None

    # A typed word searches the list.
    m = d.mark()
    await d.send(GRID, "滨海")
    await d.expect(gid, "没有包含「滨海」的企业", after=m)
    m = d.mark()
    await d.send(GRID, "泰达")
    found = await d.expect(gid, "包含「泰达」的企业共 1 家", after=m)
    assert [t for t, _ in fake.buttons(found)] == [COMPANY]

    m = d.mark()
    toast = await d.press(GRID, gid, COMPANY, message=found)
    assert COMPANY in toast
    await d.expect(gid, "请发送文字描述企业遇到的问题", after=m)
    m = d.mark()
    await d.send(GRID, REQUEST)
    confirm = await d.expect(gid, f"代 {COMPANY} 提交", after=m)
    assert REQUEST in (confirm.plain_text or "")
    ok_data = next(data for text, data in fake.buttons(confirm) if "确认提交" in text)

    # Someone else pressing the grid worker's 确认提交 (a forged copy) opens nothing.
    own = fake.sent(ENT2["id"])[-1]  # a message in ENT2's own chat carries the forged button
    toast = await d.press_data(ENT2, ENT2["id"], own.message_id, ok_data)
    assert "仅限网格员" in toast
    assert await Ticket.all().count() == 0

    m = d.mark()
    toast = await d.press(GRID, gid, "确认提交", message=confirm)
    assert "已提交" in toast
    found_ref = REF.search(toast)
    assert found_ref
    ref = found_ref.group(0)
    assert not await GridDraft.exists(user_id=gid)

    # The ticket is the enterprise's; its ack says who filed it; the grid worker gets a copy.
    ack = await d.expect(ENT["id"], ref, after=m)
    assert "已受理" in (ack.plain_text or "") and "由网格员 张网格 代为提交" in (
        ack.plain_text or ""
    )
    copy = await d.expect(gid, "网格员抄送", after=m)
    assert ref in (copy.plain_text or "") and "已受理" in (copy.plain_text or "")
    assert "办理时限" in (copy.plain_text or "")
    assert not fake.buttons(copy)
    card = await d.expect(TAX_G["id"], ref, after=m)
    assert "代报：网格员 张网格" in (card.plain_text or "")
    assert REQUEST in (card.plain_text or "")

    ticket = await Ticket.get(ref=ref)
    member = await Member.get(tg_user_id=ENT["id"])
    assert ticket.enterprise_id == mine.id and ticket.member_id == member.id
    assert ticket.channel == "grid"
    create = await TicketEvent.get(ticket_id=ticket.id, action="create")
    assert (create.actor_kind, create.actor_id, create.actor_name) == ("grid", gid, "张网格")

    # 认领 and a progress message: the enterprise is told, the grid worker gets copies.
    m = d.mark()
    await d.press(TAX1, TAX_G["id"], "认领", message=card)
    await d.expect(ENT["id"], "认领", after=m)
    await d.expect(gid, "已由税务局工作人员认领", after=m)
    card = await d.expect(TAX_G["id"], "承办人", after=m)
    m = d.mark()
    await d.send(TAX1, "已联系企业财务，正在核对申报材料。", chat=TAX_G, reply_to=card.message_id)
    await d.expect(ENT["id"], "核对申报材料", after=m)
    progress = await d.expect(gid, "核对申报材料", after=m)
    assert "网格员抄送" in (progress.plain_text or "")

    # The result: the enterprise gets the return visit; the grid worker a copy, no buttons.
    m = d.mark()
    await d.send(TAX1, f"/done {ref} 已加急审核，退税款将于3个工作日内到账。", chat=TAX_G)
    visit = await d.expect(ENT["id"], "3个工作日内到账", after=m)
    result = await d.expect(gid, "3个工作日内到账", after=m)
    assert "企业将收到回访评价" in (result.plain_text or "") and not fake.buttons(result)

    # The grid worker cannot rate for the enterprise (a forged return-visit button).
    toast = await d.press_data(GRID, gid, result.message_id, f"v:{ticket.id}:s1")
    assert "注册" in toast
    assert (await Ticket.get(id=ticket.id)).rating_solved is None

    # The enterprise rates: closed, and the grid worker hears the rating.
    await d.press(ENT, ENT["id"], "已解决", message=visit)
    await d.expect(ENT["id"], "请继续评价")
    m = d.mark()
    await d.press(ENT, ENT["id"], "满意", message=visit)
    await d.expect(ENT["id"], "感谢您的评价", after=m)
    rated = await d.expect(gid, "企业已评价", after=m)
    assert "已解决／满意" in (rated.plain_text or "")
    ticket = await Ticket.get(id=ticket.id)
    assert ticket.status == TicketStatus.CLOSED and ticket.rating_satisfaction == "满意"

    # Taken off the list: /submit answers so, and a stale button for it changes nothing.
    await grid.unassign(who=audit.shell(), user_id=gid, enterprise_id=mine.id)
    assert await AuditEntry.exists(action="grid.unassign")
    m = d.mark()
    await d.send(GRID, "/submit")
    await d.expect(gid, "名单中还没有企业", after=m)
    toast = await d.press_data(GRID, gid, pick.message_id, f"w:{mine.id}:pick")
    assert "不在您的网格名单中" in toast
    assert await Ticket.all().count() == 1


async def test_grid_dialog_takes_texts_then_cancel(
    dialog: Dialog, desk: object, fake: FakeBotAPI
) -> None:
    """A grid worker who is also an enterprise contact: while /submit is open its texts belong
    to it; /cancel closes it and the next text is the enterprise's own request again."""
    d = dialog
    await bind_groups(d)
    await register(d, ENT, company=COMPANY)
    await register(d, ENT2, company=OTHER, contact="赵会计", phone="13912345678")
    hello = await d.send(ENT2, "我也是网格员", chat=TRIAGE_G)
    m = d.mark()
    await d.send(ADMIN, "/grant grid", chat=TRIAGE_G, reply_to=hello["message"]["message_id"])
    await d.expect(TRIAGE_G["id"], "网格员", after=m)
    await grid.assign(who=audit.shell(), user_id=ENT2["id"], enterprise=COMPANY)

    chat = ENT2["id"]
    m = d.mark()
    await d.send(ENT2, "/submit")
    pick = await d.expect(chat, "请选择", after=m)
    await d.press(ENT2, chat, COMPANY, message=pick)
    m = d.mark()
    await d.send(ENT2, "企业反映园区道路积水严重")
    await d.expect(chat, f"代 {COMPANY} 提交", after=m)
    assert await GridDraft.exists(user_id=chat)

    m = d.mark()
    await d.send(ENT2, "/cancel")
    await d.expect(chat, "已取消代报", after=m)
    assert not await GridDraft.exists(user_id=chat)
    m = d.mark()
    await d.send(ENT2, "我们公司的增值税发票开票额度不够用了")
    draft = await d.expect(chat, "请确认是否提交以下诉求", after=m)  # the enterprise's own
    assert "代 " not in (draft.plain_text or "")
    assert await Ticket.all().count() == 0


async def test_grid_worker_sends_a_photo_with_the_request(
    dialog: Dialog, desk: object, fake: FakeBotAPI
) -> None:
    """A photo with a caption is the description plus its material: the department gets both."""
    d = dialog
    gid = GRID["id"]
    await bind_groups(d)
    await register(d, ENT, company=COMPANY)
    hello = await d.send(GRID, "我是网格员", chat=TRIAGE_G)
    m = d.mark()
    await d.send(ADMIN, "/grant grid", chat=TRIAGE_G, reply_to=hello["message"]["message_id"])
    await d.expect(TRIAGE_G["id"], "网格员", after=m)
    await grid.assign(who=audit.shell(), user_id=gid, enterprise=COMPANY)

    m = d.mark()
    await d.send(GRID, "/submit")
    pick = await d.expect(gid, "请选择", after=m)
    await d.press(GRID, gid, COMPANY, message=pick)
    m = d.mark()
    await d.send(GRID, REQUEST, photo=True)
    confirm = await d.expect(gid, f"代 {COMPANY} 提交", after=m)
    assert "附件：图片" in (confirm.plain_text or "")
    m = d.mark()
    toast = await d.press(GRID, gid, "确认提交", message=confirm)
    found = REF.search(toast)
    assert found
    ref = found.group(0)
    await d.expect(TAX_G["id"], "代报：网格员 张网格", after=m)
    material = await d.expect(TAX_G["id"], "网格员附件", after=m)
    assert ref in (material.plain_text or material.text or "")
    ticket = await Ticket.get(ref=ref)
    assert await TicketEvent.exists(ticket_id=ticket.id, action="followup")
