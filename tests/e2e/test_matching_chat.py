"""Supply–demand matching in the chats: post, be introduced by the hotline office, agree.

Dialogs through the real desk and the fake Bot API. Contacts reach each side only after both
pressed 同意对接; the introduction is the screening group's to make.
"""

from __future__ import annotations

import re

from conftest import ENT, ENT2, TAX_G, TRIAGE_G, Desk, Dialog, bind_groups, register


async def test_need_offer_introduction_and_consent(desk: Desk, dialog: Dialog) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT, company="天津泰达整车制造有限公司", phone="13811112222")
    await register(d, ENT2, company="天津泰达线束科技有限公司", phone="13933334444")

    m = d.mark()
    await d.send(ENT2, "/offer 提供汽车线束加工，月产能10万套，有车规认证")
    offer = await d.expect(ENT2["id"], "已发布【泰服企】", after=m)
    offer_id = re.search(r"编号 (\d+)", offer.plain_text or "")
    m = d.mark()
    await d.send(ENT, "/need 求购汽车线束，月需求5万套")
    need = await d.expect(ENT["id"], "已发布【泰企需】", after=m)
    text = need.plain_text or ""
    need_id = re.search(r"编号 (\d+)", text)
    assert offer_id and need_id and "提供汽车线束加工" in text
    assert "泰达线束" not in text and "13933334444" not in text  # no names or contacts yet

    # Only the screening group may introduce.
    m = d.mark()
    await d.send(
        {"id": 2001, "first_name": "李"}, f"/introduce {need_id[1]} {offer_id[1]}", chat=TAX_G
    )
    await d.expect(TAX_G["id"], "只有热线办分拨群", after=m)
    m = d.mark()
    await d.send(
        {"id": 4001, "first_name": "孙"}, f"/introduce {need_id[1]} {offer_id[1]}", chat=TRIAGE_G
    )
    await d.expect(TRIAGE_G["id"], "已发起撮合", after=m)
    ask1 = await d.expect(ENT["id"], "是否同意", after=m)
    ask2 = await d.expect(ENT2["id"], "是否同意", after=m)

    assert "待对方确认" in await d.press(ENT, ENT["id"], "同意对接", message=ask1)
    assert not any("13933334444" in t for t in d.texts(ENT["id"]))
    m = d.mark()
    assert "双方均已同意" in await d.press(ENT2, ENT2["id"], "同意对接", message=ask2)
    to_need = await d.expect(ENT["id"], "双方均已同意对接", after=m)
    to_offer = await d.expect(ENT2["id"], "双方均已同意对接", after=m)
    assert "天津泰达线束科技有限公司" in (to_need.plain_text or "")
    assert "13933334444" in (to_need.plain_text or "")
    assert "天津泰达整车制造有限公司" in (to_offer.plain_text or "")
    assert "已答复" in await d.press(ENT2, ENT2["id"], "暂不对接", message=ask2)
