"""请企业补充 pauses the clock and the enterprise's answer resumes it; 申请延期 goes to the
managers, who approve with a button, and the enterprise hears the new deadline."""

from __future__ import annotations

import datetime as dt

from conftest import ADMIN, ENT, TAX1, TAX_G, TRI1, TRIAGE_G, Desk, Dialog, bind_groups, register
from conftest import submit as submit_request
from fakebot import FakeBotAPI

from desk.worktime import WorkCalendar
from models.sla import ExtensionRequest
from models.ticket import Ticket, TicketEvent, TicketStatus

TAX_TEXT = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"


async def test_wait_then_extension(fake: FakeBotAPI, dialog: Dialog, db_url: str) -> None:
    d = dialog
    desk = Desk(fake=fake, db_url=db_url, webhook=False)
    await desk.start()
    try:
        await bind_groups(d)
        await register(d, ENT)
        ref = await submit_request(d, ENT, TAX_TEXT)
        card = await d.expect(TAX_G["id"], ref)
        await d.press(TAX1, TAX_G["id"], "认领", message=card)
        card = await d.expect(TAX_G["id"], "承办人")

        # 请企业补充: the next message of the staff member is what the enterprise must add.
        m = d.mark()
        await d.press(TAX1, TAX_G["id"], "请企业补充", message=card)
        await d.expect(TAX_G["id"], "需要企业补充", after=m)
        await d.send(TAX1, "请提供9月出口报关单扫描件。", chat=TAX_G)
        need = await d.expect(ENT["id"], "报关单扫描件", after=m)
        assert ref in (need.plain_text or "")
        ticket = await Ticket.get(ref=ref)
        assert ticket.status == TicketStatus.WAITING and ticket.paused_at is not None
        due_before = ticket.due_at
        assert due_before is not None

        # The enterprise's answer resumes the ticket; the deadline never moves earlier.
        m = d.mark()
        await d.send(ENT, "已上传报关单，请查收。", reply_to=need.message_id)
        await d.expect(TAX_G["id"], "已上传报关单", after=m)
        ticket = await Ticket.get(ref=ref)
        assert ticket.status == TicketStatus.CLAIMED and ticket.paused_at is None
        assert ticket.due_at is not None and ticket.due_at >= due_before
        actions = [e.action for e in await TicketEvent.filter(ticket_id=ticket.id)]
        assert "wait" in actions and "resume" in actions

        # 申请延期 with a date and a reason; a bad date is refused with a clear message.
        card = await d.expect(TAX_G["id"], "承办人")
        m = d.mark()
        await d.press(TAX1, TAX_G["id"], "申请延期", message=card)
        await d.expect(TAX_G["id"], "新截止日期", after=m)
        await d.send(TAX1, "下周吧", chat=TAX_G)
        await d.expect(TAX_G["id"], "日期 理由", after=m)
        cal = WorkCalendar()
        day = ticket.due_at.astimezone(cal.office.zone).date() + dt.timedelta(days=20)
        while not cal.is_workday(day):
            day += dt.timedelta(days=1)
        m = d.mark()
        await d.press(TAX1, TAX_G["id"], "申请延期", message=card)
        await d.send(TAX1, f"{day:%Y-%m-%d} 需要现场核查出口货物", chat=TAX_G)
        request = await d.expect(TRIAGE_G["id"], "延期申请", after=m)
        assert ref in (request.plain_text or "") and "现场核查" in (request.plain_text or "")
        await d.expect(TAX_G["id"], "等待热线办审批", after=m)

        # Only a manager (admin role) decides.
        assert "只有管理员" in await d.press(TRI1, TRIAGE_G["id"], "批准", message=request)
        m = d.mark()
        assert "已批准" in await d.press(ADMIN, TRIAGE_G["id"], "批准", message=request)
        told = await d.expect(ENT["id"], "已延长至", after=m)
        assert f"{day:%Y-%m-%d}" in (told.plain_text or "")
        await d.expect(TAX_G["id"], "延期申请已批准", after=m)
        ticket = await Ticket.get(ref=ref)
        assert ticket.due_at is not None
        assert ticket.due_at.astimezone(cal.office.zone).date() == day
        assert (await ExtensionRequest.get(ticket_id=ticket.id)).status == "approved"
        assert "申请人：李 税官" in (request.plain_text or "")
        assert "已批准（热线办 管理员）" in (request.plain_text or "")
        # A second press on the same (stale) request changes nothing.
        data = f"x:{(await ExtensionRequest.get(ticket_id=ticket.id)).id}:no"
        assert "已处理" in await d.press_data(ADMIN, TRIAGE_G["id"], request.message_id, data)
        assert (await ExtensionRequest.get(ticket_id=ticket.id)).status == "approved"
    finally:
        await desk.stop()
