"""The web chat in real Chromium, talking with Telegram staff through the fake Bot API.

An enterprise without Telegram signs in with its phone and the code the hotline office reads
from its screening group, registers, submits a request; the TAX group's staff claim it, ask a
question, the enterprise answers on the web, staff resolve it, the enterprise rates it on the
web. Then a contact registered in Telegram signs in on the web with the code its own Telegram
chat receives, and sees the same tickets.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ENT,
    ENV_G,
    REF,
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

from models.enterprise import Member
from models.ticket import Ticket, TicketStatus
from models.webchat import WebChatMessage

CHROMIUM = os.environ.get("DESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FOUND = Path(CHROMIUM).exists()
REQUIRE = os.environ.get("DESK_REQUIRE_SERVICES", "") not in ("", "0", "false")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CODE = re.compile(r"验证码：?\s*(\d{6})")
WAIT = 10_000  # ms


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM_FOUND:
        msg = f"Chromium not found at {CHROMIUM} (apt-get install chromium; make test does)"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


def shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"webchat_{name}.png")


async def sign_in(page: Any, base: str, d: Dialog, phone: str, code_chat: int) -> str:
    """Ask for a code, read it where it was delivered (a Telegram chat), sign in."""
    await page.goto(f"{base}/chat/")
    await page.fill("#phone", phone)
    m = d.mark()
    await page.click("#get-code")
    hint = page.locator("#hint")
    await hint.wait_for(state="visible", timeout=WAIT)
    await page.wait_for_function("document.getElementById('hint').textContent.length > 0")
    sent = await d.expect(code_chat, "验证码", after=m)
    found = CODE.search(sent.plain_text or "")
    assert found, sent.plain_text
    await page.fill("#code", found.group(1))
    await page.click("#do-signin")
    await page.locator("#chat").wait_for(state="visible", timeout=WAIT)
    return str(await hint.text_content())


async def say(page: Any, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send")


async def shows(page: Any, text: str) -> Any:
    """The newest desk message in the page containing ``text``."""
    loc = page.locator(".msg.out", has_text=text).last
    await loc.wait_for(timeout=WAIT)
    return loc


async def test_web_enterprise_and_telegram_staff(
    desk: Desk, fake: FakeBotAPI, dialog: Dialog, browser: Any
) -> None:
    d = dialog
    base = f"http://127.0.0.1:{desk.port}"
    await bind_groups(d)
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # A new phone: the code goes to the hotline office's screening group.
    hint = await sign_in(page, base, d, "139 0000 1111", TRIAGE_G["id"])
    assert "25201111" in hint
    office = [m.plain_text or "" for m in fake.sent(TRIAGE_G["id"]) if "验证码" in (m.text or "")]
    assert "139****1111" in office[-1] and "13900001111" not in office[-1]  # masked in groups

    # Registration: the same dialog as in Telegram, without the phone step.
    await shows(page, "企业名称")
    await say(page, "天津网页测试机械有限公司")
    await shows(page, "信用代码")
    await say(page, "跳过")
    await shows(page, "联系人")
    await say(page, "刘经理")
    await shows(page, "注册成功")
    member = await Member.get(phone="13900001111")
    assert member.contact_name == "刘经理"

    # A request: the draft's 确认提交, then the reference and deadline.
    await say(page, "我公司出口退税申报后三个月了退税款还没到账，麻烦税务局帮忙查一下进度")
    draft = await shows(page, "确认")
    await draft.get_by_role("button", name=re.compile("确认提交")).click()
    ack = await shows(page, "TD")
    found = REF.search(str(await ack.text_content()))
    assert found, await ack.text_content()
    ref = found.group(0)
    ticket = await Ticket.get(ref=ref)
    assert ticket.channel == "web"
    await page.screenshot(path=shot("submitted"), full_page=True)

    # Telegram staff claim it and ask; the question reaches the web chat.
    card = await d.expect(TAX_G["id"], ref)
    assert "13900001111" not in (card.plain_text or "")
    toast = await d.press(TAX1, TAX_G["id"], "认领", message=card)
    assert "认领成功" in toast
    await shows(page, "认领")
    await d.send(TAX1, "请提供出口报关单号和申报月份。", chat=TAX_G, reply_to=card.message_id)
    question = await shows(page, "报关单号")

    # A file staff send in Telegram is fetched by the desk and offered on the web.
    form = b"PK\x03\x04 spreadsheet"
    await d.send(
        TAX1,
        "申报表模板",
        chat=TAX_G,
        reply_to=card.message_id,
        document={
            "file_name": "申报表.xlsx",
            "mime_type": "application/vnd.ms-excel",
            "data": form,
        },
    )
    offered = await shows(page, "申报表模板")
    link = offered.locator("a.file")
    await link.wait_for(timeout=WAIT)
    assert "申报表.xlsx" in (await link.text_content() or "")
    response = await page.request.get(f"{base}{await link.get_attribute('href')}")
    assert response.status == 200 and await response.body() == form
    assert "attachment" in response.headers["content-disposition"]
    other = await browser.new_page()  # not signed in: no file
    response = await other.request.get(f"{base}{await link.get_attribute('href')}")
    assert response.status == 401
    await other.close()

    # The enterprise answers on the web (replying to that message); the group gets it.
    m = d.mark()
    await question.get_by_role("button", name="回复").click()
    await say(page, "报关单号 020220261234，申报月份2026年9月")
    follow = await d.expect(TAX_G["id"], "020220261234", after=m)
    assert ref in (follow.plain_text or "")

    # A document uploaded on the web reaches the group as a document naming the ticket.
    m = d.mark()
    await page.fill("#text", "报关单扫描件")
    await page.set_input_files(
        "#file",
        files=[{"name": "报关单.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 x"}],
    )
    doc = await d.expect(TAX_G["id"], "报关单扫描件", after=m)
    assert ref in (doc.plain_text or "")
    assert fake.calls_of("sendDocument", TAX_G["id"])
    await page.locator(".msg.in", has_text="报关单.pdf").wait_for(timeout=WAIT)

    # 办结 in Telegram; the return visit is rated on the web.
    m = d.mark()
    await d.send(TAX1, f"/done {ref} 已加急审核，退税款将于3个工作日内到账。", chat=TAX_G)
    visit = await shows(page, "3个工作日内到账")
    await visit.get_by_role("button", name="已解决").click()
    await shows(page, "请继续评价")
    visit = await shows(page, "3个工作日内到账")
    await visit.get_by_role("button", name="满意", exact=True).click()
    await shows(page, "感谢您的评价：已解决／满意")
    await page.screenshot(path=shot("rated"), full_page=True)

    ticket = await Ticket.get(ref=ref)
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.rating_satisfaction == "满意"
    # Nothing addressed to the web chat went to Telegram.
    assert member.chat_id is not None and member.chat_id >= 1 << 52
    assert fake.calls_of("sendMessage", member.chat_id) == []
    assert errors == []

    # The history survives a reload (it is in the database, not in the page).
    await page.reload()
    await shows(page, "感谢您的评价")
    assert await page.locator(".msg.in", has_text="020220261234").count() == 1


async def test_telegram_contact_signs_in_on_the_web(
    desk: Desk, fake: FakeBotAPI, dialog: Dialog, browser: Any
) -> None:
    d = dialog
    base = f"http://127.0.0.1:{desk.port}"
    await bind_groups(d)
    await register(d, ENT)  # phone 13812345678, in Telegram
    ref = await submit(d, ENT, "我公司门口的道路施工噪声很大，晚上十点以后还在施工，影响员工休息")

    page = await browser.new_page()
    # The code goes to the contact's own Telegram chat, not to the office.
    office_before = len(fake.sent(TRIAGE_G["id"]))
    hint = await sign_in(page, base, d, "13812345678", ENT["id"])
    assert "Telegram" in hint
    assert len(fake.sent(TRIAGE_G["id"])) == office_before

    # Same contact, same tickets: no registration, and /tickets lists the Telegram ticket.
    await shows(page, "王经理")
    await page.get_by_role("button", name="我的工单").click()
    await shows(page, ref)
    assert await WebChatMessage.filter(html__contains="企业名称").count() == 0

    # Staff progress on that Telegram ticket still goes to its Telegram chat.
    ticket = await Ticket.get(ref=ref).prefetch_related("department")
    group = {"ENV": ENV_G, "TAX": TAX_G}.get(ticket.department.code if ticket.department else "")
    if group is None:
        group = TRIAGE_G
    card = await d.expect(group["id"], ref)
    if group is not TRIAGE_G:
        m = d.mark()
        await d.press(TAX1, group["id"], "认领", message=card)
        await d.expect(ENT["id"], "认领", after=m)
