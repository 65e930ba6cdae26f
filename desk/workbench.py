"""The workbench: what people do to tickets from the admin web, with the Telegram rules.

This module owns who may see and act on which ticket from the web (``Viewer``: the role and
department of a logged-in account) and the web's actions: claim, reply, transfer, return to
screening, resolve, ask for more time, decide an extension, and the operator's intake of a
request taken by phone or on a visit. Each action runs the same transition, events and
notices as the button in the department's Telegram group (``desk.tickets``): a web user acts
as if from the department's group, so the group's card shows what happened and the enterprise
is told on Telegram when it is linked.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from models.department import Department
from models.enterprise import Enterprise, Member
from models.ticket import Ticket, TicketStatus

from . import tickets
from .actors import Actor
from .context import DeskConfig
from .db import atomic
from .errors import InvalidInput, NotAllowed, NotFound
from .notify import group_chat
from .validators import clean_name, normalize_mobile, normalize_uscc
from .workflow import check

# Roles of the web accounts (models.webuser.WebRole values) and what they may do.
READ_ALL = frozenset({"admin", "office", "manager"})
ACT_ALL = frozenset({"admin", "office"})
DECIDE_EXTENSIONS = frozenset({"admin", "office", "manager"})

# Where an operator took a request (Ticket.channel), with the words the web shows.
INTAKE_CHANNELS = {
    "phone": "热线电话",
    "visit": "来访",
    "grid": "网格员走访",
    "letter": "来信",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """A logged-in web account as the workbench sees it.

    Attributes:
        username: the account name (shown in cards and the timeline, with 「（网页）」).
        role: ``admin``, ``office``, ``manager`` or ``staff``.
        department_code: the department of a ``staff`` account.
    """

    username: str
    role: str
    department_code: str | None = None

    @property
    def reads_all(self) -> bool:
        return self.role in READ_ALL

    def may_see(self, ticket: Ticket) -> bool:
        """Staff see their department's tickets; the office, managers and admins see all."""
        if self.reads_all:
            return True
        dept = ticket.department
        return (
            self.role == "staff"
            and dept is not None
            and isinstance(dept, Department)
            and dept.code == self.department_code
        )

    def may_act(self, ticket: Ticket) -> bool:
        """Admins and the office act on any ticket; staff on their department's; managers read."""
        if self.role in ACT_ALL:
            return True
        return self.role == "staff" and self.may_see(ticket)


async def visible_ticket(*, viewer: Viewer, ticket_id: int) -> Ticket:
    """The ticket, if ``viewer`` may see it.

    Raises:
        NotFound: no such ticket.
        NotAllowed: the ticket belongs to another department.
    """
    ticket = (
        await Ticket.filter(id=ticket_id)
        .first()
        .prefetch_related("department", "member", "enterprise")
    )
    if ticket is None:
        raise NotFound("找不到该工单。")
    if not viewer.may_see(ticket):
        raise NotAllowed("这是其他部门的工单，您无权查看。")
    return ticket


async def triage_queue(*, limit: int = 200) -> tuple[list[Ticket], list[Department]]:
    """Tickets waiting for the hotline office's screening, oldest first, and the departments
    they may go to (active ones, in the desk's order)."""
    waiting = (
        await Ticket.filter(status=TicketStatus.TRIAGE)
        .order_by("created_at")
        .limit(limit)
        .prefetch_related("enterprise")
    )
    return waiting, await Department.filter(active=True).order_by("sort", "code")


async def _acting(cfg: DeskConfig, *, viewer: Viewer, ticket_id: int) -> tuple[Ticket, Actor]:
    """Lock the ticket, check the viewer may act on it, and the actor to act as.

    The actor acts from the ticket's department group when one is bound (so the card there is
    edited like after a button press); a department without Telegram works from the web only.
    """
    ticket = await tickets._ticket(ticket_id, lock=True)
    if not viewer.may_see(ticket):
        raise NotAllowed("这是其他部门的工单，您无权办理。")
    if not viewer.may_act(ticket):
        raise NotAllowed("您的角色只能查看工单，不能办理。")
    dept = ticket.department
    chat = await group_chat(dept.code) if isinstance(dept, Department) else None
    return ticket, web_actor(viewer, chat_id=chat)


def web_actor(viewer: Viewer, *, chat_id: int | None = None) -> Actor:
    """How a web account appears in events, cards and messages: 「张三（网页）」."""
    return Actor(kind="staff", user_id=None, name=f"{viewer.username}（网页）", chat_id=chat_id)


async def claim(cfg: DeskConfig, *, viewer: Viewer, ticket_id: int) -> str:
    """认领: the first claim wins, whether pressed in Telegram or on the web."""
    async with atomic():
        ticket, actor = await _acting(cfg, viewer=viewer, ticket_id=ticket_id)
        await tickets._claim(cfg, actor=actor, ticket=ticket, now=cfg.now())
        return "认领成功"


async def reply(cfg: DeskConfig, *, viewer: Viewer, ticket_id: int, text: str) -> str:
    """A progress message to the enterprise (like a reply to the card in the group)."""
    text = tickets._check_text(text, what="回复内容")
    async with atomic():
        ticket, actor = await _acting(cfg, viewer=viewer, ticket_id=ticket_id)
        check("progress", ticket.status)
        if await tickets.send_progress(ticket, actor, text=text):
            return "已发送给企业"
        return "已记录（该企业未绑定 Telegram，请电话告知）"


async def ask_enterprise(cfg: DeskConfig, *, viewer: Viewer, ticket_id: int, need: str) -> str:
    """请企业补充: ask the enterprise for material; the deadline clock pauses until it answers."""
    need = tickets._check_text(need, what="补充要求")
    async with atomic():
        ticket, actor = await _acting(cfg, viewer=viewer, ticket_id=ticket_id)
        await tickets._wait(cfg, actor=actor, ticket=ticket, need=need)
        return "已请企业补充材料，办理时限暂停计时"


async def transfer(cfg: DeskConfig, *, viewer: Viewer, ticket_id: int, code: str) -> str:
    """转办 to another department (its group gets a fresh card)."""
    async with atomic():
        ticket, actor = await _acting(cfg, viewer=viewer, ticket_id=ticket_id)
        check("transfer", ticket.status)
        dept = await tickets._department(code)
        return await tickets._transfer(cfg, actor=actor, ticket=ticket, dept=dept, now=cfg.now())


async def return_to_triage(cfg: DeskConfig, *, viewer: Viewer, ticket_id: int, reason: str) -> str:
    """退回 to the hotline office's screening, with a reason."""
    reason = tickets._check_text(reason, what="退回原因")
    async with atomic():
        ticket, actor = await _acting(cfg, viewer=viewer, ticket_id=ticket_id)
        await tickets._return(cfg, actor=actor, ticket=ticket, reason=reason)
        return "已退回分拨"


async def resolve(cfg: DeskConfig, *, viewer: Viewer, ticket_id: int, result: str) -> str:
    """办结 with the result; the enterprise gets it with the return-visit questions."""
    result = tickets._check_text(result, what="办理结果")
    async with atomic():
        ticket, actor = await _acting(cfg, viewer=viewer, ticket_id=ticket_id)
        await tickets._resolve(cfg, actor=actor, ticket=ticket, result=result)
        return "已办结，结果已发送给企业"


async def request_extension(
    cfg: DeskConfig, *, viewer: Viewer, ticket_id: int, day: dt.date, reason: str
) -> str:
    """申请延期 to ``day`` with a reason; managers decide (Telegram or web)."""
    reason = tickets._check_text(reason, what="延期理由")
    async with atomic():
        ticket, actor = await _acting(cfg, viewer=viewer, ticket_id=ticket_id)
        await tickets.check_extension_allowed(cfg, ticket=ticket)
        await tickets._request_extension(
            cfg, actor=actor, ticket=ticket, text=f"{day:%Y-%m-%d} {reason}"
        )
        return "延期申请已提交，等待审批"


async def decide_extension(
    cfg: DeskConfig, *, viewer: Viewer, request_id: int, approve: bool
) -> str:
    """Approve or reject an extension request (managers, the office, admins)."""
    if viewer.role not in DECIDE_EXTENSIONS:
        raise NotAllowed("只有管理人员可以审批延期申请。")
    return await tickets._decide_extension(
        cfg, actor=web_actor(viewer), request_id=request_id, approve=approve
    )


_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")


def _phone(raw: str) -> str:
    """A mobile number, or a landline with its area code (callers often ring from the office)."""
    compact = re.sub(r"[\s()（）]", "", raw)
    if _LANDLINE.fullmatch(compact):
        return compact
    try:
        return normalize_mobile(raw)
    except InvalidInput:
        raise InvalidInput(
            "电话号码格式不正确：请填写11位手机号，或带区号的固定电话，例如 022-25201111。"
        ) from None


async def open_for_enterprise(
    cfg: DeskConfig,
    *,
    viewer: Viewer,
    enterprise_name: str,
    credit_code: str,
    contact_name: str,
    phone: str,
    text: str,
    channel: str,
) -> Ticket:
    """An operator's intake (热线坐席/网格员): a request taken by phone, visit or letter.

    The enterprise is found by its credit code (or created); the contact by phone number within
    it (or created). Notices reach the enterprise on Telegram when that contact, or failing that
    another contact of the enterprise, is linked to Telegram; the channel is recorded.

    Raises:
        NotAllowed: only the office and admins take requests.
        InvalidInput: a bad name, credit code, phone, channel or text.
    """
    if viewer.role not in ACT_ALL:
        raise NotAllowed("只有热线办人员可以代企业登记诉求。")
    if channel not in INTAKE_CHANNELS:
        raise InvalidInput("请选择受理渠道。")
    name = clean_name(enterprise_name, what="企业名称", max_len=128)
    code = normalize_uscc(credit_code) if credit_code.strip() else ""
    person = clean_name(contact_name, what="联系人", max_len=64)
    mobile = _phone(phone)
    text = tickets._check_text(text, what="诉求内容")
    by = web_actor(viewer)
    async with atomic():
        enterprise = await Enterprise.get_or_none(credit_code=code) if code else None
        if enterprise is None:
            enterprise = await Enterprise.create(name=name, credit_code=code or None)
        member = await Member.filter(enterprise_id=enterprise.id, phone=mobile).first()
        if member is None or member.chat_id is None:
            linked = (
                await Member.filter(enterprise_id=enterprise.id, chat_id__not_isnull=True)
                .order_by("-id")
                .first()
            )
            if linked is not None:
                member = linked
        if member is None:
            member = await Member.create(
                enterprise=enterprise, contact_name=person, phone=mobile, chat_id=None
            )
        await member.fetch_related("enterprise")
        return await tickets._open(
            cfg,
            member=member,
            text=text,
            channel=channel,
            by=by,
        )
