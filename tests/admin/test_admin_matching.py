"""The 供需对接 page in a real browser: needs with their best-fitting offers, one press to
introduce (both enterprises asked, nothing shared yet, audited), a second press refused, and
roles.
"""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, Site, screenshot_path

from models.audit import AuditEntry
from models.enterprise import Enterprise, Member
from models.matching import Introduction, Listing
from models.outbox import OutboxMessage


async def login(browser: Any, site: Site, username: str, password: str = PASSWORD) -> Any:
    page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def listing(name: str, chat: int, kind: str, text: str) -> Listing:
    ent = await Enterprise.create(name=name)
    member = await Member.create(
        enterprise=ent, tg_user_id=chat, chat_id=chat, contact_name="联系人", phone="13700000000"
    )
    return await Listing.create(member=member, enterprise_id=ent.id, kind=kind, text=text)


async def test_office_introduces_a_need_to_an_offer(site: Site, browser: Any) -> None:
    need = await listing(
        "天津求购汽车零部件有限公司", 5001, "need", "求购汽车线束加工，月需求5万套"
    )
    offer = await listing("天津线束制造有限公司", 5002, "offer", "提供汽车线束加工，月产能10万套")
    await listing("天津餐饮管理有限公司", 5003, "offer", "提供企业食堂团餐配送服务")

    page = await login(browser, site, "office")
    assert "供需对接" in (await page.text_content("header.top nav") or "")
    await page.goto(f"{site.base}/matching")
    row = page.locator(f"tr[data-need='{need.id}']")
    fits = row.locator(".fit")
    assert await fits.count() >= 1
    assert await fits.first.get_attribute("data-offer") == str(offer.id)  # the best fit first
    assert "天津线束制造有限公司" in (await fits.first.text_content() or "")
    await page.screenshot(path=screenshot_path("matching"), full_page=True)

    before = await OutboxMessage.filter(kind="match_ask").count()
    await fits.first.get_by_role("button", name="撮合").click()
    await page.wait_for_load_state()
    assert "征询" in (await page.text_content(".flash") or "")
    intro = await Introduction.get(need_id=need.id, offer_id=offer.id)
    assert intro.state == "asked" and "office" in intro.created_by
    asks = await OutboxMessage.filter(kind="match_ask").order_by("id")
    assert len(asks) == before + 2 and {a.chat_id for a in asks} == {5001, 5002}
    assert not await OutboxMessage.exists(kind="match_connected")  # nothing shared yet
    assert await AuditEntry.exists(action="matching.introduce", actor="office")
    # The page now shows the state instead of the button, and the introduction below.
    assert "待双方答复" in (await row.text_content() or "")
    assert await page.locator(f"tr[data-intro='{intro.id}']").count() == 1

    # The same pair again (a stale page): refused, nothing new.
    token = await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value")
    response = await page.request.post(
        f"{site.base}/matching/introduce",
        form={"csrf_token": token or "", "need": str(need.id), "offer": str(offer.id)},
    )
    assert response.ok and "撮合过" in await response.text()  # the flash says why
    assert await Introduction.filter(need_id=need.id).count() == 1
    assert await OutboxMessage.filter(kind="match_ask").count() == before + 2


async def test_staff_may_not_introduce(site: Site, browser: Any) -> None:
    need = await listing("天津求购有限公司", 5101, "need", "求购工业机器人维修服务")
    offer = await listing("天津机器人服务有限公司", 5102, "offer", "提供工业机器人维修保养服务")
    page = await login(browser, site, "taxstaff")
    assert "供需对接" not in (await page.text_content("header.top nav") or "")
    response = await page.goto(f"{site.base}/matching")
    assert response is not None and response.status == 403
    token = await page.evaluate("document.cookie")  # no CSRF token to take: forms are absent
    assert "desk_admin" not in token  # the session cookie is HttpOnly
    response = await page.request.post(
        f"{site.base}/matching/introduce", form={"need": str(need.id), "offer": str(offer.id)}
    )
    assert response.status == 403
    assert not await Introduction.exists(need_id=need.id)
