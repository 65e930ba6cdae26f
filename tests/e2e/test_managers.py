"""The managers' view as a transcript: /grant, /stats, /overdue with 督办, /rank, /dept, /ticket.

The role is granted by an admin replying ``/grant manager`` to the manager's message; staff and
enterprises asking for figures get a polite refusal; a forged 督办 button changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from conftest import (
    ADMIN,
    ENT,
    ENT2,
    TAX1,
    TAX_G,
    TRIAGE_G,
    Desk,
    Dialog,
    bind_groups,
    register,
    submit,
)
from fakebot import FakeBotAPI
from fakebot.server import SentMessage

from models.audit import AuditEntry
from models.staff import RoleGrant
from models.system import ReportJob
from models.ticket import Ticket, TicketEvent

MGR = {"id": 7001, "first_name": "刘", "last_name": "主任"}
TAX_TEXT = "我们公司出口退税申报已经一个多月了，退税款一直没到账，想问问进度"
TAX_TEXT2 = "增值税专用发票开票额度不够用了，想申请提高开票限额"


async def grant_manager(d: Dialog) -> None:
    hello = await d.send(MGR, "大家好，我是热线办刘主任", chat=TRIAGE_G)
    m = d.mark()
    await d.send(ADMIN, "/grant manager", chat=TRIAGE_G, reply_to=hello["message"]["message_id"])
    await d.expect(TRIAGE_G["id"], "已授予", after=m)
    entry = await AuditEntry.get(action="role.grant")  # the bot's grants are audited too
    assert str(MGR["id"]) in entry.target and entry.data == {"role": "manager", "via": "telegram"}


async def test_manager_commands(dialog: Dialog, desk: Desk, fake: FakeBotAPI) -> None:
    d = dialog
    await bind_groups(d)
    await register(d, ENT)
    await register(d, ENT2, company="天津泰达第二测试有限公司", phone="13912345678")
    ref1 = await submit(d, ENT, TAX_TEXT)
    ref2 = await submit(d, ENT2, TAX_TEXT2)

    # Before the grant: a polite refusal, in private and in a group.
    m = d.mark()
    await d.send(MGR, "/stats")
    assert "仅限" in (await d.expect(MGR["id"], "管理人员", after=m)).plain_text
    m = d.mark()
    await d.send(TAX1, "/overdue", chat=TAX_G)
    await d.expect(TAX_G["id"], "仅限", after=m)
    # Only an admin grants; a manager cannot grant itself or others.
    hello = await d.send(TAX1, "我是税务局李税官", chat=TAX_G)
    m = d.mark()
    await d.send(MGR, "/grant manager", chat=TAX_G, reply_to=hello["message"]["message_id"])
    await d.expect(TAX_G["id"], "只有管理员", after=m)
    m = d.mark()
    await d.send(ADMIN, "/grant boss", chat=TAX_G, reply_to=hello["message"]["message_id"])
    await d.expect(TAX_G["id"], "没有「boss」这个角色", after=m)
    assert await RoleGrant.all().count() == 0

    await grant_manager(d)
    assert await RoleGrant.filter(user_id=MGR["id"], role="manager").exists()

    # /stats today: the two requests just received.
    m = d.mark()
    await d.send(MGR, "/stats")
    figures = (await d.expect(MGR["id"], "工单统计", after=m)).plain_text or ""
    assert "受理 2" in figures and "派发 2" in figures and "全区" in figures
    m = d.mark()
    await d.send(MGR, "/stats 2026-13")
    await d.expect(MGR["id"], "时间范围请写", after=m)

    # Nothing overdue yet.
    m = d.mark()
    await d.send(MGR, "/overdue")
    await d.expect(MGR["id"], "当前没有超期", after=m)

    # ref1's deadline passes: it is listed with a 督办 button.
    t1 = await Ticket.get(ref=ref1)
    await Ticket.filter(id=t1.id).update(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    m = d.mark()
    await d.send(MGR, "/overdue")
    listing = await d.expect(MGR["id"], "超期及临期工单", after=m)
    assert ref1 in (listing.plain_text or "") and ref2 not in (listing.plain_text or "")
    assert "已超期" in (listing.plain_text or "")
    # Staff cannot use a manager's button, even with the right data.
    data = f"m:{t1.id}:sup"
    m = d.mark()
    assert "仅限" in await d.press_data(TAX1, TAX_G["id"], listing.message_id, data)
    assert not await TicketEvent.filter(ticket_id=t1.id, action="supervise").exists()
    # The manager's press: a 督办单 in the TAX group, recorded on the ticket; once a day.
    toast = await d.press(MGR, MGR["id"], "督办", message=listing)
    assert "已向税务局发送督办单" in toast
    notice = await d.expect(TAX_G["id"], "督办单", after=m)
    assert ref1 in (notice.plain_text or "") and "刘 主任" in (notice.plain_text or "")
    assert "今日已督办" in await d.press(MGR, MGR["id"], "督办", message=listing)
    assert await TicketEvent.filter(ticket_id=t1.id, action="supervise").count() == 1

    # /ticket REF: the timeline with the 督办.
    m = d.mark()
    await d.send(MGR, f"/ticket {ref1.lower()}")
    timeline = (await d.expect(MGR["id"], "办理过程", after=m)).plain_text or ""
    assert ref1 in timeline and "受理" in timeline and "督办" in timeline

    # /rank and /dept.
    m = d.mark()
    await d.send(MGR, "/rank")
    rank = (await d.expect(MGR["id"], "部门考核排名", after=m)).plain_text or ""
    assert "本期无工单" in rank and "税务局" in rank
    m = d.mark()
    await d.send(MGR, "/dept tax")
    dept = (await d.expect(MGR["id"], "当前在办", after=m)).plain_text or ""
    assert "国家税务总局" in dept or "税务" in dept
    assert "当前在办 2 件，其中超期 1 件" in dept
    m = d.mark()
    await d.send(MGR, "/dept NOPE")
    await d.expect(MGR["id"], "没有代码为 NOPE 的部门", after=m)

    # /report: stored as a job; the document arrives when built.
    m = d.mark()
    await d.send(MGR, "/report 2026-11")
    await d.expect(MGR["id"], "正在生成", after=m)
    assert await ReportJob.filter(chat_id=MGR["id"], period="2026-11").exists()

    def document(ext: str) -> Callable[[SentMessage], bool]:
        return lambda msg: (
            msg.chat_id == MGR["id"]
            and msg.method == "sendDocument"
            and msg.raw["document"]["file_name"].endswith(ext)
        )

    doc = await fake.wait_for(document(".docx"), after=m, timeout=60)
    assert "2026-11" in doc.raw["document"]["file_name"]
    assert "营商环境简报" in (doc.plain_text or "")
    book = await fake.wait_for(document(".xlsx"), after=m, timeout=30)
    assert "工单及办理过程明细" in (book.plain_text or "")
    data_bytes = fake.files[doc.raw["document"]["file_id"]]["data"]
    import docx  # python-docx: the document really opens

    text = "\n".join(p.text for p in docx.Document(io.BytesIO(data_bytes)).paragraphs)
    assert "营商环境简报" in text
