"""The 联络员报送 page in a real browser: a month's reports per department with their status,
a report's seven parts, the office reopening a submitted one (audited, the liaison told), a
department's staff seeing only their own, and granting the liaison role with a department.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import Site, login, screenshot_path

from models.audit import AuditEntry
from models.liaison import LiaisonReport
from models.outbox import OutboxMessage
from models.staff import RoleGrant

UTC = dt.UTC


async def reports() -> tuple[LiaisonReport, LiaisonReport, LiaisonReport]:
    await RoleGrant.create(user_id=5001, role="liaison", name="刘联络员", department_code="TAX")
    await RoleGrant.create(user_id=5002, role="liaison", name="吴联络员", department_code="ENV")
    await RoleGrant.create(user_id=5003, role="liaison", name="郑联络员", department_code="HRS")
    tax = await LiaisonReport.create(
        department_code="TAX",
        month="2026-12",
        status="submitted",
        submitted_at=dt.datetime(2026, 12, 24, 2, 0, tzinfo=UTC),  # 10:00 in Tianjin
        author_name="刘联络员",
        parts={
            "1": {"text": "推进纳税缴费便利度指标<script>", "files": []},
            "6": {"text": "走访12家企业", "files": [{"kind": "photo", "name": "图片"}]},
        },
    )
    env = await LiaisonReport.create(
        department_code="ENV", month="2026-12", parts={"2": {"text": "环评审批提速", "files": []}}
    )
    hrs = await LiaisonReport.create(
        department_code="HRS",
        month="2026-12",
        status="submitted",
        submitted_at=dt.datetime(2026, 12, 28, 2, 0, tzinfo=UTC),
        author_name="郑联络员",
        parts={"5": {"text": "招聘会", "files": []}},
    )
    return tax, env, hrs


async def test_office_reads_and_reopens(site: Site, browser: Any) -> None:
    tax, env, _ = await reports()
    page = await login(browser, site, "office")
    assert "联络员报送" in (await page.text_content("header.top nav") or "")
    await page.goto(f"{site.base}/liaison?month=2026-12")
    status = {
        await r.get_attribute("data-dept"): await r.get_attribute("data-status")
        for r in await page.locator("#liaison-table tbody tr").all()
    }
    assert status == {"TAX": "submitted", "ENV": "draft", "HRS": "late"}
    text = await page.text_content("#liaison-table") or ""
    assert "已提交" in text and "草稿" in text and "逾期提交" in text
    assert "2026-12-24 10:00" in text
    await page.screenshot(path=screenshot_path("liaison"), full_page=True)

    await page.locator("tr[data-dept='TAX']").get_by_role("link", name="查看").click()
    await page.wait_for_load_state()
    parts = await page.text_content("#parts-table") or ""
    assert "推进纳税缴费便利度指标<script>" in parts  # escaped, shown as text
    assert "走访12家企业" in parts and "图片" in parts
    await page.get_by_role("button", name="退回修改").click()
    await page.wait_for_load_state()
    assert "已退回" in (await page.text_content(".flash") or "")
    assert (await page.text_content("#report-status") or "").strip() == "草稿"
    await tax.refresh_from_db()
    assert tax.status == "draft" and tax.submitted_at is None
    assert await AuditEntry.exists(action="liaison.reopen", actor="office")
    told = await OutboxMessage.filter(chat_id=5001, kind="info").first()
    assert told is not None and "/liaison" in told.params["message"]
    # A draft cannot be reopened again (a stale form): refused, nothing changes.
    token = await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value")
    response = await page.request.post(
        f"{site.base}/liaison/{env.id}/reopen", form={"csrf_token": token or ""}
    )
    assert response.ok and "尚未提交" in await response.text()
    assert await AuditEntry.filter(action="liaison.reopen").count() == 1

    response = await page.goto(f"{site.base}/liaison?month=2026-13")
    assert response is not None and response.status == 400


async def test_staff_read_only_their_department(site: Site, browser: Any) -> None:
    tax, env, _ = await reports()
    page = await login(browser, site, "taxstaff")
    await page.goto(f"{site.base}/liaison?month=2026-12")
    rows = page.locator("#liaison-table tbody tr")
    assert await rows.count() == 1
    assert await rows.first.get_attribute("data-dept") == "TAX"
    response = await page.goto(f"{site.base}/liaison/{tax.id}")
    assert response is not None and response.status == 200
    assert await page.get_by_role("button", name="退回修改").count() == 0
    response = await page.goto(f"{site.base}/liaison/{env.id}")
    assert response is not None and response.status == 403
    response = await page.request.post(f"{site.base}/liaison/{tax.id}/reopen", form={})
    assert response.status == 403
    await tax.refresh_from_db()
    assert tax.status == "submitted"


async def test_admin_grants_liaison_with_department(site: Site, browser: Any) -> None:
    page = await login(browser, site, "admin")
    await page.goto(f"{site.base}/users")
    form = page.locator("#liaison-roles form")
    await form.locator("input[name=user_id]").fill("7700999")
    await form.locator("input[name=name]").fill("王联络员")
    # Without a department: the browser's required check is bypassed by a direct post.
    token = await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value")
    response = await page.request.post(
        f"{site.base}/users/grants",
        form={"csrf_token": token or "", "role": "liaison", "user_id": "7700999", "name": "王"},
    )
    assert response.status == 400 and "须选择所属部门" in await response.text()
    assert not await RoleGrant.exists(user_id=7700999)
    await form.locator("select[name=department_code]").select_option("TAX")
    await form.get_by_role("button", name="授予联络员角色").click()
    await page.wait_for_load_state()
    assert "已授予" in (await page.text_content(".flash") or "")
    grant = await RoleGrant.get(user_id=7700999, role="liaison")
    assert grant.department_code == "TAX" and grant.name == "王联络员"
    assert "联络员（TAX）" in (await page.text_content("#grant-table") or "")
    entry = await AuditEntry.get(action="role.grant", target="tg:7700999")
    assert entry.data["department_code"] == "TAX"
