"""A burst of 200 tickets to one department: merged into digests, all visible within a minute.

Telegram allows a bot 20 messages a minute in one group. The desk merges the group's queued new
cards into digest messages (each ticket with its own 认领 and 详情 buttons) instead of trickling
them out over ten minutes. Checked against the real desk and the fake Bot API: every reference
reaches the group, the group never gets more than 20 messages in any minute nor two within a
second, the fake never answers 429, and a ticket can be claimed straight from a digest.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time

import pytest
from conftest import ADMIN, REF, TAX1, TAX_G, Desk, Dialog
from fakebot import FakeBotAPI

from bot.app import CONFIG
from desk import tickets
from models.enterprise import Enterprise, Member
from models.outbox import OutboxMessage, OutboxStatus
from models.ticket import Ticket, TicketStatus

BURST = 200
REQUEST = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"


@pytest.fixture(
    params=[
        pytest.param(("polling", "sqlite"), id="polling-sqlite"),
        pytest.param(
            ("webhook", "postgres"), id="webhook-postgres-redis", marks=pytest.mark.postgres
        ),
    ]
)
def mode(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def db_kind(mode: tuple[str, str]) -> str:
    return mode[1]


async def test_a_burst_of_200_tickets_reaches_the_group_within_a_minute(
    fake: FakeBotAPI, dialog: Dialog, db_url: str, mode: tuple[str, str], redis_url: str
) -> None:
    webhook = mode[0] == "webhook"
    desk = Desk(
        fake=fake, db_url=db_url, webhook=webhook, redis_url=redis_url if webhook else None
    )
    await desk.start()
    try:
        assert desk.runner is not None
        cfg = desk.runner.app[CONFIG]
        await dialog.send(ADMIN, "/bind TAX", chat=TAX_G)
        await dialog.expect(TAX_G["id"], "已绑定")
        members = []
        for i in range(BURST):
            ent = await Enterprise.create(name=f"泰达测试{i:03d}有限公司")
            members.append(
                await Member.create(
                    enterprise=ent,
                    tg_user_id=50_000 + i,
                    chat_id=50_000 + i,
                    contact_name=f"联系人{i}",
                    phone=f"138{i:08d}",
                )
            )
        start = time.monotonic()
        refs = set()
        for member in members:  # as fast as the desk takes them
            ticket = await tickets.open_ticket(cfg, member=member, text=REQUEST)
            assert ticket.status == TicketStatus.DISPATCHED  # routed to TAX without triage
            refs.add(ticket.ref)

        group = TAX_G["id"]
        seen: set[str] = set()
        deadline = start + 60
        while time.monotonic() < deadline and seen != refs:
            seen = {r for text in dialog.texts(group) for r in REF.findall(text)}
            await asyncio.sleep(0.2)
        took = time.monotonic() - start
        assert seen >= refs, f"{len(refs - seen)} of {BURST} tickets not in the group after 60 s"

        sends = [c for c in fake.calls if c.method == "sendMessage"]
        assert all(c.status == 200 for c in sends), "the fake answered an error (429?)"
        times = sorted(c.ts for c in sends if c.params.get("chat_id") == group)
        gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 1.0, gaps
        assert all(times[i + 20] - times[i] >= 60 for i in range(len(times) - 20))
        digests = [m for m in fake.sent(group) if "汇总" in (m.plain_text or "")]
        assert digests, "a burst this size must be merged"
        assert len(fake.sent(group)) <= 21  # /bind's answer + at most 20 posts in the minute
        print(f"\n{BURST} tickets in the group after {took:.1f} s, {len(digests)} digests")

        # Every merged card is delivered (marked sent with the digest's message).
        cards = await OutboxMessage.filter(chat_id=group, kind="card")
        assert len(cards) == BURST
        assert {c.status for c in cards} == {OutboxStatus.SENT}

        # 认领 straight from a digest: the ticket is claimed and gets its full card.
        digest = digests[-1]
        label, data = next((t, d) for t, d in fake.buttons(digest) if t.startswith("✋ 认领"))
        ref = re.search(r"TD\d{8}-\d{4,}", label)
        assert ref is not None and data is not None
        toast = await dialog.press_data(TAX1, group, digest.message_id, data)
        assert "认领成功" in toast
        claimed = await Ticket.get(ref=ref.group(0))
        assert claimed.status == TicketStatus.CLAIMED and claimed.claimed_by_id == TAX1["id"]
        card = await dialog.expect(group, "承办人", wait=15)
        assert ref.group(0) in (card.plain_text or "")
        # 详情 posts the full card of another ticket, with the buttons a card has.
        other = next(
            d
            for _, d in fake.buttons(digest)
            if d and d.endswith(":show") and d != f"t:{claimed.id}:show"
        )
        other_id = int(other.split(":")[1])
        mark = dialog.mark()
        assert "已展开" in await dialog.press_data(TAX1, group, digest.message_id, other)
        other_ref = (await Ticket.get(id=other_id)).ref
        full = await dialog.expect(group, other_ref, after=mark, wait=15)
        assert {"认领", "转办", "退回"} <= {t.split()[-1] for t, _ in fake.buttons(full)}
        print(f"claim and detail cards after {time.monotonic() - start:.1f} s")
    finally:
        await desk.stop()
