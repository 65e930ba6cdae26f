"""The ticket workbench in a real browser: the list narrowed by filters and search, its Excel
export, the detail page with its timeline and attachments, roles and CSRF on every handler,
operator intake, extensions — and, with the desk's Telegram channel pointed at the fake Bot
API, a claim and a resolve pressed on the web reaching the enterprise's chat and the
department group's card. Screenshots go to ``build/screenshots/``."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import PASSWORD, Site, _free_port, screenshot_path
from fakebot import FakeBotAPI

from admin.auth import create_user
from bot.app import create_app
from bot.settings import Settings
from desk.worktime import WorkCalendar
from models.department import Department, GroupBinding
from models.enterprise import Enterprise, Member
from models.sla import ExtensionRequest
from models.ticket import Ticket, TicketEvent, TicketMessage, TicketStatus


async def login(browser: Any, base: str, username: str) -> Any:
    page = await browser.new_page(locale="zh-CN", viewport={"width": 1360, "height": 900})
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def make_ticket(
    ref: str,
    text: str,
    *,
    code: str,
    enterprise: str = "天津泰达测试科技有限公司",
    status: TicketStatus = TicketStatus.DISPATCHED,
    due: dt.datetime | None = None,
    **extra: Any,
) -> Ticket:
    ent, _ = await Enterprise.get_or_create(name=enterprise)
    member = await Member.create(enterprise=ent, contact_name="赵会计", phone="13900001111")
    now = dt.datetime.now(dt.UTC)
    return await Ticket.create(
        ref=ref,
        enterprise=ent,
        member=member,
        text=text,
        department=await Department.get(code=code),
        status=status,
        sla_start_at=now,
        due_at=due or now + dt.timedelta(days=5),
        **extra,
    )


async def table_refs(page: Any) -> list[str]:
    return [
        str(r)
        for r in await page.locator("#tickets-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.ref)"
        )
    ]


async def csrf_of(page: Any) -> str:
    return str(await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value"))


# ---------------------------------------------------------------- the list and the export


async def test_filters_and_search_narrow_the_list_and_export_matches(
    site: Site, browser: Any
) -> None:
    late = await make_ticket(
        "TD20250301-0002",
        "增值税专用发票开具失败",
        code="TAX",
        status=TicketStatus.CLAIMED,
        due=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3),
        type="求助",
    )
    await make_ticket("TD20250302-0003", "出口退税到账时间", code="TAX", urgent=True)
    env = await make_ticket(
        "TD20250302-0004", "夜间施工噪声扰民", code="ENV", enterprise="天津某新材料有限公司"
    )
    await TicketMessage.create(
        ticket=env, direction="in", author_name="赵会计", text="附上第三方监测报告"
    )

    page = await login(browser, site.base, "office")
    nav = await page.text_content("header.top nav")
    assert nav is not None and "工单" in nav and "代企业登记" in nav
    await page.click("header.top nav >> text=工单")
    assert len(await table_refs(page)) == 4  # three new ones and the site's triage ticket
    # 超期 is marked on the late ticket only.
    assert await page.locator("tr.overdue").count() == 1
    assert await page.locator("tr.overdue").get_attribute("data-ref") == late.ref

    await page.select_option("select[name=dept]", "TAX")
    await page.click("#ticket-filter button[type=submit]")
    await page.wait_for_load_state()
    assert sorted(await table_refs(page)) == ["TD20250301-0002", "TD20250302-0003"]
    await page.check("input[name=overdue]")
    await page.click("#ticket-filter button[type=submit]")
    await page.wait_for_load_state()
    assert await table_refs(page) == ["TD20250301-0002"]

    # Full-text search reaches the messages of a ticket.
    await page.goto(f"{site.base}/tickets")
    await page.fill("input[name=q]", "监测报告")
    await page.click("#ticket-filter button[type=submit]")
    await page.wait_for_load_state()
    assert await table_refs(page) == ["TD20250302-0004"]
    await page.goto(f"{site.base}/tickets?type=求助")
    assert await table_refs(page) == ["TD20250301-0002"]

    # The export is exactly the filtered list: TAX, two tickets.
    await page.goto(f"{site.base}/tickets?dept=TAX")
    shown = sorted(await table_refs(page))
    await page.screenshot(path=screenshot_path("tickets_list"), full_page=True)
    async with page.expect_download() as info:
        await page.click("#export-link")
    download = await info.value
    assert download.suggested_filename.startswith("工单导出-")
    assert download.suggested_filename.endswith(".xlsx")
    from openpyxl import load_workbook

    data = await asyncio.to_thread(Path(await download.path()).read_bytes)
    rows = list(load_workbook(io.BytesIO(data))["工单"].iter_rows(values_only=True))
    assert rows[0][0] == "工单号"
    assert sorted(r[0] for r in rows[1:]) == shown
    urgent = next(r for r in rows[1:] if r[0] == "TD20250302-0003")
    assert urgent[2] == "税务局" and urgent[4] == "是"

    # A malformed filter says what is wrong, with 400 and no list.
    response = await page.goto(f"{site.base}/tickets?from=2026/12/01")
    assert response is not None and response.status == 400
    error = await page.text_content("#filter-error")
    assert error is not None and "开始日期格式不正确" in error
    assert await page.locator("#tickets-table").count() == 0


async def test_pages_of_the_list(site: Site, browser: Any) -> None:
    for n in range(1, 23):
        await make_ticket(f"TD20250303-{n:04d}", f"第{n}个问题", code="TAX")
    page = await login(browser, site.base, "office")
    await page.goto(f"{site.base}/tickets?dept=TAX")
    assert len(await table_refs(page)) == 20
    assert "第 1 / 2 页" in (await page.text_content("#page-info") or "")
    await page.click("a[rel=next]")
    await page.wait_for_load_state()
    assert await table_refs(page) == ["TD20250303-0002", "TD20250303-0001"]
    assert "dept=TAX" in page.url  # the filter is kept across pages


# ---------------------------------------------------------------- the detail page, roles, CSRF


async def test_detail_page_shows_fields_timeline_and_attachments(site: Site, browser: Any) -> None:
    ticket = await make_ticket("TD20250302-0005", "厂区噪声<script>alert(1)</script>", code="ENV")
    await TicketEvent.create(
        ticket_id=ticket.id,
        actor_kind="enterprise",
        actor_name="赵会计",
        action="create",
        to_status="dispatched",
    )
    await TicketMessage.create(
        ticket=ticket,
        direction="in",
        author_name="赵会计",
        kind="document",
        text="监测报告见附件",
        file_id="file-1",
        file_name="噪声监测报告.pdf",
        file_mime="application/pdf",
        file_size=2 * 1024 * 1024,
    )
    page = await login(browser, site.base, "office")
    await page.goto(f"{site.base}/tickets/{ticket.id}")
    assert await page.text_content("#ticket-ref") is not None
    assert await page.get_attribute("#ticket-status", "data-status") == "dispatched"
    assert "<script>" in (await page.text_content("#ticket-text") or "")  # shown, not run
    fields = await page.text_content("#ticket-fields") or ""
    assert "生态环境局" in fields and "13900001111" in fields  # the office sees it whole
    timeline = await page.text_content("#timeline") or ""
    assert "受理" in timeline and "企业留言" in timeline and "监测报告见附件" in timeline
    assert "噪声监测报告.pdf（2.0 MB）" in timeline
    for form in ("claim", "transfer", "return"):
        assert await page.locator(f"#form-{form}").count() == 1
    assert await page.locator("#form-resolve").count() == 0  # not before it is claimed
    await page.screenshot(path=screenshot_path("ticket_detail"), full_page=True)


async def test_staff_get_403_on_another_departments_ticket(site: Site, browser: Any) -> None:
    env = await make_ticket("TD20250302-0006", "噪声扰民", code="ENV")
    tax = await make_ticket("TD20250302-0007", "发票问题", code="TAX")
    page = await login(browser, site.base, "taxstaff")
    await page.goto(f"{site.base}/tickets")
    assert await table_refs(page) == [tax.ref]  # their department only
    assert await page.locator("select[name=dept]").count() == 0
    await page.goto(f"{site.base}/tickets/{tax.id}")
    fields = await page.text_content("#ticket-fields") or ""
    assert "139****1111" in fields and "13900001111" not in fields  # masked for staff
    response = await page.goto(f"{site.base}/tickets/{env.id}")
    assert response is not None and response.status == 403
    assert "其他部门" in await response.text()
    await page.goto(f"{site.base}/tickets")
    token = await csrf_of(page)
    for action, form in (("claim", {}), ("reply", {"text": ""}), ("resolve", {"result": "x"})):
        answer = await page.request.post(
            f"{site.base}/tickets/{env.id}/{action}",
            form={"csrf_token": token, **form},
            max_redirects=0,
        )
        assert answer.status == 403, action
    answer = await page.request.get(f"{site.base}/tickets/999999")
    assert answer.status == 404
    assert (await Ticket.get(id=env.id)).status == TicketStatus.DISPATCHED
    assert not await TicketEvent.exists(ticket_id=env.id)
    # The operator intake is the office's.
    response = await page.goto(f"{site.base}/intake")
    assert response is not None and response.status == 403


async def test_posts_without_csrf_token_are_refused(site: Site, browser: Any) -> None:
    tax = await make_ticket("TD20250302-0008", "发票问题", code="TAX")
    page = await login(browser, site.base, "taxstaff")
    for form in ({}, {"csrf_token": "forged"}):
        answer = await page.request.post(
            f"{site.base}/tickets/{tax.id}/claim", form=form, max_redirects=0
        )
        assert answer.status == 403 and "CSRF" in await answer.text()
    office = await login(browser, site.base, "office")
    answer = await office.request.post(
        f"{site.base}/intake",
        form={"enterprise_name": "某公司", "contact_name": "张三", "phone": "13800000000"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert (await Ticket.get(id=tax.id)).status == TicketStatus.DISPATCHED


async def test_bad_input_is_a_flash_and_changes_nothing(site: Site, browser: Any) -> None:
    tax = await make_ticket("TD20250302-0009", "发票问题", code="TAX")
    page = await login(browser, site.base, "taxstaff")
    await page.goto(f"{site.base}/tickets/{tax.id}")
    token = await csrf_of(page)
    answer = await page.request.post(
        f"{site.base}/tickets/{tax.id}/transfer", form={"csrf_token": token, "code": "TAX"}
    )
    assert answer.status == 200  # back on the ticket's page, with the reason
    assert "本部门" in await answer.text()
    answer = await page.request.post(
        f"{site.base}/tickets/{tax.id}/resolve", form={"csrf_token": token, "result": "  "}
    )
    assert "办理结果不能为空" in await answer.text()
    ticket = await Ticket.get(id=tax.id).prefetch_related("department")
    assert ticket.status == TicketStatus.DISPATCHED and ticket.department.code == "TAX"


# ---------------------------------------------------------------- workflow on the web


async def test_staff_claim_ask_for_time_and_a_manager_approves(site: Site, browser: Any) -> None:
    await create_user("manager", PASSWORD, role="manager")
    tax = await make_ticket("TD20250302-0010", "出口退税到账时间", code="TAX")
    page = await login(browser, site.base, "taxstaff")
    await page.goto(f"{site.base}/tickets/{tax.id}")
    await page.click("#form-claim button")
    await page.wait_for_selector(".flash.ok")
    assert "认领成功" in (await page.text_content(".flash.ok") or "")
    assert "taxstaff（网页）" in (await page.text_content("#ticket-claimant") or "")
    assert tax.due_at is not None
    day = tax.due_at.date() + dt.timedelta(days=7)
    while not WorkCalendar().is_workday(day):
        day += dt.timedelta(days=1)
    await page.fill("#form-extend input[name=day]", f"{day:%Y-%m-%d}")
    await page.fill("#form-extend textarea[name=reason]", "需要现场核查")
    await page.click("#form-extend button")
    await page.wait_for_selector(".flash.ok")
    assert "已提交" in (await page.text_content(".flash.ok") or "")
    request = await ExtensionRequest.get(ticket_id=tax.id)
    # Staff see the request but cannot decide it, on the page or by posting.
    assert await page.locator(f"#approve-{request.id}").count() == 0
    answer = await page.request.post(
        f"{site.base}/extensions/{request.id}/decide",
        form={"csrf_token": await csrf_of(page), "approve": "1"},
        max_redirects=0,
    )
    assert answer.status == 403

    manager = await login(browser, site.base, "manager")
    await manager.goto(f"{site.base}/tickets/{tax.id}")
    assert await manager.locator("#form-claim, #form-resolve").count() == 0  # managers read
    await manager.click(f"#approve-{request.id}")
    await manager.wait_for_selector(".flash.ok")
    assert "批准" in (await manager.text_content(".flash.ok") or "")
    assert f"{day:%Y-%m-%d}" in (await manager.text_content("#ticket-due") or "")
    assert (await ExtensionRequest.get(id=request.id)).status == "approved"


async def test_operator_intake_creates_a_ticket_with_its_channel(site: Site, browser: Any) -> None:
    page = await login(browser, site.base, "office")
    await page.click("header.top nav >> text=代企业登记")
    await page.fill("input[name=enterprise_name]", "天津滨海某某化工有限公司")
    await page.fill("input[name=contact_name]", "周经理")
    await page.fill("input[name=phone]", "12345")
    await page.select_option("select[name=channel]", "visit")
    await page.fill("textarea[name=text]", "我公司申请办理排污许可证，想了解需要准备哪些材料")
    before = await Ticket.all().count()
    await page.click("#intake-form button[type=submit]")
    await page.wait_for_selector("#intake-error")
    assert "电话号码格式不正确" in (await page.text_content("#intake-error") or "")
    assert await Ticket.all().count() == before  # nothing was created
    assert await page.input_value("input[name=enterprise_name]") == "天津滨海某某化工有限公司"
    await page.fill("input[name=phone]", "022-25201111")
    await page.screenshot(path=screenshot_path("intake"), full_page=True)
    await page.click("#intake-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    flash = await page.text_content(".flash.ok") or ""
    assert "已登记工单 TD" in flash
    assert ("已分派至" in flash) or ("待分拨" in flash)
    assert await page.text_content("#ticket-channel") == "来访"
    ticket = await Ticket.all().order_by("-id").first().prefetch_related("department", "member")
    assert ticket is not None and ticket.ref in flash
    assert ticket.channel == "visit" and ticket.member.phone == "022-25201111"
    assert f"/tickets/{ticket.id}" in page.url
    event = await TicketEvent.get(ticket_id=ticket.id, action="create")
    assert event.actor_name == "office（网页）"
    await page.screenshot(path=screenshot_path("intake_done"), full_page=True)


# ---------------------------------------------------------------- with Telegram (fake Bot API)

ENT = {"id": 1001, "first_name": "王", "last_name": "经理"}
TRIAGE_G, TAX_G, ENV_G = -100400, -100200, -100300
REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"
RESULT = "经核查，贵公司退税款已于今日审核通过，3个工作日内到账。"


@dataclass
class TelegramSite:
    base: str  # http://127.0.0.1:PORT/admin
    fake: FakeBotAPI


@pytest.fixture
async def tg_site(tmp_path: Path) -> AsyncIterator[TelegramSite]:
    """The desk with its Telegram channel on (polling) against the fake Bot API, SQLite."""
    async with FakeBotAPI(token="123456:TEST-TOKEN") as fake:
        port = _free_port()
        settings = Settings(
            database_url=f"sqlite://{tmp_path / 'desk.sqlite3'}",
            telegram_token=fake.token,
            telegram_api_url=fake.base_url,
            http_host="127.0.0.1",
            http_port=port,
            poll_timeout=1,
            sender_interval=0.05,
            scheduler_interval=3600,
            admin_secret="cd" * 32,
            _env_file=None,  # type: ignore[call-arg]
        )
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await create_user("taxstaff", PASSWORD, role="staff", department_code="TAX")
            for code, chat in (("TRIAGE", TRIAGE_G), ("TAX", TAX_G), ("ENV", ENV_G)):
                await GroupBinding.create(code=code, chat_id=chat, title=f"{code} 群")
            ent = await Enterprise.create(name="天津泰达测试科技有限公司")
            await Member.create(
                enterprise=ent,
                tg_user_id=ENT["id"],
                chat_id=ENT["id"],
                contact_name="王经理",
                phone="13812345678",
            )
            yield TelegramSite(base=f"http://127.0.0.1:{port}/admin", fake=fake)
        finally:
            await runner.cleanup()


async def test_claim_and_resolve_on_the_web_reach_the_enterprise_on_telegram(
    tg_site: TelegramSite, browser: Any
) -> None:
    fake = tg_site.fake
    # The enterprise asks on Telegram and confirms; the TAX group gets the card.
    await fake.user_sends(ENT, None, REQUEST)
    draft = await fake.wait_for(ENT["id"], "确认", timeout=10)
    data = next(d for text, d in fake.buttons(draft) if "确认" in text)
    await fake.user_presses(ENT, ENT["id"], draft.message_id, data)
    ack = await fake.wait_for(ENT["id"], "已受理", timeout=10)
    ticket = await Ticket.get(status=TicketStatus.DISPATCHED)
    assert ticket.ref in (ack.plain_text or "")
    card = await fake.wait_for(TAX_G, ticket.ref, timeout=10)
    assert not card.edits

    # TAX staff open it from the list, claim it, then resolve it with the result.
    page = await login(browser, tg_site.base, "taxstaff")
    await page.goto(f"{tg_site.base}/tickets")
    await page.click(f"#tickets-table tr[data-ref='{ticket.ref}'] a")
    await page.wait_for_selector("#form-claim")
    mark = fake.mark()
    await page.click("#form-claim button")
    await page.wait_for_selector(".flash.ok")
    assert "认领成功" in (await page.text_content(".flash.ok") or "")
    await fake.wait_for(ENT["id"], "认领", after=mark, timeout=10)
    await page.fill("#form-resolve textarea[name=result]", RESULT)
    mark = fake.mark()
    await page.click("#form-resolve button")
    await page.wait_for_selector(".flash.ok")
    assert "已办结" in (await page.text_content(".flash.ok") or "")
    await page.screenshot(path=screenshot_path("ticket_resolved_web"), full_page=True)

    # The enterprise's private chat receives the result with the return-visit questions ...
    visit = await fake.wait_for(ENT["id"], "3个工作日内到账", after=mark, timeout=10)
    assert ticket.ref in (visit.plain_text or "") and "已办结" in (visit.plain_text or "")
    assert fake.buttons(visit)  # the 回访 answers
    # ... and the card in the TAX group was edited to say so, with who did it.
    edited = await fake.wait_for(
        lambda m: (
            m.chat_id == TAX_G
            and m.message_id == card.message_id
            and "已办结" in (m.plain_text or "")
        ),
        after=mark,
        timeout=10,
    )
    assert edited.edits and "taxstaff（网页）" in (edited.plain_text or "")
    timeline = await page.text_content("#timeline") or ""
    assert "认领" in timeline and "办结" in timeline and RESULT in timeline
