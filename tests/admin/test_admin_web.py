"""The admin web in a real browser: log in, dashboard chart, triage dispatch, roles, CSRF,
login throttling. Screenshots of the pages are saved to ``build/screenshots/``."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, TAX_CHAT, TRIAGE_CHAT, Site, screenshot_path

from models.outbox import OutboxMessage
from models.routing import RoutingExample
from models.ticket import Ticket, TicketEvent, TicketStatus
from models.webuser import LoginFailure


async def login(browser: Any, site: Site, username: str, password: str = PASSWORD) -> Any:
    page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def test_admin_logs_in_and_sees_dashboard_with_chart(site: Site, browser: Any) -> None:
    page = await login(browser, site, "admin")
    assert page.url.rstrip("/") == site.base
    assert "首页概览" in await page.content()
    # ECharts drew its canvas inside the chart container (the vendored script loaded).
    await page.wait_for_selector("#trend-chart canvas", timeout=10_000)
    rows = await page.locator("#dept-table tbody tr").count()
    assert rows >= 3  # every active department is listed with its 三率
    assert await page.locator("#dept-table tr[data-code=TAX]").count() == 1
    assert await page.text_content("#received-today") == "1"
    nav = await page.text_content("header.top nav")
    assert nav is not None and "待分拨队列" in nav
    # The session cookie is HttpOnly, SameSite=Lax, scoped to /admin.
    cookies = {c["name"]: c for c in await page.context.cookies()}
    cookie = cookies["desk_admin"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/admin"
    await page.screenshot(path=screenshot_path("dashboard"), full_page=True)


async def test_office_dispatches_from_the_triage_queue(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/triage")
    card = page.locator(f"#ticket-{site.ticket_id}")
    text = await card.text_content()
    assert text is not None and "加计扣除" in text and "0.41" in text
    await page.screenshot(path=screenshot_path("triage"), full_page=True)
    await card.locator("button.dispatch[data-code=TAX]").click()
    await page.wait_for_selector(".flash.ok")
    flash = await page.text_content(".flash.ok")
    assert flash is not None and "已分拨至" in flash
    assert await page.locator(f"#ticket-{site.ticket_id}").count() == 0
    await page.screenshot(path=screenshot_path("triage_after_dispatch"), full_page=True)

    ticket = await Ticket.get(id=site.ticket_id).prefetch_related("department")
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.department is not None and ticket.department.code == "TAX"
    assert ticket.dispatched_at is not None
    event = await TicketEvent.get(ticket_id=ticket.id, action="dispatch")
    assert event.actor_name == "office（网页）"
    # The decision is a training example for the router, as from the triage group.
    example = await RoutingExample.get(ticket_id=ticket.id)
    assert (example.department, example.source) == ("TAX", "triage")
    # The department group gets its card, the triage group's card is edited.
    assert await OutboxMessage.exists(chat_id=TAX_CHAT, kind="card", ticket_id=ticket.id)
    assert await OutboxMessage.exists(chat_id=TRIAGE_CHAT, kind="triage_card")


async def test_staff_gets_403_on_triage(site: Site, browser: Any) -> None:
    page = await login(browser, site, "taxstaff")
    assert "首页概览" in await page.content()
    nav = await page.text_content("header.top nav")
    assert nav is not None and "待分拨队列" not in nav
    await page.screenshot(path=screenshot_path("dashboard_staff"), full_page=True)
    response = await page.goto(f"{site.base}/triage")
    assert response is not None and response.status == 403
    # Posting the dispatch form directly (with a valid token) is refused on the server too.
    await page.goto(f"{site.base}/")
    csrf = await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value")
    answer = await page.request.post(
        f"{site.base}/triage/{site.ticket_id}/dispatch",
        form={"csrf_token": csrf or "", "code": "TAX"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert (await Ticket.get(id=site.ticket_id)).status == TicketStatus.TRIAGE


async def test_post_without_csrf_token_is_refused(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    for form in ({"code": "TAX"}, {"code": "TAX", "csrf_token": "forged"}):
        answer = await page.request.post(
            f"{site.base}/triage/{site.ticket_id}/dispatch", form=form, max_redirects=0
        )
        assert answer.status == 403
        assert "CSRF" in await answer.text()
    assert (await Ticket.get(id=site.ticket_id)).status == TicketStatus.TRIAGE
    # The login form needs its token as well.
    fresh = await browser.new_page()
    answer = await fresh.request.post(
        f"{site.base}/login", form={"username": "admin", "password": PASSWORD}, max_redirects=0
    )
    assert answer.status == 403


async def test_five_wrong_passwords_throttle_the_login(site: Site, browser: Any) -> None:
    page = await browser.new_page(locale="zh-CN")
    for attempt in range(1, 6):
        await page.goto(f"{site.base}/login")
        await page.fill("input[name=username]", "admin")
        await page.fill("input[name=password]", f"wrong-{attempt}")
        await page.click("button[type=submit]")
        message = await page.text_content("#login-error")
        assert message is not None
        if attempt < 5:
            assert "用户名或密码错误" in message
    assert "登录失败次数过多" in message and "15 分钟" in message
    await page.screenshot(path=screenshot_path("login_throttled"), full_page=True)
    # Now even the right password is refused for this username and address.
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    message = await page.text_content("#login-error")
    assert message is not None and "登录失败次数过多" in message
    assert await LoginFailure.filter(username="admin").count() == 5
    # Another account from the same address is not locked out.
    other = await login(browser, site, "office")
    assert other.url.rstrip("/") == site.base


async def test_pages_need_a_login_and_logout_ends_the_session(site: Site, browser: Any) -> None:
    page = await browser.new_page(locale="zh-CN")
    await page.goto(f"{site.base}/triage")
    assert "/admin/login" in page.url and "next=" in page.url
    await page.screenshot(path=screenshot_path("login"), full_page=True)
    await page.fill("input[name=username]", "office")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector(f"#ticket-{site.ticket_id}")  # back where it was going
    await page.click("form[action$=logout] button")
    await page.wait_for_load_state()
    assert page.url.endswith("/admin/login")
    await page.goto(f"{site.base}/triage")
    assert "/admin/login" in page.url
