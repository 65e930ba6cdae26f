"""Key projects and key enterprises and their butlers (一项目一管家).

An enterprise marked 重点项目 or 重点企业 has a butler: a Telegram user of the hotline office or
an investment department. The butler gets a private copy of every card of the enterprise's
tickets, with the same buttons, and may act on them from that private chat like the
department's staff (claim, transfer, wait, resolve, return, extend, reply). The enterprise's
tickets are flagged on cards, in its acknowledgement and in the admin web, and may have
stricter SLA targets than the policy (the stricter of the two applies, at creation and when a
ticket is reopened).

The butler's chat is its Telegram user id (a private chat has the user's id): the butler must
have started a private chat with the bot (``/start``), or Telegram refuses the messages; the
assignment notice tells the office whether it was delivered.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from models.department import GroupBinding
from models.enterprise import Enterprise
from models.keyaccount import KEY_LABELS, KeyAccount, KeyKind
from models.outbox import MessageLink, OutboxMessage, OutboxStatus
from models.ticket import PendingInput

from . import audit
from .actors import Actor
from .audit import Editor
from .db import atomic
from .errors import InvalidInput, NotFound
from .sla import MAX_RESOLVE_DAYS, MAX_RESPOND_HOURS, Policy
from .validators import strip_controls

TG_ID_MAX = 1 << 52  # Telegram ids; the web chat's ids start here (desk.notify.WEB_BASE)
KIND_CHOICES = [(k.value, KEY_LABELS[k]) for k in KeyKind]


@dataclass(frozen=True)
class KeyInfo:
    """What the admin page shows of an enterprise's key status."""

    kind: str
    label: str
    project: str
    butler_user_id: int
    butler_name: str
    respond_hours: float | None
    resolve_days: int | None
    notice: str  # delivery of the assignment notice: 待发送 / 已送达 / 未送达…


def flag(row: KeyAccount | None) -> str:
    """``【重点企业】`` / ``【重点项目·滨海新材料】`` or ``""``."""
    if row is None:
        return ""
    label = KEY_LABELS.get(KeyKind(row.kind), "重点企业")
    return f"【{label}·{row.project}】" if row.project else f"【{label}】"


async def flags() -> dict[int, str]:
    """Every key enterprise's flag by enterprise id (for exports: one read for all rows)."""
    return {row.enterprise_id: flag(row) for row in await KeyAccount.all()}


async def for_enterprise(enterprise_id: int | None) -> KeyAccount | None:
    if enterprise_id is None:
        return None
    return await KeyAccount.get_or_none(enterprise_id=enterprise_id)


async def flags_for(enterprise_ids: list[int]) -> dict[int, str]:
    """Flags of several enterprises at once (for lists)."""
    rows = await KeyAccount.filter(enterprise_id__in=list(set(enterprise_ids)))
    return {r.enterprise_id: flag(r) for r in rows}


async def key_enterprise_ids() -> list[int]:
    return list(await KeyAccount.all().values_list("enterprise_id", flat=True))  # type: ignore[arg-type]


async def butler_chat(enterprise_id: int | None) -> int | None:
    """The butler's private chat for an enterprise's tickets, if it is key."""
    row = await for_enterprise(enterprise_id)
    return row.butler_user_id if row else None


async def is_butler(user_id: int | None) -> bool:
    """Whether a user is the butler of any enterprise now."""
    return user_id is not None and await KeyAccount.exists(butler_user_id=user_id)


def acting_as_butler(actor: Actor, row: KeyAccount | None) -> bool:
    """``actor`` is ``row``'s butler, acting from its own private chat."""
    return (
        row is not None
        and actor.user_id is not None
        and actor.user_id == row.butler_user_id
        and actor.chat_id == actor.user_id
    )


def as_staff(actor: Actor) -> Actor:
    """A butler pressing a card in its private chat acts as staff (recorded by name)."""
    return dataclasses.replace(actor, kind="staff")


def stricter(policy: Policy, row: KeyAccount | None) -> Policy:
    """The policy with the enterprise's override applied where it is stricter."""
    if row is None:
        return policy
    respond_hours, respond_clock = policy.respond_hours, policy.respond_clock
    if row.respond_hours is not None and row.respond_hours < policy.respond_hours:
        respond_hours = row.respond_hours  # counted the way the policy counts (clock or work)
    resolve_days, resolve_hours = policy.resolve_days, policy.resolve_hours
    if row.resolve_days is not None:
        current = policy.resolve_days + policy.resolve_hours / 7.0
        if row.resolve_days < current:
            resolve_days, resolve_hours = row.resolve_days, 0.0
    return Policy(respond_hours, respond_clock, resolve_days, resolve_hours)


# -- editing (admin web, hotline office) ------------------------------------------------------


@dataclass(frozen=True)
class KeyInput:
    kind: str
    project: str
    butler_user_id: int
    butler_name: str
    respond_hours: float | None
    resolve_days: int | None

    def as_fields(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_key(
    *,
    kind: str,
    project: str,
    butler_user_id: str,
    butler_name: str,
    respond_hours: str = "",
    resolve_days: str = "",
) -> KeyInput:
    """Check the marking form (numbers as text).

    Raises:
        InvalidInput: every problem, in Chinese.
    """
    problems: list[str] = []
    if kind not in {k.value for k in KeyKind}:
        problems.append("请选择类型：重点项目或重点企业。")
    clean_project = " ".join(strip_controls(project).split())
    if len(clean_project) > 128:
        problems.append("项目名称不能超过 128 个字。")
    uid_text = butler_user_id.strip()
    uid = 0
    if not uid_text.isdigit() or not 0 < int(uid_text) < TG_ID_MAX:
        problems.append("管家的 Telegram 用户 ID 须为正整数。")
    else:
        uid = int(uid_text)
    name = " ".join(strip_controls(butler_name).split())
    if not name:
        problems.append("请填写管家姓名。")
    elif len(name) > 128:
        problems.append("管家姓名不能超过 128 个字。")
    respond: float | None = None
    if respond_hours.strip():
        try:
            respond = float(respond_hours.strip())
        except ValueError:
            problems.append(f"响应时限“{respond_hours.strip()}”不是数字。")
        else:
            if not math.isfinite(respond) or not 0 < respond <= MAX_RESPOND_HOURS:
                problems.append(f"响应时限应大于 0、不超过 {MAX_RESPOND_HOURS:g} 个工作小时。")
                respond = None
    days: int | None = None
    if resolve_days.strip():
        text = resolve_days.strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_RESOLVE_DAYS:
            problems.append(f"办结时限应为 1 到 {MAX_RESOLVE_DAYS} 之间的整数个工作日。")
        else:
            days = int(text)
    if problems:
        raise InvalidInput("重点企业设置有误：\n" + "\n".join(problems))
    return KeyInput(kind, clean_project, uid, name, respond, days)


def _fields(row: KeyAccount) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "project": row.project,
        "butler_user_id": row.butler_user_id,
        "butler_name": row.butler_name,
        "respond_hours": row.respond_hours,
        "resolve_days": row.resolve_days,
    }


async def set_key(*, who: Editor, enterprise_id: int, data: KeyInput) -> KeyAccount:
    """Mark an enterprise key (or change its marking): audited as ``enterprise.key``.

    The butler is told in its private chat (``key_assigned``); a butler replaced loses the
    enterprise's tickets at once (the checks read this row on every press).

    Raises:
        NotFound: no such enterprise.
    """
    async with atomic():
        ent = await Enterprise.get_or_none(id=enterprise_id)
        if ent is None:
            raise NotFound("找不到该企业。")
        row = await KeyAccount.filter(enterprise_id=enterprise_id).select_for_update().first()
        before = _fields(row) if row else None
        if row is None:
            row = await KeyAccount.create(enterprise_id=enterprise_id, **data.as_fields())
        else:
            await KeyAccount.filter(id=row.id).update(**data.as_fields())
            await row.refresh_from_db()
        await audit.log(
            who,
            "enterprise.key",
            f"enterprise:{enterprise_id}",
            {"name": ent.name, "before": before, "after": _fields(row)},
        )
        from .notify import enqueue  # notify reads this module for the flags

        last = (
            await OutboxMessage.filter(chat_id=row.butler_user_id, kind="key_assigned")
            .order_by("-id")
            .first()
        )
        changed = before is None or before["butler_user_id"] != row.butler_user_id
        if changed or last is None or last.status == OutboxStatus.FAILED:
            await enqueue(
                chat_id=row.butler_user_id,
                kind="key_assigned",
                params={"enterprise": ent.name, "flag": flag(row), "name": row.butler_name},
            )
        if before is not None and before["butler_user_id"] != row.butler_user_id:
            await enqueue(
                chat_id=before["butler_user_id"],
                kind="key_removed",
                params={"enterprise": ent.name},
            )
        return row


async def clear_key(*, who: Editor, enterprise_id: int) -> None:
    """Unmark an enterprise (``enterprise.unkey``); its butler loses it at once.

    Raises:
        NotFound: the enterprise is not marked.
    """
    async with atomic():
        row = await KeyAccount.get_or_none(enterprise_id=enterprise_id)
        if row is None:
            raise NotFound("该企业未标记为重点企业。")
        ent = await Enterprise.get_or_none(id=enterprise_id)
        await KeyAccount.filter(id=row.id).delete()
        await audit.log(
            who, "enterprise.unkey", f"enterprise:{enterprise_id}", {"before": _fields(row)}
        )
        from .notify import enqueue

        await enqueue(
            chat_id=row.butler_user_id,
            kind="key_removed",
            params={"enterprise": ent.name if ent else str(enterprise_id)},
        )


_NOTICE = {
    OutboxStatus.PENDING: "通知待发送",
    OutboxStatus.SENDING: "通知发送中",
    OutboxStatus.SENT: "已通知管家（私聊可达）",
    OutboxStatus.FAILED: "通知未送达：请管家先私聊机器人发送 /start，再重新保存",
}


async def key_info(enterprise_id: int) -> KeyInfo | None:
    """The enterprise's key marking for the admin page, with the notice's delivery."""
    row = await for_enterprise(enterprise_id)
    if row is None:
        return None
    notice = (
        await OutboxMessage.filter(chat_id=row.butler_user_id, kind="key_assigned")
        .order_by("-id")
        .first()
    )
    return KeyInfo(
        kind=row.kind,
        label=KEY_LABELS.get(KeyKind(row.kind), ""),
        project=row.project,
        butler_user_id=row.butler_user_id,
        butler_name=row.butler_name,
        respond_hours=row.respond_hours,
        resolve_days=row.resolve_days,
        notice=_NOTICE.get(notice.status, "") if notice else "",
    )


async def copy_card(ticket: Any, params: dict[str, Any], *, enqueue: Any) -> None:
    """The butler's private copy of a department card (same buttons, kept in step by edits:
    its ``card`` link in the butler's chat is what later edits change)."""
    if not params.get("department_code"):
        return
    chat = await butler_chat(ticket.enterprise_id)
    if chat is None:
        return
    copy = dict(params, butler=True)
    await enqueue(chat_id=chat, kind="card", params=copy, ticket_id=ticket.id, link_role="card")


async def card_chats(actor: Actor, ticket: Any, old_code: str | None) -> list[int]:
    """Where a card leaving its department is edited (transfer, return): the department's
    group (the actor's chat when it acted there) and the butler's copy."""
    chats: list[int] = []
    if actor.chat_id is not None and actor.chat_id != actor.user_id:
        chats.append(actor.chat_id)
    elif actor.chat_id is not None and old_code:  # the butler, from its private chat
        binding = await GroupBinding.get_or_none(code=old_code)
        if binding is not None:
            chats.append(binding.chat_id)
    butler = await butler_chat(ticket.enterprise_id)
    if butler is not None and butler not in chats:
        chats.append(butler)
    return chats


STAFF_PROMPTS = ("resolve", "return", "wait", "extend")


async def staff_text(actor: Actor, reply_to: int | None) -> bool:
    """Whether a private text is a butler's staff work: the answer to a card's prompt
    (办结, 退回, 补充, 延期), or a reply to its copy of a card (progress for the enterprise).
    Anything else goes the enterprise's way (a butler may also be an enterprise's contact)."""
    if actor.chat_id is None or actor.chat_id != actor.user_id:
        return False
    if not await is_butler(actor.user_id):
        return False
    if await PendingInput.exists(
        chat_id=actor.chat_id, user_id=actor.user_id, kind__in=STAFF_PROMPTS
    ):
        return True
    return reply_to is not None and await MessageLink.exists(
        chat_id=actor.chat_id, message_id=reply_to, role="card"
    )
