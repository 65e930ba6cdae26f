"""The ticket workflow: open, dispatch, claim, transfer, return, resolve, rate, reopen, close.

Every change goes through ``_move``: the transition table check, a compare-and-set update on the
status (so two people pressing 认领 at once cannot both win), and one append-only event.
Notifications are written to the outbox in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from models.department import TRIAGE_CODE, Department, GroupBinding
from models.enterprise import Enterprise, Member
from models.guide import GuideAnswer, ServiceItem
from models.outbox import MessageLink
from models.sla import ExtensionRequest
from models.ticket import (
    OPEN_STATUSES,
    Draft,
    PendingInput,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketStatus,
)

from . import grid_notice, guide, keyaccounts, webchat
from .actors import Actor
from .context import DeskConfig
from .db import atomic
from .errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    RateLimited,
)
from .notify import (
    batched,
    channel_of,
    department_card,
    department_choices,
    enqueue,
    fmt_deadline,
    group_chat,
    ticket_params,
    triage_card,
)
from .refs import next_ref
from .routing import record_example
from .sla import deadlines, end_of_day, policy_for, shift
from .validators import check_upload, strip_controls
from .workflow import check

MAX_TEXT = 20000  # characters of one request or reply kept; longer input is refused
SATISFACTION = {"m3": "满意", "m2": "基本满意", "m1": "不满意"}


# ---------------------------------------------------------------- helpers


def _working_hours(cfg: DeskConfig, ticket: Ticket, now: dt.datetime) -> float:
    """Working hours on the ticket's current clock (pauses excluded), for the statistics."""
    start = ticket.sla_start_at or ticket.created_at
    return round(cfg.calendar.working_seconds_between(start, now) / 3600, 3)


async def record_event(
    ticket: Ticket,
    actor: Actor,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    department_id: int | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Append one row to the ticket's log (``TicketEvent``), as ``actor`` did ``action``.

    Args:
        ticket: the ticket acted on.
        actor: who acted; its kind, user id and name are recorded.
        action: what was done (``claim``, ``urge``, ``supervise``…).
        from_status: the status before, for a transition.
        to_status: the status after, for a transition.
        note: free text shown in the timeline.
        data: details for the record.
        department_id: the department the event counts for; by default the one holding the
            ticket.
        at: when it happened; the time of writing by default.
    """
    when: dict[str, Any] = {} if at is None else {"at": at}
    await TicketEvent.create(
        ticket_id=ticket.id,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_name=actor.name,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
        department_id=ticket.department_id if department_id is None else department_id,
        **when,
    )


async def _log_message(
    ticket: Ticket,
    actor: Actor,
    *,
    direction: str,
    text: str,
    file: dict[str, Any] | None = None,
) -> None:
    """One message of the ticket's conversation (``in`` from the enterprise, ``out`` staff)."""
    await TicketMessage.create(
        ticket_id=ticket.id,
        direction=direction,
        author_id=actor.user_id,
        author_name=actor.name,
        kind=file["kind"] if file else "text",
        text=text,
        file_id=file.get("file_id") if file else None,
        file_name=str(file["name"])[:255] if file and file.get("name") else None,
        file_mime=str(file["mime"])[:128] if file and file.get("mime") else None,
        file_size=file.get("size") if file else None,
        source_chat_id=actor.chat_id if direction == "in" else None,
        source_message_id=file.get("message_id") if file else None,
    )


async def _move(
    ticket: Ticket,
    action: str,
    actor: Actor,
    *,
    now: dt.datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
    **changes: Any,
) -> None:
    """Apply a transition atomically (compare-and-set on the status) and log it."""
    old = ticket.status
    holder = ticket.department_id  # who acted: the department before a transfer or return
    new = check(action, old)
    changes["status"] = new
    changes["updated_at"] = now
    updated = await Ticket.filter(id=ticket.id, status=old).update(**changes)
    if not updated:
        raise Conflict("工单状态刚刚已被他人更新，请以最新消息为准。")
    for key, value in changes.items():
        setattr(ticket, key, value)
    await record_event(
        ticket,
        actor,
        action,
        from_status=old.value,
        to_status=new.value,
        note=note,
        data=data,
        department_id=holder,
    )


async def _ticket(ticket_id: int, *, lock: bool = False) -> Ticket:
    query = Ticket.filter(id=ticket_id)
    if lock:  # PostgreSQL row lock until the transaction ends (SQLite: one writer anyway)
        query = query.select_for_update()
    ticket = await query.first().prefetch_related("department", "member", "enterprise")
    if ticket is None:
        raise NotFound("找不到该工单。")
    return ticket


async def _ticket_by_ref(ref: str) -> Ticket:
    ticket = await Ticket.get_or_none(ref=ref.upper()).prefetch_related(
        "department", "member", "enterprise"
    )
    if ticket is None:
        raise NotFound(f"找不到工单 {ref}。")
    return ticket


async def _deadline_fields(
    cfg: DeskConfig,
    *,
    type: str,
    urgent: bool,
    department: str | None,
    start: dt.datetime,
    enterprise_id: int | None = None,
) -> dict[str, Any]:
    """Response and resolution deadlines from the SLA policy (made stricter for a key
    enterprise), in working time."""
    policy = await policy_for(type=type, urgent=urgent, department=department)
    policy = keyaccounts.stricter(policy, await keyaccounts.for_enterprise(enterprise_id))
    d = deadlines(cfg.calendar, start=start, policy=policy)
    return {
        "due_at": d.resolve,
        "response_due_at": d.respond,
        "due_estimated": d.estimated,
        "sla_start_at": start,
    }


def _check_text(text: str, *, what: str = "内容") -> str:
    text = strip_controls(text).strip()
    if not text:
        raise InvalidInput(f"{what}不能为空。")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{what}过长（{len(text)}字），请控制在{MAX_TEXT}字以内或分几次发送。")
    return text


async def _require_member(actor: Actor) -> Member:
    if actor.user_id is None:
        raise NotAllowed("请先发送 /start 完成企业注册。")
    # The enterprise in the same statement (a join), not a second query.
    member = await Member.filter(tg_user_id=actor.user_id).select_related("enterprise").first()
    if member is None:
        raise NotAllowed("请先发送 /start 完成企业注册。")
    return member


async def _enterprise_of(member: Member) -> Enterprise:
    """``member``'s enterprise: the one already loaded with it, else read."""
    held = member.enterprise
    if isinstance(held, Enterprise):
        return held
    return await held


async def _require_owner(actor: Actor, ticket: Ticket) -> Member:
    member = await _require_member(actor)
    if member.enterprise_id != ticket.enterprise_id:
        raise NotAllowed("这不是贵单位的工单。")
    return member


async def _require_dept_group(cfg: DeskConfig, actor: Actor, ticket: Ticket) -> None:
    """Staff act on a ticket only from the group bound to the ticket's department, or its
    enterprise's butler from its own private chat (a key enterprise)."""
    dept = ticket.department
    chat = await group_chat(dept.code) if dept else None
    if dept is not None and actor.chat_id is not None and actor.chat_id == actor.user_id:
        key = await keyaccounts.for_enterprise(ticket.enterprise_id)
        if keyaccounts.acting_as_butler(actor, key):
            return
        raise NotAllowed("只有工单所属部门的工作群或该企业的管家可以办理此工单。")
    if chat is None or actor.chat_id != chat:
        raise NotAllowed("只有工单所属部门的工作群可以办理此工单。")


async def _require_triage_group(actor: Actor) -> None:
    chat = await group_chat(TRIAGE_CODE)
    if chat is None or actor.chat_id != chat:
        raise NotAllowed("只有热线办分拨群可以分拨工单。")


async def _member_chat(ticket: Ticket) -> int | None:
    """Where the enterprise hears about a ticket: the web chat for a ticket opened there (a
    contact may use both channels), else the contact's own chat."""
    member = ticket.member if isinstance(ticket.member, Member) else await ticket.member
    if ticket.channel == "web" and channel_of(member.chat_id) != "web":
        web = await webchat.chat_for_phone(member.phone)
        if web is not None:
            return web
    return member.chat_id


async def _department(code: str) -> Department:
    dept = await Department.get_or_none(code=code.upper(), active=True)
    if dept is None:
        raise InvalidInput(f"没有代码为 {code} 的部门。")
    return dept


async def _tell_enterprise(
    cfg: DeskConfig, ticket: Ticket, kind: str, *, link_role: str | None = None, **extra: Any
) -> None:
    chat = await _member_chat(ticket)
    if chat is None and ticket.channel != "grid":
        return
    params = await ticket_params(ticket, tz=cfg.tz)
    params.update(extra)
    if chat is not None:
        await enqueue(
            chat_id=chat, kind=kind, params=params, ticket_id=ticket.id, link_role=link_role
        )
    await grid_notice.copy_notice(ticket, kind, params, reachable=chat is not None)


async def _visit_done(cfg: DeskConfig, ticket: Ticket) -> None:
    """The return visit's message, edited to show what the enterprise chose (no buttons)."""
    await _tell_enterprise(
        cfg,
        ticket,
        "visit",
        link_role="visit",
        edit=True,
        done=True,
        solved=ticket.rating_solved,
        satisfaction=ticket.rating_satisfaction,
    )


async def say(*, chat_id: int, kind: str, **params: Any) -> None:
    """A plain reply (errors, help, unknown command) through the outbox."""
    async with atomic():
        await enqueue(chat_id=chat_id, kind=kind, params=params)


# ---------------------------------------------------------------- intake (enterprise side)


async def draft_request(cfg: DeskConfig, *, actor: Actor, text: str) -> None:
    """A plain message from a registered enterprise: keep it as a draft and ask for 确认."""
    async with atomic():
        member = await _require_member(actor)
        await _draft(member=member, actor=actor, text=text)


async def _draft(*, member: Member, actor: Actor, text: str) -> Draft:
    """Keep the request as a draft and send it with 确认提交 (and 补充到 TD… per open ticket)."""
    text = _check_text(text, what="诉求内容")
    assert actor.chat_id is not None
    draft = await Draft.create(member=member, text=text)
    open_tickets = (
        await Ticket.filter(enterprise_id=member.enterprise_id, status__in=OPEN_STATUSES)
        .order_by("-id")
        .limit(3)
    )
    await enqueue(
        chat_id=actor.chat_id,
        kind="draft_confirm",
        params={"draft_id": draft.id, "text": text, "open": [[t.id, t.ref] for t in open_tickets]},
    )
    return draft


async def decide_draft(
    cfg: DeskConfig, *, actor: Actor, draft_id: int, action: str, ticket_id: int | None = None
) -> str:
    """The enterprise pressed 确认提交 / 补充到 TD… / 取消 under a draft.

    A guide answer sent with the draft and not yet decided follows the draft into its ticket
    (it counts as 仍需人工); a draft withdrawn by 已解决 under that answer opens nothing.

    Returns:
        A short answer for the button press.
    """
    async with atomic():
        member = await _require_member(actor)
        # Lock order draft, then its answers, as in decide_answer: no deadlock between them.
        draft = await Draft.filter(id=draft_id).select_for_update().first()
        if draft is None or draft.member_id != member.id:
            raise NotFound("该草稿不存在。")
        if draft.state == "withdrawn":
            raise Conflict(DRAFT_WITHDRAWN)
        if draft.state != "pending":
            raise Conflict("该诉求已处理过了。")
        if action == "ok":
            ticket = await _open(
                cfg, member=member, text=draft.text, channel=channel_of(actor.chat_id)
            )
            draft.state, draft.ticket_id = "submitted", ticket.id
            await draft.save(update_fields=["state", "ticket_id"])
            await _answers_to_human(cfg, actor=actor, draft=draft, ticket=ticket, how="仍确认提交")
            return f"已提交：{ticket.ref}"
        if action == "add" and ticket_id is None:
            raise InvalidInput("请选择要补充到的工单。")
        if action == "add" and ticket_id is not None:
            ticket = await _ticket(ticket_id)
            if ticket.enterprise_id != member.enterprise_id:
                raise NotAllowed("这不是贵单位的工单。")
            await _followup(cfg, ticket=ticket, actor=actor, text=draft.text)
            draft.state, draft.ticket_id = "submitted", ticket.id
            await draft.save(update_fields=["state", "ticket_id"])
            await _answers_to_human(
                cfg, actor=actor, draft=draft, ticket=ticket, how="补充到本工单"
            )
            return f"已补充到 {ticket.ref}"
        draft.state = "cancelled"
        await draft.save(update_fields=["state"])
        await enqueue(
            chat_id=actor.chat_id or member.chat_id or 0, kind="draft_cancelled", params={}
        )
        return "已取消"


async def open_ticket(
    cfg: DeskConfig, *, member: Member, text: str, channel: str = "telegram"
) -> Ticket:
    """Create a ticket from an enterprise's request, route it, and notify everyone concerned."""
    text = _check_text(text, what="诉求内容")
    async with atomic():
        return await _open(cfg, member=member, text=text, channel=channel)


async def _open(
    cfg: DeskConfig, *, member: Member, text: str, channel: str, by: Actor | None = None
) -> Ticket:
    """Create and route a ticket; ``by`` is who entered it when not the enterprise itself
    (a hotline operator taking a call, a grid worker after a visit)."""
    now = cfg.now()
    decision = cfg.router.route(text)
    dept = await Department.get_or_none(code=decision.department, active=True)
    auto = decision.auto and dept is not None
    if cfg.auto_threshold is not None:
        auto = auto and decision.confidence >= cfg.auto_threshold
    status = TicketStatus.DISPATCHED if auto else TicketStatus.TRIAGE
    ticket = await Ticket.create(
        ref=await next_ref(now=now, tz=cfg.tz),
        # The objects held, not ids: the ticket's relations are loaded without reading them
        # again (``fetch_related`` below reads only what is not loaded yet).
        enterprise=await _enterprise_of(member),
        member=member,
        channel=channel,
        text=text,
        department=dept if auto else None,
        status=status,
        dispatched_at=now if auto else None,
        type=decision.type,
        urgent=decision.urgent,
        route_confidence=decision.confidence,
        route_terms=list(decision.matched_terms),
        route_candidates=[[c, s] for c, s in decision.candidates],
        created_at=now,
        **await _deadline_fields(
            cfg,
            type=decision.type,
            urgent=decision.urgent,
            department=dept.code if auto and dept else None,
            start=now,
            enterprise_id=member.enterprise_id,
        ),
    )
    await ticket.fetch_related("department", "member", "enterprise")
    actor = by or Actor(kind="enterprise", user_id=member.tg_user_id, name=member.contact_name)
    await record_event(
        ticket,
        actor,
        "create",
        to_status=status.value,
        data={
            "route": {
                "department": decision.department,
                "confidence": decision.confidence,
                "auto": decision.auto,
                "candidates": [[c, s] for c, s in decision.candidates],
                "matched": list(decision.matched_terms),
            }
        },
    )
    async with batched():  # the ack and the card: one INSERT
        await _tell_enterprise(cfg, ticket, "ack", link_role="ack")
        if auto:
            await department_card(ticket, tz=cfg.tz, edit=False)
        else:
            await triage_card(ticket, tz=cfg.tz, edit=False)
    return ticket


async def _followup(
    cfg: DeskConfig,
    *,
    ticket: Ticket,
    actor: Actor,
    text: str = "",
    file: dict[str, Any] | None = None,
    label: str = "企业补充",
) -> None:
    """Add an enterprise's detail or file to a ticket and relay it to whoever holds it.

    A ticket waiting for the enterprise resumes: its deadlines move by the paused working time.
    """
    check("followup", ticket.status)
    if ticket.status == TicketStatus.WAITING and actor.kind == "enterprise":
        await _resume(cfg, ticket=ticket, actor=actor)
    await _log_message(ticket, actor, direction="in", text=text, file=file)
    await record_event(ticket, actor, "followup", note=text[:500], data={"file": bool(file)})
    code = ticket.department.code if ticket.department else TRIAGE_CODE
    if ticket.status == TicketStatus.TRIAGE:
        code = TRIAGE_CODE
    chat = await group_chat(code)
    if chat is None:
        return
    params = {"ref": ticket.ref, "text": text, "label": label, "ticket_id": ticket.id}
    role = "card" if code != TRIAGE_CODE else "triage"
    if file and file.get("stored_id") is not None:
        # Uploaded on the web chat: there is no Telegram message to copy, the desk holds the
        # file itself and sends it to the group as a document.
        caption = f"【{label}】工单 {ticket.ref}" + (f"：{text[:800]}" if text else "")
        params.update(file_id=int(file["stored_id"]), name=file.get("name") or "", caption=caption)
        await enqueue(
            chat_id=chat, kind="document", params=params, ticket_id=ticket.id, link_role="followup"
        )
    elif file:
        params.update(from_chat_id=actor.chat_id, message_id=file["message_id"], reply_role=role)
        await enqueue(
            chat_id=chat, kind="copy", params=params, ticket_id=ticket.id, link_role="followup"
        )
    else:
        params["reply_role"] = role
        await enqueue(
            chat_id=chat, kind="followup", params=params, ticket_id=ticket.id, link_role="followup"
        )
    if actor.chat_id is not None:
        await enqueue(
            chat_id=actor.chat_id,
            kind="followup_ok",
            params={"ref": ticket.ref},
            ticket_id=ticket.id,
        )


async def _linked_ticket(
    chat_id: int, message_id: int | None, quoted_ref: str | None = None
) -> Ticket | None:
    """The ticket a replied-to message is about: its link, else the reference the bot's quoted
    message names (a copy sent twice by a crash is not linked, but names its ticket)."""
    if message_id is None:
        return None
    link = await MessageLink.get_or_none(chat_id=chat_id, message_id=message_id)
    if link is not None:
        return await _ticket(link.ticket_id)
    if quoted_ref:
        found = await Ticket.get_or_none(ref=quoted_ref)
        return await _ticket(found.id) if found is not None else None
    return None


async def enterprise_message(
    cfg: DeskConfig,
    *,
    actor: Actor,
    text: str = "",
    reply_to: int | None = None,
    quoted_ref: str | None = None,
    file: dict[str, Any] | None = None,
) -> None:
    """Any message from a registered enterprise that is not a command.

    A pending question (a reopen reason) takes the text; a reply to a message about a ticket
    adds to that ticket; a file goes to the only open ticket; anything else becomes a draft.
    """
    assert actor.chat_id is not None and actor.user_id is not None
    async with atomic():
        member = await _require_member(actor)
        await _check_rate(cfg, member)
        pending = await PendingInput.get_or_none(chat_id=actor.chat_id, user_id=actor.user_id)
        ticket: Ticket | None
        if pending is not None and file is None and text:
            ticket = await _ticket(pending.ticket_id)
            await pending.delete()
            text = _check_text(text, what="原因")
            ticket.rating_reason = text
            await ticket.save(update_fields=["rating_reason"])
            await _followup(cfg, ticket=ticket, actor=actor, text=text, label="重办原因")
            return
        ticket = await _linked_ticket(actor.chat_id, reply_to, quoted_ref)
        if ticket is not None and ticket.enterprise_id != member.enterprise_id:
            ticket = None
        if ticket is None and file is not None:
            open_tickets = await Ticket.filter(
                enterprise_id=member.enterprise_id,
                status__in=OPEN_STATUSES,
            ).prefetch_related("department", "member", "enterprise")
            if len(open_tickets) == 1:
                ticket = open_tickets[0]
            else:
                raise InvalidInput(
                    "请先发文字描述诉求；如需为已有工单补充材料，请回复（引用）该工单的消息再发送。"
                    if not open_tickets
                    else "您有多个办理中的工单，请回复（引用）要补充的那个工单的消息再发送文件。"
                )
        if ticket is not None:
            if file is None:
                text = _check_text(text, what="补充内容")
            await _followup(cfg, ticket=ticket, actor=actor, text=text, file=file)
            return
        # The answer (if any) goes out first, then the usual draft: the core loop's dialog
        # (text → draft with 确认 → ticket) stays the same whether the guide answered or not.
        answer = await _answer_first(cfg, member=member, actor=actor, text=text)
        draft = await _draft(member=member, actor=actor, text=text)
        if answer is not None:
            answer.draft_id = draft.id
            await answer.save(update_fields=["draft_id"])


async def _answer_first(
    cfg: DeskConfig, *, member: Member, actor: Actor, text: str
) -> GuideAnswer | None:
    """A general question the service guide answers well gets that answer before its draft.

    Only questions (the router's 咨询) of an enterprise with no open ticket are answered: a
    stuck case, a complaint or a report goes to a department as before, however well an item's
    words match it. The answer carries 已解决 (which withdraws the draft that follows it) and
    仍需人工 (which confirms that draft, as 确认提交 under it would).

    Returns:
        The answer sent, or None when the guide does not answer (only the draft is sent).
    """
    if not cfg.guide_first or not text.strip():
        return None
    text = _check_text(text, what="诉求内容")
    if await Ticket.filter(enterprise_id=member.enterprise_id, status__in=OPEN_STATUSES).exists():
        return None  # with tickets open, a message is more likely about them: the draft asks
    if cfg.router.route(text).type != "咨询":
        return None
    result = await guide.search(query=text, limit=3)
    best = result.best
    if not result.answers_well or best is None:
        return None
    item = await ServiceItem.get_or_none(code=best.code, active=True)
    if item is None:
        return None
    assert actor.chat_id is not None
    answer = await GuideAnswer.create(
        member=member, question=text, item_code=item.code, score=best.score
    )
    params = await guide.item_params(item)
    params.update(answer_id=answer.id, question=text)
    await enqueue(chat_id=actor.chat_id, kind="guide_answer", params=params)
    return answer


# A toast for 确认 under a draft that 已解决 withdrew.
DRAFT_WITHDRAWN = "该草稿已撤回（您已通过办事指南解决），未生成工单。如仍需办理，请重新发送诉求。"


async def decide_answer(cfg: DeskConfig, *, actor: Actor, answer_id: int, action: str) -> str:
    """The enterprise pressed 已解决 (``ok``) or 仍需人工 (``human``) under a guide answer.

    已解决 withdraws the draft sent with the answer (no ticket); 仍需人工 confirms that same
    draft, so a question never becomes two tickets however the buttons are pressed.

    Returns:
        A short answer for the button press.
    """
    async with atomic():
        member = await _require_member(actor)
        found = await GuideAnswer.get_or_none(id=answer_id)
        if found is None or found.member_id != member.id:
            raise NotFound("该答复不存在。")
        # Lock order draft, then answer, as in decide_draft: no deadlock between them.
        draft = None
        if found.draft_id is not None:
            draft = await Draft.filter(id=found.draft_id).select_for_update().first()
        answer = await GuideAnswer.filter(id=answer_id).select_for_update().first()
        if answer is None:
            raise NotFound("该答复不存在。")
        if answer.state == "human" and answer.ticket_id is not None:
            done = await Ticket.get_or_none(id=answer.ticket_id)
            ref = f" {done.ref}" if done is not None else ""
            raise Conflict(f"您已选择过了：该问题已提交为工单{ref}，不会重复提交。")
        if answer.state != "offered":
            raise Conflict("您已选择过了。")
        answer.decided_at = cfg.now()
        if action == "ok":
            answer.state = "solved"
            await answer.save(update_fields=["state", "decided_at"])
            if draft is not None and draft.state == "pending":
                draft.state = "withdrawn"
                await draft.save(update_fields=["state"])
                await enqueue(
                    chat_id=actor.chat_id or member.chat_id or 0, kind="draft_withdrawn", params={}
                )
                return "感谢反馈！下方的诉求草稿已撤回，不会生成工单。"
            return "感谢反馈！如还有问题，直接发送文字即可。"
        if draft is not None and draft.state == "submitted" and draft.ticket_id is not None:
            # Confirmed by now (the answer is linked there too): say so, open nothing new.
            done = await Ticket.get_or_none(id=draft.ticket_id)
            ref = f" {done.ref}" if done is not None else ""
            raise Conflict(f"该诉求已确认提交为工单{ref}，不会重复提交。")
        ticket = await _open(
            cfg, member=member, text=answer.question, channel=channel_of(actor.chat_id)
        )
        if draft is not None:
            # Pending, or dropped with 取消 before: 仍需人工 is the enterprise's latest word.
            draft.state, draft.ticket_id = "submitted", ticket.id
            await draft.save(update_fields=["state", "ticket_id"])
        await _answer_to_human(cfg, actor=actor, answer=answer, ticket=ticket, how="仍需人工办理")
        return f"已提交：{ticket.ref}（转人工办理）"


async def _answers_to_human(
    cfg: DeskConfig, *, actor: Actor, draft: Draft, ticket: Ticket, how: str
) -> None:
    """The undecided guide answers sent with ``draft`` follow it into ``ticket``."""
    answers = await GuideAnswer.filter(draft_id=draft.id, state="offered").select_for_update()
    for answer in answers:
        answer.decided_at = cfg.now()
        await _answer_to_human(cfg, actor=actor, answer=answer, ticket=ticket, how=how)


async def _answer_to_human(
    cfg: DeskConfig, *, actor: Actor, answer: GuideAnswer, ticket: Ticket, how: str
) -> None:
    """Mark ``answer`` as gone to a person with ``ticket``; the timeline notes the guide was
    read, so the department knows what the enterprise has seen already."""
    item = await ServiceItem.get_or_none(code=answer.item_code)
    await record_event(
        ticket,
        actor,
        "guide",
        note=f"企业已阅办事指南「{item.name if item else answer.item_code}」，{how}",
        data={"item": answer.item_code, "answer_id": answer.id},
    )
    answer.state, answer.ticket_id = "human", ticket.id
    await answer.save(update_fields=["state", "decided_at", "ticket_id"])


async def _check_rate(cfg: DeskConfig, member: Member) -> None:
    """One enterprise may not flood the desk: a polite refusal beyond the hourly limit."""
    since = cfg.now() - dt.timedelta(hours=1)
    drafts = await Draft.filter(
        member__enterprise_id=member.enterprise_id, created_at__gte=since
    ).count()
    added = await TicketMessage.filter(
        ticket__enterprise_id=member.enterprise_id, direction="in", at__gte=since
    ).count()
    # An answer sent with a draft is the same request: only answers without one (sent before
    # drafts followed answers) count on their own.
    answered = await GuideAnswer.filter(
        member__enterprise_id=member.enterprise_id, created_at__gte=since, draft_id=None
    ).count()
    if drafts + added + answered >= cfg.enterprise_hourly_limit:
        raise RateLimited(
            f"您在1小时内已发送{cfg.enterprise_hourly_limit}条诉求或补充，请稍后再试。"
            "如有紧急情况，请直接拨打企业服务热线 25201111。"
        )


async def list_tickets(cfg: DeskConfig, *, actor: Actor, limit: int = 10) -> None:
    """``/tickets``: the enterprise's latest tickets with status and deadline."""
    assert actor.chat_id is not None
    async with atomic():
        member = await _require_member(actor)
        tickets = (
            await Ticket.filter(enterprise_id=member.enterprise_id)
            .order_by("-id")
            .limit(limit)
            .prefetch_related("department", "member", "enterprise")
        )
        items = [await ticket_params(t, tz=cfg.tz) for t in tickets]
        for item in items:
            item.pop("phone", None)
            item["text"] = item["text"][:60]
            item["can_cancel"] = item["status"] in {s.value for s in OPEN_STATUSES}
        await enqueue(chat_id=actor.chat_id, kind="ticket_list", params={"items": items})


async def cancel_ticket(cfg: DeskConfig, *, actor: Actor, ticket_id: int) -> str:
    """The enterprise withdraws its request."""
    async with atomic():
        ticket = await _ticket(ticket_id)
        await _require_owner(actor, ticket)
        now = cfg.now()
        was_triage = ticket.status == TicketStatus.TRIAGE
        await _move(ticket, "cancel", actor, now=now, closed_at=now, close_reason="已撤销")
        await _tell_enterprise(cfg, ticket, "cancelled")
        if was_triage:
            await triage_card(ticket, tz=cfg.tz, edit=True, note="企业已撤销")
        else:
            await department_card(ticket, tz=cfg.tz, edit=True, note="企业已撤销")
        return f"{ticket.ref} 已撤销"


async def rate(cfg: DeskConfig, *, actor: Actor, ticket_id: int, choice: str) -> str:
    """A return-visit button: ``s1`` 已解决, ``s0`` 未解决, ``m3``/``m2``/``m1`` satisfaction."""
    if choice not in {"s1", "s0", *SATISFACTION}:
        raise InvalidInput("无效的评价。")
    async with atomic():
        ticket = await _ticket(ticket_id, lock=True)
        await _require_owner(actor, ticket)
        check("rate", ticket.status)
        now = cfg.now()
        if choice in ("s1", "s0"):
            ticket.rating_solved = choice == "s1"
        else:
            ticket.rating_satisfaction = SATISFACTION[choice]
        await ticket.save(update_fields=["rating_solved", "rating_satisfaction"])
        await record_event(ticket, actor, "rate", note=choice)
        unhappy = ticket.rating_solved is False or ticket.rating_satisfaction == "不满意"
        if unhappy:
            await _move(
                ticket,
                "reopen",
                actor,
                now=now,
                note="企业评价：" + _rating_text(ticket),
                reopen_count=ticket.reopen_count + 1,
                claimed_by_id=None,
                claimed_by_name=None,
                claimed_at=None,
                rated_at=now,
                **await _deadline_fields(
                    cfg,
                    type=ticket.type,
                    urgent=ticket.urgent,
                    department=ticket.department.code if ticket.department else None,
                    start=now,
                    enterprise_id=ticket.enterprise_id,
                ),
            )
            await PendingInput.filter(chat_id=actor.chat_id, user_id=actor.user_id).delete()
            await PendingInput.create(
                chat_id=actor.chat_id, user_id=actor.user_id, kind="reason", ticket=ticket
            )
            await _visit_done(cfg, ticket)
            await _tell_enterprise(cfg, ticket, "reopened_ack")
            await department_card(
                ticket, tz=cfg.tz, edit=False, note="企业评价：" + _rating_text(ticket)
            )
            return "已退回重办"
        if ticket.rating_solved is not None and ticket.rating_satisfaction is not None:
            await _move(
                ticket, "close", actor, now=now, rated_at=now, closed_at=now, close_reason="已评价"
            )
            await _visit_done(cfg, ticket)
            await department_card(
                ticket, tz=cfg.tz, edit=True, note="企业评价：" + _rating_text(ticket)
            )
            return "感谢您的评价！"
        await _tell_enterprise(
            cfg,
            ticket,
            "visit",
            link_role="visit",
            edit=True,
            solved=ticket.rating_solved,
            satisfaction=ticket.rating_satisfaction,
        )
        return "已记录，请继续评价"


def _rating_text(ticket: Ticket) -> str:
    solved = {True: "已解决", False: "未解决", None: "未选"}[ticket.rating_solved]
    return f"{solved}／{ticket.rating_satisfaction or '未选'}"


# ---------------------------------------------------------------- staff side


async def bind_group(cfg: DeskConfig, *, actor: Actor, code: str, title: str = "") -> None:
    """``/bind CODE`` by an admin in a group: that group now receives the code's tickets."""
    assert actor.chat_id is not None
    if not cfg.is_admin(actor.user_id):
        raise NotAllowed("只有管理员可以绑定群组。")
    code = code.strip().upper()
    async with atomic():
        if code != TRIAGE_CODE:
            dept = await Department.get_or_none(code=code, active=True)
            if dept is None:
                codes = " ".join(d.code for d in await Department.filter(active=True))
                raise InvalidInput(
                    f"未知的部门代码 {code}。可用代码：{codes} 以及 TRIAGE（分拨群）。"
                )
            name = dept.name
        else:
            name = "热线办分拨群"
        await GroupBinding.filter(chat_id=actor.chat_id).exclude(code=code).delete()
        binding = await GroupBinding.get_or_none(code=code)
        if binding is None:
            await GroupBinding.create(
                code=code, chat_id=actor.chat_id, title=title, bound_by=actor.user_id
            )
        else:
            binding.chat_id, binding.title, binding.bound_by = actor.chat_id, title, actor.user_id
            await binding.save()
        await enqueue(chat_id=actor.chat_id, kind="bound", params={"code": code, "name": name})
        # Post what this group should already see (tickets that waited for the binding).
        if code == TRIAGE_CODE:
            waiting = await Ticket.filter(status=TicketStatus.TRIAGE).order_by("id")
            for t in waiting:
                await triage_card(t, tz=cfg.tz, edit=False)
        else:
            waiting = await Ticket.filter(
                department__code=code,
                status__in=[s for s in OPEN_STATUSES if s != TicketStatus.TRIAGE],
            ).order_by("id")
            for t in waiting:
                await department_card(t, tz=cfg.tz, edit=False)


async def set_leader(cfg: DeskConfig, *, actor: Actor, leader_id: int, leader_name: str) -> None:
    """``/leader`` (a reply, by an admin) in a department group: that user gets 催办 privately."""
    assert actor.chat_id is not None
    if not cfg.is_admin(actor.user_id):
        raise NotAllowed("只有管理员可以指定部门负责人。")
    async with atomic():
        binding = await GroupBinding.get_or_none(chat_id=actor.chat_id)
        if binding is None or binding.code == TRIAGE_CODE:
            raise InvalidInput("请在已绑定的部门工作群里指定负责人。")
        await Department.filter(code=binding.code).update(leader_user_id=leader_id)
        await enqueue(
            chat_id=actor.chat_id,
            kind="info",
            params={
                "message": f"已指定 {leader_name} 为{binding.code}部门负责人，催办将同时私信发送。"
            },
        )


async def _dispatch(
    cfg: DeskConfig, *, actor: Actor, ticket: Ticket, code: str, now: dt.datetime
) -> str:
    """Send a ticket in triage to a department: the one path of the bot and the admin web.

    The decision is recorded as a routing example (the router learns from triage).
    """
    check("dispatch", ticket.status)
    dept = await _department(code)
    returned = await TicketEvent.exists(ticket_id=ticket.id, action="return")
    await record_example(
        ticket=ticket,
        department=dept.code,
        source="return" if returned else "triage",
        actor_id=actor.user_id,
    )
    await _move(
        ticket,
        "dispatch",
        actor,
        now=now,
        note=f"分拨至{dept.short}",
        data={"department": dept.code},
        department_id=dept.id,
        dispatched_at=ticket.dispatched_at or now,
    )
    ticket.department = dept
    await triage_card(ticket, tz=cfg.tz, edit=True, note=f"已由{actor.name}分拨至{dept.short}")
    await department_card(ticket, tz=cfg.tz, edit=False)
    await _tell_enterprise(cfg, ticket, "dispatched")
    return f"已分拨至{dept.short}"


async def dispatch_by_office(cfg: DeskConfig, *, actor: Actor, ticket_id: int, code: str) -> str:
    """Dispatch from the admin web by a hotline-office user (the caller checked the role).

    Same checks and effects as the triage group's button: state check, routing example,
    event, department card, enterprise notice.

    Returns:
        A short confirmation, e.g. ``已分拨至税务局``.
    """
    async with atomic():
        ticket = await _ticket(ticket_id)
        return await _dispatch(cfg, actor=actor, ticket=ticket, code=code, now=cfg.now())


async def card_action(
    cfg: DeskConfig, *, actor: Actor, ticket_id: int, action: str, arg: str | None = None
) -> str:
    """A button on a group card. Checks the presser's group and the ticket's state first.

    Returns:
        A short answer for the button press (a toast).
    """
    async with atomic():
        ticket = await _ticket(ticket_id)
        now = cfg.now()
        if action in ("pick", "dispatch", "tback", "tshow"):
            await _require_triage_group(actor)
            check("dispatch", ticket.status)
            if action == "tshow":  # from a burst digest: the full screening card
                await triage_card(ticket, tz=cfg.tz, edit=True)
                return "已展开完整卡片"
            if action == "pick":
                await triage_card(ticket, tz=cfg.tz, edit=True, picker=await department_choices())
                return "请选择部门"
            if action == "tback":
                await triage_card(ticket, tz=cfg.tz, edit=True)
                return "已返回"
            return await _dispatch(cfg, actor=actor, ticket=ticket, code=arg or "", now=now)

        await _require_dept_group(cfg, actor, ticket)
        if action == "claim":
            await _claim(cfg, actor=actor, ticket=ticket, now=now)
            return "认领成功"
        if action == "transfer":
            check("transfer", ticket.status)
            choices = await department_choices(
                exclude=ticket.department.code if ticket.department else None
            )
            await department_card(ticket, tz=cfg.tz, edit=True, picker=choices)
            return "请选择转办部门"
        if action == "back":
            await department_card(ticket, tz=cfg.tz, edit=True)
            return "已返回"
        if action == "show":  # from a burst digest: the full card, with every button
            await department_card(ticket, tz=cfg.tz, edit=True)
            return "已展开完整卡片"
        if action == "to":
            return await _transfer(
                cfg, actor=actor, ticket=ticket, dept=await _department(arg or ""), now=now
            )
        if action == "extend":
            await check_extension_allowed(cfg, ticket=ticket)
        if action in ("return", "resolve", "wait", "extend"):
            if action != "extend":
                check(action, ticket.status)
            assert actor.chat_id is not None and actor.user_id is not None
            await PendingInput.filter(chat_id=actor.chat_id, user_id=actor.user_id).delete()
            await PendingInput.create(
                chat_id=actor.chat_id, user_id=actor.user_id, kind=action, ticket=ticket
            )
            await enqueue(
                chat_id=actor.chat_id,
                kind=f"ask_{action}",
                params={
                    "ref": ticket.ref,
                    "who": actor.name,
                    "ticket_id": ticket.id,
                    # a butler in its private chat (desk.keyaccounts): "send it here"
                    **({"private": True} if actor.chat_id == actor.user_id else {}),
                },
                ticket_id=ticket.id,
                link_role="prompt",
            )
            return ("请发送" if actor.chat_id == actor.user_id else "请在群里发送") + {
                "return": "退回原因",
                "resolve": "办理结果",
                "wait": "需要企业补充的内容",
                "extend": "新的截止日期和理由",
            }[action]
        raise InvalidInput("未知操作。")


async def _claim(cfg: DeskConfig, *, actor: Actor, ticket: Ticket, now: dt.datetime) -> None:
    """Take the ticket (first wins: the status compare-and-set); the card and enterprise see it."""
    await _move(
        ticket,
        "claim",
        actor,
        now=now,
        claimed_by_id=actor.user_id,
        claimed_by_name=actor.name,
        claimed_at=now,
        claim_hours=_working_hours(cfg, ticket, now),
    )
    await department_card(ticket, tz=cfg.tz, edit=True)
    await _tell_enterprise(cfg, ticket, "claimed")


async def _transfer(
    cfg: DeskConfig, *, actor: Actor, ticket: Ticket, dept: Department, now: dt.datetime
) -> str:
    """Hand the ticket to another department: its group gets a fresh card, the old group's card
    says where it went (``actor.chat_id`` is the old group), the enterprise is told."""
    old = ticket.department
    if old is not None and dept.id == old.id:
        raise InvalidInput("不能转办给本部门。")
    note = f"{old.short if old else ''} {actor.name} 转办至{dept.short}"
    await record_example(
        ticket=ticket, department=dept.code, source="transfer", actor_id=actor.user_id
    )
    await _move(
        ticket,
        "transfer",
        actor,
        now=now,
        note=note,
        data={"from": old.code if old else None, "to": dept.code},
        department_id=dept.id,
        claimed_by_id=None,
        claimed_by_name=None,
        claimed_at=None,
    )
    # The old group's card is edited, the new group gets a fresh card: both see it.
    params = await ticket_params(ticket, tz=cfg.tz)
    params.update(actions=[], note=f"已转办至{dept.short}（{actor.name}）", edit=True)
    for old_chat in await keyaccounts.card_chats(actor, ticket, old.code if old else None):
        await enqueue(
            chat_id=old_chat,
            kind="card",
            params=params,
            ticket_id=ticket.id,
            link_role="card",
        )
    ticket.department = dept
    await department_card(ticket, tz=cfg.tz, edit=False, note=f"由{old.short if old else '—'}转来")
    await _tell_enterprise(cfg, ticket, "transferred")
    return f"已转办至{dept.short}"


async def _wait(cfg: DeskConfig, *, actor: Actor, ticket: Ticket, need: str) -> None:
    """Ask the enterprise for more; the SLA clock pauses until it answers."""
    now = cfg.now()
    await _move(ticket, "wait", actor, now=now, note=need[:500], paused_at=now)
    await _log_message(ticket, actor, direction="out", text=need)
    await department_card(ticket, tz=cfg.tz, edit=True, note=f"等待企业补充：{need}")
    await _tell_enterprise(cfg, ticket, "need_info", link_role="progress", need=need)


async def _resume(cfg: DeskConfig, *, ticket: Ticket, actor: Actor) -> None:
    now = cfg.now()
    paused = ticket.paused_at or now
    seconds = max(0.0, cfg.calendar.working_seconds_between(paused, now))
    changes = {
        "due_at": shift(cfg.calendar, ticket.due_at, working_seconds=seconds),
        "response_due_at": shift(cfg.calendar, ticket.response_due_at, working_seconds=seconds),
        "sla_start_at": shift(cfg.calendar, ticket.sla_start_at, working_seconds=seconds),
        "paused_at": None,
    }
    await _move(
        ticket,
        "resume",
        actor,
        now=now,
        note=f"暂停{seconds / 3600:.1f}个工作小时",
        data={"paused_working_seconds": seconds},
        **changes,
    )
    await department_card(ticket, tz=cfg.tz, edit=True, note="企业已补充，时限相应顺延")


_DATE = re.compile(r"(20\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


async def check_extension_allowed(cfg: DeskConfig, *, ticket: Ticket) -> None:
    """An extension may be asked for a claimed ticket, before its deadline, one at a time."""
    if ticket.status not in (TicketStatus.CLAIMED, TicketStatus.WAITING):
        raise IllegalTransition("认领后才能申请延期。")
    if ticket.due_at is not None and cfg.now() >= ticket.due_at:
        raise InvalidInput("已超过办理时限，不能再申请延期，请尽快办理。")
    if await ExtensionRequest.exists(ticket_id=ticket.id, status="pending"):
        raise Conflict("该工单已有待审批的延期申请。")


async def _request_extension(cfg: DeskConfig, *, actor: Actor, ticket: Ticket, text: str) -> None:
    """Staff ask for a later deadline with a date and a reason; the managers decide."""
    text = _check_text(text, what="延期申请")
    m = _DATE.search(text)
    if m is None:
        raise InvalidInput("请按「日期 理由」发送，例如：2026-12-15 需要现场核查。")
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise InvalidInput("日期无效，请按 2026-12-15 的格式填写。") from None
    reason = (text[: m.start()] + text[m.end() :]).strip(" ，,。:：")
    if not reason:
        raise InvalidInput("请写明延期理由，例如：2026-12-15 需要现场核查。")
    new_due = end_of_day(cfg.calendar, day)
    if ticket.due_at is not None and new_due <= ticket.due_at:
        raise InvalidInput("新的截止日期应晚于当前办理时限。")
    if not cfg.calendar.is_workday(day):
        raise InvalidInput(f"{day:%Y-%m-%d} 不是工作日，请选择工作日。")
    request = await ExtensionRequest.create(
        ticket_id=ticket.id,
        requested_by_id=actor.user_id,
        requested_by_name=actor.name,
        reason=reason,
        old_due_at=ticket.due_at,
        new_due_at=new_due,
    )
    await record_event(
        ticket,
        actor,
        "extend_request",
        note=reason[:500],
        data={"request": request.id, "new_due": new_due.isoformat()},
    )
    params = await ticket_params(ticket, tz=cfg.tz)
    params.update(
        request_id=request.id,
        reason=reason,
        who=actor.name,
        new_deadline=fmt_deadline(new_due, cfg.tz),
    )
    managers = await group_chat(TRIAGE_CODE)
    if managers is not None:
        await enqueue(
            chat_id=managers,
            kind="extension_request",
            params=params,
            ticket_id=ticket.id,
            link_role="extension",
        )
    if actor.chat_id is not None:
        await enqueue(
            chat_id=actor.chat_id, kind="extension_sent", params=params, ticket_id=ticket.id
        )


async def decide_extension(
    cfg: DeskConfig, *, actor: Actor, request_id: int, approve: bool
) -> str:
    """A manager (admin role) approves or rejects an extension request."""
    if not cfg.is_admin(actor.user_id):
        raise NotAllowed("只有管理员可以审批延期申请。")
    return await _decide_extension(cfg, actor=actor, request_id=request_id, approve=approve)


async def _decide_extension(
    cfg: DeskConfig, *, actor: Actor, request_id: int, approve: bool
) -> str:
    """Approve or reject (the caller checked the role)."""
    async with atomic():
        request = await ExtensionRequest.filter(id=request_id).select_for_update().first()
        if request is None:
            raise NotFound("找不到该延期申请。")
        if request.status != "pending":
            raise Conflict("该延期申请已处理过了。")
        ticket = await _ticket(request.ticket_id, lock=True)
        now = cfg.now()
        request.status = "approved" if approve else "rejected"
        request.decided_by_id, request.decided_by_name, request.decided_at = (
            actor.user_id,
            actor.name,
            now,
        )
        await request.save()
        open_states = (
            TicketStatus.CLAIMED,
            TicketStatus.WAITING,
            TicketStatus.DISPATCHED,
            TicketStatus.REOPENED,
        )
        if approve and ticket.status not in open_states:
            raise IllegalTransition("工单已不在办理中，无需延期。")
        params = await ticket_params(ticket, tz=cfg.tz)
        params.update(
            request_id=request.id,
            reason=request.reason,
            who=request.requested_by_name,
            decider=actor.name,
            new_deadline=fmt_deadline(request.new_due_at, cfg.tz),
            approved=approve,
            edit=True,
        )
        if approve:
            await Ticket.filter(id=ticket.id).update(due_at=request.new_due_at, updated_at=now)
            ticket.due_at = request.new_due_at
            await record_event(
                ticket,
                actor,
                "extend",
                note=request.reason[:500],
                data={"request": request.id, "new_due": request.new_due_at.isoformat()},
            )
            await _tell_enterprise(cfg, ticket, "extended")
        else:
            await record_event(ticket, actor, "extend_reject", data={"request": request.id})
        if actor.chat_id is not None:
            await enqueue(
                chat_id=actor.chat_id,
                kind="extension_request",
                params=params,
                ticket_id=ticket.id,
                link_role="extension",
            )
        dept_chat = await group_chat(ticket.department.code) if ticket.department else None
        if dept_chat is not None:
            await enqueue(
                chat_id=dept_chat,
                kind="extension_decided",
                params={**params, "edit": False, "reply_role": "card"},
                ticket_id=ticket.id,
            )
            if approve:
                await department_card(ticket, tz=cfg.tz, edit=True)
        return "已批准延期" if approve else "已驳回延期申请"


async def _return(cfg: DeskConfig, *, actor: Actor, ticket: Ticket, reason: str) -> None:
    now = cfg.now()
    old = ticket.department
    await _move(
        ticket,
        "return",
        actor,
        now=now,
        note=reason,
        data={"from": old.code if old else None},
        department_id=None,
        claimed_by_id=None,
        claimed_by_name=None,
        claimed_at=None,
    )
    params = await ticket_params(ticket, tz=cfg.tz)
    params.update(actions=[], note=f"已退回分拨（{actor.name}）：{reason}", edit=True)
    for old_chat in await keyaccounts.card_chats(actor, ticket, old.code if old else None):
        await enqueue(
            chat_id=old_chat,
            kind="card",
            params=params,
            ticket_id=ticket.id,
            link_role="card",
        )
    ticket.department = None
    await triage_card(
        ticket, tz=cfg.tz, edit=False, note=f"{old.short if old else ''}退回：{reason}"
    )


async def _resolve(cfg: DeskConfig, *, actor: Actor, ticket: Ticket, result: str) -> None:
    now = cfg.now()
    extra: dict[str, Any] = {}
    hours = _working_hours(cfg, ticket, now)
    if ticket.claimed_by_id is None:
        extra = {
            "claimed_by_id": actor.user_id,
            "claimed_by_name": actor.name,
            "claimed_at": now,
            "claim_hours": hours,
        }
    await _move(
        ticket,
        "resolve",
        actor,
        now=now,
        note=result[:500],
        result=result,
        resolved_at=now,
        resolve_hours=hours,
        resolved_by_name=actor.name,
        rating_solved=None,
        rating_satisfaction=None,
        **extra,
    )
    await _log_message(ticket, actor, direction="out", text=result)
    await department_card(ticket, tz=cfg.tz, edit=True)
    await _tell_enterprise(cfg, ticket, "visit", link_role="visit")


async def done_command(cfg: DeskConfig, *, actor: Actor, ref: str, result: str) -> None:
    """``/done REF result`` in the department's group."""
    result = _check_text(result, what="办理结果")
    async with atomic():
        ticket = await _ticket_by_ref(ref)
        await _require_dept_group(cfg, actor, ticket)
        await _resolve(cfg, actor=actor, ticket=ticket, result=result)


async def group_message(
    cfg: DeskConfig,
    *,
    actor: Actor,
    text: str = "",
    reply_to: int | None = None,
    quoted_ref: str | None = None,
    file: dict[str, Any] | None = None,
) -> bool:
    """A non-command message in a group: an answer to a prompt, or a reply to a ticket message.

    Returns:
        False when the message was not about a ticket (ordinary group chatter is ignored).
    """
    assert actor.chat_id is not None and actor.user_id is not None
    async with atomic():
        pending = await PendingInput.get_or_none(chat_id=actor.chat_id, user_id=actor.user_id)
        if pending is not None and file is None and text:
            ticket = await _ticket(pending.ticket_id)
            await pending.delete()
            await _require_dept_group(cfg, actor, ticket)
            if pending.kind == "wait":
                await _wait(
                    cfg, actor=actor, ticket=ticket, need=_check_text(text, what="补充要求")
                )
                return True
            if pending.kind == "extend":
                await _request_extension(cfg, actor=actor, ticket=ticket, text=text)
                return True
            if pending.kind == "return":
                await _return(
                    cfg, actor=actor, ticket=ticket, reason=_check_text(text, what="退回原因")
                )
            else:
                await _resolve(
                    cfg, actor=actor, ticket=ticket, result=_check_text(text, what="办理结果")
                )
            return True
        linked = await _linked_ticket(actor.chat_id, reply_to, quoted_ref)
        if linked is None:
            return False
        ticket = linked
        await _require_dept_group(cfg, actor, ticket)
        check("progress", ticket.status)
        if file is None:
            text = _check_text(text, what="回复内容")
        else:
            check_upload(file)
        await send_progress(ticket, actor, text=text, file=file)
        await enqueue(
            chat_id=actor.chat_id,
            kind="progress_ok",
            params={"ref": ticket.ref},
            ticket_id=ticket.id,
        )
        return True


async def send_progress(
    ticket: Ticket, actor: Actor, *, text: str, file: dict[str, Any] | None = None
) -> bool:
    """Staff tell the enterprise how its ticket goes (a reply to the card, or the web's 回复).

    Kept in the conversation, logged as ``progress`` and relayed to the enterprise's chat (a
    file is copied from ``actor.chat_id``). Call inside a transaction, after the state check.

    Returns:
        False when the enterprise has no Telegram chat to relay to.
    """
    await _log_message(ticket, actor, direction="out", text=text, file=file)
    await record_event(ticket, actor, "progress", note=text[:500])
    chat = await _member_chat(ticket)
    params = {
        "ref": ticket.ref,
        "text": text,
        "ticket_id": ticket.id,
        "department": ticket.department.short if ticket.department else "",
    }
    await grid_notice.copy_notice(ticket, "progress", params, reachable=chat is not None)
    if chat is None:
        return False
    if file and channel_of(chat) == "web" and file.get("file_id"):
        # The web cannot show a Telegram file: the Telegram channel fetches it, then the
        # message with the file is queued for the web chat (desk.webchat.fetched).
        await webchat.queue_fetch(chat_id=chat, ticket_id=ticket.id, file=file, params=params)
        return True
    if file:
        params.update(from_chat_id=actor.chat_id, message_id=file["message_id"])
    await enqueue(
        chat_id=chat,
        kind="copy_progress" if file else "progress",
        params=params,
        ticket_id=ticket.id,
        link_role="progress",
    )
    return True


async def cancel_pending(*, actor: Actor) -> bool:
    """``/cancel``: forget a question waiting for this user's answer in this chat."""
    async with atomic():
        deleted = await PendingInput.filter(chat_id=actor.chat_id, user_id=actor.user_id).delete()
        if deleted and actor.chat_id is not None:
            await enqueue(chat_id=actor.chat_id, kind="pending_cancelled", params={})
        return bool(deleted)


# ---------------------------------------------------------------- scheduled work


async def close_unrated(cfg: DeskConfig) -> int:
    """Close tickets whose return visit got no answer within the window (未评价)."""
    now = cfg.now()
    closed = 0
    for ticket in await Ticket.filter(status=TicketStatus.RESOLVED).prefetch_related(
        "department", "member", "enterprise"
    ):
        assert ticket.resolved_at is not None
        # The window ends with the office day of the N-th working day after the result.
        until = cfg.calendar.add_working_time(ticket.resolved_at, days=cfg.visit_working_days)
        if now <= until.at:
            continue
        try:
            async with atomic():
                await _move(
                    ticket,
                    "close",
                    Actor.system(),
                    now=now,
                    note="回访期满未评价",
                    closed_at=now,
                    close_reason="未评价",
                )
                await _tell_enterprise(
                    cfg, ticket, "visit", link_role="visit", edit=True, done=True, expired=True
                )
                await department_card(ticket, tz=cfg.tz, edit=True, note="回访期满，未评价")
            closed += 1
        except Conflict:
            continue
    return closed
