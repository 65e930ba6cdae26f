"""An enterprise that floods the desk gets a polite refusal and nothing is stored."""

from __future__ import annotations

import pytest

from desk import registration, tickets
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import RateLimited
from models.guide import GuideAnswer
from models.ticket import Draft

ENT = Actor(kind="enterprise", user_id=701, name="刘总", chat_id=701)


async def test_hourly_limit(db: str) -> None:
    cfg = DeskConfig(enterprise_hourly_limit=3)
    await registration.start(actor=ENT)
    for answer in ("天津刷屏测试有限公司", "跳过", "刘总", "13812345678"):
        await registration.answer(actor=ENT, text=answer)
    for n in range(3):
        await tickets.enterprise_message(cfg, actor=ENT, text=f"第{n}条：营业执照地址变更怎么办")
    with pytest.raises(RateLimited) as info:
        await tickets.enterprise_message(cfg, actor=ENT, text="第4条：还是营业执照的问题")
    assert "25201111" in info.value.message
    assert await Draft.filter().count() == 3
    # Answer-first is on by default: an answer comes with its draft and counts as the same
    # request, never as one more.
    assert cfg.guide_first
    assert not await GuideAnswer.filter(draft_id=None).exists()
