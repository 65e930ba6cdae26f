"""Answer-first on SQLite and PostgreSQL (row locks): a question the guide answers gets the
answer and then the usual draft, linked; 已解决 withdraws the draft, 确认 or 仍需人工 opens
one ticket and never two, and the figures count each question once."""

from __future__ import annotations

import datetime as dt

import pytest

from desk import guide, registration, tickets
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import Conflict
from models.guide import GuideAnswer
from models.outbox import OutboxMessage
from models.ticket import Draft, Ticket, TicketEvent

ENT = Actor(kind="enterprise", user_id=702, name="王经理", chat_id=702)
QUESTION = "请问高新技术企业认定需要准备哪些材料？"
QUESTION2 = "新厂房用电报装怎么申请，要多长时间"


async def ask(cfg: DeskConfig, text: str) -> tuple[GuideAnswer, Draft]:
    await tickets.enterprise_message(cfg, actor=ENT, text=text)
    answer = await GuideAnswer.filter(question=text).order_by("-id").first()
    draft = await Draft.filter(text=text).order_by("-id").first()
    assert answer is not None and draft is not None
    assert answer.draft_id == draft.id and answer.state == "offered"
    kinds = [m.kind for m in await OutboxMessage.filter(chat_id=ENT.chat_id).order_by("id")]
    assert kinds[-2:] == ["guide_answer", "draft_confirm"]  # the answer is read first
    return answer, draft


async def test_answer_then_draft_one_ticket_at_most(db: str) -> None:
    cfg = DeskConfig()
    assert cfg.guide_first  # on by default
    await registration.start(actor=ENT)
    for text in ("天津指南优先测试有限公司", "跳过", "王经理", "13812345679"):
        await registration.answer(actor=ENT, text=text)

    # 已解决: the draft is withdrawn, 确认 on it afterwards opens nothing.
    answer, draft = await ask(cfg, QUESTION)
    toast = await tickets.decide_answer(cfg, actor=ENT, answer_id=answer.id, action="ok")
    assert "撤回" in toast
    assert (await Draft.get(id=draft.id)).state == "withdrawn"
    assert (await GuideAnswer.get(id=answer.id)).state == "solved"
    with pytest.raises(Conflict) as info:
        await tickets.decide_draft(cfg, actor=ENT, draft_id=draft.id, action="ok")
    assert "已撤回" in info.value.message
    assert await Ticket.all().count() == 0
    (note,) = await OutboxMessage.filter(kind="draft_withdrawn")
    assert note.chat_id == ENT.chat_id

    # 确认 under the draft: one ticket, the answer goes with it and the timeline says so.
    answer, draft = await ask(cfg, QUESTION2)
    assert "已提交" in await tickets.decide_draft(cfg, actor=ENT, draft_id=draft.id, action="ok")
    ticket = await Ticket.get()
    answer = await GuideAnswer.get(id=answer.id)
    assert (answer.state, answer.ticket_id) == ("human", ticket.id)
    assert "办事指南" in (await TicketEvent.get(ticket_id=ticket.id, action="guide")).note
    for action in ("human", "ok"):
        with pytest.raises(Conflict) as info:
            await tickets.decide_answer(cfg, actor=ENT, answer_id=answer.id, action=action)
        assert ticket.ref in info.value.message
    assert await Ticket.all().count() == 1

    now = dt.datetime.now(dt.UTC)
    stats = await guide.answer_stats(
        since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1)
    )
    assert (stats.questions, stats.answered, stats.solved, stats.human) == (2, 2, 1, 1)
    assert stats.without_ticket == 1


async def test_still_need_a_person_confirms_the_same_draft(db: str) -> None:
    cfg = DeskConfig()
    await registration.start(actor=ENT)
    for text in ("天津指南人工测试有限公司", "跳过", "王经理", "13812345679"):
        await registration.answer(actor=ENT, text=text)
    answer, draft = await ask(cfg, QUESTION)
    toast = await tickets.decide_answer(cfg, actor=ENT, answer_id=answer.id, action="human")
    ticket = await Ticket.get()
    assert ticket.ref in toast and ticket.text == QUESTION
    draft = await Draft.get(id=draft.id)
    assert (draft.state, draft.ticket_id) == ("submitted", ticket.id)
    with pytest.raises(Conflict):
        await tickets.decide_draft(cfg, actor=ENT, draft_id=draft.id, action="ok")
    assert await Ticket.all().count() == 1
    assert (await GuideAnswer.get(id=answer.id)).state == "human"


async def test_off_sends_only_the_draft(db: str) -> None:
    cfg = DeskConfig(guide_first=False)
    await registration.start(actor=ENT)
    for text in ("天津指南关闭测试有限公司", "跳过", "王经理", "13812345679"):
        await registration.answer(actor=ENT, text=text)
    await tickets.enterprise_message(cfg, actor=ENT, text=QUESTION)
    assert await GuideAnswer.all().count() == 0
    assert [
        m.kind
        for m in await OutboxMessage.filter(
            chat_id=ENT.chat_id, kind__in=("guide_answer", "draft_confirm")
        )
    ] == ["draft_confirm"]
