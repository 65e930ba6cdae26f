"""A key enterprise's butler (一项目一管家) through the real bot and the fake Bot API.

The office marks the enterprise 重点企业 with a butler → the butler is told → the enterprise's
request reaches the TAX group and, privately, the butler, both flagged → strangers pressing the
butler's buttons are refused → the butler claims from its private chat (both cards follow) →
办结 from the private chat → removed, the butler can no longer act and gets no more copies.
"""

from __future__ import annotations

import pytest
from conftest import ENT, ENT2, TAX_G, Desk, Dialog, bind_groups, register, submit
from fakebot import FakeBotAPI

from desk import audit, keyaccounts
from models.enterprise import Enterprise
from models.ticket import Ticket, TicketEvent, TicketStatus

REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"
BUTLER = {"id": 5001, "first_name": "刘", "last_name": "管家"}
STRANGER = {"id": 5002, "first_name": "路", "last_name": "人"}


@pytest.fixture
def db_kind() -> str:
    return "sqlite"


async def mark_key(name: str, butler: dict[str, object], project: str = "") -> int:
    ent = await Enterprise.get(name=name)
    await keyaccounts.set_key(
        who=audit.shell(),
        enterprise_id=ent.id,
        data=keyaccounts.parse_key(
            kind="enterprise",
            project=project,
            butler_user_id=str(butler["id"]),
            butler_name="刘管家",
            resolve_days="3",
        ),
    )
    return ent.id


async def test_butler_receives_and_claims_a_key_enterprise_ticket(
    fake: FakeBotAPI, dialog: Dialog, desk: Desk
) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    await register(d, ENT2, company="天津另一家贸易有限公司", phone="13912345678")
    # The butler has talked to the bot privately (its chat exists).
    await d.send(BUTLER, "/start")
    await d.expect(BUTLER["id"], "企业名称")
    await d.send(BUTLER, "/cancel")

    ent_id = await mark_key("天津泰达测试科技有限公司", BUTLER)
    await d.expect(BUTLER["id"], "您已被指定为")

    ref = await submit(d, ENT, REQUEST)
    ack = await d.expect(ENT["id"], ref)
    assert "【重点企业】" in (ack.plain_text or "")

    group_card = await d.expect(TAX_G["id"], ref)
    assert "⭐【重点企业】" in (group_card.plain_text or "")
    copy = await d.expect(BUTLER["id"], ref)
    text = copy.plain_text or ""
    assert "⭐【重点企业】" in text and "管家抄送" in text and REQUEST in text
    labels = [t for t, _ in fake.buttons(copy)]
    assert any("认领" in t for t in labels) and any("转办" in t for t in labels)
    claim_data = next(data for t, data in fake.buttons(copy) if "认领" in t)
    ticket = await Ticket.get(ref=ref)

    # Role checks: a stranger, or the enterprise itself, pressing a forged copy of the button
    # on a bot message of its own private chat changes nothing.
    await d.send(STRANGER, "/start")
    await d.expect(STRANGER["id"], "企业名称")
    for user in (STRANGER, ENT):
        own = fake.last(user["id"])
        toast = await d.press_data(user, user["id"], own.message_id, claim_data)
        assert toast == "无效的操作。", user
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.DISPATCHED

    # The butler claims from its private chat: the group's card and its copy both show it.
    m = d.mark()
    toast = await d.press(BUTLER, BUTLER["id"], "认领", message=copy)
    assert "认领成功" in toast
    edited_group = await d.expect(TAX_G["id"], "承办人：刘 管家", after=m)
    assert edited_group.message_id == group_card.message_id
    edited_copy = await d.expect(BUTLER["id"], "承办人：刘 管家", after=m)
    assert edited_copy.message_id == copy.message_id
    assert any("办结" in t for t, _ in fake.buttons(edited_copy))
    await d.expect(ENT["id"], "已由", after=m)
    event = await TicketEvent.filter(ticket_id=ticket.id, action="claim").get()
    assert (event.actor_kind, event.actor_name, event.actor_id) == ("staff", "刘 管家", 5001)

    # A reply to its copy of the card is progress for the enterprise, as from the group.
    m = d.mark()
    await d.send(BUTLER, "已联系税务局核实，正在加急办理。", reply_to=edited_copy.message_id)
    await d.expect(ENT["id"], "正在加急办理", after=m)
    await d.expect(BUTLER["id"], "已将回复转给企业", after=m)
    # A plain text that answers nothing is not taken as staff work (the enterprise's way).
    m = d.mark()
    await d.send(BUTLER, "你好")
    await d.expect(BUTLER["id"], "注册", after=m)

    # 办结 from the private chat: the prompt and the result go through the butler's chat.
    m = d.mark()
    toast = await d.press(BUTLER, BUTLER["id"], "办结", message=edited_copy)
    assert "请发送" in toast
    await d.expect(BUTLER["id"], "请在此直接发送", after=m)
    m = d.mark()
    await d.send(BUTLER, "已协调税务局完成退税，款项本周到账。")
    await d.expect(ENT["id"], "款项本周到账", after=m)
    await d.expect(TAX_G["id"], "已办结", after=m)
    done = await Ticket.get(id=ticket.id)
    assert done.status == TicketStatus.RESOLVED and done.resolved_by_name == "刘 管家"

    # Another enterprise's ticket is not copied to the butler.
    m = d.mark()
    other = await submit(d, ENT2, REQUEST)
    await d.expect(TAX_G["id"], other, after=m)
    assert not any(other in t for t in d.texts(BUTLER["id"]))

    # Removed: the butler is told, its old copy's buttons no longer work, no new copies.
    second = await submit(d, ENT, REQUEST)
    second_copy = await d.expect(BUTLER["id"], second)
    await keyaccounts.clear_key(who=audit.shell(), enterprise_id=ent_id)
    await d.expect(BUTLER["id"], "不再担任")
    toast = await d.press(BUTLER, BUTLER["id"], "认领", message=second_copy)
    assert toast == "无效的操作。"
    assert (await Ticket.get(ref=second)).status == TicketStatus.DISPATCHED
    m = d.mark()
    third = await submit(d, ENT, REQUEST)
    ack3 = await d.expect(ENT["id"], third, after=m)
    assert "重点" not in (ack3.plain_text or "")
    await d.expect(TAX_G["id"], third, after=m)
    assert not any(third in t for t in d.texts(BUTLER["id"]))
