"""Bad input, forged buttons, duplicates, restarts and delivery limits, end to end (SQLite)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import pytest
from conftest import (
    ADMIN,
    ENT,
    ENT2,
    ENV1,
    ENV_G,
    SECRET,
    TAX1,
    TAX_G,
    TRIAGE_G,
    Desk,
    Dialog,
    bind_groups,
    register,
    submit,
)
from fakebot import FakeBotAPI

from desk.validators import uscc_check_char
from models.outbox import MessageLink, OutboxMessage
from models.system import ProcessedUpdate
from models.ticket import Draft, Ticket, TicketMessage, TicketStatus

TAX_TEXT = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"


async def test_registration_validates_and_joins(dialog: Dialog, desk: Desk) -> None:
    d = dialog
    chat = ENT["id"]
    await d.send(ENT, "/start")
    await d.expect(chat, "企业名称")
    await d.send(ENT, "天津经开区示例制造有限公司")
    await d.expect(chat, "信用代码")
    m = d.mark()
    await d.send(ENT, "91120116ABC")
    await d.expect(chat, "18位", after=m)
    good = "91120116MA05" + "K9L8Q"
    good += uscc_check_char(good)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    m = d.mark()
    await d.send(ENT, bad)
    await d.expect(chat, "校验位", after=m)
    m = d.mark()
    await d.send(ENT, good.lower())
    await d.expect(chat, "联系人", after=m)
    await d.send(ENT, "王经理")
    await d.expect(chat, "手机")
    m = d.mark()
    await d.send(ENT, "12345")
    await d.expect(chat, "手机号码格式不正确", after=m)
    m = d.mark()
    await d.send(
        ENT, contact={"phone_number": "+8613900001111", "first_name": "别人", "user_id": 5555}
    )
    await d.expect(chat, "本人", after=m)
    m = d.mark()
    await d.send(
        ENT,
        contact={"phone_number": "+86 139 0000 2222", "first_name": "王", "user_id": ENT["id"]},
    )
    done = await d.expect(chat, "注册成功", after=m)
    assert good in (done.plain_text or "")
    # A colleague joins the same enterprise with the same credit code.
    await register(d, ENT2, company="示例制造", code=good, contact="赵会计", phone="13700001111")
    await d.expect(ENT2["id"], "同一企业")


async def test_forged_and_stale_buttons_change_nothing(
    dialog: Dialog, desk: Desk, fake: FakeBotAPI
) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_TEXT)
    card = await d.expect(TAX_G["id"], ref)
    ticket = await Ticket.get(ref=ref)
    tid = ticket.id
    env_msg = await d.expect(ENV_G["id"], "已绑定")

    # Garbage, unknown ticket, wrong group, wrong chat type, another enterprise.
    assert "无效" in await d.press_data(TAX1, TAX_G["id"], card.message_id, "garbage:1")
    assert "无效" in await d.press_data(TAX1, TAX_G["id"], card.message_id, None)
    assert "找不到" in await d.press_data(TAX1, TAX_G["id"], card.message_id, "t:999999:claim")
    assert "所属部门" in await d.press_data(
        ENV1, ENV_G["id"], env_msg.message_id, f"t:{tid}:claim"
    )
    assert "所属部门" in await d.press_data(
        ENV1, ENV_G["id"], env_msg.message_id, f"t:{tid}:to:ENV"
    )
    assert "分拨群" in await d.press_data(
        TAX1, TAX_G["id"], card.message_id, f"t:{tid}:dispatch:ENV"
    )
    assert "未知操作" in await d.press_data(TAX1, TAX_G["id"], card.message_id, f"t:{tid}:zap")
    ack = await d.expect(ENT["id"], "已受理")
    assert "无效" in await d.press_data(ENT, ENT["id"], ack.message_id, f"t:{tid}:claim")
    await register(d, ENT2, company="另一家公司", contact="赵会计", phone="13700001111")
    reg2 = await d.expect(ENT2["id"], "注册成功")
    assert "不是贵单位" in await d.press_data(ENT2, ENT2["id"], reg2.message_id, f"c:{tid}:cancel")
    assert "不能评价" in await d.press_data(ENT, ENT["id"], ack.message_id, f"v:{tid}:s1")

    await asyncio.sleep(0.3)
    ticket = await Ticket.get(ref=ref)
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.claimed_by_id is None

    # The enterprise may cancel its own ticket; the group card says so.
    assert "已撤销" in await d.press(ENT, ENT["id"], "撤销", message=ack)
    await d.expect(TAX_G["id"], "企业已撤销")
    assert "不能认领" in await d.press_data(TAX1, TAX_G["id"], card.message_id, f"t:{tid}:claim")


async def test_commands_and_roles(dialog: Dialog, desk: Desk) -> None:
    d = dialog
    m = d.mark()
    await d.send(TAX1, "/bind TAX", chat=TAX_G)
    await d.expect(TAX_G["id"], "只有管理员", after=m)
    m = d.mark()
    await d.send(ADMIN, "/bind NOPE", chat=TAX_G)
    await d.expect(TAX_G["id"], "未知的部门代码", after=m)
    m = d.mark()
    await d.send(ENT, "/whatever")
    await d.expect(ENT["id"], "未知命令", after=m)
    m = d.mark()
    await d.send(ENT, "我想咨询一下")
    await d.expect(ENT["id"], "/start", after=m)
    await bind_groups(d)
    m = d.mark()
    await d.send(TAX1, "/done TD20991231-0001 结果", chat=TAX_G)
    await d.expect(TAX_G["id"], "找不到工单", after=m)
    m = d.mark()
    await d.send(TAX1, "/done", chat=TAX_G)
    await d.expect(TAX_G["id"], "用法", after=m)


async def test_html_and_long_text_are_safe(dialog: Dialog, desk: Desk, fake: FakeBotAPI) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT, company="<b>坏</b> & 公司")
    nasty = TAX_TEXT + "<script>alert(1)</script> & <b>未到账</b> a<b"
    ref = await submit(d, ENT, nasty)
    card = await d.expect(TAX_G["id"], ref)
    assert "<script>" in (card.plain_text or "")
    assert "&lt;script&gt;" in (card.text or "")

    long_text = (TAX_TEXT + "出口退税申报后退税款迟迟未到账。" + "说明细节&<>。" * 40 + "\n") * 30
    assert len(long_text) > 9000
    ref2 = await submit(d, ENT, long_text)
    await d.expect(TAX_G["id"], ref2)
    await asyncio.sleep(6)  # continuation parts respect the 1 message/s per chat limit
    parts = [m for m in fake.sent(TAX_G["id"]) if ref2 in (m.plain_text or "")]
    assert len(parts) >= 3
    assert all(len(m.plain_text or "") <= 4096 for m in parts)

    m = d.mark()
    await d.send(ENT, "x" * 25000)
    await d.expect(ENT["id"], "过长", after=m)


async def test_duplicate_and_malformed_updates(
    dialog: Dialog, desk: Desk, fake: FakeBotAPI
) -> None:
    d = dialog
    await register(d, ENT)
    update = await d.send(ENT, "园区门口道路坑洼，货车进出困难，希望尽快修补")
    await d.expect(ENT["id"], "确认")
    # Telegram delivers the same update again (e.g. after a crash before confirming it).
    await fake.inject_raw_update(update, assign_id=False)
    await fake.inject_raw_update(
        {"update_id": update["update_id"] + 100, "message": "garbage"}, assign_id=False
    )
    m = d.mark()
    await d.send(ENT, "/tickets")
    await d.expect(ENT["id"], "还没有工单", after=m)
    assert await Draft.filter().count() == 1


async def test_retry_after_is_honoured(dialog: Dialog, desk: Desk, fake: FakeBotAPI) -> None:
    d = dialog
    fake.fail_next("sendMessage", error_code=429, retry_after=2, chat_id=ENT["id"])
    start = time.monotonic()
    await d.send(ENT, "/start")
    await d.expect(ENT["id"], "企业名称")
    assert time.monotonic() - start >= 1.9
    attempts = fake.calls_of("sendMessage", chat_id=ENT["id"])
    assert len(attempts) == 2
    assert attempts[1].ts - attempts[0].ts >= 1.9


async def test_unbound_department_waits_for_its_group(dialog: Dialog, desk: Desk) -> None:
    d = dialog
    await d.send(ADMIN, "/bind TRIAGE", chat=TRIAGE_G)
    await d.expect(TRIAGE_G["id"], "已绑定")
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_TEXT)
    await d.expect(TRIAGE_G["id"], "尚未绑定群组")
    m = d.mark()
    await d.send(ADMIN, "/bind TAX", chat=TAX_G)
    card = await d.expect(TAX_G["id"], ref, after=m)
    assert "认领" in " ".join(t for t, _ in d.fake.buttons(card))


async def test_photo_followup_reaches_the_group(
    dialog: Dialog, desk: Desk, fake: FakeBotAPI
) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_TEXT)
    ack = await d.expect(ENT["id"], "已受理")
    await d.expect(TAX_G["id"], ref)
    m = d.mark()
    await d.send(ENT, "报关单照片", photo=True, reply_to=ack.message_id)
    copied = await d.expect(TAX_G["id"], "企业补充材料", after=m)
    assert copied.method == "copyMessage"
    assert ref in (copied.plain_text or "")


async def test_a_reply_to_an_unlinked_copy_still_finds_its_ticket(
    dialog: Dialog, desk: Desk, fake: FakeBotAPI
) -> None:
    """A message the bot sent twice (a crash between Telegram's answer and recording it) is not
    linked to its ticket; a reply to that copy still reaches the ticket through the reference
    the copy names. Quoting a person's message that names a reference relays nothing."""
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_TEXT)
    ack = await d.expect(ENT["id"], "已受理")
    card = await d.expect(TAX_G["id"], ref)
    await MessageLink.filter(message_id__in=[ack.message_id, card.message_id]).delete()
    m = d.mark()
    await d.send(ENT, "补充一下：报关单号是 0201", reply_to=ack.message_id)
    relayed = await d.expect(TAX_G["id"], "0201", after=m)
    assert ref in (relayed.plain_text or "")
    assert not await Draft.exists(member__tg_user_id=ENT["id"], state="pending")  # no new draft
    # Staff reply to the unlinked card: it reaches the enterprise.
    m = d.mark()
    await d.send(TAX1, "收到，正在核对。", chat=TAX_G, reply_to=card.message_id)
    await d.expect(ENT["id"], "正在核对", after=m)
    # A colleague's own message naming the reference is chatter, not a reply to the ticket.
    chatter = await d.send(TAX1, f"{ref} 这个谁跟进一下？", chat=TAX_G)
    await d.send(TAX1, "我来跟进。", chat=TAX_G, reply_to=chatter["message"]["message_id"])
    await asyncio.sleep(1.5)
    assert not any("我来跟进" in t for t in d.texts(ENT["id"]))


async def test_uploads_are_checked_for_type_and_size(
    dialog: Dialog, desk: Desk, fake: FakeBotAPI
) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_TEXT)
    ack = await d.expect(ENT["id"], "已受理")
    await d.expect(TAX_G["id"], ref)
    ticket = await Ticket.get(ref=ref)
    before = await TicketMessage.filter(ticket_id=ticket.id).count()

    # A program is refused with a clear message; nothing is stored or relayed.
    m = d.mark()
    exe = {"file_name": "发票.exe", "mime_type": "application/x-msdownload", "data": b"MZ" * 50}
    await d.send(ENT, "材料", document=exe, reply_to=ack.message_id)
    refusal = await d.expect(ENT["id"], "不支持的文件类型", after=m)
    assert ".exe" in (refusal.plain_text or "")
    # Too large (Telegram reports the size; the desk refuses before anything is kept).
    m = d.mark()
    big = {
        "file_name": "扫描件.pdf",
        "mime_type": "application/pdf",
        "data": b"%PDF" + b"0" * 21_000_000,
    }
    await d.send(ENT, "扫描件", document=big, reply_to=ack.message_id)
    await d.expect(ENT["id"], "文件过大", after=m)
    assert await TicketMessage.filter(ticket_id=ticket.id).count() == before
    assert not [x for x in fake.sent(TAX_G["id"]) if x.method == "copyMessage"]

    # An OFD e-invoice goes through to the department with its name kept on the ticket.
    m = d.mark()
    ofd = {"file_name": "电子发票.ofd", "mime_type": "application/octet-stream", "data": b"ofd"}
    await d.send(ENT, "电子发票", document=ofd, reply_to=ack.message_id)
    copied = await d.expect(TAX_G["id"], "企业补充材料", after=m)
    assert copied.method == "copyMessage"
    stored = await TicketMessage.filter(ticket_id=ticket.id).order_by("-id").first()
    assert stored is not None and stored.kind == "document"
    assert stored.file_name == "电子发票.ofd" and stored.file_size == 3


async def test_restart_loses_nothing_and_sends_nothing_twice(
    fake: FakeBotAPI, dialog: Dialog, db_url: str
) -> None:
    d = dialog
    first = Desk(fake=fake, db_url=db_url, webhook=False)
    await first.start()
    await bind_groups(d)
    await register(d, ENT)
    ref = await submit(d, ENT, TAX_TEXT)
    card = await d.expect(TAX_G["id"], ref)
    await first.stop()

    # While the desk is down, staff press 认领 and the enterprise writes: updates wait.
    await d.fake.user_presses(
        TAX1,
        TAX_G["id"],
        card.message_id,
        next(x for _, x in fake.buttons(card) if x and x.endswith(":claim")),
    )
    await d.send(
        ENT,
        "补充：退税申报表已于9月15日提交",
        reply_to=(await d.expect(ENT["id"], "已受理")).message_id,
    )

    second = Desk(fake=fake, db_url=db_url, webhook=False, port=first.port)
    await second.start()
    try:
        await d.expect(TAX_G["id"], "承办人")
        await d.expect(TAX_G["id"], "9月15日")
        m = d.mark()
        await d.send(TAX1, f"/done {ref} 已办结", chat=TAX_G)
        await d.expect(ENT["id"], "已办结", after=m)
        await asyncio.sleep(1.5)
        assert await OutboxMessage.filter(status__in=["pending", "sending"]).count() == 0
    finally:
        await second.stop()
    for chat in (ENT["id"], TAX_G["id"], TRIAGE_G["id"], ENV_G["id"]):
        sent = Counter((m.method, m.text) for m in fake.sent(chat))
        dupes = {k: v for k, v in sent.items() if v > 1}
        assert not dupes, dupes


async def test_webhook_checks_secret_and_input(
    fake: FakeBotAPI, dialog: Dialog, db_url: str
) -> None:
    desk = Desk(fake=fake, db_url=db_url, webhook=True)
    await desk.start()
    try:
        url = f"http://127.0.0.1:{desk.port}/tg/hook"
        assert fake.webhook_url == url and fake.webhook_secret == SECRET
        update = {
            "update_id": 777,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": ENT["id"], "type": "private"},
                "from": {**ENT, "is_bot": False},
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        assert await fake.post_webhook(update, secret="wrong") == 403
        assert await fake.post_webhook(update, secret=None) == 403
        async with aiohttp.ClientSession() as http:
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with http.post(url, data="not json", headers=headers) as r:
                assert r.status == 400
            async with http.post(url, json={"hello": 1}, headers=headers) as r:
                assert r.status == 400
            async with http.get(f"http://127.0.0.1:{desk.port}/healthz") as r:
                assert r.status == 200
                assert (await r.json())["telegram"] == "webhook"
            async with http.get(f"http://127.0.0.1:{desk.port}/metrics") as r:
                assert r.status == 200
                metrics = await r.text()
                assert "desk_tickets" in metrics and "desk_outbox_messages" in metrics
        assert await ProcessedUpdate.filter().count() == 0
        assert await OutboxMessage.filter().count() == 0
        assert await fake.post_webhook(update) == 200
        await dialog.expect(ENT["id"], "企业名称")
        assert await ProcessedUpdate.filter().count() == 1
        assert await fake.post_webhook(update) == 200  # redelivery: acknowledged, ignored
        assert await OutboxMessage.filter().count() == 1
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{desk.port}/metrics") as r:
                metrics = await r.text()
        assert 'desk_inbox_updates{status="done"} 1.0' in metrics
        assert "13800" not in metrics and "王" not in metrics  # no personal data
    finally:
        await desk.stop()


async def test_a_failed_update_is_retried_not_lost(
    dialog: Dialog, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler crash (a database restart, say) leaves the update in the inbox for a retry;
    a bug in a handler counts toward parking the update, the database being away does not."""
    from desk import intake
    from models.system import InboxUpdate

    real = intake.private_text
    calls = {"n": 0}

    async def flaky(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database restarting")
        if calls["n"] == 2:
            raise ValueError("a bug in a handler")
        await real(*args, **kwargs)  # type: ignore[arg-type]

    await register(dialog, ENT)
    monkeypatch.setattr(intake, "private_text", flaky)
    update = await dialog.send(ENT, "园区门口道路坑洼，货车进出困难，希望尽快修补")
    await dialog.expect(ENT["id"], "确认", wait=10)
    assert calls["n"] == 3
    row = await InboxUpdate.get(key=f"tg:{update['update_id']}")
    # The database being away says nothing about the update: that try is not counted.
    assert row.status == "done" and row.attempts == 2
