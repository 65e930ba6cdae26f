"""Grid workers (网格员) submit requests on behalf of the enterprises on their list.

A grid worker holds the ``grid`` role (``/grant grid`` in reply to them, or the admin web) and a
list of enterprises (kept in the admin web by the hotline office, audited as ``grid.assign`` and
``grid.unassign``). In their private chat, ``/submit`` opens a dialog kept in the ``grid_draft``
table (several workers share it): pick the enterprise (buttons; a typed word searches the list),
describe the problem (text, or a photo or document with a caption), then 确认提交 / 取消.

The ticket belongs to the enterprise: it is opened with the enterprise's contact as its member
(the first contact reachable in a chat, else the first one), channel ``grid``, and the grid
worker as the actor of its ``create`` event. The enterprise gets the usual notices (its ack says
which grid worker filed it); the grid worker gets copies (``desk.grid_notice``).

Precedence in a private chat that is also an enterprise contact's: while a ``/submit`` dialog is
open, the next texts and files belong to it; otherwise they are the enterprise's own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from models.enterprise import Enterprise, Member
from models.grid import GridAssignment, GridDraft
from models.staff import Role, RoleGrant

from . import audit, registration, tickets
from .actors import Actor
from .audit import Editor
from .context import DeskConfig
from .db import atomic
from .errors import Conflict, InvalidInput, NotAllowed, NotFound
from .notify import enqueue
from .validators import check_upload, strip_controls

SHOWN = 8  # enterprise buttons at once; more are reached by typing part of the name
NOT_GRID = "/submit 仅限网格员使用；如需开通，请联系热线办管理员。"
NOT_ON_LIST = "该企业不在您的网格名单中，不能代为提交。"
NO_DIALOG = "没有进行中的代报，请发送 /submit 重新开始。"


# ---------------------------------------------------------------- roles and lists


async def grant_for(user_id: int | None) -> RoleGrant | None:
    """The ``grid`` grant of a Telegram user, if they are a grid worker."""
    if user_id is None:
        return None
    return await RoleGrant.get_or_none(user_id=user_id, role=Role.GRID.value)


async def _require_grid(actor: Actor) -> RoleGrant:
    grant = await grant_for(actor.user_id)
    if grant is None:
        raise NotAllowed(NOT_GRID)
    return grant


def _by(actor: Actor, grant: RoleGrant) -> Actor:
    return Actor(
        kind="grid", user_id=actor.user_id, name=grant.name or actor.name, chat_id=actor.chat_id
    )


async def _assigned(user_id: int, query: str = "") -> tuple[list[Enterprise], int]:
    """(the first ``SHOWN`` enterprises on the list matching ``query``, how many match)."""
    base = Enterprise.filter(grid_assignments__user_id=user_id)
    if query:
        base = base.filter(Q(name__icontains=query) | Q(credit_code__icontains=query.upper()))
    total = await base.count()
    return await base.order_by("name", "id").limit(SHOWN), total


async def _on_list(user_id: int, enterprise_id: int) -> bool:
    return await GridAssignment.exists(user_id=user_id, enterprise_id=enterprise_id)


# ---------------------------------------------------------------- the /submit dialog


async def in_progress(user_id: int | None) -> bool:
    return user_id is not None and await GridDraft.exists(user_id=user_id)


async def _pick_prompt(*, chat_id: int, user_id: int, query: str = "") -> None:
    ents, total = await _assigned(user_id, query)
    await enqueue(
        chat_id=chat_id,
        kind="grid_pick",
        params={
            "choices": [[e.id, e.name] for e in ents],
            "total": total,
            "query": query,
            "more": total > len(ents),
        },
    )


async def start(*, actor: Actor) -> None:
    """``/submit``: a grid worker begins (or begins again) a request for an enterprise.

    Raises:
        NotAllowed: not a grid worker.
        Conflict: a registration of their own is in progress.
        InvalidInput: no enterprise on their list yet.
    """
    assert actor.user_id is not None and actor.chat_id is not None
    await _require_grid(actor)
    if await registration.in_progress(actor.user_id):
        raise Conflict("请先完成企业注册，或发送 /cancel 取消注册，再使用 /submit。")
    if not await GridAssignment.exists(user_id=actor.user_id):
        raise InvalidInput("您的网格名单中还没有企业，请联系热线办在管理后台添加。")
    async with atomic():
        await GridDraft.filter(user_id=actor.user_id).delete()
        await GridDraft.create(user_id=actor.user_id, chat_id=actor.chat_id, step="pick")
        await _pick_prompt(chat_id=actor.chat_id, user_id=actor.user_id)


async def _locked_draft(user_id: int) -> GridDraft | None:
    return await GridDraft.filter(user_id=user_id).select_for_update().first()


async def pick(*, actor: Actor, enterprise_id: int) -> str:
    """The grid worker pressed an enterprise's button (``w:<enterprise>:pick``).

    Raises:
        NotAllowed: not a grid worker, or the enterprise is not on their list.
        Conflict: no dialog waiting for an enterprise.
    """
    assert actor.user_id is not None and actor.chat_id is not None
    async with atomic():
        await _require_grid(actor)
        if not await _on_list(actor.user_id, enterprise_id):
            raise NotAllowed(NOT_ON_LIST)
        draft = await _locked_draft(actor.user_id)
        if draft is None or draft.step != "pick":
            raise Conflict(
                NO_DIALOG if draft is None else "已选择过企业；如需更换，请发送 /submit 重新开始。"
            )
        ent = await Enterprise.get(id=enterprise_id)
        draft.enterprise_id, draft.step = ent.id, "text"
        await draft.save(update_fields=["enterprise_id", "step", "updated_at"])
        await enqueue(chat_id=actor.chat_id, kind="grid_ask_text", params={"enterprise": ent.name})
        return f"已选择：{ent.name}"[:200]


async def _confirm_prompt(draft: GridDraft, chat_id: int) -> None:
    ent = await Enterprise.get(id=draft.enterprise_id)
    file = draft.file or {}
    await enqueue(
        chat_id=chat_id,
        kind="grid_confirm",
        params={
            "draft_id": draft.id,
            "enterprise": ent.name,
            "text": draft.text,
            "file": str(file.get("name") or ("图片" if file.get("kind") == "photo" else ""))
            if file
            else "",
        },
    )


async def answer(*, actor: Actor, text: str, file: dict[str, Any] | None = None) -> None:
    """A text (or a file with its caption) while the grid worker's ``/submit`` is open.

    At the enterprise step a text searches the list; at the description step (and at the
    confirmation, to replace it) it is the request.
    """
    assert actor.user_id is not None and actor.chat_id is not None
    if file is not None:
        check_upload(file)  # refused with a clear message, nothing stored
    async with atomic():
        await _require_grid(actor)
        draft = await _locked_draft(actor.user_id)
        if draft is None:
            raise Conflict(NO_DIALOG)
        if draft.step == "pick":
            if file is not None:
                raise InvalidInput("请先选择企业，再发送材料。")
            query = " ".join(strip_controls(text).split())[:64]
            await _pick_prompt(chat_id=actor.chat_id, user_id=actor.user_id, query=query)
            return
        assert draft.enterprise_id is not None
        if file is None and not strip_controls(text).strip():
            raise InvalidInput("诉求内容不能为空。")
        if file is not None:
            draft.file = file
        if text.strip():
            draft.text = tickets._check_text(text, what="诉求内容")
        if not draft.text:  # a file without a caption: the words are still to come
            await draft.save(update_fields=["file", "updated_at"])
            ent = await Enterprise.get(id=draft.enterprise_id)
            await enqueue(
                chat_id=actor.chat_id,
                kind="grid_ask_text",
                params={"enterprise": ent.name, "file_kept": True},
            )
            return
        draft.step = "confirm"
        await draft.save(update_fields=["file", "text", "step", "updated_at"])
        await _confirm_prompt(draft, actor.chat_id)


async def _contact(enterprise_id: int) -> Member:
    """The member a grid ticket is opened for: the first contact reachable in a chat, else the
    first contact (the ticket still opens; the grid worker is told to pass the news on)."""
    member = (
        await Member.filter(enterprise_id=enterprise_id, chat_id__isnull=False)
        .order_by("id")
        .first()
        or await Member.filter(enterprise_id=enterprise_id).order_by("id").first()
    )
    if member is None:
        raise InvalidInput("该企业尚无登记的联系人，无法代为提交；请联系热线办补录企业联系人。")
    return member


async def decide(cfg: DeskConfig, *, actor: Actor, draft_id: int, confirm: bool) -> str:
    """确认提交 (``w:<draft>:ok``) or 取消 (``w:<draft>:no``) under the confirmation.

    Raises:
        NotAllowed: not a grid worker, or the enterprise left their list meanwhile.
        NotFound: no such dialog of theirs (handled already, or someone else's).
        Conflict: the description is still missing.
        InvalidInput: the enterprise has no contact at all.
    """
    assert actor.user_id is not None and actor.chat_id is not None
    async with atomic():
        grant = await _require_grid(actor)
        draft = await GridDraft.filter(id=draft_id).select_for_update().first()
        if draft is None or draft.user_id != actor.user_id:
            raise NotFound("该代报已处理过或不存在。")
        if not confirm:
            await draft.delete()
            await enqueue(chat_id=actor.chat_id, kind="grid_cancelled", params={})
            return "已取消"
        if draft.step != "confirm" or draft.enterprise_id is None:
            raise Conflict("请先选择企业并填写诉求内容。")
        if not await _on_list(actor.user_id, draft.enterprise_id):
            raise NotAllowed(NOT_ON_LIST)
        member = await _contact(draft.enterprise_id)
        by = _by(actor, grant)
        ticket = await tickets._open(cfg, member=member, text=draft.text, channel="grid", by=by)
        if draft.file:
            await tickets._followup(
                cfg, ticket=ticket, actor=by, file=draft.file, label="网格员附件"
            )
        await draft.delete()
        return f"已提交：{ticket.ref}"


async def cancel(*, actor: Actor) -> bool:
    """``/cancel`` during ``/submit``. Returns whether there was a dialog."""
    assert actor.chat_id is not None
    if actor.user_id is None:
        return False
    async with atomic():
        deleted = await GridDraft.filter(user_id=actor.user_id).delete()
        if deleted:
            await enqueue(chat_id=actor.chat_id, kind="grid_cancelled", params={})
        return bool(deleted)


# ---------------------------------------------------------------- the admin web


@dataclass(frozen=True)
class GridEnterprise:
    id: int
    name: str
    credit_code: str
    added_by: str
    added_at: dt.datetime


@dataclass(frozen=True)
class GridWorker:
    user_id: int
    name: str
    enterprises: list[GridEnterprise]


async def list_workers() -> list[GridWorker]:
    """Every grid worker with their enterprises (two queries)."""
    grants = await RoleGrant.filter(role=Role.GRID.value).order_by("granted_at", "id")
    ids = [g.user_id for g in grants]
    per: dict[int, list[GridEnterprise]] = {}
    if ids:
        for a in (
            await GridAssignment.filter(user_id__in=ids)
            .order_by("enterprise__name", "id")
            .prefetch_related("enterprise")
        ):
            per.setdefault(a.user_id, []).append(
                GridEnterprise(
                    id=a.enterprise.id,
                    name=a.enterprise.name,
                    credit_code=a.enterprise.credit_code or "",
                    added_by=a.added_by,
                    added_at=a.added_at,
                )
            )
    return [
        GridWorker(user_id=g.user_id, name=g.name, enterprises=per.get(g.user_id, []))
        for g in grants
    ]


async def worker(user_id: int) -> GridWorker:
    """One grid worker and their list.

    Raises:
        NotFound: the user is not a grid worker.
    """
    for w in await list_workers():
        if w.user_id == user_id:
            return w
    raise NotFound(f"用户 {user_id} 不是网格员。")


async def _enterprise_for(ref: str) -> Enterprise:
    """An enterprise named by its id, its credit code or its exact name (a form's field)."""
    text = " ".join(strip_controls(ref).split())[:128]
    if not text:
        raise InvalidInput("请填写企业 ID、统一社会信用代码或企业全称。")
    ent = None
    if text.isdigit() and len(text) < 10:
        ent = await Enterprise.get_or_none(id=int(text))
    if ent is None and len(text) == 18:
        ent = await Enterprise.get_or_none(credit_code=text.upper())
    if ent is None:
        named = await Enterprise.filter(name=text).limit(2)
        if len(named) > 1:
            raise InvalidInput(f"有多家企业名为「{text}」，请改填企业 ID 或信用代码。")
        ent = named[0] if named else None
    if ent is None:
        raise NotFound(f"找不到企业「{text}」。")
    return ent


async def assign(*, who: Editor, user_id: int, enterprise: str) -> GridEnterprise:
    """Put an enterprise on a grid worker's list (``grid.assign`` in the audit log).

    Raises:
        NotFound: the user is not a grid worker, or no such enterprise.
        InvalidInput: an empty or ambiguous enterprise.
        Conflict: the enterprise is on the list already (nothing changes).
    """
    grant = await RoleGrant.get_or_none(user_id=user_id, role=Role.GRID.value)
    if grant is None:
        raise NotFound(f"用户 {user_id} 不是网格员，请先授予网格员角色。")
    ent = await _enterprise_for(enterprise)
    if await _on_list(user_id, ent.id):
        raise Conflict(f"{ent.name} 已在该网格员的名单中。")
    try:
        async with atomic():
            row = await GridAssignment.create(
                user_id=user_id, enterprise_id=ent.id, added_by=who.name
            )
            await audit.log(
                who,
                "grid.assign",
                f"tg:{user_id}",
                {"enterprise_id": ent.id, "enterprise": ent.name},
            )
    except IntegrityError:
        raise Conflict(f"{ent.name} 已在该网格员的名单中。") from None
    return GridEnterprise(
        id=ent.id,
        name=ent.name,
        credit_code=ent.credit_code or "",
        added_by=who.name,
        added_at=row.added_at,
    )


async def unassign(*, who: Editor, user_id: int, enterprise_id: int) -> None:
    """Take an enterprise off a grid worker's list (``grid.unassign``).

    Raises:
        NotFound: the enterprise is not on the list (nothing changes).
    """
    async with atomic():
        row = (
            await GridAssignment.filter(user_id=user_id, enterprise_id=enterprise_id)
            .prefetch_related("enterprise")
            .first()
        )
        if row is None:
            raise NotFound("该企业不在此网格员的名单中。")
        await GridAssignment.filter(id=row.id).delete()
        await audit.log(
            who,
            "grid.unassign",
            f"tg:{user_id}",
            {"enterprise_id": enterprise_id, "enterprise": row.enterprise.name},
        )
