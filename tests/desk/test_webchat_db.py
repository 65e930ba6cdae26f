"""Web chat rules on a real database: sign-in codes, identities, delivery into the history."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from desk import notify, registration
from desk import webchat as wc
from desk.actors import Actor
from desk.errors import DeskError, InvalidInput, RateLimited
from models.department import GroupBinding
from models.enterprise import Enterprise, Member
from models.outbox import MessageLink, OutboxMessage, OutboxStatus
from models.webchat import SignInCode, WebChatMessage, WebIdentity

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
TRIAGE = -100400
SENDERS = wc.make_senders(["telegram", "office"])


def code_in(row: OutboxMessage) -> str:
    return str(row.params["code"])


async def last_row(chat_id: int) -> OutboxMessage:
    row = await OutboxMessage.filter(chat_id=chat_id).order_by("-id").first()
    assert row is not None
    return row


async def test_office_reads_the_code_of_a_new_phone(db: str) -> None:
    await GroupBinding.create(code="TRIAGE", chat_id=TRIAGE, title="分拨群")
    hint = await wc.request_code(phone="+86 139-0000-1111", now=NOW, senders=SENDERS)
    assert "25201111" in hint
    row = await last_row(TRIAGE)
    assert row.kind == "signin_code_office" and row.channel == "telegram"
    assert row.params["phone"] == "139****1111"  # masked in the group
    stored = await SignInCode.get(phone="13900001111")
    code = code_in(row)
    assert re.fullmatch(r"\d{6}", code) and code not in stored.code_hash
    assert stored.delivered_by == "office"

    identity = await wc.verify_code(phone="13900001111", code=code, now=NOW)
    assert identity.phone == "13900001111"
    with pytest.raises(InvalidInput):  # used once only
        await wc.verify_code(phone="13900001111", code=code, now=NOW)


async def test_telegram_contact_gets_its_code_privately(db: str) -> None:
    await GroupBinding.create(code="TRIAGE", chat_id=TRIAGE, title="分拨群")
    ent = await Enterprise.create(name="天津泰达测试科技有限公司")
    await Member.create(
        enterprise=ent, tg_user_id=1001, chat_id=1001, contact_name="王经理", phone="13812345678"
    )
    hint = await wc.request_code(phone="13812345678", now=NOW, senders=SENDERS)
    assert "Telegram" in hint
    assert (await last_row(1001)).kind == "signin_code"
    assert not await OutboxMessage.exists(chat_id=TRIAGE)


async def test_codes_are_limited_and_void_after_five_wrong_tries(db: str) -> None:
    await GroupBinding.create(code="TRIAGE", chat_id=TRIAGE, title="分拨群")
    phone = "13700000000"
    await wc.request_code(phone=phone, now=NOW, senders=SENDERS)
    with pytest.raises(RateLimited, match="秒后"):
        await wc.request_code(phone=phone, now=NOW + dt.timedelta(seconds=30), senders=SENDERS)
    first = code_in(await last_row(TRIAGE))
    later = NOW + dt.timedelta(seconds=61)
    await wc.request_code(phone=phone, now=later, senders=SENDERS)
    second = code_in(await last_row(TRIAGE))
    lefts = [4, 3, 2, 1]
    if first != second:  # a new code voids the older one: trying it is a wrong try
        with pytest.raises(InvalidInput, match="还可再试 4 次"):
            await wc.verify_code(phone=phone, code=first, now=later)
        lefts.pop(0)
    wrong = "000000" if second != "000000" else "111111"
    for left in lefts:
        with pytest.raises(InvalidInput, match=f"还可再试 {left} 次"):
            await wc.verify_code(phone=phone, code=wrong, now=later)
    with pytest.raises(InvalidInput, match="已失效"):
        await wc.verify_code(phone=phone, code=wrong, now=later)
    with pytest.raises(InvalidInput, match="已失效"):  # even the right one, now
        await wc.verify_code(phone=phone, code=second, now=later)
    for n in range(3):
        await wc.request_code(
            phone=phone, now=later + dt.timedelta(minutes=2 * (n + 1)), senders=SENDERS
        )
    with pytest.raises(RateLimited, match="一小时"):
        await wc.request_code(phone=phone, now=later + dt.timedelta(minutes=9), senders=SENDERS)
    assert await SignInCode.filter(phone=phone).count() == 5
    expired = code_in(await last_row(TRIAGE))
    with pytest.raises(InvalidInput, match="已失效"):
        await wc.verify_code(phone=phone, code=expired, now=later + dt.timedelta(minutes=30))


async def test_bad_phone_and_no_way_to_deliver_store_nothing(db: str) -> None:
    with pytest.raises(InvalidInput):
        await wc.request_code(phone="12345", now=NOW, senders=SENDERS)
    with pytest.raises(DeskError, match="25201111"):  # no screening group bound yet
        await wc.request_code(phone="13900002222", now=NOW, senders=SENDERS)
    assert await SignInCode.all().count() == 0
    assert await OutboxMessage.all().count() == 0
    with pytest.raises(ValueError, match="unknown code sender"):
        wc.make_senders(["sms"])


async def test_identity_acts_as_its_contact_or_registers(db: str) -> None:
    identity = await WebIdentity.create(phone="13900003333")
    chat = wc.web_chat(identity.id)
    actor, member = await wc.actor_for(identity.id)
    assert member is None and actor.user_id == chat and actor.chat_id == chat

    # The web registration skips the phone step: the code proved it.
    await registration.start(actor=actor, phone=identity.phone)
    for answer in ("天津网页测试有限公司", "跳过", "刘经理"):
        await registration.answer(actor=actor, text=answer)
    done = await OutboxMessage.filter(chat_id=chat, kind="reg_done").first()
    assert done is not None and done.channel == "web"
    actor, member = await wc.actor_for(identity.id)
    assert member is not None and member.phone == "13900003333"
    assert member.chat_id == chat and actor.user_id == chat

    # A contact registered in Telegram keeps its own user id on the web.
    ent = await Enterprise.create(name="天津泰达测试科技有限公司")
    await Member.create(
        enterprise=ent, tg_user_id=1001, chat_id=1001, contact_name="王经理", phone="13812345678"
    )
    other = await WebIdentity.create(phone="13812345678")
    actor, member = await wc.actor_for(other.id)
    assert member is not None and actor.user_id == 1001
    assert actor.chat_id == wc.web_chat(other.id)


async def test_delivery_stores_once_and_edits_in_place(db: str) -> None:
    chat = wc.web_chat(7)
    async_row = await notify.enqueue(
        chat_id=chat, kind="error", params={"message": "x"}, ticket_id=5, link_role="visit"
    )
    assert async_row.channel == "web"
    parts = [wc.WebPart(html="<b>回访</b>", buttons=[[["满意", "v:5:m3"]]])]
    touched = await wc.deliver(async_row, parts, now=NOW)
    assert len(touched) == 1
    row = await OutboxMessage.get(id=async_row.id)
    assert row.status == OutboxStatus.SENT
    assert await MessageLink.exists(chat_id=chat, message_id=touched[0], role="visit")
    assert await wc.deliver(row, parts, now=NOW) == []  # redelivered: nothing twice
    assert await WebChatMessage.filter(chat_id=chat).count() == 1

    edit = await notify.enqueue(chat_id=chat, kind="error", params={}, ticket_id=5)
    first = await WebChatMessage.get(id=touched[0])
    again = await wc.deliver(
        edit, [wc.WebPart(html="已评价", buttons=[], edit_role="visit")], now=NOW
    )
    assert again == [first.id]
    edited = await WebChatMessage.get(id=first.id)
    assert edited.html == "已评价" and edited.buttons == [] and edited.seq > first.seq
    assert [m.id for m in await wc.changed_since(chat_id=chat, seq=first.seq)] == [first.id]
    assert await wc.owns_message(chat_id=chat, message_id=first.id)
    assert not await wc.owns_message(chat_id=chat + 1, message_id=first.id)


def test_web_chat_ids_never_meet_telegram_ids() -> None:
    assert wc.web_chat(1) > 2**52 > 9_999_999_999_999
    assert notify.channel_of(wc.web_chat(1)) == "web"
    assert notify.channel_of(-1001234567890) == "telegram"
    assert notify.channel_of(1001) == "telegram"
    assert Actor(kind="enterprise", user_id=1, name="x").chat_id is None
