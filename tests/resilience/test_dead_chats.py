"""Chats that can never receive: an enterprise that blocked the bot (403) and a group that is
gone (400 chat not found). Each message to them is tried once, parked as failed and kept; no
retry storm; every other chat carries on as usual.

(``tests/integration/test_outbox_db.py`` checks the sender's reaction to one ``Forbidden``
with a stand-in bot; here it is the whole desk against the fake Bot API.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fakebot import FakeBotAPI

from models.outbox import OutboxMessage, OutboxStatus
from models.ticket import Ticket, TicketStatus

from .outage_harness import (
    ENT,
    ENT2,
    ENV_G,
    TAX1,
    TAX_G,
    TRIAGE_G,
    Desk,
    Dialog,
    assert_nothing_lost_or_doubled,
    bind_groups,
    register,
    settle,
    submit,
)

TAX_REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"
SENDS = ("sendMessage", "editMessageText", "copyMessage")


@pytest.fixture
def db_kind() -> str:
    return "sqlite"


@pytest.fixture
async def desk(fake: FakeBotAPI, db_url: str) -> AsyncIterator[Desk]:
    running = Desk(fake=fake, db_url=db_url, webhook=False)
    await running.start()
    yield running
    await running.stop()


def calls_to(fake: FakeBotAPI, chat_id: int) -> list[int]:
    """HTTP statuses of every message call to ``chat_id``, in order."""
    return [c.status for m in SENDS for c in fake.calls_of(m, chat_id=chat_id)]


async def test_blocked_enterprise_and_deleted_group_are_parked(
    fake: FakeBotAPI, dialog: Dialog, desk: Desk
) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_REQUEST)
    card = await d.expect(TAX_G["id"], ref)
    await settle()

    # The enterprise blocks the bot, and the environment bureau's group is deleted.
    fake.block(ENT["id"])
    fake.fail_next(
        "*",
        error_code=400,
        description="Bad Request: chat not found",
        chat_id=ENV_G["id"],
        count=1000,
    )
    before_ent = len(calls_to(fake, ENT["id"]))
    before_env = len(calls_to(fake, ENV_G["id"]))
    sent_before = {r.id for r in await OutboxMessage.filter(status=OutboxStatus.SENT)}

    # Staff work on the ticket as usual: claim, a question, a transfer to the dead group, and
    # a second enterprise starts registering meanwhile.
    m = d.mark()
    assert "认领成功" in await d.press(TAX1, TAX_G["id"], "认领", message=card)
    await d.expect(TAX_G["id"], "承办人", after=m)
    await d.send(TAX1, "请提供出口报关单号和申报月份。", chat=TAX_G, reply_to=card.message_id)
    m = d.mark()
    await d.send(ENT2, "/start")
    await d.expect(ENT2["id"], "企业名称", after=m)
    m = d.mark()
    await d.press(TAX1, TAX_G["id"], "转办", message=card)
    picker = await d.expect(TAX_G["id"], "请选择部门", after=m)
    await d.press(TAX1, TAX_G["id"], "生态环境局", message=picker)
    await d.expect(TAX_G["id"], "已转办至生态环境局")
    await settle()

    # Each message to the two dead chats was tried exactly once and parked.
    parked = await OutboxMessage.filter(status=OutboxStatus.FAILED).order_by("id")
    to_ent = [r for r in parked if r.chat_id == ENT["id"]]
    to_env = [r for r in parked if r.chat_id == ENV_G["id"]]
    assert len(to_ent) >= 3, [(r.kind, r.error) for r in parked]  # claim, question, transfer
    assert to_env, [(r.kind, r.error) for r in parked]
    assert {r.chat_id for r in parked} == {ENT["id"], ENV_G["id"]}
    assert all("forbidden" in (r.error or "") and r.attempts == 1 for r in to_ent)
    assert all("chat not found" in (r.error or "").lower() and r.attempts == 1 for r in to_env), [
        (r.kind, r.error, r.attempts, r.params) for r in to_env
    ]
    assert calls_to(fake, ENT["id"])[before_ent:] == [403] * len(to_ent)
    assert calls_to(fake, ENV_G["id"])[before_env:] == [400] * len(to_env)

    # Still nothing more a while later: parked rows are not retried.
    await asyncio.sleep(2.5)
    assert calls_to(fake, ENT["id"])[before_ent:] == [403] * len(to_ent)
    assert calls_to(fake, ENV_G["id"])[before_env:] == [400] * len(to_env)

    # Everything else went out once, in order; nothing delivered earlier was touched.
    await assert_nothing_lost_or_doubled(fake, parked={ENT["id"], ENV_G["id"]})
    assert sent_before <= {r.id for r in await OutboxMessage.filter(status=OutboxStatus.SENT)}
    ticket = await Ticket.get(ref=ref)
    assert ticket.status == TicketStatus.DISPATCHED  # with the environment bureau now
    # The screening group was told once (not once per parked message) what to do.
    alerts = [text for text in d.texts(TRIAGE_G["id"]) if "无法送达" in text]
    assert len(alerts) == 1, alerts
    assert "生态环境局" in alerts[0] and "/bind ENV" in alerts[0]

    # The enterprise unblocks the bot and writes again: it is answered as usual.
    fake.blocked_chats.discard(ENT["id"])
    m = d.mark()
    await d.send(ENT, "/tickets")
    listing = await d.expect(ENT["id"], ref, after=m)
    assert listing.message_id > 0
