"""Deadlines end to end: a ticket left unclaimed past its deadline is chased up the ladder.

The real desk (aiohttp app + PTB Application, polling, SQLite) runs against the fake Bot API
with a clock that starts on Monday 2026-03-09 10:00 in Tianjin and runs at real speed. The
enterprise submits a TAX request nobody claims; one SLA pass (``desk sla scan --now …`` does the
same) is run in-process at a moment after the deadline and the 会商 delay, and the running
sender delivers what it queued: 催办 to the TAX group, the 会商 record to the ESB group.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from conftest import (
    ADMIN,
    ENT,
    TAX_G,
    TRI1,
    TRIAGE_G,
    Desk,
    Dialog,
    bind_groups,
    make_settings,
    register,
    submit,
)
from fakebot import FakeBotAPI

from bot.app import CONFIG, create_app
from desk import escalation
from desk.context import DeskConfig
from desk.notify import fmt_deadline
from models.ticket import Ticket, TicketStatus

SH = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 3, 9, 10, 0, tzinfo=SH)  # a Monday without holidays around it
ESB_G = {"id": -100500, "type": "supergroup", "title": "企业服务局会商群"}
REQUEST = "我们公司出口退税申报后退税款一直没到账，请帮忙查一下进度"


class RunningClock:
    """Starts at ``start`` and moves at the speed of real time."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start.astimezone(dt.UTC)
        self.t0 = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.t0)


@dataclass
class ClockedDesk(Desk):
    """The harness's desk with an injected clock (``create_app(settings, clock=…)``)."""

    clock: Callable[[], dt.datetime] = field(default_factory=lambda: RunningClock(START))

    async def start(self) -> None:
        settings = make_settings(self.fake, self.db_url, webhook=self.webhook, port=self.port)
        self.runner = web.AppRunner(create_app(settings, clock=self.clock))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    @property
    def cfg(self) -> DeskConfig:
        assert self.runner is not None
        return self.runner.app[CONFIG]


@pytest.fixture
async def desk(fake: FakeBotAPI, sqlite_url: str) -> AsyncIterator[ClockedDesk]:
    desk = ClockedDesk(fake=fake, db_url=sqlite_url, webhook=False)
    await desk.start()
    try:
        yield desk
    finally:
        await desk.stop()


async def unclaimed_tax_ticket(d: Dialog) -> Ticket:
    """Groups bound (TRIAGE, TAX, ENV and ESB); the enterprise's request waits in TAX."""
    await bind_groups(d)
    await d.send(ADMIN, "/bind ESB", chat=ESB_G)
    await d.expect(ESB_G["id"], "已绑定")
    await register(d, ENT)
    ref = await submit(d, ENT, REQUEST)
    ticket = await Ticket.get(ref=ref)
    if ticket.status == TicketStatus.TRIAGE:  # the router was unsure: the hotline office sends it
        m = d.mark()
        tri = await d.expect(TRIAGE_G["id"], ref)
        await d.press(TRI1, TRIAGE_G["id"], "其他部门", message=tri)
        picker = await d.expect(TRIAGE_G["id"], "请选择部门", after=m)
        await d.press(TRI1, TRIAGE_G["id"], "税务局", message=picker)
    card = await d.expect(TAX_G["id"], ref)
    assert "待认领" in (card.plain_text or "")
    ticket = await Ticket.get(ref=ref).prefetch_related("department")
    assert ticket.status == TicketStatus.DISPATCHED and ticket.department.code == "TAX"
    assert ticket.due_at is not None and ticket.due_at > START
    return ticket


async def test_unclaimed_past_deadline_gets_urge_and_consultation(
    dialog: Dialog, desk: ClockedDesk
) -> None:
    d = dialog
    ticket = await unclaimed_tax_ticket(d)
    ref, cfg = ticket.ref, desk.cfg
    assert ref.startswith("TD20260309-")  # the injected clock made the reference
    assert ticket.due_at is not None
    rungs = {key: when for key, _, _, when in escalation.rung_times(cfg, ticket.due_at)}
    now = rungs["consult"] + dt.timedelta(minutes=5)
    assert now < rungs["topic"]

    m = d.mark()
    done = await escalation.scan(cfg, now=now)
    assert [a.step for a in done if a.ref == ref] == ["respond", "urge", "consult"]

    # The department's group is chased (催办), with the reference and the missed deadline.
    urge = await d.expect(TAX_G["id"], "催办", after=m)
    text = urge.plain_text or ""
    assert ref in text and fmt_deadline(ticket.due_at, cfg.tz) in text
    nudge = await d.expect(TAX_G["id"], "未认领", after=m)
    assert ref in (nudge.plain_text or "")
    lifted = await d.expect(TAX_G["id"], "已升级至会商", after=m)
    assert ref in (lifted.plain_text or "")

    # The hotline office (ESB group) gets the consultation record.
    record = await d.expect(ESB_G["id"], "会商", after=m)
    text = record.plain_text or ""
    assert ref in text and "【会商】" in text
    assert "税务局" in text  # the lead department by name
    assert fmt_deadline(rungs["topic"], cfg.tz) in text  # the consultation's own deadline
    assert REQUEST in "".join(d.texts(ESB_G["id"]))
    assert "13812345678" not in "".join(d.texts(ESB_G["id"]))

    # Each group got its own messages only, once each; the enterprise is not told.
    tax = [t for t in d.texts(TAX_G["id"]) if ref in t]
    assert sum("【催办】" in t for t in tax) == 1
    assert not any("【会商】" in t for t in tax)
    esb = d.texts(ESB_G["id"])
    assert sum("【会商】" in t for t in esb) == 1
    assert not any("催办" in t for t in esb)
    assert not any("催办" in t or "会商" in t for t in d.texts(ENT["id"]))

    # A second pass at the same moment (another scheduler) sends nothing more.
    assert [a for a in await escalation.scan(cfg, now=now) if a.ref == ref] == []
    assert (await Ticket.get(id=ticket.id)).escalation_level == 1
