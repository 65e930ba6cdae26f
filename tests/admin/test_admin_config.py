"""The configuration pages in a real browser: the routing rules with their test box, SLA
policies, the working-day calendar and the audit log; roles, CSRF, bad input.

Screenshots of the pages are saved to ``build/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import PASSWORD, Site, screenshot_path

from admin.auth import create_user
from desk import audit
from models.audit import AuditEntry
from models.calendar import CalendarDay
from models.routing import RoutingRule
from models.sla import SlaPolicy

MESSAGE = "公司门口的下水道堵了，污水漫到了路上"


async def login(browser: Any, site: Site, username: str, password: str = PASSWORD) -> Any:
    page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def decision(page: Any, scope: str = "") -> str:
    """The department the test box shows (``scope`` narrows to one of two answers)."""
    value = await page.get_attribute(f"{scope} section.trial".strip(), "data-department")
    assert value is not None
    return value


async def csrf(page: Any) -> str:
    token = await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value")
    assert token
    return str(token)


async def test_office_edits_a_rule_and_the_test_box_changes(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    nav = await page.text_content("header.top nav")
    assert nav is not None and "分拨规则" in nav and "时限与日历" in nav
    assert "操作日志" not in nav  # admin only

    # The test box on the rules list: the message goes to 城市管理 (CNT) today.
    await page.goto(f"{site.base}/rules")
    assert await page.locator("#rules-table tr[data-code=ENV]").count() == 1
    await page.fill("#trial-form textarea[name=q]", MESSAGE)
    await page.click("#trial-form button[type=submit]")
    await page.wait_for_selector("section.trial")
    assert await decision(page) == "CNT"
    text = await page.text_content("section.trial")
    assert text is not None and "下水道" in text and "置信度" in text and "类型" in text
    await page.screenshot(path=screenshot_path("config_rules"), full_page=True)

    # Edit ENV: the same message is carried along, the test box still says CNT.
    await page.click("#rules-table tr[data-code=ENV] a")
    await page.wait_for_selector("#rule-form")
    assert await decision(page) == "CNT"
    keywords = page.locator("textarea[name=keywords]")
    original = await keywords.input_value()
    assert "噪声" in original
    await keywords.fill(original + "\n下水道堵了 20")

    # Preview: the edited rule answers ENV, the live one still CNT, nothing is saved.
    await page.click("button[name=action][value=preview]")
    await page.wait_for_selector("#preview section.trial")
    assert await decision(page, "#preview") == "ENV"
    assert await decision(page, "#current") == "CNT"
    assert "下水道堵了 20" in await page.locator("textarea[name=keywords]").input_value()
    assert (await RoutingRule.get(code="ENV")).source == "default"
    await page.screenshot(path=screenshot_path("config_rule_preview"), full_page=True)

    # Save: the running router picks it up at once; the test box now says ENV.
    await page.click("button[name=action][value=save]")
    await page.wait_for_selector(".flash.ok")
    flash = await page.text_content(".flash.ok")
    assert flash is not None and "已保存 ENV" in flash and "新增1" in flash
    assert await decision(page) == "ENV"
    assert await page.locator("#preview").count() == 0
    await page.screenshot(path=screenshot_path("config_rule_saved"), full_page=True)
    await page.goto(f"{site.base}/rules")
    await page.fill("#trial-form textarea[name=q]", MESSAGE)
    await page.click("#trial-form button[type=submit]")
    await page.wait_for_selector("section.trial")
    assert await decision(page) == "ENV"
    row = await page.text_content("#rules-table tr[data-code=ENV]")
    assert row is not None and "已修改" in row and "office" in row

    rule = await RoutingRule.get(code="ENV")
    assert (rule.source, rule.updated_by) == ("admin", "office")
    assert "下水道堵了" in (rule.spec.get("terms") or {})
    entry = await AuditEntry.get(action="rule.update")
    assert (entry.actor, entry.role, entry.ip, entry.target) == (
        "office",
        "office",
        "127.0.0.1",
        "ENV",
    )
    assert entry.data == {"keywords": {"added": {"下水道堵了": 20}}}

    # The admin sees the change in the audit log.
    admin = await login(browser, site, "admin")
    nav = await admin.text_content("header.top nav")
    assert nav is not None and "操作日志" in nav
    await admin.goto(f"{site.base}/audit")
    line = admin.locator("#audit-table tr[data-action='rule.update'][data-target=ENV]")
    assert await line.count() == 1
    cells = await line.text_content()
    assert cells is not None and "修改分拨规则" in cells and "下水道堵了" in cells
    assert "热线办" in cells
    await admin.screenshot(path=screenshot_path("config_audit"), full_page=True)


async def test_a_bad_rule_shows_the_error_and_changes_nothing(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    before = (await RoutingRule.get(code="ENV")).spec
    await page.goto(f"{site.base}/rules/ENV")
    keywords = page.locator("textarea[name=keywords]")
    await keywords.fill((await keywords.input_value()) + "\n噪音 很高\n\n：3\n噪声 5")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.click("button[name=action][value=save]")
    assert (await answer.value).status == 400
    error = await page.text_content("#rule-error")
    assert error is not None
    assert "“噪音”的权重“很高”不是数字" in error
    assert "词为空" in error
    assert "“噪声”与第" in error and "重复" in error
    # What was typed stays in the box to be fixed.
    assert "噪音 很高" in await page.locator("textarea[name=keywords]").input_value()
    await page.screenshot(path=screenshot_path("config_rule_error"), full_page=True)
    rule = await RoutingRule.get(code="ENV")
    assert (rule.spec, rule.source) == (before, "default")
    assert not await AuditEntry.exists()
    # The preview refuses the same text without saving.
    await page.click("button[name=action][value=preview]")
    assert await page.locator("#rule-error").count() == 1
    assert not await AuditEntry.exists()


async def test_office_manages_sla_policies(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/sla")
    general = await page.locator("#sla-table tbody tr").count()
    assert general == await SlaPolicy.all().count() >= 7

    form = page.locator("#sla-new")
    await form.locator("select[name=department_code]").select_option("TAX")
    await form.locator("select[name=type]").select_option("投诉")
    await form.locator("input[name=respond_hours]").fill("abc")
    await form.locator("input[name=resolve_days]").fill("5")
    await form.locator("button[type=submit]").click()
    error = await page.text_content("#sla-error")
    assert error is not None and "响应时限（小时）“abc”不是数字" in error
    assert await SlaPolicy.all().count() == general
    assert await page.locator("#sla-new input[name=respond_hours]").input_value() == "abc"

    await page.locator("#sla-new input[name=respond_hours]").fill("3")
    await page.locator("#sla-new button[type=submit]").click()
    await page.wait_for_selector(".flash.ok")
    row = await SlaPolicy.get(department_code="TAX", type="投诉", urgent=False)
    assert (row.respond_hours, row.resolve_days) == (3.0, 5)
    shown = await page.text_content(f"#sla-table tr[data-id='{row.id}']")
    assert shown is not None and "部门专属" in shown and "TAX" in shown
    await page.screenshot(path=screenshot_path("config_sla"), full_page=True)

    # The same override twice is refused with a clear message.
    form = page.locator("#sla-new")
    await form.locator("select[name=department_code]").select_option("TAX")
    await form.locator("select[name=type]").select_option("投诉")
    await form.locator("button[type=submit]").click()
    error = await page.text_content("#sla-error")
    assert error is not None and "已有一条相同的规则" in error

    await page.goto(f"{site.base}/sla/{row.id}")
    await page.locator("#sla-edit input[name=resolve_days]").fill("8")
    await page.locator("#sla-edit button[type=submit]").click()
    await page.wait_for_selector(".flash.ok")
    assert (await SlaPolicy.get(id=row.id)).resolve_days == 8
    await page.goto(f"{site.base}/sla/{row.id}")
    await page.locator("#sla-edit input[name=resolve_days]").fill("0")
    await page.locator("#sla-edit input[name=resolve_hours]").fill("0")
    await page.locator("#sla-edit button[type=submit]").click()
    error = await page.text_content("#sla-error")
    assert error is not None and "办结时限不能为 0" in error
    assert (await SlaPolicy.get(id=row.id)).resolve_days == 8
    await page.click("#sla-delete button")
    await page.wait_for_selector(".flash.ok")
    assert not await SlaPolicy.exists(id=row.id)

    actions = [e.action for e in await audit.recent(action_prefix="sla.")]
    assert actions == ["sla.delete", "sla.update", "sla.create"]


async def test_office_sets_and_clears_a_calendar_day(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/sla")
    await page.click("nav.tabs a[href$='/calendar']")
    await page.goto(f"{site.base}/calendar?month=2026-10")
    assert await page.text_content("#month-title") == "2026年10月"
    national = page.locator("#day-2026-10-01")
    assert await national.get_attribute("data-source") == "chinese_calendar"
    assert "休" in (await national.text_content() or "")
    assert "班" in (await page.text_content("#day-2026-10-10") or "")  # 调休上班 Saturday
    workdays = int(await page.text_content("#workdays") or 0)

    # A bad date: an error, nothing stored.
    await page.fill("#calendar-set input[name=day]", "")
    await page.evaluate("document.querySelector('#calendar-set input[name=day]').type = 'text'")
    await page.fill("#calendar-set input[name=day]", "2026-02-30")
    await page.click("#calendar-set button[type=submit]")
    error = await page.text_content("#calendar-error")
    assert error is not None and "日期“2026-02-30”无效" in error
    assert not await CalendarDay.exists(source="admin")

    await page.fill("#calendar-set input[name=day]", "2026-10-14")
    await page.check("#calendar-set input[name=workday][value='0']")
    await page.fill("#calendar-set input[name=name]", "台风停工")
    await page.click("#calendar-set button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    # The running calendar was reloaded: the page draws the day off at once.
    typhoon = page.locator("#day-2026-10-14")
    assert await typhoon.get_attribute("data-source") == "admin"
    assert await typhoon.get_attribute("data-workday") == "0"
    assert "台风停工" in (await typhoon.text_content() or "")
    assert int(await page.text_content("#workdays") or 0) == workdays - 1
    assert await page.locator("#overrides li[data-day='2026-10-14']").count() == 1
    await page.screenshot(path=screenshot_path("config_calendar"), full_page=True)

    await page.click("#overrides li[data-day='2026-10-14'] button")
    await page.wait_for_selector(".flash.ok")
    typhoon = page.locator("#day-2026-10-14")
    assert await typhoon.get_attribute("data-source") == ""
    assert await typhoon.get_attribute("data-workday") == "1"
    assert not await CalendarDay.exists(day=dt.date(2026, 10, 14))

    entries = await audit.recent(action_prefix="calendar.")
    assert [(e.action, e.target, e.actor) for e in entries] == [
        ("calendar.clear", "2026-10-14", "office"),
        ("calendar.set", "2026-10-14", "office"),
    ]


async def test_staff_and_manager_get_403_on_the_configuration_pages(
    site: Site, browser: Any
) -> None:
    await create_user("boss", PASSWORD, role="manager")
    policy = await SlaPolicy.filter(department_code=None).first()
    assert policy is not None
    posts = {
        "/rules/ENV": {"keywords": "噪声 3", "action": "save"},
        "/sla/new": {"type": "投诉", "respond_hours": "1", "resolve_days": "1"},
        f"/sla/{policy.id}": {"type": "投诉", "respond_hours": "1", "resolve_days": "1"},
        f"/sla/{policy.id}/delete": {},
        "/calendar/set": {"day": "2026-10-14", "workday": "0", "name": "x"},
        "/calendar/clear": {"day": "2026-10-01"},
    }
    for username in ("taxstaff", "boss"):
        page = await login(browser, site, username)
        nav = await page.text_content("header.top nav")
        assert nav is not None and "分拨规则" not in nav and "操作日志" not in nav
        for path in ("/rules", "/rules/ENV", "/sla", f"/sla/{policy.id}", "/calendar", "/audit"):
            response = await page.goto(f"{site.base}{path}")
            assert response is not None and response.status == 403, (username, path)
        await page.goto(f"{site.base}/")
        token = await csrf(page)
        for path, form in posts.items():
            answer = await page.request.post(
                f"{site.base}{path}", form={"csrf_token": token, **form}, max_redirects=0
            )
            assert answer.status == 403, (username, path)
    # The office may edit but not read the audit log.
    office = await login(browser, site, "office")
    response = await office.goto(f"{site.base}/audit")
    assert response is not None and response.status == 403
    assert (await RoutingRule.get(code="ENV")).source == "default"
    assert await SlaPolicy.exists(id=policy.id)
    assert not await CalendarDay.exists(source="admin")
    assert not await AuditEntry.exists()


async def test_configuration_posts_without_csrf_token_are_refused(
    site: Site, browser: Any
) -> None:
    page = await login(browser, site, "admin")
    policy = await SlaPolicy.filter(department_code=None).first()
    assert policy is not None
    for path, form in (
        ("/rules/ENV", {"keywords": "噪声 3", "action": "save"}),
        ("/sla/new", {"type": "投诉", "respond_hours": "1", "resolve_days": "1"}),
        (f"/sla/{policy.id}/delete", {}),
        ("/calendar/set", {"day": "2026-10-14", "workday": "0", "name": "x"}),
    ):
        for extra in ({}, {"csrf_token": "forged"}):
            answer = await page.request.post(
                f"{site.base}{path}", form={**form, **extra}, max_redirects=0
            )
            assert answer.status == 403, path
            assert "CSRF" in await answer.text()
    assert (await RoutingRule.get(code="ENV")).source == "default"
    assert await SlaPolicy.exists(id=policy.id)
    assert not await CalendarDay.exists(source="admin")
    assert not await AuditEntry.exists()


async def test_audit_log_is_paged_and_filtered(site: Site, browser: Any) -> None:
    start = dt.datetime(2026, 9, 1, 1, 0, tzinfo=dt.UTC)
    for i in range(55):
        await audit.record(
            at=start + dt.timedelta(minutes=i),
            actor="shell",
            action="calendar.set" if i % 5 else "rule.update",
            target=f"<b>{i}</b>",
        )
    page = await login(browser, site, "admin")
    await page.goto(f"{site.base}/audit")
    rows = page.locator("#audit-table tbody tr")
    assert await rows.count() == 50
    # Newest first; the target is shown as text, not markup.
    assert await rows.first.get_attribute("data-target") == "<b>54</b>"
    assert "<b>54</b>" in (await rows.first.text_content() or "")
    assert await page.locator("#audit-table b").count() == 0
    await page.click("#next-page")
    assert await rows.count() == 5
    assert await rows.last.get_attribute("data-target") == "<b>0</b>"
    assert await page.locator("#next-page").count() == 0
    await page.click("#prev-page")
    assert await rows.count() == 50

    await page.click(".filters a:text('分拨规则')")
    assert await rows.count() == 11
    assert {await rows.nth(i).get_attribute("data-action") for i in range(11)} == {"rule.update"}
    await page.fill(".filters input[name=action]", "calendar.")
    await page.click(".filters button")
    assert await rows.count() == 44
    await page.screenshot(path=screenshot_path("config_audit_filtered"), full_page=True)


async def test_a_long_test_message_survives_the_round_trips(site: Site, browser: Any) -> None:
    long_message = "我公司想咨询研发费用加计扣除的申报流程。" * 90  # 1800 characters
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/rules")
    await page.fill("#trial-form textarea[name=q]", long_message)
    await page.click("#trial-form button[type=submit]")
    await page.wait_for_selector("section.trial")
    assert await decision(page) == "TAX"
    # Too long for a link: the edit page opens without it, the message is typed again.
    await page.click("#rules-table tr[data-code=TAX] a")
    await page.wait_for_selector("#rule-form")
    assert await page.locator("section.trial").count() == 0
    await page.fill("#rule-form textarea[name=q]", long_message)
    await page.click("button[name=action][value=save]")
    await page.wait_for_selector(".flash.ok")
    assert "没有变化" in (await page.text_content(".flash.ok") or "")
    assert await decision(page) == "TAX"  # answered directly, not through a redirect
    assert await page.locator("#rule-form textarea[name=q]").input_value() == long_message
    assert not await AuditEntry.exists()
