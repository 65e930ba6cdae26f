"""The workbench's reading side (desk.search), on SQLite and PostgreSQL: filters, scope,
full-text search over messages, pages, the timeline, the exported workbook."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest

from desk import search
from desk.errors import InvalidInput, NotAllowed
from desk.search import TicketFilter
from desk.workbench import Viewer
from models.department import Department
from models.enterprise import Enterprise, Member
from models.keyaccount import KeyAccount
from models.ticket import Ticket, TicketEvent, TicketMessage, TicketStatus

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 10, 10, 0, tzinfo=SH)
OFFICE = Viewer(username="王敏", role="office")
TAX_STAFF = Viewer(username="李税", role="staff", department_code="TAX")


async def make(
    ref: str,
    text: str,
    *,
    code: str | None,
    status: TicketStatus = TicketStatus.DISPATCHED,
    enterprise: str = "天津滨海某某科技有限公司",
    created: dt.datetime = NOW - dt.timedelta(days=1),
    due: dt.datetime | None = NOW + dt.timedelta(days=3),
    **extra: object,
) -> Ticket:
    ent, _ = await Enterprise.get_or_create(name=enterprise)
    member = await Member.create(enterprise=ent, contact_name="张三", phone="13800000001")
    return await Ticket.create(
        ref=ref,
        enterprise=ent,
        member=member,
        text=text,
        department=await Department.get(code=code) if code else None,
        status=status,
        created_at=created,
        due_at=due,
        **extra,
    )


async def refs(flt: TicketFilter, viewer: Viewer = OFFICE) -> list[str]:
    page = await search.find_tickets(filter=flt, viewer=viewer, now=NOW, tz=SH, per_page=100)
    return [t.ref for t in page.rows]


def parse(**query: str) -> TicketFilter:
    return TicketFilter.from_query(query)


@pytest.fixture
async def tickets(db: str) -> dict[str, Ticket]:
    out = {
        "tax": await make("TD20261209-0001", "出口退税什么时候到账", code="TAX", urgent=True),
        "late": await make(
            "TD20261201-0002",
            "增值税发票开不出来",
            code="TAX",
            status=TicketStatus.CLAIMED,
            created=NOW - dt.timedelta(days=9),
            due=NOW - dt.timedelta(days=1),
            type="求助",
        ),
        "env": await make(
            "TD20261209-0003",
            "厂区旁边夜间施工噪声扰民",
            code="ENV",
            enterprise="天津泰达新材料有限公司",
            type="投诉",
        ),
        "triage": await make("TD20261210-0004", "想了解人才公寓申请条件", code=None, due=None),
    }
    out["triage"].status = TicketStatus.TRIAGE
    await out["triage"].save()
    await TicketMessage.create(
        ticket=out["env"], direction="in", author_name="王经理", text="附上监测报告"
    )
    await TicketMessage.create(
        ticket=out["env"],
        direction="in",
        author_name="王经理",
        kind="document",
        file_id="f1",
        file_name="噪声监测报告.pdf",
        file_mime="application/pdf",
        file_size=1536,
    )
    return out


async def test_filters_narrow_and_staff_only_see_their_department(
    tickets: dict[str, Ticket],
) -> None:
    everything = await refs(TicketFilter())
    assert len(everything) == 4 and everything[0] == "TD20261210-0004"  # newest first
    assert await refs(parse(dept="TAX")) == ["TD20261201-0002", "TD20261209-0001"]
    assert await refs(parse(state="triage")) == ["TD20261210-0004"]
    assert set(await refs(parse(state="open"))) == set(everything)
    assert await refs(parse(type="投诉")) == ["TD20261209-0003"]
    assert await refs(parse(urgency="urgent")) == ["TD20261209-0001"]
    assert await refs(parse(overdue="1")) == ["TD20261201-0002"]
    assert await refs(parse(enterprise="新材料")) == ["TD20261209-0003"]
    assert await refs(parse(**{"from": "2026-12-01", "to": "2026-12-01"})) == ["TD20261201-0002"]
    # Staff: their department only, whatever the filter says.
    assert set(await refs(TicketFilter(), TAX_STAFF)) == {"TD20261209-0001", "TD20261201-0002"}
    assert await refs(parse(dept="ENV"), TAX_STAFF) == []
    assert await refs(parse(q="噪声"), TAX_STAFF) == []
    with pytest.raises(NotAllowed):
        await refs(TicketFilter(), Viewer(username="x", role="staff"))


async def test_text_search_covers_ref_request_enterprise_and_messages(
    tickets: dict[str, Ticket],
) -> None:
    assert await refs(parse(q="0002")) == ["TD20261201-0002"]
    assert await refs(parse(q="td20261209-0001")) == ["TD20261209-0001"]  # any case
    assert await refs(parse(q="发票")) == ["TD20261201-0002"]
    assert await refs(parse(q="监测报告")) == ["TD20261209-0003"]  # a message's text
    assert await refs(parse(q="报告.pdf")) == ["TD20261209-0003"]  # an attachment's name
    assert await refs(parse(q="泰达新材料")) == ["TD20261209-0003"]
    assert await refs(parse(q="100%")) == []  # LIKE wildcards are literal
    assert await refs(parse(q="_")) == []


def test_bad_filters_say_what_is_wrong() -> None:
    cases = {
        "state": ("nonsense", "状态"),
        "type": ("抱怨", "诉求类型"),
        "urgency": ("very", "紧急程度"),
        "from": ("2026/12/01", "开始日期格式"),
        "to": ("2026-02-30", "结束日期"),
        "dept": ("税务局!", "部门"),
        "q": ("长" * 101, "过长"),
    }
    for key, (value, words) in cases.items():
        with pytest.raises(InvalidInput, match=words):
            TicketFilter.from_query({key: value})
    with pytest.raises(InvalidInput, match="不能晚于"):
        TicketFilter.from_query({"from": "2026-12-02", "to": "2026-12-01"})
    with pytest.raises(InvalidInput, match="页码"):
        search.parse_page({"page": "0"})
    with pytest.raises(InvalidInput, match="每页"):
        search.parse_page({"per_page": "7"})
    flt = TicketFilter.from_query({"q": "  退税   到账 ", "overdue": "1", "from": "2026-12-01"})
    assert flt.text == "退税 到账"
    assert TicketFilter.from_query(flt.to_query()) == flt


async def test_pages(db: str) -> None:
    for n in range(1, 26):
        await make(f"TD20261209-{n:04d}", f"第{n}个问题", code="TAX")
    first = await search.find_tickets(
        filter=TicketFilter(), viewer=OFFICE, now=NOW, tz=SH, page=1, per_page=20
    )
    assert (first.total, first.pages, len(first.rows)) == (25, 2, 20)
    assert first.rows[0].ref == "TD20261209-0025"
    assert first.rows[0].department.code == "TAX"  # loaded with the row
    beyond = await search.find_tickets(
        filter=TicketFilter(), viewer=OFFICE, now=NOW, tz=SH, page=9, per_page=20
    )
    assert beyond.page == 2 and [t.ref for t in beyond.rows][-1] == "TD20261209-0001"


async def test_timeline_merges_events_and_messages(tickets: dict[str, Ticket]) -> None:
    env = tickets["env"]
    await TicketEvent.create(
        ticket_id=env.id,
        at=dt.datetime(2020, 1, 2, 9, 0, tzinfo=SH),  # before the messages
        actor_kind="enterprise",
        actor_name="王经理",
        action="create",
        to_status="dispatched",
    )
    await TicketEvent.create(
        ticket_id=env.id,
        actor_kind="staff",
        actor_name="赵环",
        action="followup",
        note="附上监测报告",
    )
    entries = await search.timeline(ticket=env)
    assert entries[0].title == "受理" and entries[0].to_label == "待认领"
    assert [e.title for e in entries].count("企业留言") == 2  # the followup event shows once
    assert "补充" not in [e.title for e in entries]
    doc = next(e for e in entries if e.attachment)
    assert doc.attachment is not None
    assert (doc.attachment.name, doc.attachment.size_label) == ("噪声监测报告.pdf", "2 KB")


async def test_export_workbook_rows_match_the_filter(tickets: dict[str, Ticket]) -> None:
    from openpyxl import load_workbook

    flt = parse(dept="TAX")
    rows = await search.export_rows(filter=flt, viewer=OFFICE, now=NOW, tz=SH)
    key = next(t for t in rows if t.ref == "TD20261209-0001")
    await KeyAccount.create(
        enterprise_id=key.enterprise_id,
        kind="project",
        project="滨海新材料",
        butler_user_id=5005,
        butler_name="管家",
    )
    data = await search.export_workbook(rows=rows, tz=SH)
    ws = load_workbook(io.BytesIO(data))["工单"]
    values = list(ws.iter_rows(values_only=True))
    assert values[0][0] == "工单号" and values[0][-1] == "诉求内容"
    assert values[0][7] == "重点标识"
    assert sorted(r[0] for r in values[1:]) == ["TD20261201-0002", "TD20261209-0001"]
    urgent = next(r for r in values[1:] if r[0] == "TD20261209-0001")
    assert urgent[2] == "税务局" and urgent[4] == "是" and urgent[5] == "待认领"
    # Both TAX tickets are that enterprise's; another enterprise's ticket has no flag.
    assert [r[7] for r in values[1:]] == ["【重点项目·滨海新材料】"] * 2
    flt = parse(enterprise="新材料")
    rows = await search.export_rows(filter=flt, viewer=OFFICE, now=NOW, tz=SH)
    ws = load_workbook(io.BytesIO(await search.export_workbook(rows=rows, tz=SH)))["工单"]
    assert [(r[0], r[7]) for r in list(ws.iter_rows(values_only=True))[1:]] == [
        ("TD20261209-0003", None)
    ]
