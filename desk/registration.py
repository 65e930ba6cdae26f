"""Enterprise registration in a private chat: 企业名称 → 信用代码 → 联系人 → 手机.

The dialog state lives in the ``registration`` table, so a restart or a second worker continues
where the user left off. Several users may join one enterprise: a known credit code (or, when
the code was skipped, the exact same company name without a code) joins the existing one.
"""

from __future__ import annotations

from models.enterprise import Enterprise, Member, Registration

from .actors import Actor
from .db import atomic
from .errors import InvalidInput
from .notify import enqueue
from .validators import clean_name, mask_phone, normalize_mobile, normalize_uscc

SKIP_WORDS = frozenset({"跳过", "skip", "无", "没有", "暂无"})
STEPS = ("name", "code", "contact", "phone")


async def member_for(user_id: int) -> Member | None:
    """The registered member behind a Telegram user, with its enterprise."""
    return await Member.get_or_none(tg_user_id=user_id).prefetch_related("enterprise")


async def in_progress(user_id: int) -> bool:
    return await Registration.exists(tg_user_id=user_id)


async def start(*, actor: Actor, phone: str | None = None) -> None:
    """``/start``: greet a member, or begin (or resume) registration.

    Args:
        actor: the user in its private chat.
        phone: a phone number the channel has already verified (the web chat's sign-in code):
            the dialog then skips its phone step.
    """
    assert actor.user_id is not None and actor.chat_id is not None
    async with atomic():
        member = await member_for(actor.user_id)
        if member is not None:
            await enqueue(
                chat_id=actor.chat_id,
                kind="welcome_back",
                params={"enterprise": member.enterprise.name, "contact": member.contact_name},
            )
            return
        reg, _ = await Registration.get_or_create(
            tg_user_id=actor.user_id,
            defaults={
                "chat_id": actor.chat_id,
                "step": "name",
                "data": {"phone": phone} if phone else {},
            },
        )
        await enqueue(chat_id=actor.chat_id, kind=f"reg_ask_{reg.step}", params={"first": True})


async def cancel(*, actor: Actor) -> bool:
    """Abandon a registration in progress. Returns whether there was one."""
    assert actor.user_id is not None and actor.chat_id is not None
    async with atomic():
        deleted = await Registration.filter(tg_user_id=actor.user_id).delete()
        if deleted:
            await enqueue(chat_id=actor.chat_id, kind="reg_cancelled")
        return bool(deleted)


async def answer(*, actor: Actor, text: str | None = None, phone: str | None = None) -> None:
    """Take the user's answer to the current registration step.

    Args:
        actor: the enterprise user (private chat).
        text: a typed answer.
        phone: a phone number from a shared contact (the user's own).
    """
    assert actor.user_id is not None and actor.chat_id is not None
    async with atomic():
        reg = await Registration.get_or_none(tg_user_id=actor.user_id)
        if reg is None:
            return
        data = dict(reg.data)
        try:
            next_step = await _take(reg.step, data, text=text, phone=phone)
        except InvalidInput as exc:
            await enqueue(
                chat_id=actor.chat_id,
                kind=f"reg_ask_{reg.step}",
                params={"error": exc.message},
            )
            return
        if next_step is not None:
            reg.step, reg.data = next_step, data
            await reg.save()
            await enqueue(chat_id=actor.chat_id, kind=f"reg_ask_{next_step}", params={})
            return
        member = await _finish(actor=actor, data=data)
        await reg.delete()
        await enqueue(
            chat_id=actor.chat_id,
            kind="reg_done",
            params={
                "enterprise": member.enterprise.name,
                "credit_code": member.enterprise.credit_code,
                "contact": member.contact_name,
                "phone": mask_phone(member.phone),
                "joined": data.get("joined", False),
            },
        )


async def _take(step: str, data: dict, *, text: str | None, phone: str | None) -> str | None:
    """Validate one answer into ``data``; return the next step, or None when complete."""
    if step == "phone":
        if phone is None and text is None:
            raise InvalidInput("请输入手机号，或点击下方按钮分享联系方式。")
        data["phone"] = normalize_mobile(phone if phone is not None else text or "")
        return None
    if text is None:
        raise InvalidInput("请直接输入文字回答。")
    if step == "name":
        data["name"] = clean_name(text, what="企业名称", min_len=2, max_len=100)
        return "code"
    if step == "code":
        data["credit_code"] = None if text.strip().lower() in SKIP_WORDS else normalize_uscc(text)
        return "contact"
    if step == "contact":
        data["contact"] = clean_name(text, what="联系人姓名", min_len=2, max_len=32)
        return None if data.get("phone") else "phone"  # a verified phone needs no asking
    raise InvalidInput("注册状态异常，请发送 /start 重新开始。")


async def _finish(*, actor: Actor, data: dict) -> Member:
    code = data.get("credit_code")
    enterprise = None
    if code:
        enterprise = await Enterprise.get_or_none(credit_code=code)
    else:
        enterprise = await Enterprise.filter(name=data["name"], credit_code=None).first()
    if enterprise is None:
        enterprise = await Enterprise.create(name=data["name"], credit_code=code)
    else:
        data["joined"] = True
    member = await Member.create(
        enterprise=enterprise,
        tg_user_id=actor.user_id,
        chat_id=actor.chat_id,
        contact_name=data["contact"],
        phone=data["phone"],
    )
    member.enterprise = enterprise
    return member
