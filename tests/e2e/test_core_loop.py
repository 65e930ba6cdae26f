"""The core loop as a transcript, through the real PTB Application and the fake Bot API.

enterprise registers → request → 确认 → ticket → TAX group card → 认领 → progress both ways →
转办 to ENV → 退回 to triage → dispatch back to TAX → /done → return visit 未解决 → 重办 →
办结 → 已解决 + 满意 → closed. Polling on SQLite; webhook on PostgreSQL + Redis.
"""

from __future__ import annotations

import pytest
from conftest import (
    ENT,
    ENV1,
    ENV_G,
    TAX1,
    TAX2,
    TAX_G,
    TRI1,
    TRIAGE_G,
    Desk,
    Dialog,
    bind_groups,
    register,
    submit,
)
from fakebot import FakeBotAPI

from models.ticket import Ticket, TicketEvent, TicketStatus

REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"


@pytest.fixture(
    params=[
        pytest.param(("polling", "sqlite"), id="polling-sqlite"),
        pytest.param(("webhook", "postgres"), id="webhook-postgres", marks=pytest.mark.postgres),
    ]
)
def mode(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def db_kind(mode: tuple[str, str]) -> str:  # drives the db_url fixture in tests/conftest.py
    return mode[1]


async def test_whole_loop(
    fake: FakeBotAPI, dialog: Dialog, db_url: str, mode: tuple[str, str], redis_url: str
) -> None:
    d = dialog
    # Production shape (webhook, PostgreSQL, Redis) and the embedded default (polling, SQLite).
    webhook = mode[0] == "webhook"
    desk = Desk(
        fake=fake, db_url=db_url, webhook=webhook, redis_url=redis_url if webhook else None
    )
    await desk.start()
    try:
        await bind_groups(d)
        await register(d, ENT)
        ref = await submit(d, ENT, REQUEST)

        # The TAX group gets the card: reference, the request, and the three buttons.
        card = await d.expect(TAX_G["id"], ref)
        assert REQUEST in (card.plain_text or "")
        labels = " ".join(t for t, _ in fake.buttons(card))
        for word in ("认领", "转办", "退回"):
            assert word in labels
        assert "13812345678" not in (card.plain_text or "")  # personal data masked

        # 认领: first one wins; the card shows the claimant and offers 办结.
        toast = await d.press(TAX1, TAX_G["id"], "认领", message=card)
        assert "认领成功" in toast
        card = await d.expect(TAX_G["id"], "承办人")
        assert "办结" in " ".join(t for t, _ in fake.buttons(card))
        # A second press on a stale copy changes nothing.
        stale = await d.press_data(
            TAX2, TAX_G["id"], card.message_id, f"t:{card_ticket_id(fake, card)}:claim"
        )
        assert "不能认领" in stale
        await d.expect(ENT["id"], "认领")

        # Staff reply to the card reaches the enterprise; its reply comes back quoted.
        m = d.mark()
        await d.send(TAX1, "请提供出口报关单号和申报月份。", chat=TAX_G, reply_to=card.message_id)
        progress = await d.expect(ENT["id"], "报关单号", after=m)
        assert ref in (progress.plain_text or "")
        m = d.mark()
        await d.send(ENT, "报关单号 020220261234，申报月份2026年9月", reply_to=progress.message_id)
        follow = await d.expect(TAX_G["id"], "020220261234", after=m)
        assert ref in (follow.plain_text or "")
        assert follow.reply_to_message_id == card.message_id

        # 转办 to ENV: both groups see it, the enterprise is told.
        m = d.mark()
        await d.press(TAX1, TAX_G["id"], "转办", message=card)
        picker = await d.expect(TAX_G["id"], "请选择部门", after=m)
        await d.press(TAX1, TAX_G["id"], "生态环境局", message=picker)
        await d.expect(TAX_G["id"], "已转办至生态环境局")
        env_card = await d.expect(ENV_G["id"], ref)
        await d.expect(ENT["id"], "已转由生态环境局办理")

        # 退回 with a reason: back to triage, which dispatches to TAX again.
        m = d.mark()
        await d.press(ENV1, ENV_G["id"], "退回", message=env_card)
        await d.expect(ENV_G["id"], "退回原因", after=m)
        await d.send(ENV1, "不属于生态环境局职责，请转税务局。", chat=ENV_G)
        tri = await d.expect(TRIAGE_G["id"], "不属于生态环境局职责")
        assert ref in (tri.plain_text or "")
        m = d.mark()
        await d.press(TRI1, TRIAGE_G["id"], "其他部门", message=tri)
        picker = await d.expect(TRIAGE_G["id"], "请选择部门", after=m)
        await d.press(TRI1, TRIAGE_G["id"], "税务局", message=picker)
        card2 = await d.expect(TAX_G["id"], "待认领", after=m)
        assert ref in (card2.plain_text or "")

        # /done REF result: the enterprise gets the result and the return visit.
        m = d.mark()
        await d.send(TAX1, f"/done {ref} 已加急审核，退税款将于3个工作日内到账。", chat=TAX_G)
        visit = await d.expect(ENT["id"], "3个工作日内到账", after=m)
        labels = " ".join(t for t, _ in fake.buttons(visit))
        for word in ("已解决", "未解决", "满意", "基本满意", "不满意"):
            assert word in labels

        # 未解决 reopens it to the same department as 重办, with the enterprise's reason.
        m = d.mark()
        await d.press(ENT, ENT["id"], "未解决", message=visit)
        reopened = await d.expect(TAX_G["id"], "重办", after=m)
        assert ref in (reopened.plain_text or "")
        await d.expect(ENT["id"], "重办", after=m)
        m = d.mark()
        await d.send(ENT, "款项仍未到账，银行说没有收到。")
        await d.expect(TAX_G["id"], "银行说没有收到", after=m)

        # Claim again, 办结 via the button (it asks for the result), rate 已解决 + 满意.
        m = d.mark()
        await d.press(TAX2, TAX_G["id"], "认领", message=reopened)
        card3 = await d.expect(TAX_G["id"], "承办人：周", after=m)
        assert card3.message_id == reopened.message_id
        m = d.mark()
        await d.press(TAX2, TAX_G["id"], "办结", message=card3)
        await d.expect(TAX_G["id"], "办理结果", after=m)
        m = d.mark()
        await d.send(TAX2, "已联系国库，退税款今日到账。", chat=TAX_G)
        visit2 = await d.expect(ENT["id"], "今日到账", after=m)
        await d.press(ENT, ENT["id"], "已解决", message=visit2)
        await d.expect(ENT["id"], "请继续评价")
        m = d.mark()
        await d.press(ENT, ENT["id"], "基本满意", message=visit2)
        await d.expect(ENT["id"], "感谢您的评价", after=m)

        ticket = await Ticket.get(ref=ref)
        assert ticket.status == TicketStatus.CLOSED
        assert ticket.close_reason == "已评价"
        assert ticket.reopen_count == 1
        assert ticket.rating_satisfaction == "基本满意"
        actions = [e.action for e in await TicketEvent.filter(ticket_id=ticket.id)]
        assert actions[:3] == ["create", "claim", "followup"] or "create" == actions[0]
        for needed in (
            "claim",
            "progress",
            "followup",
            "transfer",
            "return",
            "dispatch",
            "resolve",
            "reopen",
            "close",
        ):
            assert needed in actions, actions

        # /tickets lists it with its state.
        m = d.mark()
        await d.send(ENT, "/tickets")
        listing = await d.expect(ENT["id"], ref, after=m)
        assert "已关闭" in (listing.plain_text or "")

        # Never asked Telegram to drop pending updates.
        assert not fake.drop_pending_updates_requested
        if webhook:  # Redis held the update pre-dedup keys and the scheduler lease
            from redis.asyncio import Redis

            client = Redis.from_url(redis_url)
            try:
                assert await client.exists("desk:lease:scheduler")
                assert len(await client.keys("desk:upd:tg:*")) > 10
            finally:
                await client.aclose()
    finally:
        await desk.stop()


def card_ticket_id(fake: FakeBotAPI, card: object) -> int:
    data = [d for _, d in fake.buttons(card) if d and d.startswith("t:")]  # type: ignore[arg-type]
    return int(data[0].split(":")[1])
