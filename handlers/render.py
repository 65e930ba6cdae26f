"""Turning outbox messages (a kind and its params) into Telegram operations.

Pure functions: no I/O. The sender in ``bot`` executes the operations. All user text is HTML
escaped here, and texts longer than Telegram's 4096 characters are split into parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from desk.stats import percent

from . import callbacks as cb
from . import texts as T

LIMIT = 4096
VISIT_RESULT_LIMIT = 2500  # result shown on the return-visit message
CARD_TEXT_LIMIT = 2500  # request text shown on a card; the rest follows as continuation parts
DIGEST_TEXT = 60  # request excerpt per ticket in a burst digest

Buttons = list[list[tuple[str, str]]]


@dataclass
class Send:
    """Send a text message (HTML), optionally with inline buttons or as a reply."""

    text: str
    buttons: Buttons | None = None
    reply_role: str | None = None  # reply to this ticket's message of that role in the chat
    contact_button: str | None = None  # a reply keyboard asking for the user's phone
    remove_keyboard: bool = False


@dataclass
class Edit:
    """Edit this ticket's message of ``role`` in the chat; send anew if there is none."""

    role: str
    text: str
    buttons: Buttons | None = None


@dataclass
class Copy:
    """Copy a user's message (photo, document) into another chat with a caption."""

    from_chat_id: int
    message_id: int
    caption: str
    reply_role: str | None = None


@dataclass
class Document:
    """Send a stored file (``OutboxFile``), e.g. the monthly briefing, with a caption."""

    file_id: int
    caption: str


Op = Send | Edit | Copy | Document


@dataclass
class Rendered:
    ops: list[Op] = field(default_factory=list)


def split_html(head: str, body: str, *, limit: int = LIMIT, ref: str = "") -> list[str]:
    """``head`` (HTML) + escaped ``body``, split into parts that each fit ``limit``.

    The body is split on raw characters (preferring line ends) and escaped per part, so an
    entity such as ``&amp;`` is never cut in two. Continuation parts start with ``ref`` so every
    message about a ticket carries its reference.
    """
    first_room = limit - _u16(head) - 40
    parts: list[str] = []
    raw = body
    room = first_room
    while True:
        chunk = _take(raw, room)
        parts.append(escape(chunk))
        raw = raw[len(chunk) :]
        if not raw:
            break
        room = limit - 60
    if len(parts) == 1:
        return [head + parts[0]]
    total = len(parts)
    out = [head + parts[0]]
    for n, part in enumerate(parts[1:], start=2):
        out.append(
            f"<b>{ref}</b>" * bool(ref) + T.CONTINUED.format(n=n, total=total) + "\n" + part
        )
    return out


def _u16(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _take(raw: str, room: int) -> str:
    """The longest prefix of ``raw`` whose escaped form fits ``room``, cut at a line end."""
    size, end = 0, 0
    for i, ch in enumerate(raw):
        size += len(escape(ch)) + (ord(ch) > 0xFFFF)  # Telegram counts UTF-16 units
        if size > room:
            break
        end = i + 1
    if end >= len(raw):
        return raw
    cut = raw.rfind("\n", 0, end)
    return raw[: cut + 1] if cut > end // 2 else raw[:end]


def _sends(head: str, body: str, *, ref: str = "", **kw: Any) -> list[Op]:
    parts = split_html(head, body, ref=ref)
    ops: list[Op] = [Send(text=p) for p in parts[:-1]]
    ops.append(Send(text=parts[-1], **kw))
    return ops


def render(kind: str, p: dict[str, Any]) -> list[Op]:
    """The Telegram operations for one outbox message."""
    fn = _RENDERERS.get(kind)
    if fn is None:
        return [Send(text=escape(p.get("message") or kind))]
    return fn(p)


# ---------------------------------------------------------------- registration


def _reg(step: str) -> Any:
    def fn(p: dict[str, Any]) -> list[Op]:
        lines = []
        if p.get("first"):
            lines.append(T.WELCOME)
        if p.get("error"):
            lines.append(T.ERROR.format(message=escape(p["error"])))
        lines.append(T.REG_STEPS[step])
        return [
            Send(
                text="\n".join(lines),
                contact_button=T.BTN["share_phone"] if step == "phone" else None,
            )
        ]

    return fn


def _reg_done(p: dict[str, Any]) -> list[Op]:
    text = T.REG_DONE.format(
        enterprise=escape(p["enterprise"]),
        credit_code=escape(p.get("credit_code") or "未提供"),
        contact=escape(p["contact"]),
        phone=escape(p["phone"]),
    )
    if p.get("joined"):
        text += "\n" + T.REG_JOINED
    return [Send(text=text, remove_keyboard=True)]


def _escaped(p: dict[str, Any]) -> dict[str, Any]:
    """The params with every string HTML-escaped, ready for a template."""
    return {k: escape(v) if isinstance(v, str) else v for k, v in p.items()}


def _fixed(text: str) -> Any:
    return lambda p: [Send(text=text)]


def _ask(template: str) -> Any:
    """A staff prompt; for a butler in its private chat "在本群" reads "在此"."""

    def fn(p: dict[str, Any]) -> list[Op]:
        text = template.format(**_escaped(p))
        if p.get("private"):
            text = text.replace("在本群", "在此")
        return [Send(text=text)]

    return fn


def _fmt(template: str, **extra: str) -> Any:
    """A template filled with the escaped params."""

    def fn(p: dict[str, Any]) -> list[Op]:
        values = _escaped(p)
        values.update(extra)
        return [Send(text=template.format(**values))]

    return fn


# ---------------------------------------------------------------- enterprise side


def _draft_confirm(p: dict[str, Any]) -> list[Op]:
    rows: Buttons = [[(T.BTN["confirm"], cb.draft(p["draft_id"], "ok"))]]
    for tid, ref in p.get("open", []):
        rows.append([(T.BTN["add_to"].format(ref=ref), cb.draft(p["draft_id"], "add", str(tid)))])
    rows.append([(T.BTN["discard"], cb.draft(p["draft_id"], "no"))])
    head, tail = T.DRAFT_CONFIRM.split("{text}")
    if p.get("open"):
        tail += "\n" + T.DRAFT_CONFIRM_OPEN
    text = p["text"]
    if len(text) > 1500:
        text = text[:1500] + f"…（共{len(p['text'])}字）"
    return [Send(text=head + escape(text) + tail, buttons=rows)]


# Characters of catalog text one guide message shows (Telegram's limit is 4,096 in all).
GUIDE_BUDGET = 3000


def _guide_body(p: dict[str, Any]) -> str:
    """One service item: name, department, then each filled field (lists numbered).

    Catalog text is clipped before it is escaped (never inside an entity or a tag), field by
    field, so a long entry still fits one message with its buttons.
    """
    left = GUIDE_BUDGET

    def clip(value: str) -> str:
        nonlocal left
        units, end = 0, 0
        for end, ch in enumerate(value):  # noqa: B007 - ``end`` is used after the loop
            units += 2 if ord(ch) > 0xFFFF else 1  # Telegram counts UTF-16 units
            if units > left:
                break
        else:
            end = len(value)
        shown = value if end >= len(value) else value[:end] + "…"
        left -= units
        return escape(shown)

    name, dept = str(p.get("name") or "")[:128], str(p.get("department") or "")[:64]
    lines = [T.GUIDE_ITEM.format(name=escape(name), department=escape(dept))]
    for key, label in T.GUIDE_FIELDS.items():
        if left <= 0:
            break
        value = p.get(key)
        if isinstance(value, list):
            entries = [str(v).strip() for v in value if str(v).strip()]
            if entries:
                numbered = "\n".join(f"{i}. {v}" for i, v in enumerate(entries, 1))
                lines.append(f"<b>{label}</b>\n{clip(numbered)}")
        elif value and str(value).strip():
            lines.append(f"<b>{label}</b>：{clip(str(value).strip())}")
    return "\n".join(lines)


# The draft sent right after a guide answer is "the message with 确认" (its button word):
# catalog text such as 登记信息确认 must not make the answer look like it to whoever looks for
# that word. A word joiner (invisible, no line break) keeps the two characters apart.
_NOT_CONFIRM = ("确认", "确\u2060认")


def _guide_answer(p: dict[str, Any]) -> list[Op]:
    body = _guide_body(p).replace(*_NOT_CONFIRM)
    text = f"{T.GUIDE_ANSWER_HEAD}\n\n{body}\n\n{T.GUIDE_ANSWER_TAIL}"
    rows: Buttons = [
        [
            (T.BTN["guide_ok"], cb.guide(p["answer_id"], "ok")),
            (T.BTN["guide_human"], cb.guide(p["answer_id"], "human")),
        ]
    ]
    return [Send(text=text, buttons=rows)]


def _guide_item(p: dict[str, Any]) -> list[Op]:
    return [Send(text=_guide_body(p))]


def _guide_menu(p: dict[str, Any]) -> list[Op]:
    depts = p.get("departments") or []
    if not depts:
        return [Send(text=T.GUIDE_MENU_EMPTY)]
    buttons = [
        (T.BTN["guide_dept"].format(name=name, count=count), cb.guide(int(dept_id), "dept"))
        for dept_id, name, count in depts
    ]
    rows: Buttons = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return [Send(text=T.GUIDE_MENU, buttons=rows)]


def _guide_list(p: dict[str, Any]) -> list[Op]:
    rows: Buttons = [
        [(str(name).strip()[:60] or "（未命名事项）", cb.guide(int(item_id), "item"))]
        for item_id, name in p["items"]
    ]
    return [Send(text=T.GUIDE_LIST.format(department=escape(p["department"])), buttons=rows)]


def _broadcast(p: dict[str, Any]) -> list[Op]:
    label = str(p.get("label") or "")
    text = T.BROADCAST.format(
        label=escape(label), title=escape(str(p["title"])), text=escape(str(p["text"]))
    )
    button = (T.BTN["unsubscribe"].format(label=label), cb.topic(int(p["topic_index"]), False))
    return [Send(text=text, buttons=[[button]])]


def _subscriptions(p: dict[str, Any]) -> list[Op]:
    rows: Buttons = [
        [
            (
                T.BTN["topic_on" if on else "topic_off"].format(label=label),
                cb.topic(int(index), not on),
            )
        ]
        for index, label, on in p["topics"]
    ]
    return [Send(text=T.SUBSCRIPTIONS, buttons=rows)]


def _match_posted(p: dict[str, Any]) -> list[Op]:
    industry = f"（{escape(p['industry'])}）" if p.get("industry") else ""
    text = T.MATCH_POSTED.format(
        label=escape(p["label"]),
        listing_id=p["listing_id"],
        industry=industry,
        text=escape(_clip(str(p["text"]), 1000)),
    )
    found = p.get("suggestions") or []
    if not found:
        return [Send(text=text + T.MATCH_NONE)]
    lines = []
    for i, (lid, label, ind, t) in enumerate(found, 1):
        where = f"（{escape(ind)}）" if ind else ""
        lines.append(f"{i}. 【{escape(label)}】编号 {lid}{where}：{escape(_clip(str(t), 200))}")
    return [Send(text=text + T.MATCH_SUGGESTIONS + "\n" + "\n".join(lines))]


def _match_ask(p: dict[str, Any]) -> list[Op]:
    mine_label = "泰服企" if p.get("other_label") == "泰企需" else "泰企需"
    text = T.MATCH_ASK.format(
        mine_label=mine_label,
        other_label=escape(p["other_label"]),
        industry=f"（{escape(p['industry'])}）" if p.get("industry") else "",
        other=escape(_clip(str(p["other"]), 1000)),
        mine=escape(_clip(str(p["mine"]), 1000)),
    )
    rows: Buttons = [
        [
            (T.BTN["match_yes"], cb.introduction(int(p["intro_id"]), True)),
            (T.BTN["match_no"], cb.introduction(int(p["intro_id"]), False)),
        ]
    ]
    return [Send(text=text, buttons=rows)]


def _match_connected(p: dict[str, Any]) -> list[Op]:
    values = {
        k: escape(_clip(str(p.get(k) or ""), 1000))
        for k in ("enterprise", "contact", "phone", "other")
    }
    return [Send(text=T.MATCH_CONNECTED.format(**values))]


# ---------------------------------------------------------------- liaison officers


def _liaison_ask(p: dict[str, Any]) -> list[Op]:
    lines = []
    if p.get("first"):
        lines.append(
            T.LIAISON_WELCOME.format(
                department=escape(str(p.get("department") or "")),
                month=escape(str(p.get("month") or "")),
                total=int(p.get("total") or 7),
            )
        )
    if p.get("error"):
        lines.append(T.ERROR.format(message=escape(str(p["error"]))))
    lines.append(
        T.LIAISON_ASK.format(
            n=int(p["n"]),
            total=int(p.get("total") or 7),
            title=escape(str(p["title"])),
            hint=escape(str(p["hint"])),
        )
    )
    if p.get("editing"):
        dropped = (
            f"，原有 {int(p['dropped'])} 个附件已清除，可重新发送" if p.get("dropped") else ""
        )
        lines.append(T.LIAISON_ASK_EDITING.format(dropped=dropped))
    if p.get("current"):
        lines.append(T.LIAISON_ASK_CURRENT.format(current=escape(_clip(str(p["current"]), 1000))))
    if p.get("files") and not p.get("editing"):
        lines.append(T.LIAISON_ASK_FILES.format(files=int(p["files"])))
    return [Send(text="\n".join(lines))]


def _liaison_review(p: dict[str, Any]) -> list[Op]:
    locked = bool(p.get("locked"))
    head = T.LIAISON_REVIEW.format(
        department=escape(str(p.get("department") or "")),
        month=escape(str(p.get("month") or "")),
        state="已提交" if locked else "草稿",
    )
    body = []
    for n, (title, text, files) in enumerate(p.get("parts") or [], 1):
        extra = f"（附件 {int(files)} 个）" if files else ""
        body.append(f"{n}. {title}{extra}：{_clip(str(text), 600) if text else '无'}")
    if locked:
        tail = T.LIAISON_REVIEW_LOCKED.format(
            submitted_at=escape(str(p.get("submitted_at") or "")),
            author=escape(str(p.get("author") or "")),
        )
        rows: Buttons | None = None
    else:
        tail = T.LIAISON_REVIEW_DRAFT.format(due=escape(str(p.get("due") or "")))
        rid = int(p["report_id"])
        edits = [
            (T.LIAISON_BTN_EDIT.format(n=n), cb.liaison(rid, "edit", str(n)))
            for n in range(1, len(p.get("parts") or []) + 1)
        ]
        rows = [edits[i : i + 4] for i in range(0, len(edits), 4)]
        rows.append(
            [
                (T.LIAISON_BTN_SUBMIT, cb.liaison(rid, "submit")),
                (T.LIAISON_BTN_DRAFT, cb.liaison(rid, "draft")),
            ]
        )
    if p.get("note"):
        tail = T.ERROR.format(message=escape(str(p["note"]))) + "\n" + tail
    parts = split_html(head + "\n", "\n".join(body) + "\n\n", limit=LIMIT - _u16(tail) - 2)
    ops: list[Op] = [Send(text=x) for x in parts[:-1]]
    ops.append(Send(text=parts[-1] + tail, buttons=rows))
    return ops


def _liaison_remind(p: dict[str, Any]) -> list[Op]:
    values = {
        "department": escape(str(p.get("department") or "")),
        "month": escape(str(p.get("month") or "")),
        "due": escape(str(p.get("due") or "")),
        "state": "已有草稿尚未提交" if p.get("draft") else "尚未填写",
    }
    template = T.LIAISON_REMIND_LATE if p.get("late") else T.LIAISON_REMIND
    buttons: Buttons = [[(T.LIAISON_BTN_START, cb.liaison(0, "start"))]]
    return [Send(text=template.format(**values), buttons=buttons)]


def _liaison_late(p: dict[str, Any]) -> list[Op]:
    missing = p.get("missing") or []
    values = {
        "month": escape(str(p.get("month") or "")),
        "due": escape(str(p.get("due") or "")),
        "total": int(p.get("total") or 0),
        "count": len(missing),
    }
    if not missing:
        return [Send(text=T.LIAISON_LATE_NONE.format(**values))]
    body = "\n".join(f"· {dept}（联络员：{people}）" for dept, people in missing)
    return _sends(T.LIAISON_LATE.format(**values) + "\n", body)


def _ack(p: dict[str, Any]) -> list[Op]:
    template = T.ACK if p.get("status") != "triage" else T.ACK_TRIAGE
    text = template.format(
        ref=p["ref"], department=escape(p["department"]), deadline=p["deadline"]
    )
    if p.get("filed_by"):
        head, _, tail = text.partition("\n")
        text = head + T.GRID_FILED_BY.format(name=escape(_clip(p["filed_by"], 64))) + "\n" + tail
    if p.get("key"):
        text = T.ACK_KEY.format(flag=escape(p["key"])) + "\n" + text
    buttons = [[(T.BTN["cancel_ticket"].format(ref=p["ref"]), cb.cancel(p["ticket_id"]))]]
    return [Send(text=text, buttons=buttons)]


def _visit(p: dict[str, Any]) -> list[Op]:
    result = p.get("result") or ""
    clipped = _take(result, VISIT_RESULT_LIMIT)  # by escaped UTF-16 units, like Telegram
    long_result = len(clipped) < len(result)
    shown = clipped + "…（全文见上一条消息）" if long_result else result
    text = T.VISIT.format(ref=p["ref"], department=escape(p["department"]), result=escape(shown))
    tid = p["ticket_id"]
    solved, satisfaction = p.get("solved"), p.get("satisfaction")
    rows: Buttons = []
    if p.get("done"):
        if p.get("expired"):
            text += "\n\n" + T.VISIT_EXPIRED
        else:
            text += "\n\n" + T.VISIT_DONE.format(chosen=escape(_chosen(p)))
    else:
        if solved is None:
            rows.append(
                [(T.BTN["solved"], cb.visit(tid, "s1")), (T.BTN["unsolved"], cb.visit(tid, "s0"))]
            )
        if satisfaction is None:
            rows.append(
                [
                    (T.BTN["m3"], cb.visit(tid, "m3")),
                    (T.BTN["m2"], cb.visit(tid, "m2")),
                    (T.BTN["m1"], cb.visit(tid, "m1")),
                ]
            )
        if solved is not None or satisfaction is not None:
            text += "\n\n" + T.VISIT_PARTIAL.format(chosen=escape(_chosen(p)))
    if p.get("edit"):
        return [Edit(role="visit", text=text, buttons=rows or None)]
    ops: list[Op] = []
    if long_result:  # the whole result first, in parts; the visit message carries the buttons
        head = T.RESULT_FULL.format(ref=p["ref"]) + "\n"
        ops.extend(Send(text=x) for x in split_html(head, result, ref=p["ref"]))
    ops.append(Send(text=text, buttons=rows or None))
    return ops


def _chosen(p: dict[str, Any]) -> str:
    solved = {True: "已解决", False: "未解决"}.get(p.get("solved"))  # type: ignore[arg-type]
    return "／".join(x for x in (solved, p.get("satisfaction")) if x)


def _progress(p: dict[str, Any]) -> list[Op]:
    head, tail = T.PROGRESS.split("{text}")
    head = head.format(ref=p["ref"], department=escape(p.get("department") or ""))
    return _sends(head, p["text"] + tail, ref=p["ref"])


def _copy_progress(p: dict[str, Any]) -> list[Op]:
    caption = T.PROGRESS_FILE.format(ref=p["ref"], department=escape(p.get("department") or ""))
    if p.get("text"):
        caption += "：" + escape(_take(p["text"], 700))
    return [Copy(from_chat_id=p["from_chat_id"], message_id=p["message_id"], caption=caption)]


def _progress_file(p: dict[str, Any]) -> list[Op]:
    """A file staff sent, fetched by the desk (for a chat it cannot copy into: the web)."""
    caption = T.PROGRESS_FILE.format(ref=p["ref"], department=escape(p.get("department") or ""))
    if p.get("text"):
        caption += "：" + escape(_take(p["text"], 700))
    return [Document(file_id=int(p["file_id"]), caption=caption)]


def _ticket_list(p: dict[str, Any]) -> list[Op]:
    items = p.get("items") or []
    if not items:
        return [Send(text=T.TICKET_LIST_EMPTY)]
    lines = [T.TICKET_LIST_HEAD.format(count=len(items))]
    rows: Buttons = []
    for n, item in enumerate(items, start=1):
        lines.append(
            T.TICKET_LIST_ITEM.format(
                n=n,
                ref=item["ref"],
                department=escape(item["department"]),
                status_label=item["status_label"],
                deadline=item["deadline"],
                text=escape(item["text"]),
            )
        )
        if item.get("can_cancel"):
            rows.append(
                [(T.BTN["cancel_ticket"].format(ref=item["ref"]), cb.cancel(item["ticket_id"]))]
            )
    return [Send(text="\n".join(lines), buttons=rows or None)]


# ---------------------------------------------------------------- groups


def _card(p: dict[str, Any]) -> list[Op]:
    tid = p["ticket_id"]
    reopened = p.get("status") == "reopened"
    head = T.CARD_HEAD.format(
        icon="🔁" if reopened else ("🚨" if p.get("urgent") else "🆕"),
        ref=p["ref"],
        urgent="｜紧急" if p.get("urgent") else "",
        type=p["type"],
        department=escape(p["department"]),
    )
    claimant = f"（承办人：{escape(p['claimant'])}）" if p.get("claimant") else ""
    lines = [head]
    if p.get("key"):  # a key project / key enterprise (desk.keyaccounts)
        lines.append("⭐" + escape(p["key"]))
    if p.get("butler"):
        lines.append(T.CARD_BUTLER)
    if reopened or p.get("reopen_count"):
        lines.append(T.CARD_REOPEN.format(n=p.get("reopen_count") or 1))
    lines.append(
        T.CARD_BODY.format(
            enterprise=escape(p["enterprise"]),
            contact=escape(p["contact"]),
            phone=escape(p["phone"]),
            deadline=p["deadline"],
            status_label=p["status_label"],
            claimant=claimant,
        )
    )
    if p.get("filed_by"):
        lines.append(T.CARD_FILED_BY.format(name=escape(_clip(p["filed_by"], 64))))
    if p.get("matched"):
        lines.append(T.CARD_MATCHED.format(terms=escape("、".join(p["matched"][:8]))))
    if p.get("result") and p.get("status") in ("resolved", "closed"):
        lines.append("办理结果：" + escape(_clip(p["result"], 800)))
    if p.get("note"):
        lines.append("📌 " + escape(_clip(p["note"], 500)))
    picker = p.get("picker")
    if picker:
        lines.append(T.PICK_DEPT)
    lines.append("——————")
    if picker:
        rows = _picker(picker, lambda code: cb.ticket(tid, "to", code))
        rows.append([(T.BTN["back"], cb.ticket(tid, "back"))])
    else:
        buttons = [(T.BTN[a], cb.ticket(tid, a)) for a in p.get("actions") or []]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return _card_ops(lines, p, rows)


def _triage_card(p: dict[str, Any]) -> list[Op]:
    tid = p["ticket_id"]
    lines = [
        T.TRIAGE_HEAD.format(
            ref=p["ref"], urgent="｜紧急" if p.get("urgent") else "", type=p["type"]
        )
    ]
    lines.append(
        T.CARD_BODY.format(
            enterprise=escape(p["enterprise"]),
            contact=escape(p["contact"]),
            phone=escape(p["phone"]),
            deadline=p["deadline"],
            status_label=p["status_label"],
            claimant="",
        )
    )
    if p.get("candidates"):
        lines.append(
            T.TRIAGE_SUGGEST.format(
                candidates=" / ".join(
                    f"{escape(name)} {score:g}" for _, name, score in p["candidates"]
                ),
                confidence=p.get("confidence") or 0.0,
            )
        )
    if p.get("matched"):
        lines.append(T.CARD_MATCHED.format(terms=escape("、".join(p["matched"][:8]))))
    if p.get("note"):
        lines.append("📌 " + escape(_clip(p["note"], 500)))
    if p.get("picker"):
        lines.append(T.PICK_DEPT)
    lines.append("——————")
    rows: Buttons = []
    if p.get("picker"):
        rows = _picker(p["picker"], lambda code: cb.ticket(tid, "dispatch", code))
        rows.append([(T.BTN["back"], cb.ticket(tid, "tback"))])
    elif "dispatch" in (p.get("actions") or []):
        top = [
            (f"→ {name}", cb.ticket(tid, "dispatch", code))
            for code, name, _ in (p.get("candidates") or [])[:3]
        ]
        if top:
            rows.append(top)
        rows.append([(T.BTN["more"], cb.ticket(tid, "pick"))])
    return _card_ops(lines, p, rows, role="triage")


def _card_digest(p: dict[str, Any]) -> list[Op]:
    """Several new cards of one group in one message, each with its own buttons."""
    items = p["items"]
    triage = bool(p.get("triage"))
    head = [
        T.DIGEST_HEAD.format(title="待分拨工单" if triage else "新工单", n=len(items)),
        T.DIGEST_NOTE.format(verb="分拨" if triage else "认领"),
    ]
    rows: Buttons = []
    for item in items:
        tid = item["ticket_id"]
        if triage:
            act = (T.BTN["digest_pick"].format(ref=item["ref"]), cb.ticket(tid, "pick"))
            show = (T.BTN["digest_show"], cb.ticket(tid, "tshow"))
        else:
            act = (T.BTN["digest_claim"].format(ref=item["ref"]), cb.ticket(tid, "claim"))
            show = (T.BTN["digest_show"], cb.ticket(tid, "show"))
        rows.append([act, show])
    # Shorter excerpts until the whole digest fits in one message.
    for clip in (DIGEST_TEXT, 24, 0):
        lines = head + [
            T.DIGEST_ITEM.format(
                i=i,
                ref=item["ref"],
                urgent="｜🚨紧急" if item.get("urgent") else "",
                key="｜⭐" + escape(_clip(item["key"], 60)) if item.get("key") else "",
                type=item["type"],
                deadline=item["deadline"],
                enterprise=escape(_clip(item["enterprise"], 40)),
                filed_by=T.DIGEST_FILED_BY.format(name=escape(_clip(item["filed_by"], 32)))
                if item.get("filed_by")
                else "",
                text=escape(_clip(" ".join((item.get("text") or "").split()), clip)),
            )
            for i, item in enumerate(items, 1)
        ]
        text = "\n".join(lines)
        if _u16(text) <= LIMIT:
            break
    return [Send(text=text, buttons=rows)]


# ---------------------------------------------------------------- managers


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _stats(p: dict[str, Any]) -> list[Op]:
    f = p["figures"]
    lines = [
        T.STATS_HEAD.format(label=escape(p["label"]), scope=escape(p["scope"])),
        T.STATS_COUNTS.format(**f),
        T.STATS_RATES.format(
            response=percent(f["response_rate"]),
            resolution=percent(f["resolution_rate"]),
            satisfaction=percent(f["satisfaction_rate"]),
        ),
        T.STATS_MORE.format(
            on_time=percent(f["on_time_rate"]),
            reopen=percent(f["reopen_rate"]),
            returned=percent(f["return_rate"]),
        ),
        T.STATS_HOURS.format(
            claim=_hours(f["avg_claim_hours"]), resolve=_hours(f["avg_resolve_hours"])
        ),
    ]
    if p.get("code"):
        lines.append(T.STATS_DEPT_NOW.format(open=p["open"], late=p["open_overdue"]))
    lines.append(T.STATS_FOOT)
    return [Send(text="\n".join(lines))]


def _rank(p: dict[str, Any]) -> list[Op]:
    lines = [T.RANK_HEAD.format(label=escape(p["label"]))]
    unranked = []
    n = 0
    for r in p["rows"]:
        if r["score"] is None:
            unranked.append(escape(r["name"]))
            continue
        n += 1
        lines.append(
            T.RANK_ROW.format(
                n=n,
                name=escape(r["name"]),
                score=percent(r["score"]),
                response=percent(r["response_rate"]),
                resolution=percent(r["resolution_rate"]),
                satisfaction=percent(r["satisfaction_rate"]),
                on_time=percent(r["on_time_rate"]),
                dispatched=r["dispatched"],
            )
        )
    if n == 0:
        lines.append(T.RANK_EMPTY)
    if unranked:
        lines.append(T.RANK_UNRANKED.format(names="、".join(unranked)))
    lines.append(T.RANK_FOOT)
    return [Send(text="\n".join(lines))]


def _overdue_list(p: dict[str, Any]) -> list[Op]:
    items = p["items"]
    if not items:
        return [Send(text=T.OVERDUE_NONE)]
    lines = [T.OVERDUE_HEAD.format(total=p["total"], overdue=p["overdue"])]
    rows: Buttons = []
    for i, it in enumerate(items, 1):
        state = (T.OVERDUE_LATE if it["late"] else T.OVERDUE_SOON).format(hours=it["hours"])
        lines.append(
            T.OVERDUE_ROW.format(
                i=i,
                ref=it["ref"],
                urgent="🚨" if it.get("urgent") else "",
                department=escape(it["department"]),
                status_label=it["status_label"],
                deadline=it["deadline"],
                state=state,
                level=T.LEVEL_MARK.format(level=it["level"]) if it.get("level") else "",
            )
        )
        rows.append(
            [(T.BTN["supervise"].format(ref=it["ref"]), cb.manage(it["ticket_id"], "sup"))]
        )
    if p["total"] > len(items):
        lines.append(T.OVERDUE_MORE.format(n=p["total"] - len(items)))
    return [Send(text="\n".join(lines), buttons=rows)]


def _supervision(p: dict[str, Any]) -> list[Op]:
    text = T.SUPERVISION.format(
        ref=p["ref"],
        department=escape(p["department"]),
        by=escape(p["by"]),
        deadline=p["deadline"],
        state="已超期" if p.get("late") else "即将到期",
        status_label=p["status_label"],
        text=escape(_clip(p.get("text") or "", 200)),
    )
    return [Send(text=text, reply_role=p.get("reply_role"))]


def _timeline(p: dict[str, Any]) -> list[Op]:
    head = T.TIMELINE_HEAD.format(
        ref=p["ref"],
        urgent="｜紧急" if p.get("urgent") else "",
        type=p["type"],
        department=escape(p["department"]),
        status_label=p["status_label"],
        enterprise=escape(p["enterprise"]),
        deadline=p["deadline"],
    )
    lines = [
        T.TIMELINE_ROW.format(
            at=e["at"],
            who=escape(e["who"] or "系统"),
            what=escape(e["what"]),
            note=("：" + escape(e["note"])) if e.get("note") else "",
        )
        for e in p["events"]
    ]
    body = "\n".join(lines) or "（暂无记录）"
    text = head + "\n" + body
    if _u16(text) <= LIMIT:
        return [Send(text=text)]
    # A long history: the newest entries fit, the rest are counted.
    kept: list[str] = []
    for line in reversed(lines):
        if _u16(head) + _u16("\n".join([line, *kept])) > LIMIT - 100:
            break
        kept.insert(0, line)
    skipped = len(lines) - len(kept)
    return [Send(text=head + "\n" + T.TIMELINE_SKIPPED.format(n=skipped) + "\n".join(kept))]


def _daily_digest(p: dict[str, Any]) -> list[Op]:
    lines = [
        T.DAILY_HEAD.format(date=p["date"], department=escape(p["department"])),
        T.DAILY_COUNTS.format(
            open=p["open"], unclaimed=p["unclaimed"], today=p["today"], late=p["late"]
        ),
    ]
    for it in p.get("items") or []:
        lines.append(
            T.DAILY_ROW.format(
                ref=it["ref"],
                status_label=it["status_label"],
                deadline=it["deadline"],
                mark="⚠️已超期" if it["late"] else "今日到期",
            )
        )
    return [Send(text="\n".join(lines))]


def _document(p: dict[str, Any]) -> list[Op]:
    return [Document(file_id=int(p["file_id"]), caption=escape(p.get("caption") or ""))]


def _grid_pick(p: dict[str, Any]) -> list[Op]:
    choices = p.get("choices") or []
    query = _clip(str(p.get("query") or ""), 64)
    lines = [T.GRID_PICK]
    if query and not choices:
        return [Send(text=T.GRID_PICK_NONE.format(query=escape(query)))]
    if query:
        lines.append(T.GRID_PICK_FOUND.format(query=escape(query), total=int(p.get("total") or 0)))
    if p.get("more"):
        lines.append(T.GRID_PICK_MORE.format(total=int(p.get("total") or 0), shown=len(choices)))
    rows: Buttons = [
        [(_clip(str(name).strip(), 40) or f"企业 {eid}", cb.grid(int(eid), "pick"))]
        for eid, name in choices
    ]
    return [Send(text="\n".join(lines), buttons=rows or None)]


def _grid_ask_text(p: dict[str, Any]) -> list[Op]:
    if p.get("file_kept"):
        return [Send(text=T.GRID_FILE_KEPT)]
    return [Send(text=T.GRID_ASK_TEXT.format(enterprise=escape(_clip(p["enterprise"], 128))))]


def _grid_confirm(p: dict[str, Any]) -> list[Op]:
    rows: Buttons = [
        [(T.BTN["confirm"], cb.grid(p["draft_id"], "ok"))],
        [(T.BTN["discard"], cb.grid(p["draft_id"], "no"))],
    ]
    head, tail = T.GRID_CONFIRM.split("{text}")
    head = head.format(enterprise=escape(_clip(p["enterprise"], 128)))
    text = p["text"]
    if len(text) > 1500:
        text = text[:1500] + f"…（共{len(p['text'])}字）"
    body = head + escape(text) + tail
    if p.get("file"):
        body += "\n" + T.GRID_CONFIRM_FILE.format(file=escape(_clip(p["file"], 128)))
    return [Send(text=body, buttons=rows)]


def _grid_copy(p: dict[str, Any]) -> list[Op]:
    """A grid worker's copy of a notice about a ticket they filed (no buttons)."""
    notice = str(p.get("notice") or "")
    template = T.GRID_COPY.get(notice, "状态：{status}")
    values = {
        "department": escape(str(p.get("department") or "待分拨")),
        "deadline": escape(str(p.get("deadline") or "—")),
        "status": escape(str(p.get("status") or "")),
        "text": escape(_clip(str(p.get("text") or ""), 1500)),
        "result": escape(_clip(str(p.get("result") or ""), 1500)),
        "chosen": escape(_chosen(p)),
    }
    head = T.GRID_COPY_HEAD.format(
        enterprise=escape(_clip(str(p.get("enterprise") or ""), 128)), ref=escape(str(p["ref"]))
    )
    text = head + template.format(**values)
    if p.get("reachable") is False and notice != "rated":
        text += "\n" + T.GRID_UNREACHABLE
    return [Send(text=text)]


def _card_ops(lines: list[str], p: dict[str, Any], rows: Buttons, role: str = "card") -> list[Op]:
    head = "\n".join(lines) + "\n"
    body = p.get("text") or ""
    # The card shows what fits (by escaped length); the rest follows as continuation parts.
    shown = _take(body, min(CARD_TEXT_LIMIT, LIMIT - _u16(head) - 40))
    rest = body[len(shown) :]
    text = head + escape(shown) + ("…" if rest else "")
    if p.get("edit"):
        return [Edit(role=role, text=text, buttons=rows or None)]
    ops: list[Op] = [Send(text=text, buttons=rows or None)]
    if rest:
        for part in split_html(f"<b>{p['ref']}</b> 诉求全文（续）\n", rest, ref=p["ref"]):
            ops.append(Send(text=part, reply_role=role))
    return ops


def _picker(choices: list[list[str]], data: Any) -> Buttons:
    buttons = [(name, data(code)) for code, name in choices]
    return [buttons[i : i + 3] for i in range(0, len(buttons), 3)]


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _followup(p: dict[str, Any]) -> list[Op]:
    head = T.FOLLOWUP.split("{text}")[0].format(ref=p["ref"], label=escape(p.get("label", "")))
    parts = split_html(head, p.get("text") or "", ref=p["ref"])
    return [Send(text=x, reply_role=p.get("reply_role")) for x in parts]


def _copy(p: dict[str, Any]) -> list[Op]:
    caption = T.FOLLOWUP_FILE.format(ref=p["ref"], label=escape(p.get("label", "")))
    if p.get("text"):
        caption += "：" + escape(_take(p["text"], 700))
    return [
        Copy(
            from_chat_id=p["from_chat_id"],
            message_id=p["message_id"],
            caption=caption,
            reply_role=p.get("reply_role"),
        )
    ]


def _sla_values(p: dict[str, Any]) -> dict[str, Any]:
    values = _escaped(p)
    values["reason"] = escape(_take(p.get("reason") or "", 500))
    return values


def _sla_simple(template: str) -> Any:
    def fn(p: dict[str, Any]) -> list[Op]:
        values = _sla_values(p)
        return [Send(text=template.format(**values), reply_role=p.get("reply_role"))]

    return fn


def _sla_record(template: str) -> Any:
    """A consultation record or agenda item: the template, then the request text (split)."""

    def fn(p: dict[str, Any]) -> list[Op]:
        values = _sla_values(p)
        names = p.get("department_names") or p.get("departments") or []
        values["departments"] = "、".join(escape(d) for d in names) or "—"
        head = template.format(**values) + "\n"
        return [Send(text=x) for x in split_html(head, p.get("text") or "", ref=p["ref"])]

    return fn


def _extension_request(p: dict[str, Any]) -> list[Op]:
    values = _escaped(p)
    values["reason"] = escape(_clip(p.get("reason") or "", 800))
    text = T.EXTENSION_REQUEST.format(**values)
    if p.get("edit"):
        text += (T.EXTENSION_APPROVED if p.get("approved") else T.EXTENSION_REJECTED).format(
            who=escape(p.get("decider") or "")
        )
        return [Edit(role="extension", text=text)]
    rid = p["request_id"]
    rows = [
        [(T.BTN["approve"], cb.extension(rid, True)), (T.BTN["reject"], cb.extension(rid, False))]
    ]
    return [Send(text=text, buttons=rows)]


def _extension_decided(p: dict[str, Any]) -> list[Op]:
    template = T.EXTENSION_DECIDED_OK if p.get("approved") else T.EXTENSION_DECIDED_NO
    values = _escaped(p)
    return [Send(text=template.format(**values), reply_role=p.get("reply_role"))]


def _need_info(p: dict[str, Any]) -> list[Op]:
    head, tail = T.NEED_INFO.split("{need}")
    head = head.format(ref=p["ref"], department=escape(p.get("department") or ""))
    return _sends(head, (p.get("need") or "") + tail, ref=p["ref"])


def _calendar_missing(p: dict[str, Any]) -> list[Op]:
    years = "、".join(str(y) for y in p.get("years") or [])
    return [Send(text=T.CALENDAR_MISSING.format(years=years))]


def _group_unreachable(p: dict[str, Any]) -> list[Op]:
    ref = p.get("ref") or ""
    return [
        Send(
            text=T.GROUP_UNREACHABLE.format(
                department=escape(p.get("department") or ""),
                title=escape(p.get("title") or ""),
                reason=escape(p.get("reason") or ""),
                code=escape(p.get("code") or ""),
                ref_note=f"（如工单 {escape(ref)}）" if ref else "",
            )
        )
    ]


def _signin_code_office(p: dict[str, Any]) -> list[Op]:
    enterprise = p.get("enterprise") or ""
    return [
        Send(
            text=T.SIGNIN_CODE_OFFICE.format(
                phone=escape(p.get("phone") or ""),
                enterprise_line=f"\n企业：{escape(enterprise)}"
                if enterprise
                else "\n企业：（未注册）",
                code=escape(str(p.get("code") or "")),
                minutes=int(p.get("minutes") or 10),
            )
        )
    ]


_RENDERERS: dict[str, Any] = {
    "signin_code": _fmt(T.SIGNIN_CODE),
    "signin_code_office": _signin_code_office,
    "sla_nudge": _sla_simple(T.SLA_NUDGE),
    "sla_warn": _sla_simple(T.SLA_WARN),
    "sla_urge": _sla_simple(T.SLA_URGE),
    "sla_level": _sla_simple(T.SLA_LEVEL),
    "sla_consult": _sla_record(T.SLA_CONSULT),
    "sla_agenda": _sla_record(T.SLA_AGENDA),
    "calendar_missing": _calendar_missing,
    "extension_request": _extension_request,
    "extension_decided": _extension_decided,
    "extension_sent": _fmt(T.EXTENSION_SENT),
    "extended": _fmt(T.EXTENDED),
    "need_info": _need_info,
    "ask_wait": _ask(T.ASK_WAIT),
    "ask_extend": _ask(T.ASK_EXTEND),
    "reg_ask_name": _reg("name"),
    "reg_ask_code": _reg("code"),
    "reg_ask_contact": _reg("contact"),
    "reg_ask_phone": _reg("phone"),
    "reg_done": _reg_done,
    "reg_cancelled": _fixed(T.REG_CANCELLED),
    "welcome_back": _fmt(T.WELCOME_BACK),
    "not_registered": _fixed(T.NOT_REGISTERED),
    "contact_ignored": _fixed(T.CONTACT_IGNORED),
    "unknown_command": _fixed(T.UNKNOWN_COMMAND),
    "group_help": _fixed(T.GROUP_HELP),
    "nothing_to_cancel": _fixed(T.NOTHING_TO_CANCEL),
    "pending_cancelled": _fixed(T.PENDING_CANCELLED),
    "error": _fmt(T.ERROR),
    "draft_confirm": _draft_confirm,
    "guide_answer": _guide_answer,
    "guide_item": _guide_item,
    "guide_menu": _guide_menu,
    "guide_list": _guide_list,
    "broadcast": _broadcast,
    "liaison_ask": _liaison_ask,
    "liaison_review": _liaison_review,
    "liaison_remind": _liaison_remind,
    "liaison_late": _liaison_late,
    "match_posted": _match_posted,
    "match_ask": _match_ask,
    "match_connected": _match_connected,
    "match_declined": _fixed(T.MATCH_DECLINED),
    "match_introduced": _fmt(T.MATCH_INTRODUCED),
    "subscriptions": _subscriptions,
    "draft_cancelled": _fixed(T.DRAFT_CANCELLED),
    "draft_withdrawn": _fixed(T.DRAFT_WITHDRAWN),
    "ack": _ack,
    "grid_pick": _grid_pick,
    "grid_ask_text": _grid_ask_text,
    "grid_confirm": _grid_confirm,
    "grid_cancelled": _fixed(T.GRID_CANCELLED),
    "grid_copy": _grid_copy,
    "dispatched": _fmt(T.DISPATCHED),
    "claimed": _fmt(T.CLAIMED),
    "transferred": _fmt(T.TRANSFERRED),
    "progress": _progress,
    "copy_progress": _copy_progress,
    "progress_file": _progress_file,
    "followup_ok": _fmt(T.FOLLOWUP_OK),
    "cancelled": _fmt(T.CANCELLED),
    "reopened_ack": _fmt(T.REOPENED_ACK),
    "visit": _visit,
    "ticket_list": _ticket_list,
    "card": _card,
    "triage_card": _triage_card,
    "card_digest": _card_digest,
    "stats": _stats,
    "rank": _rank,
    "overdue_list": _overdue_list,
    "supervision": _supervision,
    "timeline": _timeline,
    "daily_digest": _daily_digest,
    "document": _document,
    "grant_usage": _fixed(T.GRANT_USAGE),
    "manager_help": _fixed(T.MANAGER_HELP),
    "followup": _followup,
    "copy": _copy,
    "progress_ok": _fmt(T.PROGRESS_OK),
    "ask_resolve": _ask(T.ASK_RESOLVE),
    "ask_return": _ask(T.ASK_RETURN),
    "bound": _fmt(T.BOUND),
    "done_usage": _fixed(T.DONE_USAGE),
    "bind_usage": _fixed(T.BIND_USAGE),
    "escalate_usage": _fixed(T.ESCALATE_USAGE),
    "leader_usage": _fixed(T.LEADER_USAGE),
    "info": _fmt("{message}"),
    "group_unreachable": _group_unreachable,
    "key_assigned": _fmt(T.KEY_ASSIGNED),
    "key_removed": _fmt(T.KEY_REMOVED),
}
