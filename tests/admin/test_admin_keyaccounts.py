"""Key projects / key enterprises in the admin web (headless Chromium): the hotline office
marks an enterprise and names its butler (audited; a bad form shows why and changes nothing),
the flag shows in the ticket list and detail, the list filters on it; managers and department
staff cannot mark (403 on the server)."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, Site, csrf_of, login, screenshot_path

from admin.auth import create_user
from models.audit import AuditEntry
from models.enterprise import Enterprise, Member
from models.keyaccount import KeyAccount
from models.outbox import OutboxMessage
from models.ticket import Ticket, TicketStatus


async def test_office_marks_a_key_enterprise_and_the_lists_show_it(
    site: Site, browser: Any
) -> None:
    ent = await Enterprise.get(name="天津泰达测试科技有限公司")
    other = await Enterprise.create(name="另一家贸易有限公司")
    other_member = await Member.create(
        enterprise=other, tg_user_id=777, chat_id=777, contact_name="钱五", phone="13912345678"
    )
    await Ticket.create(
        ref="TD20200101-0002",
        enterprise=other,
        member=other_member,
        text="普通企业的咨询",
        status=TicketStatus.TRIAGE,
    )
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/enterprises/{ent.id}")
    assert await page.locator("#key-none").count() == 1

    # A bad form: the reasons, nothing stored.
    await page.fill("#key-form input[name=butler_user_id]", "abc")
    await page.fill("#key-form input[name=butler_name]", "刘管家")
    await page.fill("#key-form input[name=resolve_days]", "0")
    await page.click("#key-form button[type=submit]")
    await page.wait_for_selector("#key-error")
    error = await page.text_content("#key-error") or ""
    assert "Telegram 用户 ID" in error and "办结时限" in error
    assert not await KeyAccount.exists()
    assert not await AuditEntry.filter(action="enterprise.key").exists()

    await page.select_option("#key-form select[name=kind]", "project")
    await page.fill("#key-form input[name=project]", "新材料基地")
    await page.fill("#key-form input[name=butler_user_id]", "5001")
    await page.fill("#key-form input[name=resolve_days]", "3")
    await page.click("#key-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    assert "刘管家" in (await page.text_content(".flash.ok") or "")
    assert "【重点项目·新材料基地】" in (await page.text_content("#enterprise-key-flag") or "")
    assert "待发送" in (await page.text_content("#key-notice") or "")
    await page.screenshot(path=screenshot_path("enterprise_key"), full_page=True)
    row = await KeyAccount.get(enterprise_id=ent.id)
    assert (row.kind, row.butler_user_id, row.resolve_days) == ("project", 5001, 3)
    entry = await AuditEntry.get(action="enterprise.key")
    assert (entry.actor, entry.role) == ("office", "office")
    assert await OutboxMessage.filter(chat_id=5001, kind="key_assigned").exists()

    # The ticket list flags the key enterprise's ticket; the filter keeps only those.
    await page.goto(f"{site.base}/tickets")
    key_row = page.locator("#tickets-table tr[data-ref='TD20200101-0001']")
    assert "【重点项目·新材料基地】" in (await key_row.text_content() or "")
    plain_row = page.locator("#tickets-table tr[data-ref='TD20200101-0002']")
    assert "重点" not in (await plain_row.text_content() or "")
    await page.check("#filter-key")
    await page.click("#ticket-filter button[type=submit]")
    await page.wait_for_load_state()
    refs = await page.locator("#tickets-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.ref)"
    )
    assert refs == ["TD20200101-0001"]
    await page.goto(f"{site.base}/tickets/{site.ticket_id}")
    assert "重点项目" in (await page.text_content("#ticket-key") or "")

    # Unmarked: gone at once.
    await page.goto(f"{site.base}/enterprises/{ent.id}")
    await page.click("#unkey-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    assert await page.locator("#key-none").count() == 1
    assert not await KeyAccount.exists()
    assert await AuditEntry.filter(action="enterprise.unkey").count() == 1


async def test_only_the_office_may_mark(site: Site, browser: Any) -> None:
    await create_user("boss", PASSWORD, role="manager")
    ent = await Enterprise.get(name="天津泰达测试科技有限公司")
    form = {"kind": "enterprise", "butler_user_id": "5001", "butler_name": "刘管家"}
    for user in ("boss", "taxstaff"):
        page = await login(browser, site, user)
        response = await page.goto(f"{site.base}/enterprises/{ent.id}")
        assert response is not None
        if user == "boss":  # managers read the page but get no form
            assert response.status == 200 and await page.locator("#key-form").count() == 0
        else:
            assert response.status == 403
        await page.goto(f"{site.base}/")
        token = await csrf_of(page)
        for path in ("key", "unkey"):
            answer = await page.request.post(
                f"{site.base}/enterprises/{ent.id}/{path}",
                form={"csrf_token": token, **form},
                max_redirects=0,
            )
            assert answer.status == 403, (user, path)
    assert not await KeyAccount.exists()
    assert await AuditEntry.all().count() == 0
