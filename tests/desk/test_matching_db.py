"""Supply–demand matching on SQLite and PostgreSQL: suggestions, introductions, consent.

Contacts are shared only when both enterprises agreed; a refusal ends the introduction and the
other side learns nothing about the refusing enterprise.
"""

from __future__ import annotations

import datetime as dt

import pytest

from desk import matching
from desk.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models.enterprise import Enterprise, Member
from models.matching import Introduction
from models.outbox import OutboxMessage

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)


async def member(name: str, user: int) -> Member:
    ent = await Enterprise.create(name=name)
    return await Member.create(
        enterprise=ent,
        tg_user_id=user,
        chat_id=user,
        contact_name=f"{name}联系人",
        phone="13800001111",
    )


async def test_suggestions_fit_words_and_industry(db: str) -> None:
    buyer, wire, food, paper = (
        await member("甲汽车零部件公司", 1),
        await member("乙线束公司", 2),
        await member("丙食品公司", 3),
        await member("丁包装公司", 4),
    )
    await matching.post(user_id=2, chat_id=2, kind="offer", text="提供汽车线束加工，月产能10万套")
    await matching.post(user_id=3, chat_id=3, kind="offer", text="供应冷链乳制品和包装食品")
    await matching.post(user_id=4, chat_id=4, kind="offer", text="纸箱包装印刷，可定制托盘")
    need = await matching.post(
        user_id=1, chat_id=1, kind="need", text="求购汽车线束，月需求5万套，要求有车规认证"
    )
    found = await matching.suggestions(listing=need)
    assert found and found[0].text.startswith("提供汽车线束")
    assert all("乳制品" not in s.text for s in found)
    posted = await OutboxMessage.filter(chat_id=1, kind="match_posted").first()
    assert posted is not None and posted.params["suggestions"][0][3].startswith("提供汽车线束")
    assert need.industry == "汽车"
    del buyer, wire, food, paper
    # The enterprise's own offers are never suggested to it.
    own = await matching.post(user_id=2, chat_id=2, kind="need", text="求购汽车线束端子一批")
    assert all(
        s.text != "提供汽车线束加工，月产能10万套" for s in await matching.suggestions(listing=own)
    )


async def test_contacts_only_after_both_agree(db: str) -> None:
    await member("甲公司", 1)
    await member("乙公司", 2)
    await member("丙公司", 3)
    need = await matching.post(user_id=1, chat_id=1, kind="need", text="寻找工业机器人集成商")
    offer = await matching.post(user_id=2, chat_id=2, kind="offer", text="工业机器人系统集成")
    intro = await matching.introduce(need_id=need.id, offer_id=offer.id, by="热线办")
    asks = await OutboxMessage.filter(kind="match_ask").order_by("chat_id")
    assert [a.chat_id for a in asks] == [1, 2]
    assert all(
        "13800001111" not in str(a.params) and "公司" not in a.params["other"] for a in asks
    )
    with pytest.raises(Conflict):
        await matching.introduce(need_id=need.id, offer_id=offer.id, by="热线办")
    with pytest.raises(NotAllowed):  # a third enterprise cannot answer for them
        await matching.consent(user_id=3, intro_id=intro.id, agree=True, now=NOW)
    assert "待对方确认" in await matching.consent(
        user_id=1, intro_id=intro.id, agree=True, now=NOW
    )
    assert not await OutboxMessage.exists(kind="match_connected")
    with pytest.raises(Conflict):
        await matching.consent(user_id=1, intro_id=intro.id, agree=False, now=NOW)
    assert "双方均已同意" in await matching.consent(
        user_id=2, intro_id=intro.id, agree=True, now=NOW
    )
    shared = {m.chat_id: m.params for m in await OutboxMessage.filter(kind="match_connected")}
    assert shared[1]["enterprise"] == "乙公司" and shared[2]["enterprise"] == "甲公司"
    assert (await Introduction.get(id=intro.id)).state == "connected"


async def test_a_refusal_shares_nothing(db: str) -> None:
    await member("甲公司", 1)
    await member("乙公司", 2)
    need = await matching.post(user_id=1, chat_id=1, kind="need", text="寻找冷链仓储服务")
    offer = await matching.post(user_id=2, chat_id=2, kind="offer", text="提供冷链仓储和配送")
    intro = await matching.introduce(need_id=need.id, offer_id=offer.id, by="热线办")
    await matching.consent(user_id=1, intro_id=intro.id, agree=True, now=NOW)
    assert "已婉拒" in await matching.consent(user_id=2, intro_id=intro.id, agree=False, now=NOW)
    assert not await OutboxMessage.exists(kind="match_connected")
    declined = await OutboxMessage.filter(kind="match_declined")
    assert [m.chat_id for m in declined] == [1]  # the side that agreed hears it did not happen
    with pytest.raises(Conflict):
        await matching.consent(user_id=1, intro_id=intro.id, agree=True, now=NOW)


async def test_bad_input_changes_nothing(db: str) -> None:
    await member("甲公司", 1)
    with pytest.raises(InvalidInput):
        await matching.post(user_id=1, chat_id=1, kind="need", text="短")
    with pytest.raises(InvalidInput):
        await matching.post(user_id=1, chat_id=1, kind="sale", text="这是一条足够长的信息")
    with pytest.raises(NotAllowed):
        await matching.post(user_id=99, chat_id=99, kind="need", text="这是一条足够长的信息")
    need = await matching.post(user_id=1, chat_id=1, kind="need", text="寻找软件外包团队")
    own = await matching.post(user_id=1, chat_id=1, kind="offer", text="提供软件外包服务")
    with pytest.raises(InvalidInput):  # one enterprise is not introduced to itself
        await matching.introduce(need_id=need.id, offer_id=own.id, by="热线办")
    with pytest.raises(NotFound):  # the order is need, then offer
        await matching.introduce(need_id=own.id, offer_id=need.id, by="热线办")
    with pytest.raises(NotFound):
        await matching.consent(user_id=1, intro_id=12345, agree=True, now=NOW)
    assert await Introduction.all().count() == 0
