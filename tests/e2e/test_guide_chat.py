"""Answers before tickets: the service guide (办事指南) in the enterprise's chat.

Dialogs through the real desk and the fake Bot API, with answer-first as configured by default:
a general question the guide answers well gets the answer first and then the usual draft with
确认 (已解决 withdraws the draft, no ticket; 仍需人工 confirms that same draft; 确认 under the
draft opens the ticket and counts the answer as gone to a person), a stuck case gets only the
draft, ``/guide`` browses by department, and forged or foreign guide buttons change nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ENT, ENT2, REF, TAX_G, Desk, Dialog, bind_groups, register
from fakebot.server import SentMessage

from bot.app import CONFIG
from desk import guide
from models.guide import GuideAnswer
from models.ticket import Draft, Ticket, TicketEvent


@pytest.fixture(autouse=True)
def guide_first(desk: Desk) -> None:
    """Answer-first is on by default (DESK_GUIDE_FIRST): these dialogs rely on the default."""
    assert desk.runner is not None
    assert desk.runner.app[CONFIG].guide_first is True


QUESTION = "请问高新技术企业认定需要准备哪些材料？"
QUESTION2 = "新厂房用电报装怎么申请，要多长时间"
STUCK = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"


async def ask(d: Dialog, text: str) -> tuple[SentMessage, SentMessage]:
    """The enterprise asks ``text``: the guide's answer comes first, then the draft."""
    chat = ENT["id"]
    m = d.mark()
    await d.send(ENT, text)
    draft = await d.expect(chat, "请确认是否提交", after=m)
    answer = await d.expect(chat, "办事指南", after=m, wait=1)
    assert answer.message_id < draft.message_id  # the answer is read first
    return answer, draft


async def test_a_question_the_guide_answers_is_answered_first(desk: Desk, dialog: Dialog) -> None:
    d, chat = dialog, ENT["id"]
    await bind_groups(d)
    await register(d, ENT)

    answer, draft = await ask(d, QUESTION)
    text = answer.plain_text or ""
    assert "高新技术企业" in text and "申请材料" in text
    labels = [label for label, _ in d.fake.buttons(answer)]
    assert any("已解决" in label for label in labels)
    assert any("仍需人工" in label for label in labels)
    assert not any("确认" in label for label in labels)  # 确认 is the draft's, unchanged
    assert QUESTION in (draft.plain_text or "")
    assert any("确认" in label for label, _ in d.fake.buttons(draft))
    (row,) = await GuideAnswer.all()
    assert row.draft_id == (await Draft.get()).id
    assert await Ticket.all().count() == 0

    # 已解决: no ticket, and the draft under the answer is withdrawn.
    m = d.mark()
    toast = await d.press(ENT, chat, "已解决", message=answer)
    assert "感谢" in toast and "撤回" in toast
    await d.expect(chat, "已撤回", after=m)
    row = await GuideAnswer.get(id=row.id)
    assert row.state == "solved" and row.item_code == "sci-hightech-certification"
    assert (await Draft.get(id=row.draft_id)).state == "withdrawn"
    # 确认 on the withdrawn draft afterwards opens nothing, and says why.
    toast = await d.press(ENT, chat, "确认", message=draft)
    assert "已撤回" in toast and "办事指南" in toast
    # Pressing again (or the other button) changes nothing.
    assert "已选择过" in await d.press(ENT, chat, "仍需人工", message=answer)
    assert await Ticket.all().count() == 0

    # 仍需人工: the draft is confirmed, with the enterprise's own words; the office sees why.
    second, draft2 = await ask(d, QUESTION2)
    m = d.mark()
    toast = await d.press(ENT, chat, "仍需人工", message=second)
    assert "已提交" in toast
    ack = await d.expect(chat, "已受理", after=m)
    ref = REF.search(ack.plain_text or "")
    assert ref is not None
    ticket = await Ticket.get(ref=ref.group(0))
    assert ticket.text == QUESTION2
    event = await TicketEvent.get(ticket_id=ticket.id, action="guide")
    assert "仍需人工" in event.note
    human = await GuideAnswer.get(ticket_id=ticket.id)
    assert human.state == "human"
    assert (await Draft.get(id=human.draft_id)).state == "submitted"
    # One ticket, never two: 确认 on the same draft, or 仍需人工 again, opens nothing new.
    assert "已处理" in await d.press(ENT, chat, "确认", message=draft2)
    toast = await d.press(ENT, chat, "仍需人工", message=second)
    assert ticket.ref in toast and "不会重复" in toast
    assert await Ticket.all().count() == 1

    # A stuck case goes to a department as before, however well the guide's words match it.
    m = d.mark()
    await d.send(ENT, STUCK)
    await d.expect(chat, "请确认是否提交", after=m)
    assert await GuideAnswer.all().count() == 2

    # Measured: 3 requests, 2 answered first, 1 of them without a ticket.
    now = dt.datetime.now(dt.UTC)
    stats = await guide.answer_stats(
        since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1)
    )
    assert (stats.questions, stats.answered, stats.solved, stats.human) == (3, 2, 1, 1)
    assert stats.without_ticket == 1 and stats.answered_share == 1 / 3
    assert stats.later_ticket == 1  # the same enterprise opened a ticket after its 已解决


async def test_confirming_the_draft_after_an_answer_opens_one_ticket(
    desk: Desk, dialog: Dialog
) -> None:
    """The core loop is unchanged under an answer: 确认 opens the ticket, the answer follows it."""
    d, chat = dialog, ENT["id"]
    await bind_groups(d)
    await register(d, ENT)
    answer, draft = await ask(d, QUESTION)

    m = d.mark()
    toast = await d.press(ENT, chat, "确认", message=draft)
    assert "已提交" in toast
    ack = await d.expect(chat, "已受理", after=m)
    ref = REF.search(ack.plain_text or "")
    assert ref is not None
    ticket = await Ticket.get(ref=ref.group(0))
    assert ticket.text == QUESTION
    (row,) = await GuideAnswer.all()
    assert (row.state, row.ticket_id) == ("human", ticket.id)
    assert row.decided_at is not None
    event = await TicketEvent.get(ticket_id=ticket.id, action="guide")
    assert "办事指南" in event.note

    # The answer's buttons afterwards: no second ticket, no withdrawn draft.
    toast = await d.press(ENT, chat, "仍需人工", message=answer)
    assert ticket.ref in toast and "不会重复" in toast
    assert ticket.ref in await d.press(ENT, chat, "已解决", message=answer)
    assert await Ticket.all().count() == 1
    assert (await Draft.get(id=row.draft_id)).state == "submitted"

    now = dt.datetime.now(dt.UTC)
    stats = await guide.answer_stats(
        since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1)
    )
    assert (stats.questions, stats.answered, stats.human, stats.without_ticket) == (1, 1, 1, 0)


async def test_guide_buttons_are_checked(desk: Desk, dialog: Dialog) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    await register(d, ENT2, company="天津泰达另一家有限公司", phone="13900000002")
    answer, _ = await ask(d, QUESTION)
    (row,) = await GuideAnswer.all()
    # Another enterprise pressing a copy of the button (forged data in its own chat).
    own = d.fake.sent(ENT2["id"])[-1].message_id
    toast = await d.press_data(ENT2, ENT2["id"], own, f"g:{row.id}:human")
    assert "不存在" in toast
    assert "无效" in await d.press_data(ENT, ENT["id"], answer.message_id, f"g:{row.id}:zz")
    assert "无效" in await d.press_data(ENT, ENT["id"], answer.message_id, "g:x:ok")
    # A guide button pressed in a group does nothing either.
    in_group = d.fake.sent(TAX_G["id"])[-1].message_id
    assert "无效" in await d.press_data(ENT, TAX_G["id"], in_group, f"g:{row.id}:ok")
    assert (await GuideAnswer.get(id=row.id)).state == "offered"
    assert await Ticket.all().count() == 0


async def test_guide_command_browses_by_department(desk: Desk, dialog: Dialog) -> None:
    d, chat = dialog, ENT["id"]
    m = d.mark()
    await d.send(ENT, "/guide")  # browsing needs no registration
    menu = await d.expect(chat, "办事指南", after=m)
    dept_buttons = d.fake.buttons(menu)
    assert len(dept_buttons) >= 10
    data = next(x for t, x in dept_buttons if "税务" in t)
    m = d.mark()
    await d.press_data(ENT, chat, menu.message_id, data)
    listing = await d.expect(chat, "服务事项", after=m)
    items = d.fake.buttons(listing)
    assert items and all(x and x.endswith(":item") for _, x in items)
    name, item_data = items[0]
    m = d.mark()
    await d.press_data(ENT, chat, listing.message_id, item_data)
    detail = await d.expect(chat, "主管部门", after=m)
    assert name in (detail.plain_text or "") and "税务" in (detail.plain_text or "")
    assert "不存在" in await d.press_data(ENT, chat, listing.message_id, "g:999999:item")
