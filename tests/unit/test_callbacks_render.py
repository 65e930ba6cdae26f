"""Callback data and rendering: what each chat would see for each kind of outbox message."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from desk.notify import card_actions
from handlers import callbacks as cb
from handlers import render as R
from handlers import texts as T
from models.ticket import Ticket, TicketStatus

REF = "TD20250602-0007"
EVIL = "<script>alert(\"x\")</script> & 'quoted' <b>bold</b>"
MAX_ID = 10**12 - 1


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible(text: str) -> str:
    """What Telegram shows for an HTML message: tags removed, entities decoded."""
    return html.unescape(re.sub(r"</?b>", "", text))


def op_text(op: R.Op) -> str:
    return op.caption if isinstance(op, R.Copy | R.Document) else op.text


def buttons(op: R.Op) -> list[tuple[str, str]]:
    rows = getattr(op, "buttons", None) or []
    return [b for row in rows for b in row]


# ---------------------------------------------------------------- callbacks


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (cb.ticket(123, "claim"), cb.Callback("t", 123, "claim")),
        (cb.ticket(7, "to", "ENV"), cb.Callback("t", 7, "to", "ENV")),
        (cb.ticket(7, "dispatch", "TRIAGE"), cb.Callback("t", 7, "dispatch", "TRIAGE")),
        (cb.draft(5, "ok"), cb.Callback("d", 5, "ok")),
        (cb.draft(5, "add", "17"), cb.Callback("d", 5, "add", "17")),
        (cb.visit(9, "s1"), cb.Callback("v", 9, "s1")),
        (cb.visit(9, "m3"), cb.Callback("v", 9, "m3")),
        (cb.cancel(3), cb.Callback("c", 3, "cancel")),
    ],
)
def test_round_trip(data: str, expected: cb.Callback) -> None:
    assert cb.parse(data) == expected
    assert expected.encode() == data


def test_encoded_format() -> None:
    assert cb.ticket(42, "claim") == "t:42:claim"
    assert cb.ticket(42, "to", "ENV") == "t:42:to:ENV"
    assert cb.cancel(1) == "c:1:cancel"


def test_max_ids_fit_64_bytes() -> None:
    datas = [
        cb.ticket(MAX_ID, "dispatch", "ABCDEFGHIJKLMNOP"),
        cb.ticket(MAX_ID, "resolve"),
        cb.draft(MAX_ID, "add", str(MAX_ID)),
        cb.visit(MAX_ID, "m3"),
        cb.cancel(MAX_ID),
        cb.Callback("t", MAX_ID, "a" * 10, "Z" * 16).encode(),
    ]
    for data in datas:
        assert len(data.encode()) <= 64
        parsed = cb.parse(data)
        assert parsed is not None and parsed.id == MAX_ID
        assert parsed.encode() == data


def test_encode_refuses_over_64_bytes() -> None:
    with pytest.raises(ValueError, match="64"):
        cb.Callback("t", 1, "to", "X" * 70).encode()


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "t",
        "t:1",
        "t:1:",
        "z:1:claim",
        "T:1:claim",
        "tt:1:claim",
        "t:abc:claim",
        "t:-1:claim",
        "t:1.5:claim",
        "t::claim",
        "t:1234567890123:claim",  # 13 digits
        "t:1:CLAIM",
        "t:1:abcdefghijk",  # action over 10 characters
        "t:1:claim:../../",
        "t:1:claim:",
        "t:1:claim:a:b",
        "t:1:to:" + "A" * 17,
        "t:1:claim;DROP TABLE ticket",
        " t:1:claim",
        "t:1:claim ",
        "t:1:claim\x00",
        "t:1:to:ENV%00",
        "t:1:cl aim",
        "t:1:<b>",
    ],
)
def test_parse_rejects_malformed(data: str | None) -> None:
    assert cb.parse(data) is None


@pytest.mark.parametrize("data", ["t:1:claim\n", "t:１２:claim", "t:1:to:ENV\n"])
def test_parse_is_strict(data: str) -> None:
    assert cb.parse(data) is None


# ---------------------------------------------------------------- params like desk.notify builds


def ticket_params(**over: Any) -> dict[str, Any]:
    """The snapshot desk.notify.ticket_params produces, with realistic values."""
    p: dict[str, Any] = {
        "ticket_id": 42,
        "ref": REF,
        "status": "dispatched",
        "status_label": "待认领",
        "department": "税务局",
        "department_code": "TAX",
        "type": "求助",
        "urgent": False,
        "deadline": "2025-06-09（周一）17:30",
        "enterprise": "天津泰达示例科技有限公司",
        "contact": "张*",
        "phone": "138****5678",
        "text": "出口退税申报后一直没到账，我们公司的退税款卡住了怎么办",
        "claimant": None,
        "matched": ["出口退税", "退税"],
        "reopen_count": 0,
        "result": None,
    }
    p.update(over)
    return p


def evil_ticket_params(**over: Any) -> dict[str, Any]:
    """Every field a person typed (or can influence) carries markup."""
    return ticket_params(
        department=EVIL,
        enterprise=EVIL,
        contact=EVIL,
        phone=EVIL,
        text=EVIL,
        claimant=EVIL,
        matched=[EVIL, "退税"],
        result=EVIL,
        **over,
    )


def guide_item(user: str) -> dict[str, Any]:
    """A service item as the chat shows it (desk.guide.item_params)."""
    return {
        "item_id": 11,
        "name": "增值税发票申领",
        "department": "税务局",
        "conditions": user,
        "materials": ["营业执照", user, ""],
        "steps": ["电子税务局申请", "审核"],
        "time_limit": "即时办结",
        "fees": "免费",
        "location": "电子税务局",
        "online_url": "https://etax.tianjin.chinatax.gov.cn",
        "contact": user,
    }


def kind_cases(make: Any, user: str) -> list[tuple[str, dict[str, Any]]]:
    """At least one realistic params dict for every kind the renderer knows."""
    base = make()
    card = dict(base, actions=["claim", "transfer", "return"], note=user, picker=None, edit=False)
    tri = dict(
        base,
        status="triage",
        status_label="待分拨",
        department="待分拨",
        department_code=None,
        candidates=[["TAX", "税务局", 3.2], ["DRC", user, 1.0]],
        confidence=0.42,
        note=user,
        picker=None,
        edit=False,
        actions=["dispatch"],
    )
    item = dict(base, text=base["text"][:60], can_cancel=True)
    item.pop("phone")
    sla = dict(
        base,
        reason=user,
        level_name="会商",
        overdue_since="2026-12-01（周二）17:30",
        next_deadline="2026-12-04（周五）17:30",
        departments=["TAX", "ENV"],
    )
    ext = dict(base, request_id=3, reason=user, who=user, new_deadline="2026-12-15（周二）17:30")
    return [
        ("reg_ask_name", {"first": True}),
        ("reg_ask_code", {"error": user}),
        ("reg_ask_contact", {}),
        ("reg_ask_phone", {"error": user}),
        (
            "reg_done",
            {
                "enterprise": user,
                "credit_code": "91350100M000100Y43",
                "contact": user,
                "phone": "138****5678",
                "joined": True,
            },
        ),
        (
            "reg_done",
            {
                "enterprise": user,
                "credit_code": None,
                "contact": user,
                "phone": "138****5678",
                "joined": False,
            },
        ),
        ("reg_cancelled", {}),
        ("welcome_back", {"enterprise": user, "contact": user}),
        ("signin_code", {"code": "012345", "minutes": 10}),
        (
            "signin_code_office",
            {"code": "012345", "minutes": 10, "phone": "138****5678", "enterprise": user},
        ),
        ("not_registered", {}),
        ("contact_ignored", {}),
        ("unknown_command", {}),
        ("group_help", {}),
        ("nothing_to_cancel", {}),
        ("pending_cancelled", {}),
        ("error", {"message": user}),
        ("draft_confirm", {"draft_id": 5, "text": user, "open": [[41, "TD20250601-0003"]]}),
        ("draft_confirm", {"draft_id": 5, "text": user, "open": []}),
        ("draft_cancelled", {}),
        ("draft_withdrawn", {}),
        ("guide_answer", dict(guide_item(user), answer_id=7, question=user)),
        ("guide_item", guide_item(user)),
        ("guide_menu", {"departments": [[3, "税务局", 5], [4, user, 1]]}),
        ("guide_menu", {"departments": []}),
        (
            "broadcast",
            {
                "topic_index": 1,
                "label": "政策解读",
                "title": user,
                "text": user,
                "topic": "policy",
            },
        ),
        ("subscriptions", {"topics": [[1, "政策解读", True], [2, "活动发布", False]]}),
        (
            "match_posted",
            {
                "listing_id": 3,
                "label": "泰企需",
                "industry": "汽车",
                "text": user,
                "suggestions": [[4, "泰服企", "汽车", user], [5, "泰服企", "", "线束加工"]],
            },
        ),
        ("match_posted", {"listing_id": 3, "label": "泰服企", "industry": "", "text": user}),
        (
            "match_ask",
            {"intro_id": 2, "mine": user, "other": user, "other_label": "泰服企", "industry": ""},
        ),
        (
            "match_connected",
            {"enterprise": user, "contact": user, "phone": "13800000000", "other": user},
        ),
        ("match_declined", {}),
        ("match_introduced", {"intro_id": 9}),
        ("guide_list", {"department": user, "items": [[11, "增值税发票申领"], [12, user]]}),
        ("ack", base),
        ("ack", dict(base, status="triage", department="待分拨")),
        ("ack", dict(base, filed_by=user)),
        ("card", dict(card, filed_by=user)),
        (
            "grid_pick",
            {"choices": [[7, user], [8, "天津泰达"]], "total": 9, "query": "", "more": True},
        ),
        ("grid_pick", {"choices": [[7, user]], "total": 1, "query": user, "more": False}),
        ("grid_pick", {"choices": [], "total": 0, "query": user, "more": False}),
        ("grid_ask_text", {"enterprise": user}),
        ("grid_ask_text", {"enterprise": user, "file_kept": True}),
        ("grid_confirm", {"draft_id": 3, "enterprise": user, "text": user, "file": user}),
        ("grid_cancelled", {}),
        ("grid_copy", dict(base, notice="ack", filed_by=user, reachable=True)),
        ("grid_copy", dict(base, notice="result", result=user, reachable=False)),
        ("grid_copy", dict(base, notice="rated", solved=True, satisfaction="满意")),
        ("grid_copy", dict(base, notice="progress", text=user, reachable=True)),
        ("ack", dict(base, key=f"【重点企业·{user}】")),
        ("dispatched", base),
        ("claimed", dict(base, status="claimed", claimant=user)),
        ("transferred", base),
        (
            "progress",
            {"ref": REF, "text": user, "ticket_id": 42, "department": base["department"]},
        ),
        (
            "progress_file",
            {
                "ref": REF,
                "text": user,
                "ticket_id": 42,
                "department": base["department"],
                "file_id": 9,
                "name": "申报表.xlsx",
            },
        ),
        (
            "copy_progress",
            {
                "ref": REF,
                "text": user,
                "ticket_id": 42,
                "department": base["department"],
                "from_chat_id": -100,
                "message_id": 77,
            },
        ),
        ("followup_ok", {"ref": REF}),
        ("cancelled", dict(base, status="cancelled")),
        ("reopened_ack", dict(base, status="reopened", reopen_count=1)),
        ("visit", dict(base, status="resolved", result=user)),
        (
            "visit",
            dict(base, status="resolved", result=user, edit=True, solved=True, satisfaction=None),
        ),
        (
            "visit",
            dict(
                base,
                status="closed",
                result=user,
                edit=True,
                done=True,
                solved=True,
                satisfaction="满意",
            ),
        ),
        ("visit", dict(base, status="closed", result=user, edit=True, done=True, expired=True)),
        ("ticket_list", {"items": [item, dict(item, can_cancel=False)]}),
        ("ticket_list", {"items": []}),
        ("card", card),
        ("card", dict(card, status="claimed", claimant=user, actions=["resolve"], edit=True)),
        ("card", dict(card, picker=[["ENV", "生态环境局"], ["DRC", user]])),
        ("card", dict(card, status="resolved", result=user, actions=[], edit=True)),
        ("card", dict(card, status="reopened", reopen_count=2, urgent=True)),
        ("card", dict(card, key=f"【重点项目·{user}】", butler=True)),
        ("triage_card", tri),
        ("triage_card", dict(tri, picker=[["ENV", "生态环境局"], ["TAX", "税务局"]], edit=True)),
        ("card_digest", {"items": [dict(card, ticket_id=40 + i) for i in range(15)]}),
        ("card_digest", {"triage": True, "items": [tri, dict(tri, ticket_id=43)]}),
        (
            "followup",
            {"ref": REF, "text": user, "label": "企业补充", "ticket_id": 42, "reply_role": "card"},
        ),
        (
            "copy",
            {
                "ref": REF,
                "text": user,
                "label": "企业补充",
                "ticket_id": 42,
                "from_chat_id": 555,
                "message_id": 9,
                "reply_role": "triage",
            },
        ),
        ("progress_ok", {"ref": REF}),
        ("ask_resolve", {"ref": REF, "who": user, "ticket_id": 42}),
        ("ask_resolve", {"ref": REF, "who": user, "ticket_id": 42, "private": True}),
        ("key_assigned", {"enterprise": user, "flag": f"【重点企业·{user}】", "name": user}),
        ("key_removed", {"enterprise": user}),
        ("ask_return", {"ref": REF, "who": user, "ticket_id": 42}),
        ("bound", {"code": "TAX", "name": user}),
        ("done_usage", {}),
        ("bind_usage", {}),
        ("escalate_usage", {}),
        ("leader_usage", {}),
        ("info", {"message": user}),
        (
            "group_unreachable",
            {
                "department": "生态环境局",
                "code": "ENV",
                "title": user,
                "reason": "群组不存在或机器人已不在群内",
                "ref": "TD20261201-0001",
            },
        ),
        ("sla_nudge", dict(base, respond_by="2026-12-01（周二）13:00", reply_role="card")),
        ("sla_warn", dict(base, label="已用时80%", reply_role="card")),
        ("sla_urge", dict(sla, step="urge", label="催办", level=0, reply_role="card")),
        ("sla_level", dict(sla, step="topic", label="专题会", level=2, reply_role="card")),
        ("sla_consult", dict(sla, step="consult", label="会商", level=1)),
        ("sla_agenda", dict(sla, step="leaders", label="领导小组", level=3)),
        ("calendar_missing", {"years": [2027], "today": "2026-12-01"}),
        ("need_info", dict(base, need=user)),
        ("ask_wait", {"ref": REF, "who": user, "ticket_id": 42}),
        ("ask_extend", {"ref": REF, "who": user, "ticket_id": 42}),
        ("extension_request", dict(ext, edit=False)),
        ("extension_request", dict(ext, edit=True, approved=True)),
        ("extension_request", dict(ext, edit=True, approved=False)),
        ("extension_decided", dict(ext, approved=True, reply_role="card")),
        ("extension_decided", dict(ext, approved=False, reply_role="card")),
        ("extension_sent", ext),
        ("extended", base),
        *manager_cases(base, user),
    ]


def manager_cases(base: dict[str, Any], user: str) -> list[tuple[str, dict[str, Any]]]:
    from desk.stats import Figures

    figures = Figures(received=3, dispatched=2, responded=1, resolved=1).as_dict()
    empty = Figures().as_dict()
    rank_row = {"code": "TAX", "name": user, "score": 0.5, **figures}
    item = {
        "ticket_id": 42,
        "ref": REF,
        "department": user,
        "status_label": "办理中",
        "deadline": base["deadline"],
        "late": True,
        "hours": 3.5,
        "urgent": True,
        "level": 1,
    }
    event = {"at": "11-30 09:00", "who": user, "what": "督办", "note": user}
    return [
        ("stats", {"label": "今日（11月30日）", "scope": user, "figures": figures}),
        (
            "stats",
            {
                "label": "本月",
                "scope": user,
                "figures": empty,
                "code": "TAX",
                "open": 2,
                "open_overdue": 1,
            },
        ),
        ("rank", {"label": "2026年11月", "rows": [rank_row, dict(rank_row, score=None)]}),
        ("rank", {"label": "2026年11月", "rows": []}),
        (
            "overdue_list",
            {"items": [item, dict(item, late=False, level=0)], "total": 30, "overdue": 12},
        ),
        ("overdue_list", {"items": [], "total": 0, "overdue": 0}),
        ("supervision", dict(item, by=user, text=user, reply_role="card")),
        ("timeline", dict(base, events=[event] * 3)),
        ("timeline", dict(base, events=[dict(event, note=user * 20)] * 400)),
        (
            "daily_digest",
            {
                "date": "11月30日",
                "department": user,
                "open": 3,
                "unclaimed": 1,
                "today": 1,
                "late": 1,
                "items": [item],
            },
        ),
        ("document", {"file_id": 5, "name": "a.docx", "caption": user}),
        ("grant_usage", {}),
        ("manager_help", {}),
        (
            "liaison_ask",
            {
                "report_id": 3,
                "n": 1,
                "total": 7,
                "title": "指标推进情况",
                "hint": "本月推进的营商环境指标",
                "current": "",
                "files": 0,
                "month": "2026年12月",
                "first": True,
                "department": user,
            },
        ),
        (
            "liaison_ask",
            {
                "report_id": 3,
                "n": 6,
                "total": 7,
                "title": "走访企业情况",
                "hint": "走访的企业",
                "current": user,
                "files": 2,
                "month": "2026年12月",
                "editing": True,
                "dropped": 2,
                "error": user,
            },
        ),
        (
            "liaison_review",
            {
                "report_id": 3,
                "department": user,
                "month": "2026年12月",
                "due": "12月25日",
                "parts": [["指标推进情况", user, 1]] + [["任务推进情况", "", 0]] * 6,
                "locked": False,
                "submitted_at": "",
                "author": "",
                "note": user,
            },
        ),
        (
            "liaison_review",
            {
                "report_id": 3,
                "department": user,
                "month": "2026年12月",
                "due": "12月25日",
                "parts": [["指标推进情况", user * 100, 3]] * 7,
                "locked": True,
                "submitted_at": "2026-12-24 10:00",
                "author": user,
            },
        ),
        (
            "liaison_remind",
            {"department": user, "month": "2026年12月", "due": "12月25日", "late": False},
        ),
        (
            "liaison_remind",
            {"department": user, "month": "2026年12月", "due": "12月25日", "late": True},
        ),
        (
            "liaison_late",
            {"month": "2026年12月", "due": "12月25日", "missing": [[user, user]], "total": 3},
        ),
        ("liaison_late", {"month": "2026年12月", "due": "12月25日", "missing": [], "total": 3}),
    ]


REALISTIC = kind_cases(ticket_params, "张三（经办人）")
HOSTILE = kind_cases(evil_ticket_params, EVIL)


def test_every_kind_has_a_case() -> None:
    assert {k for k, _ in REALISTIC} == set(R._RENDERERS)


@pytest.mark.parametrize(("kind", "params"), REALISTIC, ids=[k for k, _ in REALISTIC])
def test_every_kind_renders(kind: str, params: dict[str, Any]) -> None:
    ops = R.render(kind, params)
    assert ops
    for op in ops:
        text = op_text(op)
        assert text.strip()
        assert "{" not in text and "}" not in text, "unfilled template field"
        assert utf16_len(text) <= (1024 if isinstance(op, R.Copy | R.Document) else R.LIMIT)
        for label, data in buttons(op):
            assert label
            assert len(data.encode()) <= 64
            assert cb.parse(data) is not None, data
    if kind not in {"copy", "copy_progress", "document", "progress_file"}:
        assert all(isinstance(op, R.Send | R.Edit) for op in ops)


@pytest.mark.parametrize(("kind", "params"), HOSTILE, ids=[k for k, _ in HOSTILE])
def test_user_text_is_escaped(kind: str, params: dict[str, Any]) -> None:
    for op in R.render(kind, params):
        text = op_text(op)
        assert "<script" not in text
        # The only markup left is the renderer's own bold tags …
        assert re.sub(r"</?b>", "", text).count("<") == 0
        # … and every ampersand starts an entity.
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", text)
        if "&lt;script&gt;" in text:
            assert "alert(&quot;x&quot;)" in text
            assert "&#x27;quoted&#x27;" in text
            assert "&lt;b&gt;bold&lt;/b&gt;" in text


@pytest.mark.parametrize(
    "kind",
    [
        "error",
        "welcome_back",
        "draft_confirm",
        "claimed",
        "progress",
        "visit",
        "card",
        "triage_card",
        "card_digest",
        "supervision",
        "timeline",
        "rank",
        "followup",
        "ask_resolve",
        "bound",
        "reg_done",
        "reg_ask_code",
    ],
)
def test_hostile_text_is_shown_not_dropped(kind: str) -> None:
    params = next(p for k, p in HOSTILE if k == kind)
    texts = "\n".join(op_text(op) for op in R.render(kind, params))
    assert "&lt;script&gt;" in texts
    assert EVIL in visible(texts)


def test_guide_answer_never_reads_as_the_draft_to_confirm() -> None:
    """The draft follows the answer and is the message with 确认: the answer has no 确认,
    not even in catalog text, and its buttons are 已解决 and 仍需人工."""
    params = dict(guide_item("x"), answer_id=7, question="x", conditions="已办理登记信息确认")
    (op,) = R.render("guide_answer", params)
    assert isinstance(op, R.Send) and op.buttons is not None
    assert "确认" not in op.text and "登记信息确\u2060认" in op.text
    labels = [label for row in op.buttons for label, _ in row]
    assert labels == [T.BTN["guide_ok"], T.BTN["guide_human"]]
    assert not any("确认" in label for label in labels)


def test_unknown_kind_falls_back_to_escaped_message() -> None:
    (op,) = R.render("no_such_kind", {"message": "<i>hi</i>"})
    assert isinstance(op, R.Send) and op.text == "&lt;i&gt;hi&lt;/i&gt;"
    (op,) = R.render("no_such_kind", {})
    assert isinstance(op, R.Send) and op.text == "no_such_kind"


# ---------------------------------------------------------------- split_html


def long_text(n: int, *, seed: int = 0) -> str:
    """A request of ``n`` characters with lines of varying length and '&', '<', '>' inside."""
    pieces = [
        "企业反映：",
        "A&B公司",
        "<附件>",
        "税款 & 社保",
        "\n",
        "「退税」",
        '"引号"',
        "'单引号'",
        "x" * 37,
        "\n\n",
        "长" * 150,
        "&amp;",
        "1<2>0",
    ]
    out: list[str] = []
    i = seed
    while sum(map(len, out)) < n:
        out.append(pieces[i % len(pieces)])
        i += 7
    return "".join(out)[:n]


def unsplit(parts: list[str], head: str, ref: str = "") -> str:
    """The body back from split parts: head and continuation markers removed, unescaped."""
    total = len(parts)
    body = []
    for n, part in enumerate(parts, start=1):
        if n == 1:
            assert part.startswith(head)
            part = part[len(head) :]
        else:
            marker = (f"<b>{ref}</b>" if ref else "") + T.CONTINUED.format(n=n, total=total)
            assert part.startswith(marker + "\n"), part[:60]
            part = part[len(marker) + 1 :]
        body.append(html.unescape(part))
    return "".join(body)


@pytest.mark.parametrize("n", [0, 1, 100, 4000, 4096, 4097, 5000, 10_000, 20_000])
@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("ref", ["", REF])
def test_split_html_round_trip(n: int, seed: int, ref: str) -> None:
    head = f"📎 工单 <b>{REF}</b> 企业补充：\n"
    text = long_text(n, seed=seed)
    parts = R.split_html(head, text, ref=ref)
    assert all(len(p) <= R.LIMIT for p in parts)
    assert unsplit(parts, head, ref) == text
    if len(text) < 3000:
        assert len(parts) == 1


def test_split_html_worst_case_escaping() -> None:
    text = "&" * 3000 + "\n" + '"' * 3000 + "<" * 3000
    parts = R.split_html("<b>head</b>\n", text)
    assert len(parts) >= 5
    assert all(len(p) <= R.LIMIT for p in parts)
    assert unsplit(parts, "<b>head</b>\n") == text
    # an entity is never cut in two
    for p in parts:
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", p)


def test_split_html_prefers_line_ends() -> None:
    text = ("第一行内容。" * 20 + "\n") * 100
    parts = R.split_html("", text)
    assert len(parts) > 1
    for p in parts[:-1]:
        assert p.endswith("\n")


def test_split_html_one_huge_line() -> None:
    text = "无换行" * 5000
    parts = R.split_html("头\n", text)
    assert all(len(p) <= R.LIMIT for p in parts)
    assert unsplit(parts, "头\n") == text


def test_split_html_counts_utf16_units() -> None:
    text = "办结了吗？😀" * 2000
    parts = R.split_html("头\n", text)
    assert all(utf16_len(p) <= R.LIMIT for p in parts)


def test_progress_and_followup_split_long_text() -> None:
    text = long_text(12_000)
    ops = R.render("progress", {"ref": REF, "text": text, "ticket_id": 1, "department": "税务局"})
    assert len(ops) >= 3
    assert all(isinstance(o, R.Send) and len(o.text) <= R.LIMIT for o in ops)
    head, tail = T.PROGRESS.split("{text}")
    head = head.format(ref=REF, department="税务局")
    assert unsplit([op_text(o) for o in ops], head, REF) == text + tail
    ops = R.render(
        "followup",
        {"ref": REF, "text": text, "label": "企业补充", "ticket_id": 1, "reply_role": "card"},
    )
    assert len(ops) >= 3
    assert all(isinstance(o, R.Send) and o.reply_role == "card" for o in ops)
    head = T.FOLLOWUP.split("{text}")[0].format(ref=REF, label="企业补充")
    assert unsplit([op_text(o) for o in ops], head, REF) == text


# ---------------------------------------------------------------- cards


def card_body(first: R.Op, continued: bool) -> str:
    """The request text shown on a card (after the separator line), unescaped."""
    shown = op_text(first).split("——————\n", 1)[1]
    if continued:
        assert shown.endswith("…")
        shown = shown[:-1]
    return html.unescape(shown)


@pytest.mark.parametrize(
    "text",
    [
        ("我们公司出口退税申报后一直没有到账，已经三个月了。" * 400)[:10_000],
        ("第一行：企业反映 A&B 两家公司<附件>未到。\n" * 500)[:10_000],
    ],
)
def test_long_request_card_has_buttons_first_and_continuations(text: str) -> None:
    assert len(text) == 10_000
    p = dict(
        ticket_params(text=text),
        actions=["claim", "transfer", "return"],
        note="",
        picker=None,
        edit=False,
    )
    ops = R.render("card", p)
    first, rest = ops[0], ops[1:]
    assert isinstance(first, R.Send)
    assert [label for label, _ in buttons(first)] == [
        T.BTN["claim"],
        T.BTN["transfer"],
        T.BTN["return"],
    ]
    assert len(first.text) <= R.LIMIT
    assert rest, "the rest of the request follows"
    shown = card_body(first, continued=True)
    assert len(shown) >= 1500  # the card shows a good part of the request
    assert text.startswith(shown)
    cont_head = f"<b>{REF}</b> 诉求全文（续）\n"
    for op in rest:
        assert isinstance(op, R.Send)
        assert op.buttons is None
        assert op.reply_role == "card"
        assert len(op.text) <= R.LIMIT
    assert shown + unsplit([op_text(o) for o in rest], cont_head, REF) == text


def test_long_request_triage_card_continues_as_reply_to_triage_card() -> None:
    text = "企业反映问题。" * 1500
    p = dict(
        ticket_params(text=text, status="triage"),
        candidates=[["TAX", "税务局", 2.0]],
        confidence=0.3,
        note="",
        picker=None,
        edit=False,
        actions=["dispatch"],
    )
    ops = R.render("triage_card", p)
    assert len(ops) >= 3
    assert buttons(ops[0])
    assert all(isinstance(o, R.Send) and o.reply_role == "triage" for o in ops[1:])


def test_short_card_is_one_message() -> None:
    p = dict(ticket_params(), actions=["claim"], note="", picker=None, edit=False)
    assert len(R.render("card", p)) == 1


def test_short_card_ending_with_ellipsis_is_one_message() -> None:
    text = "退税款一直没到账，怎么办……"
    p = dict(ticket_params(text=text), actions=["claim"], note="", picker=None, edit=False)
    (op,) = R.render("card", p)
    assert card_body(op, continued=False) == text


@pytest.mark.parametrize(("kind", "role"), [("card", "card"), ("triage_card", "triage")])
def test_edit_gives_one_edit_op(kind: str, role: str) -> None:
    text = "很长的诉求。" * 2000
    p = dict(
        ticket_params(text=text),
        actions=["resolve"],
        note="已认领",
        picker=None,
        edit=True,
        candidates=[],
        confidence=0.1,
    )
    ops = R.render(kind, p)
    assert len(ops) == 1
    (op,) = ops
    assert isinstance(op, R.Edit)
    assert op.role == role
    assert len(op.text) <= R.LIMIT
    assert text.startswith(card_body(op, continued=True))


@pytest.mark.parametrize(
    ("status", "labels"),
    [
        (TicketStatus.DISPATCHED, ["claim", "transfer", "return"]),
        (TicketStatus.REOPENED, ["claim", "transfer", "return"]),
        (TicketStatus.CLAIMED, ["resolve", "wait", "extend", "transfer", "return"]),
        (TicketStatus.WAITING, ["resolve", "extend", "transfer", "return"]),
        (TicketStatus.RESOLVED, []),
        (TicketStatus.CLOSED, []),
        (TicketStatus.TRIAGE, []),
        (TicketStatus.CANCELLED, []),
    ],
)
def test_card_buttons_follow_the_state(status: TicketStatus, labels: list[str]) -> None:
    actions = card_actions(Ticket(status=status))
    assert actions == labels
    p = dict(ticket_params(status=status.value), actions=actions, note="", picker=None, edit=False)
    (op,) = R.render("card", p)
    got = buttons(op)
    assert [label for label, _ in got] == [T.BTN[a] for a in labels]
    assert [data for _, data in got] == [f"t:42:{a}" for a in labels]


def test_claimed_card_has_resolve_button() -> None:
    actions = card_actions(Ticket(status=TicketStatus.CLAIMED))
    p = dict(
        ticket_params(status="claimed", status_label="办理中", claimant="李四"),
        actions=actions,
        note="",
        picker=None,
        edit=True,
    )
    (op,) = R.render("card", p)
    assert isinstance(op, R.Edit)
    assert ("✅ 办结", "t:42:resolve") in buttons(op)
    assert "承办人：李四" in op.text


def test_card_picker_offers_departments_and_back() -> None:
    picker = [["ENV", "生态环境局"], ["DRC", "发改局"], ["HRS", "人社局"], ["MKT", "市场监管局"]]
    p = dict(ticket_params(), actions=["claim"], note="", picker=picker, edit=True)
    (op,) = R.render("card", p)
    rows = op.buttons
    assert rows is not None
    assert [len(r) for r in rows] == [3, 1, 1]
    assert rows[0][0] == ("生态环境局", "t:42:to:ENV")
    assert rows[-1] == [(T.BTN["back"], "t:42:back")]


def test_triage_card_suggests_top_candidates() -> None:
    cands = [
        ["TAX", "税务局", 3.0],
        ["DRC", "发改局", 1.5],
        ["HRS", "人社局", 1.0],
        ["ENV", "生态环境局", 0.5],
    ]
    p = dict(
        ticket_params(status="triage"),
        candidates=cands,
        confidence=0.42,
        note="",
        picker=None,
        edit=False,
        actions=["dispatch"],
    )
    (op,) = R.render("triage_card", p)
    rows = op.buttons
    assert rows is not None
    assert rows[0] == [
        ("→ 税务局", "t:42:dispatch:TAX"),
        ("→ 发改局", "t:42:dispatch:DRC"),
        ("→ 人社局", "t:42:dispatch:HRS"),
    ]
    assert rows[1] == [(T.BTN["more"], "t:42:pick")]
    assert "42%" in op.text


def test_reopened_card_says_so() -> None:
    p = dict(
        ticket_params(status="reopened", reopen_count=2),
        actions=["claim"],
        note="",
        picker=None,
        edit=False,
    )
    (op,) = R.render("card", p)
    assert op.text.startswith("🔁")
    assert "第2次" in op.text


# ---------------------------------------------------------------- return visit


def test_visit_buttons() -> None:
    p = ticket_params(status="resolved", result="已为企业办理退税。")
    (op,) = R.render("visit", p)
    assert isinstance(op, R.Send)
    got = buttons(op)
    labels = [label for label, _ in got]
    for word in ("已解决", "未解决", "满意", "基本满意", "不满意"):
        assert word in labels
    assert [data for _, data in got] == ["v:42:s1", "v:42:s0", "v:42:m3", "v:42:m2", "v:42:m1"]
    assert "已为企业办理退税。" in op.text


def test_visit_partial_keeps_the_missing_half() -> None:
    p = ticket_params(status="resolved", result="ok", edit=True, solved=True, satisfaction=None)
    (op,) = R.render("visit", p)
    assert isinstance(op, R.Edit) and op.role == "visit"
    assert [label for label, _ in buttons(op)] == ["满意", "基本满意", "不满意"]
    assert "已选择：已解决" in op.text


def test_visit_done_has_no_buttons() -> None:
    p = ticket_params(
        status="closed", result="ok", edit=True, done=True, solved=True, satisfaction="满意"
    )
    (op,) = R.render("visit", p)
    assert isinstance(op, R.Edit) and not op.buttons
    assert "感谢您的评价：已解决／满意" in op.text
    p = ticket_params(status="closed", result="ok", edit=True, done=True, expired=True)
    (op,) = R.render("visit", p)
    assert T.VISIT_EXPIRED in op.text and not op.buttons


LONG_RESULT = "经核实，贵公司退税款已于6月3日退付 & 到账；<附件>请查收。\n" * 200


def test_visit_long_result_comes_whole_then_the_visit() -> None:
    ops = R.render("visit", ticket_params(status="resolved", result=LONG_RESULT))
    assert len(ops) >= 3
    *full, visit = ops
    assert all(isinstance(o, R.Send) and not o.buttons for o in full)
    assert all(len(op_text(o)) <= R.LIMIT for o in ops)
    head = T.RESULT_FULL.format(ref=REF) + "\n"
    assert unsplit([op_text(o) for o in full], head, REF) == LONG_RESULT  # escaped once
    assert isinstance(visit, R.Send)
    assert [label for label, _ in buttons(visit)] == [
        "已解决",
        "未解决",
        "满意",
        "基本满意",
        "不满意",
    ]
    assert len(visit.text) <= R.LIMIT
    assert "&amp;amp;" not in visit.text
    assert LONG_RESULT[:200] in visible(visit.text)


@pytest.mark.parametrize("done", [True, False])
def test_visit_edit_of_long_result_fits(done: bool) -> None:
    p = ticket_params(
        status="closed",
        result=LONG_RESULT,
        edit=True,
        done=done,
        solved=True,
        satisfaction="满意" if done else None,
    )
    (op,) = R.render("visit", p)
    assert isinstance(op, R.Edit) and op.role == "visit"
    assert utf16_len(op.text) <= R.LIMIT
    assert bool(op.buttons) is not done


@pytest.mark.parametrize("kind", ["card", "triage_card"])
def test_card_with_long_note_fits(kind: str) -> None:
    note = "税务局退回：" + "该事项不属于本部门职责，请转市场监管局。" * 400
    p = dict(
        ticket_params(status="triage"),
        actions=[],
        note=note,
        picker=None,
        edit=False,
        candidates=[],
        confidence=0.0,
    )
    for op in R.render(kind, p):
        assert utf16_len(visible(op_text(op))) <= R.LIMIT


def test_a_digest_gives_each_ticket_its_own_buttons_and_fits_one_message() -> None:
    long = "很长的诉求" * 400
    items = [
        {
            "ticket_id": 100 + i,
            "ref": f"TD20261129-{i:04d}",
            "type": "求助",
            "urgent": i == 3,
            "deadline": "2026-12-04（周五）17:30",
            "enterprise": "天津泰达某某科技有限公司" * 5,
            "text": long,
        }
        for i in range(15)
    ]
    (op,) = R.render("card_digest", {"items": items})
    assert isinstance(op, R.Send)
    assert utf16_len(op.text) <= R.LIMIT
    assert "新工单汇总" in op.text and "（15 件）" in op.text and "🚨紧急" in op.text
    datas = [d for _, d in buttons(op)]
    assert [d for d in datas if d.endswith(":claim")] == [f"t:{100 + i}:claim" for i in range(15)]
    assert [d for d in datas if d.endswith(":show")] == [f"t:{100 + i}:show" for i in range(15)]
    for i in range(15):
        assert f"TD20261129-{i:04d}" in op.text
    (triage,) = R.render("card_digest", {"triage": True, "items": items[:2]})
    assert [d for _, d in buttons(triage)] == [
        "t:100:pick",
        "t:100:tshow",
        "t:101:pick",
        "t:101:tshow",
    ]


def test_key_flags_on_card_ack_and_butler_prompt() -> None:
    """A key enterprise's card carries its flag (and the butler's copy says so); the ack
    tells the enterprise; a prompt in the butler's private chat does not say "in this group"."""
    p = dict(ticket_params(), actions=["claim"], note="", picker=None, edit=False)
    plain = op_text(R.render("card", p)[0])
    assert "重点" not in plain and "管家" not in plain
    (op,) = R.render("card", dict(p, key="【重点项目·新材料基地】", butler=True))
    text = visible(op_text(op))
    assert "⭐【重点项目·新材料基地】" in text and "管家抄送" in text
    assert [label for label, _ in buttons(op)] == [T.BTN["claim"]]
    ack = visible(op_text(R.render("ack", dict(ticket_params(), key="【重点企业】"))[0]))
    assert ack.startswith("⭐【重点企业】") and "专属管家" in ack
    ask = {"ref": REF, "who": "王管家", "ticket_id": 1}
    assert "在本群" in op_text(R.render("ask_resolve", ask)[0])
    private = op_text(R.render("ask_resolve", dict(ask, private=True))[0])
    assert "在本群" not in private and "在此" in private


def test_a_digest_keeps_the_key_flag_and_who_filed_it() -> None:
    """A burst digest shows what the full card shows: a key enterprise's flag, a grid worker."""
    base = {
        "type": "求助",
        "urgent": False,
        "deadline": "2026-12-04（周五）17:30",
        "enterprise": "天津泰达示例有限公司",
        "text": "厂区门口道路积水",
    }
    items = [
        dict(base, ticket_id=1, ref="TD20261129-0001", key="【重点项目·<泰达>】"),
        dict(base, ticket_id=2, ref="TD20261129-0002", filed_by="孙网格"),
        dict(base, ticket_id=3, ref="TD20261129-0003"),
    ]
    (op,) = R.render("card_digest", {"items": items})
    assert isinstance(op, R.Send)
    first, second, third = op.text.split("\n")[2:][0::2][:3]
    assert "⭐【重点项目·&lt;泰达&gt;】" in first and "TD20261129-0001" in first
    assert "网格员孙网格代报" in op.text and "⭐" not in second
    assert "⭐" not in third and op.text.count("代报") == 1
