"""Broadcasts in the enterprise's chat: received with a 退订 button, /subscribe to change topics.

Dialogs through the real desk and the fake Bot API.
"""

from __future__ import annotations

from conftest import ENT, ENT2, Desk, Dialog, register

from desk import audit, broadcast
from models.broadcast import TopicOptOut


async def test_broadcast_received_opt_out_and_back(desk: Desk, dialog: Dialog) -> None:
    d, chat = dialog, ENT["id"]
    await register(d, ENT)
    await register(d, ENT2, company="天津泰达另一家有限公司", phone="13900000002")

    m = d.mark()
    await broadcast.send(
        topic="policy", title="研发费用加计扣除解读", text="要点一……", editor=audit.shell()
    )
    got = await d.expect(chat, "研发费用加计扣除解读", after=m, wait=10)
    assert "政策解读" in (got.plain_text or "")
    await d.expect(ENT2["id"], "研发费用加计扣除解读", after=m, wait=10)

    toast = await d.press(ENT, chat, "退订", message=got)
    assert "已退订「政策解读」" in toast
    assert await TopicOptOut.filter(member__tg_user_id=ENT["id"], topic="policy").exists()

    m = d.mark()
    await broadcast.send(topic="policy", title="第二期政策解读", text="……", editor=audit.shell())
    await d.expect(ENT2["id"], "第二期政策解读", after=m, wait=10)
    assert not any("第二期" in t for t in d.texts(chat))  # opted out: nothing came

    m = d.mark()
    await d.send(ENT, "/subscribe")
    menu = await d.expect(chat, "订阅设置", after=m)
    labels = [label for label, _ in d.fake.buttons(menu)]
    assert any("政策解读（点击订阅）" in x for x in labels)
    assert any("活动发布（点击退订）" in x for x in labels)
    assert "已订阅「政策解读」" in await d.press(ENT, chat, "政策解读", message=menu)
    assert not await TopicOptOut.filter(member__tg_user_id=ENT["id"]).exists()
    # A forged topic number changes nothing.
    assert "没有这个订阅主题" in await d.press_data(ENT, chat, menu.message_id, "s:9:off")
