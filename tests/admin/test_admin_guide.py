"""The 办事指南 and 群发 pages in a real browser: editing an item (and a refused edit that
changes nothing), the 试答 box, the answer-first figures, sending a broadcast and seeing its
delivery; roles and CSRF.

Screenshots of the pages are saved to ``build/screenshots/``.
"""

from __future__ import annotations

from typing import Any

from conftest import ENT_CHAT, PASSWORD, Site, screenshot_path

from admin.auth import create_user
from desk import guide
from models.audit import AuditEntry
from models.broadcast import Broadcast
from models.enterprise import Enterprise, Member
from models.guide import ServiceItem
from models.outbox import OutboxMessage, OutboxStatus

CODE = "msa-license-change"
QUESTION = "营业执照上的法定代表人要变更，需要带什么材料"


async def login(browser: Any, site: Site, username: str, password: str = PASSWORD) -> Any:
    page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def csrf(page: Any) -> str:
    token = await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value")
    assert token
    return str(token)


async def snapshot() -> list[tuple[object, ...]]:
    return [
        (r.code, r.department_code, r.name, tuple(r.materials), r.active, r.source)
        for r in await ServiceItem.all().order_by("code")
    ]


async def test_office_edits_an_item_and_tries_a_question(site: Site, browser: Any) -> None:
    page = await login(browser, site, "office")
    nav = await page.text_content("header.top nav")
    assert nav is not None and "办事指南" in nav and "群发" in nav

    # The catalog by department; the figures of the last 30 days (nothing asked yet).
    await page.goto(f"{site.base}/guide?dept=MSA")
    assert await page.locator(f"table.guide-table tr[data-code={CODE}]").count() == 1
    assert await page.locator("table.guide-table[data-dept=TAX]").count() == 0
    assert await page.text_content("#answer-stats td[data-figure=questions]") == "0"

    # 试答: the question is answered first with the licence-change item.
    await page.fill("#guide-trial-form textarea[name=q]", QUESTION)
    await page.click("#guide-trial-form button[type=submit]")
    await page.wait_for_selector("#guide-trial")
    assert await page.get_attribute("#guide-trial", "data-best") == CODE
    assert await page.get_attribute("#guide-trial", "data-answers") == "1"
    text = await page.text_content("#guide-trial")
    assert text is not None and "会先行答复" in text and "置信度" in text
    assert await page.locator("#trial-hits tbody tr").count() >= 2
    await page.screenshot(path=screenshot_path("guide_list"), full_page=True)

    # Edit the item's materials.
    await page.click(f"table.guide-table tr[data-code={CODE}] a")
    await page.wait_for_selector("#guide-form")
    materials = page.locator("textarea[name=materials]")
    await materials.fill((await materials.input_value()) + "\n经办人身份证件")
    await page.click("#guide-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    flash = await page.text_content(".flash.ok")
    assert flash is not None and "已保存事项" in flash
    assert "经办人身份证件" in await page.locator("textarea[name=materials]").input_value()
    await page.goto(f"{site.base}/guide?dept=MSA")
    row = await page.text_content(f"table.guide-table tr[data-code={CODE}]")
    assert row is not None and "经办人身份证件" in row and "后台修改" in row

    item = await guide.get_item(code=CODE)
    assert item.materials[-1] == "经办人身份证件" and item.source == "admin"
    entry = await AuditEntry.get(action="guide.edit")
    assert (entry.actor, entry.role, entry.target) == ("office", "office", CODE)
    assert entry.data["changed"] == ["materials"]

    # A new item, then found by 试答 at once.
    await page.click("#guide-new-link")
    await page.fill("input[name=code]", "msa-test-item")
    await page.select_option("select[name=department]", "MSA")
    await page.fill("input[name=name]", "泰达测试星球登记")
    await page.fill("textarea[name=materials]", "申请表\n身份证件")
    await page.click("#guide-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    made = await guide.get_item(code="msa-test-item")
    assert (made.department_code, made.materials, made.active) == (
        "MSA",
        ["申请表", "身份证件"],
        True,
    )
    await page.goto(f"{site.base}/guide?q=泰达测试星球登记怎么办")
    assert await page.get_attribute("#guide-trial", "data-best") == "msa-test-item"
    assert await AuditEntry.filter(action="guide.edit").count() == 2


async def test_a_bad_item_shows_the_error_and_changes_nothing(site: Site, browser: Any) -> None:
    before = await snapshot()
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/guide/item/{CODE}")
    token = await csrf(page)
    # An unknown department (not offered by the form: posted as a tampered form would be).
    item = await guide.get_item(code=CODE)
    form = {
        "csrf_token": token,
        "department": "NOPE",
        "name": item.name,
        "materials": "新材料",
        "active": "1",
    }
    answer = await page.request.post(f"{site.base}/guide/item/{CODE}", form=form)
    assert answer.status == 400
    body = await answer.text()
    assert "部门代码 NOPE 不存在" in body and "新材料" in body

    # In the form: an empty name; the typed values stay.
    materials = page.locator("textarea[name=materials]")
    await materials.fill("只填了材料")
    await page.fill("input[name=name]", "")
    async with page.expect_response(lambda r: r.request.method == "POST") as response:
        await page.click("#guide-form button[type=submit]")
    assert (await response.value).status == 400
    error = await page.text_content("#guide-error")
    assert error is not None and "缺少必填字段「事项名称」" in error
    assert await materials.input_value() == "只填了材料"
    await page.screenshot(path=screenshot_path("guide_error"), full_page=True)

    # A new item whose code is taken.
    await page.goto(f"{site.base}/guide/new")
    await page.fill("input[name=code]", CODE)
    await page.select_option("select[name=department]", "TAX")
    await page.fill("input[name=name]", "冒名事项")
    await page.click("#guide-form button[type=submit]")
    error = await page.text_content("#guide-error")
    assert error is not None and "已被其他事项使用" in error
    assert await page.input_value("input[name=name]") == "冒名事项"

    assert await snapshot() == before
    assert await AuditEntry.filter(action="guide.edit").count() == 0


async def test_office_sends_a_broadcast_and_sees_its_delivery(site: Site, browser: Any) -> None:
    ent = await Enterprise.create(name="天津泰达第二测试有限公司")
    await Member.create(
        enterprise=ent, tg_user_id=2002, chat_id=2002, contact_name="李", phone="13900000002"
    )
    await Member.create(
        enterprise=ent, tg_user_id=2003, chat_id=None, contact_name="无对话", phone="13900000003"
    )
    page = await login(browser, site, "office")
    await page.goto(f"{site.base}/broadcast")
    assert "还没有群发过" in (await page.text_content("#broadcast-table") or "")

    # Refused: empty title; nothing queued, the text typed stays.
    await page.fill("textarea[name=text]", "政策全文")
    async with page.expect_response(lambda r: r.request.method == "POST") as response:
        await page.click("#broadcast-form button[type=submit]")
    assert (await response.value).status == 400
    error = await page.text_content("#broadcast-error")
    assert error is not None and "标题不能为空" in error
    assert await page.input_value("textarea[name=text]") == "政策全文"
    # Too long a text.
    await page.fill("input[name=title]", "研发费用加计扣除新政解读")
    await page.fill("textarea[name=text]", "长" * 3001)
    await page.click("#broadcast-form button[type=submit]")
    error = await page.text_content("#broadcast-error")
    assert error is not None and "不超过3000字" in error
    assert await Broadcast.all().count() == 0
    assert await OutboxMessage.filter(kind="broadcast").count() == 0

    await page.select_option("select[name=topic]", "policy")
    await page.fill("textarea[name=text]", "自2026年起，研发费用加计扣除比例……")
    await page.click("#broadcast-form button[type=submit]")
    await page.wait_for_selector(".flash.ok")
    flash = await page.text_content(".flash.ok")
    assert flash is not None and "2 位联系人" in flash

    sent = await Broadcast.get()
    assert (sent.topic, sent.title, sent.created_by, sent.recipients) == (
        "policy",
        "研发费用加计扣除新政解读",
        "office",
        2,
    )
    rows = await OutboxMessage.filter(kind="broadcast").order_by("chat_id")
    assert [r.chat_id for r in rows] == [ENT_CHAT, 2002]
    assert all(r.bulk and r.params["broadcast_id"] == sent.id for r in rows)
    entry = await AuditEntry.get(action="broadcast.send")
    assert (entry.actor, entry.target) == ("office", f"broadcast:{sent.id}")
    assert entry.data["recipients"] == 2

    line = page.locator(f"#broadcast-table tr[data-id='{sent.id}']")
    assert "研发费用加计扣除新政解读" in (await line.text_content() or "")
    assert await line.locator("td.recipients").text_content() == "2"
    assert await line.locator("td.pending").text_content() == "2"

    # One delivered, one failed: the list follows the outbox.
    await OutboxMessage.filter(id=rows[0].id).update(status=OutboxStatus.SENT)
    await OutboxMessage.filter(id=rows[1].id).update(status=OutboxStatus.FAILED)
    await page.reload()
    assert await line.locator("td.sent").text_content() == "1"
    assert await line.locator("td.failed").text_content() == "1"
    assert await line.locator("td.pending").text_content() == "0"
    await page.screenshot(path=screenshot_path("broadcast"), full_page=True)


async def test_roles_on_the_guide_and_broadcast_pages(site: Site, browser: Any) -> None:
    await create_user("boss", PASSWORD, role="manager")
    staff = await login(browser, site, "taxstaff")
    nav = await staff.text_content("header.top nav")
    assert nav is not None and "办事指南" not in nav and "群发" not in nav
    for path in ("guide", f"guide/item/{CODE}", "guide/new", "broadcast"):
        response = await staff.goto(f"{site.base}/{path}")
        assert response is not None and response.status == 403, path
    await staff.goto(f"{site.base}/")
    token = await csrf(staff)
    posts = [
        (f"guide/item/{CODE}", {"department": "MSA", "name": "改名", "active": "1"}),
        ("guide/new", {"code": "tax-x1", "department": "TAX", "name": "x", "active": "1"}),
        ("broadcast", {"topic": "policy", "title": "t", "text": "x"}),
    ]
    for path, form in posts:
        answer = await staff.request.post(
            f"{site.base}/{path}", form={"csrf_token": token, **form}, max_redirects=0
        )
        assert answer.status == 403, path

    # A manager reads the guide (no edit button, no new item) but may not send or save.
    boss = await login(browser, site, "boss")
    nav = await boss.text_content("header.top nav")
    assert nav is not None and "办事指南" in nav and "群发" not in nav
    response = await boss.goto(f"{site.base}/guide/item/{CODE}")
    assert response is not None and response.status == 200
    assert await boss.locator("#guide-form button[type=submit]").count() == 0
    response = await boss.goto(f"{site.base}/guide")
    assert response is not None and response.status == 200
    assert await boss.locator("#guide-new-link").count() == 0
    response = await boss.goto(f"{site.base}/broadcast")
    assert response is not None and response.status == 403
    await boss.goto(f"{site.base}/")
    token = await csrf(boss)
    for path, form in posts:
        answer = await boss.request.post(
            f"{site.base}/{path}", form={"csrf_token": token, **form}, max_redirects=0
        )
        assert answer.status == 403, path
    assert (await guide.get_item(code=CODE)).name != "改名"
    assert await Broadcast.all().count() == 0
    assert await ServiceItem.filter(code="tax-x1").count() == 0


async def test_guide_and_broadcast_posts_without_csrf_token_are_refused(
    site: Site, browser: Any
) -> None:
    page = await login(browser, site, "admin")
    await page.goto(f"{site.base}/guide")
    item = await guide.get_item(code=CODE)
    posts = [
        (f"guide/item/{CODE}", {"department": "MSA", "name": "改名", "active": "1"}),
        ("guide/new", {"code": "tax-x1", "department": "TAX", "name": "x", "active": "1"}),
        ("broadcast", {"topic": "policy", "title": "t", "text": "x"}),
    ]
    for path, form in posts:
        for extra in ({}, {"csrf_token": "forged"}):
            answer = await page.request.post(
                f"{site.base}/{path}", form={**form, **extra}, max_redirects=0
            )
            assert answer.status == 403, path
    assert (await guide.get_item(code=CODE)).name == item.name
    assert await Broadcast.all().count() == 0
    assert await OutboxMessage.filter(kind="broadcast").count() == 0
    assert await ServiceItem.filter(code="tax-x1").count() == 0
