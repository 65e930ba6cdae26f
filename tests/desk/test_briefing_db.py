"""The monthly briefing on a hand-made month whose every number is known (SQLite, PostgreSQL).

November 2026, Tianjin time; the briefing is built on 1 December.

    TAX  T1 claimed and resolved on time, rated 已解决/满意 with a kind word
         T2 claimed late, resolved late, urged, escalated to 会商, rated 未解决/不满意, reopened
         T3 never claimed, overdue, supervised          T5 claimed on time, due in December
         C1 cancelled (received, but neither dispatched nor overdue)
    ENV  E1, E2 claimed and resolved on time, rated 已解决 (基本满意, 满意)
    HRS  H1 claimed late, still open                    X1 still in triage
    T1, T2 and T3 come from three enterprises that cannot log in to the e-tax bureau.

    received 9 · dispatched 7 · responded 4 → 响应率 57.1% · resolved 4, on time 3 → 75.0%
    解决率 3/4 = 75.0% · 满意率 3/4 = 75.0% · overdue 2 (T2 late, T3 open)
    league: ENV (三率 100%) · TAX (50%) · HRS (响应率 0%)
    October: O1 (TAX, on time) and O2 (ENV, overdue) → received 2, 环比 +350.0%
    Six months of volume, June to November: 0 0 0 1 2 9
"""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from openpyxl import load_workbook

from desk import briefing, stats
from models.department import Department
from models.enterprise import Enterprise, Member
from models.ticket import Ticket, TicketEvent, TicketStatus

SH = ZoneInfo("Asia/Shanghai")
NOV = stats.month_period(2026, 11, SH)
NOW = dt.datetime(2026, 12, 1, 9, tzinfo=SH)

ETAX = (
    "电子税务局这两天一直登录不上，发票开不出来",
    "今天电子税务局又登录不上了，急着开发票",
    "电子税务局登录后卡住，没法开发票",
)


def at(m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(2026, m, d, h, tzinfo=SH)


async def make(ref: str, dept: Department | None, text: str, **kw: object) -> Ticket:
    ent = await Enterprise.create(name=f"{ref}科技有限公司")
    member = await Member.create(enterprise=ent, contact_name="张三", phone="13800000000")
    kw.setdefault("status", TicketStatus.DISPATCHED)
    return await Ticket.create(
        ref=ref, enterprise=ent, member=member, text=text, department=dept, **kw
    )


async def event(ticket: Ticket, action: str, when: dt.datetime, note: str = "") -> None:
    await TicketEvent.create(
        ticket_id=ticket.id,
        actor_kind="x",
        actor_name="李四",
        action=action,
        at=when,
        note=note,
        department_id=ticket.department_id,
    )


def dispatched(m: int, d: int, *, claimed: dt.datetime | None, hours: float | None) -> dict:
    return {
        "created_at": at(m, d, 9),
        "dispatched_at": at(m, d, 9),
        "response_due_at": at(m, d, 15),
        "claimed_at": claimed,
        "claim_hours": hours,
    }


@pytest.fixture
async def month(db: str) -> dict[str, Department]:
    tax = await Department.get(code="TAX")
    env = await Department.get(code="ENV")
    hrs = await Department.get(code="HRS")
    t1 = await make(
        "T1",
        tax,
        ETAX[0],
        **dispatched(11, 2, claimed=at(11, 2, 11), hours=1.0),
        resolved_at=at(11, 4),
        due_at=at(11, 10),
        resolve_hours=10.0,
        rated_at=at(11, 5),
        rating_solved=True,
        rating_satisfaction="满意",
        rating_reason="办理很快，感谢",
        status=TicketStatus.CLOSED,
    )
    t2 = await make(
        "T2",
        tax,
        ETAX[1],
        **dispatched(11, 3, claimed=at(11, 4), hours=8.0),
        resolved_at=at(11, 20),
        due_at=at(11, 12),
        resolve_hours=50.0,
        rated_at=at(11, 25),
        rating_solved=False,
        rating_satisfaction="不满意",
        rating_reason="问题没有解决，只是电话答复",
        escalation_level=1,
        status=TicketStatus.REOPENED,
    )
    t3 = await make(
        "T3", tax, ETAX[2], **dispatched(11, 5, claimed=None, hours=None), due_at=at(11, 15)
    )
    await make(
        "T5",
        tax,
        "小规模纳税人季度销售额多少以内免增值税？",
        **dispatched(11, 8, claimed=at(11, 8, 10), hours=0.5),
        due_at=at(12, 3),
        status=TicketStatus.CLAIMED,
    )
    await make(
        "C1",
        tax,
        "发票专用章刻错了，想撤回这个诉求",
        **dispatched(11, 21, claimed=None, hours=None),
        due_at=at(11, 25),
        status=TicketStatus.CANCELLED,
    )
    e1 = await make(
        "E1",
        env,
        "锅炉低氮改造有没有补贴",
        **dispatched(11, 10, claimed=at(11, 10, 14), hours=2.0),
        resolved_at=at(11, 12),
        due_at=at(12, 5),
        resolve_hours=8.0,
        rated_at=at(11, 13),
        rating_solved=True,
        rating_satisfaction="基本满意",
        status=TicketStatus.CLOSED,
    )
    e2 = await make(
        "E2",
        env,
        "危险废物转移联单在哪个系统填报",
        **dispatched(11, 11, claimed=at(11, 11, 11), hours=1.0),
        resolved_at=at(11, 14),
        due_at=at(11, 20),
        resolve_hours=12.0,
        rated_at=at(11, 15),
        rating_solved=True,
        rating_satisfaction="满意",
        status=TicketStatus.CLOSED,
    )
    await make(
        "H1",
        hrs,
        "员工工伤认定需要哪些材料",
        **dispatched(11, 12, claimed=at(11, 13), hours=6.0),
        due_at=at(12, 10),
        status=TicketStatus.CLAIMED,
    )
    await make(
        "X1",
        None,
        "厂区门口的路灯坏了一个星期没人修",
        created_at=at(11, 20),
        status=TicketStatus.TRIAGE,
    )
    # October, for the comparison; September, for the trend.
    await make(
        "O1",
        tax,
        "出口退税的进度在哪里查询",
        **dispatched(10, 15, claimed=at(10, 15, 11), hours=1.0),
        resolved_at=at(10, 20),
        due_at=at(10, 25),
        resolve_hours=5.0,
        status=TicketStatus.CLOSED,
    )
    await make(
        "O2",
        env,
        "隔壁工地夜间施工噪声太大",
        **dispatched(10, 20, claimed=at(10, 21), hours=7.0),
        due_at=at(10, 30),
        status=TicketStatus.CLAIMED,
    )
    await make("S1", hrs, "招聘会在哪里报名参加", created_at=at(9, 10), status=TicketStatus.TRIAGE)
    log: list[tuple[dt.datetime, Ticket, str, str]] = [
        (at(11, day), ticket, "rate", note)
        for ticket, day, notes in ((t1, 5, "s1 m3"), (t2, 25, "s0 m1"), (e1, 13, "s1 m2"))
        for note in notes.split()
    ]
    log += [(at(11, 15), e2, "rate", "s1"), (at(11, 15), e2, "rate", "m3")]
    log += [(at(11, 25, 11), t2, "reopen", ""), (at(11, 13), t2, "urge", "")]
    log += [(at(11, 16), t2, "escalate", "会商"), (at(11, 20), t3, "supervise", "")]
    o1, o2 = await Ticket.get(ref="O1"), await Ticket.get(ref="O2")
    log += [(at(10, 21), o1, "rate", "s1"), (at(10, 31, 23), o2, "urge", "")]  # October's
    log += [(at(12, 1, 8), t3, "supervise", "")]  # December's
    log += [(t.created_at, t, "create", "") for t in await Ticket.all()]
    for when, ticket, action, note in sorted(log, key=lambda e: e[0]):  # the log is in time order
        await event(ticket, action, when, note)
    return {"TAX": tax, "ENV": env, "HRS": hrs}


def document_text(data: bytes) -> tuple[list[str], list[list[list[str]]], int]:
    """Paragraphs, tables (rows of cell texts) and the number of pictures of a DOCX."""
    doc = Document(io.BytesIO(data))
    paragraphs = [p.text for p in doc.paragraphs]
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return paragraphs, tables, len(doc.inline_shapes)


def table_with(tables: list[list[list[str]]], first_header: str) -> list[list[str]]:
    return next(t for t in tables if t[0][0] == first_header)


async def test_the_briefing_holds_the_months_numbers(month: dict[str, Department]) -> None:
    built = await briefing.monthly_briefing(period=NOV, now=NOW, tz=SH)
    assert built.filename == "营商环境简报-2026-11.docx"
    s = built.summary
    assert (s["received"], s["dispatched"], s["resolved"], s["resolved_on_time"]) == (9, 7, 4, 3)
    assert (s["overdue"], s["open_overdue"], s["overdue_listed"]) == (2, 0, 2)
    assert s["response_rate"] == pytest.approx(4 / 7, abs=1e-4)
    assert s["resolution_rate"] == s["satisfaction_rate"] == s["on_time_rate"] == 0.75
    assert s["previous"]["received"] == 2 and s["previous"]["overdue"] == 1
    assert s["league"] == ["ENV", "TAX", "HRS"]
    assert s["escalated"] == 2
    assert s["escalation_events"] == {"urge": 1, "escalate": 1, "supervise": 1}
    assert s["comments"] == 2
    assert any("电子税务局" in terms for terms in s["topics"])
    assert s["seconds"] < 15

    paragraphs, tables, pictures = document_text(built.docx)
    text = "\n".join(paragraphs)
    for heading in (
        "一、总体情况",
        "二、各部门受理量及趋势",
        "三、部门考核排名",
        "四、超期及升级督办工单",
        "五、企业评价与意见",
        "六、“每月一题”候选",
    ):
        assert heading in paragraphs
    assert "七、" not in text  # the liaison officers' section has nothing yet
    assert "热线共受理企业诉求 9 件（上月 2 件，环比 +350.0%）" in text
    assert "派发部门 7 件，办结 4 件，其中按时办结 3 件；超期 2 件。" in text
    assert "响应率 57.1%，解决率 75.0%，满意率 75.0%，按时办结率 75.0%" in text
    assert pictures == 2

    overview = table_with(tables, "指标")
    assert ["受理（件）", "9", "2", "+350.0%"] in overview
    assert ["响应率", "57.1%", "50.0%", "+7.1个百分点"] in overview

    trend = table_with(tables, "部门")
    assert trend[0] == ["部门", "6月", "7月", "8月", "9月", "10月", "11月", "环比"]
    assert trend[-1] == ["合计", "0", "0", "0", "1", "2", "9", "+350.0%"]
    assert trend[1][0] == "税务局" and trend[1][-2] == "5"

    league = table_with(tables, "名次")
    assert [(row[0], row[1]) for row in league[1:]] == [
        ("1", "生态环境局"),
        ("2", "税务局"),
        ("3", "人社局"),
    ]
    assert league[2][3:6] == ["50.0%", "50.0%", "50.0%"]  # TAX: 响应率, 解决率, 满意率
    assert league[2][-1] == "50.0%"

    assert "本月超期工单共 2 件。" in text
    assert "本月催办 1 次、升级 1 次、督办 1 次，涉及工单 2 件。" in text
    refs = [row[0] for t in tables for row in t if row[0] in {"T1", "T2", "T3", "C1"}]
    assert refs == ["T2", "T3", "T2", "T3"]  # overdue by deadline, then escalated by level
    escalated = next(t for t in tables if t[0][3] == "当前级别")
    assert escalated[1][3:5] == ["会商", "1/1/0"]

    unhappy = text.index("【未解决／不满意】T2")
    happy = text.index("【已解决／满意】T1")
    assert unhappy < happy  # 不满意 first
    topic = text[text.index("六、“每月一题”候选") :]
    assert "电子税务局" in topic and "涉及 3 家企业" in topic and "税务局 3 件" in topic


async def test_without_a_chinese_font_the_briefing_is_still_built(
    month: dict[str, Department], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(briefing, "chart_font", lambda: None)
    built = await briefing.monthly_briefing(period=NOV, now=NOW, tz=SH)
    paragraphs, _, pictures = document_text(built.docx)
    assert pictures == 2 and built.summary["chart_font"] is None
    assert any("未安装中文字体" in p for p in paragraphs)


async def test_the_event_id_bounds_bracket_the_month(db: str) -> None:
    """Events are found by a primary-key range around the month; the answer stays exact."""
    tax = await Department.get(code="TAX")
    ticket = await make("B1", tax, "诉求", created_at=at(9, 1))
    days = [at(9, 1), at(10, 15), at(10, 31, 23), at(11, 1, 0), at(11, 30, 23), at(12, 1, 1)]
    days += [at(12, 3), at(12, 20)]
    for when in days:  # in time order, as a live desk writes them
        await event(ticket, "rate", when, "s1")
        await event(ticket, "urge", when)
    bounds = await briefing._event_ids(NOV)
    assert set(bounds) == {"id__gt", "id__lt"}  # both sides found through the index
    inside = await TicketEvent.filter(**bounds).values_list("at", flat=True)
    assert len(inside) < len(days) * 2  # a shorter scan ...
    urged = await TicketEvent.filter(
        **bounds, at__gte=NOV.start, at__lt=NOV.end, action="urge"
    ).count()
    assert urged == 2  # ... and the same answer: 11-01 00:00 and 11-30 23:00


async def test_a_briefing_is_monthly(db: str) -> None:
    week = stats.parse_period("week", now=NOW, tz=SH)
    with pytest.raises(briefing.InvalidInput):
        await briefing.monthly_briefing(period=week, now=NOW, tz=SH)


async def test_an_empty_month_still_makes_a_briefing(db: str) -> None:
    built = await briefing.monthly_briefing(period=NOV, now=NOW, tz=SH)
    paragraphs, _, _ = document_text(built.docx)
    assert built.summary["received"] == 0
    assert "本月无超期工单。" in paragraphs
    assert "本月未发现多家企业共同反映的问题。" in paragraphs


async def test_the_workbook_lists_the_months_tickets_and_events(
    month: dict[str, Department],
) -> None:
    data = await briefing.tickets_workbook(period=NOV, tz=SH)
    wb = load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames == ["工单", "办理过程"]
    tickets = list(wb["工单"].iter_rows(values_only=True))
    assert tickets[0] == briefing.TICKET_COLUMNS
    by_ref = {row[0]: dict(zip(briefing.TICKET_COLUMNS, row, strict=True)) for row in tickets[1:]}
    assert set(by_ref) == {"T1", "T2", "T3", "T5", "C1", "E1", "E2", "H1", "X1"}
    t1 = by_ref["T1"]
    assert t1["受理时间"] == dt.datetime(2026, 11, 2, 9)  # local time
    assert (t1["部门"], t1["状态"], t1["按时办结"], t1["评价"]) == (
        "税务局",
        "已关闭",
        "是",
        "已解决／满意",
    )
    assert by_ref["T2"]["按时办结"] == "否" and by_ref["T2"]["评价"] == "未解决／不满意"
    assert by_ref["X1"]["部门"] == "待分拨" and by_ref["T3"]["办结时间"] is None
    assert by_ref["T1"]["诉求内容"] == ETAX[0]

    events = list(wb["办理过程"].iter_rows(values_only=True))
    assert events[0] == briefing.EVENT_COLUMNS
    # 9 受理 and 13 other events (T3's December 督办 too); October's tickets are not November's.
    assert len(events) - 1 == 9 + 13
    t2 = [row for row in events[1:] if row[0] == "T2"]
    assert [row[2] for row in t2] == ["受理", "催办", "升级", "评价", "评价", "重办"]  # by time
    assert t2[1][1] == dt.datetime(2026, 11, 13, 10)
    assert [row[7] for row in t2 if row[2] == "评价"] == ["未解决", "不满意"]
