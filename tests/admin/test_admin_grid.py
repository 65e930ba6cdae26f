"""The 网格员 page in a real browser: the office grants nothing here but keeps each grid worker's
enterprise list (add by name or credit code, remove), every change audited, a bad entry refused
with a clear message; staff may neither see nor post; the admin grants the role on 账号与角色.
"""

from __future__ import annotations

from typing import Any

from conftest import Site, csrf_of, login, screenshot_path

from models.audit import AuditEntry
from models.enterprise import Enterprise
from models.grid import GridAssignment
from models.staff import RoleGrant

GID = 6001


async def test_admin_grants_and_office_keeps_the_list(site: Site, browser: Any) -> None:
    other = await Enterprise.create(
        name="天津滨海精密制造有限公司", credit_code="91120116MA05ABCD1X"
    )

    # The admin grants the role on 账号与角色.
    admin = await login(browser, site, "admin")
    await admin.goto(f"{site.base}/users")
    # The general grant form (the page also has the liaison's, with a department).
    form = admin.locator("form[action$='users/grants']").filter(
        has=admin.locator("select[name=role]")
    )
    await form.locator("select[name=role]").select_option("grid")
    await form.locator("input[name=user_id]").fill(str(GID))
    await form.locator("input[name=name]").fill("张网格")
    await form.get_by_role("button", name="授予角色").click()
    await admin.wait_for_load_state()
    assert "网格员" in (await admin.text_content(".flash") or "")
    assert await RoleGrant.exists(user_id=GID, role="grid", name="张网格")

    page = await login(browser, site, "office")
    nav = [t.strip() for t in await page.locator("header.top nav a").all_text_contents()]
    assert "网格员" in nav
    await page.goto(f"{site.base}/grid")
    section = page.locator(f"section.grid-worker[data-user-id='{GID}']")
    assert "张网格" in (await section.text_content() or "")

    # Unknown enterprise: refused, nothing stored.
    await section.locator("input[name=enterprise]").fill("不存在的公司")
    await section.get_by_role("button", name="加入名单").click()
    await page.wait_for_load_state()
    assert "找不到企业" in (await page.text_content(".flash") or "")
    assert await GridAssignment.all().count() == 0

    # By full name, then by credit code.
    section = page.locator(f"section.grid-worker[data-user-id='{GID}']")
    await section.locator("input[name=enterprise]").fill("天津泰达测试科技有限公司")
    await section.get_by_role("button", name="加入名单").click()
    await page.wait_for_load_state()
    assert "已将 天津泰达测试科技有限公司 加入" in (await page.text_content(".flash") or "")
    section = page.locator(f"section.grid-worker[data-user-id='{GID}']")
    await section.locator("input[name=enterprise]").fill("91120116ma05abcd1x")
    await section.get_by_role("button", name="加入名单").click()
    await page.wait_for_load_state()
    section = page.locator(f"section.grid-worker[data-user-id='{GID}']")
    assert await section.locator("tr[data-enterprise]").count() == 2
    await page.screenshot(path=screenshot_path("grid"), full_page=True)

    # Remove one.
    row = section.locator(f"tr[data-enterprise='{other.id}']")
    await row.get_by_role("button", name="移出名单").click()
    await page.wait_for_load_state()
    assert "移出" in (await page.text_content(".flash") or "")
    mine = await Enterprise.get(name="天津泰达测试科技有限公司")
    assert [a.enterprise_id for a in await GridAssignment.filter(user_id=GID)] == [mine.id]
    actions = [
        e.action for e in await AuditEntry.filter(action__startswith="grid.").order_by("id")
    ]
    assert actions == ["grid.assign", "grid.assign", "grid.unassign"]
    entry = await AuditEntry.filter(action="grid.unassign").first()
    assert entry is not None and entry.actor == "office"


async def test_staff_cannot_see_or_change_lists(site: Site, browser: Any) -> None:
    await RoleGrant.create(user_id=GID, role="grid", name="张网格")
    ent = await Enterprise.get(name="天津泰达测试科技有限公司")
    page = await login(browser, site, "taxstaff")
    nav = [t.strip() for t in await page.locator("header.top nav a").all_text_contents()]
    assert "网格员" not in nav
    response = await page.goto(f"{site.base}/grid")
    assert response is not None and response.status == 403
    await page.goto(f"{site.base}/")
    token = await csrf_of(page)
    for path, form in (
        ("grid/assign", {"user_id": str(GID), "enterprise": str(ent.id)}),
        ("grid/unassign", {"user_id": str(GID), "enterprise_id": str(ent.id)}),
    ):
        answer = await page.request.post(
            f"{site.base}/{path}", form={"csrf_token": token, **form}, max_redirects=0
        )
        assert answer.status == 403, path
    assert await GridAssignment.all().count() == 0
    assert not await AuditEntry.filter(action__startswith="grid.").exists()
