"""The directory pages in a real browser: enterprises, departments, accounts and Telegram roles.

Who may see what is checked on the server (403 for a page or a POST outside one's role), every
change leaves an audit entry, and a refused change shows why and changes nothing. Screenshots
go to ``build/screenshots/``.
"""

from __future__ import annotations

from typing import Any

from conftest import ENT_CHAT, PASSWORD, Site, screenshot_path

from admin.auth import create_user
from models.audit import AuditEntry
from models.department import Department
from models.enterprise import Enterprise, Member
from models.staff import RoleGrant
from models.ticket import Ticket, TicketStatus
from models.webuser import WebUser

NEW_PASSWORD = "tax-staff-2026!"


async def login(browser: Any, site: Site, username: str, password: str = PASSWORD) -> Any:
    page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def nav_labels(page: Any) -> list[str]:
    return [t.strip() for t in await page.locator("header.top nav a").all_text_contents()]


async def csrf_of(page: Any) -> str:
    return await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value") or ""


async def test_admin_creates_a_staff_user_who_sees_the_staff_menu(
    site: Site, browser: Any
) -> None:
    page = await login(browser, site, "admin")
    assert "账号与角色" in await nav_labels(page)
    await page.click("header.top nav >> text=账号与角色")
    await page.wait_for_selector("#user-table")
    await page.fill("#create-user input[name=username]", "li.tax")
    await page.select_option("#create-user select[name=role]", "staff")
    await page.select_option("#create-user select[name=department_code]", "TAX")
    await page.fill("#create-user input[name=password]", NEW_PASSWORD)
    await page.click("#create-user button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    assert "已创建账号 li.tax" in (await page.text_content(".flash.ok") or "")
    row = page.locator("#user-table tr[data-username='li.tax']")
    assert "部门工作人员" in (await row.locator("td.role").text_content() or "")
    assert (await row.locator("td.dept").text_content() or "").strip() == "TAX"
    await page.screenshot(path=screenshot_path("users"), full_page=True)

    user = await WebUser.get(username="li.tax")
    assert (user.role, user.department_code, user.active) == ("staff", "TAX", True)
    assert user.password_hash.startswith("$argon2id$")
    entry = await AuditEntry.get(action="user.create", target="li.tax")
    assert (entry.actor, entry.role, entry.ip) == ("admin", "admin", "127.0.0.1")
    assert NEW_PASSWORD not in str(entry.data)

    await page.click("form[action$=logout] button")
    await page.wait_for_load_state()
    staff = await login(browser, site, "li.tax", NEW_PASSWORD)
    assert staff.url.rstrip("/") == site.base and "首页概览" in await staff.content()
    labels = await nav_labels(staff)
    assert "首页概览" in labels
    # No triage, directory, config or accounts (their own department's liaison reports only).
    assert set(labels) <= {"首页概览", "工单", "联络员报送"}
    await staff.screenshot(path=screenshot_path("dashboard_new_staff"), full_page=True)


async def test_bad_account_forms_show_the_reason_and_change_nothing(
    site: Site, browser: Any
) -> None:
    page = await login(browser, site, "admin")
    await page.goto(f"{site.base}/users")
    users_before = await WebUser.all().count()
    cases = [
        ("wang", "staff", "TAX", "short-pw", "密码至少 10 个字符"),
        ("wang", "staff", "", NEW_PASSWORD, "须选择所属部门"),
        ("taxstaff", "office", "", NEW_PASSWORD, "用户名 taxstaff 已被使用"),
    ]
    for username, role, dept, password, words in cases:
        await page.fill("#create-user input[name=username]", username)
        await page.select_option("#create-user select[name=role]", role)
        await page.select_option("#create-user select[name=department_code]", dept)
        await page.fill("#create-user input[name=password]", password)
        async with page.expect_response(lambda r: r.request.method == "POST") as info:
            await page.click("#create-user button[type=submit]")
        assert (await info.value).status == 400
        await page.wait_for_selector("#user-error")
        assert words in (await page.text_content("#user-error") or ""), words
        # What was typed is kept (except the password), so the admin only fixes the mistake.
        assert await page.input_value("#create-user input[name=username]") == username
        assert await page.input_value("#create-user input[name=password]") == ""
    await page.screenshot(path=screenshot_path("users_error"), full_page=True)
    assert await WebUser.all().count() == users_before
    assert not await WebUser.exists(username="wang")
    assert await AuditEntry.all().count() == 0


async def test_admin_grants_and_revokes_the_telegram_manager_role(
    site: Site, browser: Any
) -> None:
    page = await login(browser, site, "admin")
    await page.goto(f"{site.base}/users")
    assert await page.locator("#no-grants").count() == 1
    await page.fill("#telegram-roles input[name=user_id]", "12ab")
    await page.click("#telegram-roles button[type=submit]")
    await page.wait_for_selector("#grant-error")
    assert "正整数" in (await page.text_content("#grant-error") or "")
    assert await RoleGrant.all().count() == 0

    await page.fill("#telegram-roles input[name=user_id]", "7700123")
    await page.fill("#telegram-roles input[name=name]", "周主任<b>")
    await page.click("#telegram-roles button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    row = page.locator("#grant-table tr[data-user-id='7700123']")
    text = await row.text_content() or ""
    assert "周主任<b>" in text and "管理人员" in text  # shown as text, escaped
    await page.screenshot(path=screenshot_path("users_telegram_manager"), full_page=True)
    grant = await RoleGrant.get(user_id=7700123, role="manager")
    assert grant.name == "周主任<b>" and grant.granted_by is None
    entry = await AuditEntry.get(action="role.grant")
    assert (entry.actor, entry.target) == ("admin", "tg:7700123")

    # Granting again is refused with a reason; nothing is added.
    await page.fill("#telegram-roles input[name=user_id]", "7700123")
    await page.click("#telegram-roles button[type=submit]")
    await page.wait_for_selector("#grant-error")
    assert "已是管理人员" in (await page.text_content("#grant-error") or "")
    assert await RoleGrant.filter(user_id=7700123).count() == 1

    await page.goto(f"{site.base}/users")
    await page.click("#grant-table tr[data-user-id='7700123'] .revoke-form button")
    await page.wait_for_selector(".flash.ok")
    assert await page.locator("#grant-table tr[data-user-id='7700123']").count() == 0
    assert not await RoleGrant.exists(user_id=7700123)
    assert await AuditEntry.exists(action="role.revoke", target="tg:7700123")


async def test_admin_deactivates_reactivates_and_resets_a_password(
    site: Site, browser: Any
) -> None:
    page = await login(browser, site, "admin")
    await page.goto(f"{site.base}/users")
    # No button to deactivate oneself, and the server refuses a forged form too.
    own = page.locator("#user-table tr[data-username=admin]")
    assert await own.locator(".active-form").count() == 0
    admin_id = (await WebUser.get(username="admin")).id
    answer = await page.request.post(
        f"{site.base}/users/{admin_id}/active",
        form={"csrf_token": await csrf_of(page), "active": "0"},
    )
    assert "不能停用自己的账号" in await answer.text()
    assert (await WebUser.get(id=admin_id)).active

    row = page.locator("#user-table tr[data-username=taxstaff]")
    await row.locator(".active-form button").click()
    await page.wait_for_selector(".flash.ok")
    assert "已停用账号 taxstaff" in (await page.text_content(".flash.ok") or "")
    assert not (await WebUser.get(username="taxstaff")).active
    refused = await login(browser, site, "taxstaff")
    assert await refused.locator("#login-error").count() == 1

    await page.locator("#user-table tr[data-username=taxstaff] .active-form button").click()
    await page.wait_for_selector(".flash.ok")
    assert (await WebUser.get(username="taxstaff")).active

    row = page.locator("#user-table tr[data-username=taxstaff]")
    await row.locator("summary").click()
    await row.locator(".password-form input[name=password]").fill(NEW_PASSWORD)
    await row.locator(".password-form button").click()
    await page.wait_for_selector(".flash.ok")
    fresh = await login(browser, site, "taxstaff", NEW_PASSWORD)
    assert fresh.url.rstrip("/") == site.base

    # Moving taxstaff to ENV from the row's role form.
    row = page.locator("#user-table tr[data-username=taxstaff]")
    await row.locator("summary").click()
    await row.locator(".role-form select[name=department_code]").select_option("ENV")
    await row.locator(".role-form button").click()
    await page.wait_for_selector(".flash.ok")
    assert (await WebUser.get(username="taxstaff")).department_code == "ENV"
    actions = [e.action for e in await AuditEntry.all().order_by("id")]
    assert actions == [
        "user.deactivate",
        "user.reactivate",
        "user.password_reset",
        "user.update",
    ]


async def test_staff_gets_403_on_directory_pages_and_posts(site: Site, browser: Any) -> None:
    page = await login(browser, site, "taxstaff")
    ent = await Enterprise.get(name="天津泰达测试科技有限公司")
    for path in (
        "enterprises",
        f"enterprises/{ent.id}",
        "departments",
        "departments/TAX",
        "users",
    ):
        response = await page.goto(f"{site.base}/{path}")
        assert response is not None and response.status == 403, path
    await page.goto(f"{site.base}/")
    token = await csrf_of(page)
    staff_id = (await WebUser.get(username="taxstaff")).id
    posts = [
        ("users", {"username": "sneaky", "role": "admin", "password": NEW_PASSWORD}),
        (f"users/{staff_id}/role", {"role": "admin"}),
        (f"users/{staff_id}/password", {"password": NEW_PASSWORD}),
        (f"users/{staff_id}/active", {"active": "0"}),
        ("users/grants", {"user_id": "555", "role": "manager"}),
        ("users/grants/revoke", {"user_id": "555", "role": "manager"}),
    ]
    for path, form in posts:
        answer = await page.request.post(
            f"{site.base}/{path}", form={"csrf_token": token, **form}, max_redirects=0
        )
        assert answer.status == 403, path
    me = await WebUser.get(username="taxstaff")
    assert (me.role, me.active) == ("staff", True)
    assert not await WebUser.exists(username="sneaky")
    assert await RoleGrant.all().count() == 0
    assert await AuditEntry.all().count() == 0


async def test_office_reads_the_directory_but_not_the_accounts(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    labels = await nav_labels(page)
    assert "企业" in labels and "部门" in labels and "账号与角色" not in labels
    response = await page.goto(f"{site.base}/users")
    assert response is not None and response.status == 403
    await page.goto(f"{site.base}/enterprises")
    answer = await page.request.post(
        f"{site.base}/users/grants",
        form={"csrf_token": await csrf_of(page), "user_id": "555", "role": "manager"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert await RoleGrant.all().count() == 0


async def test_posts_without_csrf_token_are_refused(site: Site, browser: Any) -> None:
    page = await login(browser, site, "admin")
    for form in (
        {"username": "ghost", "role": "office", "password": NEW_PASSWORD},
        {"username": "ghost", "role": "office", "password": NEW_PASSWORD, "csrf_token": "x"},
    ):
        answer = await page.request.post(f"{site.base}/users", form=form, max_redirects=0)
        assert answer.status == 403 and "CSRF" in await answer.text()
    answer = await page.request.post(
        f"{site.base}/users/grants", form={"user_id": "555", "role": "manager"}, max_redirects=0
    )
    assert answer.status == 403
    assert not await WebUser.exists(username="ghost")
    assert await RoleGrant.all().count() == 0
    assert await AuditEntry.all().count() == 0


async def enrich_enterprise() -> Enterprise:
    """The fixture's enterprise gets a credit code, an unlinked contact, a rated ticket."""
    ent = await Enterprise.get(name="天津泰达测试科技有限公司")
    ent.credit_code = "91120116MA05XYZ12Q"
    await ent.save()
    await Member.create(enterprise=ent, contact_name="李会计", phone="13999998888")
    member = await Member.get(tg_user_id=ENT_CHAT)
    await Ticket.create(
        ref="TD20261101-0003",
        enterprise=ent,
        member=member,
        text="出口退税进度",
        department=await Department.get(code="TAX"),
        status=TicketStatus.CLOSED,
        rating_solved=True,
        rating_satisfaction="基本满意",
    )
    await Enterprise.create(name="另一家<script>公司</script>")
    return ent


async def test_enterprise_search_and_profile(site: Site, browser: Any) -> None:
    ent = await enrich_enterprise()
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/enterprises")
    assert await page.locator("#enterprise-table tbody tr").count() == 2
    assert "另一家<script>公司</script>" in (await page.text_content("#enterprise-table") or "")
    await page.screenshot(path=screenshot_path("enterprises"), full_page=True)
    await page.fill("input[name=q]", "ma05xyz")  # by credit code, any case
    await page.click(".toolbar button[type=submit]")
    await page.wait_for_load_state()
    rows = page.locator("#enterprise-table tbody tr")
    assert await rows.count() == 1
    assert (await rows.locator("td.tickets").text_content() or "").strip() == "2"
    await page.fill("input[name=q]", "泰达测试")
    await page.click(".toolbar button[type=submit]")
    await page.wait_for_load_state()
    await page.click(f"#enterprise-table tr[data-id='{ent.id}'] a")
    await page.wait_for_selector("#contact-table")
    assert await page.text_content("#credit-code") == "91120116MA05XYZ12Q"
    contacts = await page.text_content("#contact-table") or ""
    assert "王经理" in contacts and "13812345678" in contacts  # the office sees them whole
    assert "李会计" in contacts
    assert await page.locator("#contact-table .badge.tg.linked").count() == 1
    assert await page.locator("#contact-table .badge.unlinked").count() == 1
    old = page.locator("#history-table tr[data-ref='TD20261101-0003']")
    old_text = await old.text_content() or ""
    assert "已关闭" in old_text and "税务局" in old_text and "基本满意" in old_text
    new = await page.locator("#history-table tr[data-ref='TD20200101-0001']").text_content()
    assert new is not None and "待分拨" in new
    await page.screenshot(path=screenshot_path("enterprise_profile"), full_page=True)

    # A manager reads the profile with personal data masked.
    await create_user("boss", PASSWORD, role="manager")
    boss = await login(browser, site, "boss")
    await boss.goto(f"{site.base}/enterprises/{ent.id}")
    masked = await boss.text_content("#contact-table") or ""
    assert "138****5678" in masked and "13812345678" not in masked and "王**" in masked
    assert await boss.locator("#contact-table .badge.tg.linked").count() == 1
    missing = await boss.goto(f"{site.base}/enterprises/999999")
    assert missing is not None and missing.status == 404


async def test_departments_list_and_detail(site: Site, browser: Any) -> None:
    await Department.filter(code="TAX").update(leader_user_id=880088)
    page = await login(browser, site, "admin")
    await page.goto(f"{site.base}/departments")
    tax = page.locator("#department-table tr[data-code=TAX]")
    assert "TAX 群" in (await tax.locator("td.group").text_content() or "")
    assert "taxstaff" in (await tax.locator("td.staff").text_content() or "")
    assert "880088" in (await tax.text_content() or "")
    msa = page.locator("#department-table tr[data-code=MSA]")
    assert "未绑定" in (await msa.locator("td.group").text_content() or "")
    await page.screenshot(path=screenshot_path("departments"), full_page=True)
    await tax.locator("a").click()
    await page.wait_for_selector("#scope")
    assert "纳税申报" in (await page.text_content("#scope") or "")
    assert "TAX 群" in (await page.text_content("#group") or "")
    assert "taxstaff" in (await page.text_content("#staff-table") or "")
    assert await page.locator("#sla-none").count() == 1
    await page.screenshot(path=screenshot_path("department_detail"), full_page=True)
    missing = await page.goto(f"{site.base}/departments/NOPE")
    assert missing is not None and missing.status == 404
