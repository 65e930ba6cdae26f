"""Supply–demand matching between zone enterprises (【泰企需】 needs, 【泰服企】 offers).

A registered contact posts a need or an offer; the desk suggests the best-fitting listings of
the other kind (words and industry, never the other enterprise's name or contacts). The
hotline office introduces a need to an offer: both enterprises are asked, and only when both
agree does each receive the other's enterprise name and contact. A refusal ends it; the other
side learns only that the introduction did not go ahead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from models.department import TRIAGE_CODE
from models.enterprise import Member
from models.matching import Introduction, Listing
from nlp.matching import Profile, idf, profile, score

from .db import atomic
from .errors import Conflict, InvalidInput, NotAllowed, NotFound
from .notify import enqueue, group_chat
from .validators import strip_controls

KINDS = {"need": "泰企需", "offer": "泰服企"}
TEXT_MIN, TEXT_MAX = 6, 1000
SUGGEST = 3


@dataclass(frozen=True)
class Suggestion:
    listing_id: int
    kind: str
    industry: str | None
    text: str
    score: float


def _other(kind: str) -> str:
    return "offer" if kind == "need" else "need"


async def _member(user_id: int) -> Member:
    member = await Member.get_or_none(tg_user_id=user_id)
    if member is None:
        raise NotAllowed("请先发送 /start 完成企业注册。")
    return member


async def suggestions(*, listing: Listing, limit: int = SUGGEST) -> list[Suggestion]:
    """The active listings of the other kind that fit ``listing`` best (other enterprises)."""
    others = await Listing.filter(kind=_other(listing.kind), active=True).exclude(
        enterprise_id=listing.enterprise_id
    )
    if not others:
        return []
    mine = profile(listing.text)
    theirs = [(o, profile(o.text)) for o in others]
    weight = idf([mine, *(p for _, p in theirs)])
    ranked = sorted(
        ((score(mine, p, weight=weight), o) for o, p in theirs), key=lambda x: (-x[0], x[1].id)
    )
    return [Suggestion(o.id, o.kind, o.industry, o.text, s) for s, o in ranked[:limit] if s > 0.15]


async def post(*, user_id: int, chat_id: int, kind: str, text: str) -> Listing:
    """``/need`` or ``/offer``: keep the listing and answer with the best fits so far."""
    if kind not in KINDS:
        raise InvalidInput("类型应为 need（需求）或 offer（供给）。")
    text = strip_controls(text).strip()
    if not TEXT_MIN <= len(text) <= TEXT_MAX:
        raise InvalidInput(
            f"请在命令后写明{'需求' if kind == 'need' else '可提供的产品或服务'}，"
            f"{TEXT_MIN}～{TEXT_MAX}字，例如：/{kind} "
            + (
                "求购汽车线束加工，月需求5万套"
                if kind == "need"
                else "提供汽车线束加工，月产能10万套"
            )
        )
    member = await _member(user_id)
    prof: Profile = profile(text)
    async with atomic():
        listing = await Listing.create(
            member=member,
            enterprise_id=member.enterprise_id,
            kind=kind,
            text=text,
            industry=prof.industry,
        )
        found = await suggestions(listing=listing)
        await enqueue(
            chat_id=chat_id,
            kind="match_posted",
            params={
                "listing_id": listing.id,
                "label": KINDS[kind],
                "industry": listing.industry or "",
                "text": text,
                "suggestions": [
                    [s.listing_id, KINDS[s.kind], s.industry or "", s.text] for s in found
                ],
            },
        )
    return listing


async def introduce(*, need_id: int, offer_id: int, by: str) -> Introduction:
    """The hotline office introduces a need to an offer: both enterprises are asked first."""
    need = await Listing.get_or_none(id=need_id, kind="need", active=True)
    offer = await Listing.get_or_none(id=offer_id, kind="offer", active=True)
    if need is None or offer is None:
        raise NotFound("需求或供给信息不存在（或已下架）：请核对编号，需求在前、供给在后。")
    if need.enterprise_id == offer.enterprise_id:
        raise InvalidInput("不能为同一家企业撮合。")
    if await Introduction.exists(need=need, offer=offer):
        raise Conflict("这两条信息已撮合过了。")
    async with atomic():
        intro = await Introduction.create(need=need, offer=offer, created_by=by[:128])
        for mine, other in ((need, offer), (offer, need)):
            member = await Member.get(id=mine.member_id)
            if member.chat_id is None:
                continue
            await enqueue(
                chat_id=member.chat_id,
                kind="match_ask",
                params={
                    "intro_id": intro.id,
                    "mine": mine.text,
                    "other": other.text,
                    "other_label": KINDS[other.kind],
                    "industry": other.industry or "",
                },
            )
    return intro


async def introduce_in_group(*, chat_id: int, need_id: int, offer_id: int, by: str) -> None:
    """``/introduce NEED OFFER``: only the hotline office's screening group may introduce."""
    if chat_id != await group_chat(TRIAGE_CODE):
        raise NotAllowed("只有热线办分拨群可以撮合供需。")
    intro = await introduce(need_id=need_id, offer_id=offer_id, by=by)
    async with atomic():
        await enqueue(chat_id=chat_id, kind="match_introduced", params={"intro_id": intro.id})


async def consent(*, user_id: int, intro_id: int, agree: bool, now: dt.datetime) -> str:
    """One side of an introduction answers; contacts go to both only when both agreed."""
    member = await _member(user_id)
    async with atomic():
        intro = await Introduction.filter(id=intro_id).select_for_update().first()
        if intro is None:
            raise NotFound("该撮合不存在。")
        need = await Listing.get(id=intro.need_id)
        offer = await Listing.get(id=intro.offer_id)
        sides = {"need": need, "offer": offer}
        side = next((k for k, v in sides.items() if v.enterprise_id == member.enterprise_id), None)
        if side is None:
            raise NotAllowed("这不是贵单位的撮合。")
        if intro.state != "asked" or getattr(intro, f"{side}_agreed") is not None:
            raise Conflict("您已答复过了。")
        setattr(intro, f"{side}_agreed", agree)
        if not agree:
            intro.state, intro.decided_at = "declined", now
        elif intro.need_agreed and intro.offer_agreed:
            intro.state, intro.decided_at = "connected", now
        await intro.save()
        if intro.state == "connected":
            await _share_contacts(need, offer)
            return "双方均已同意，已互相发送联系方式。"
        if intro.state == "declined":
            other = sides["offer" if side == "need" else "need"]
            other_member = await Member.get(id=other.member_id)
            if other_member.chat_id is not None and getattr(intro, f"{_other(side)}_agreed"):
                await enqueue(chat_id=other_member.chat_id, kind="match_declined", params={})
            return "已婉拒，本次撮合结束，不会向对方提供贵单位信息。"
        return "已同意，待对方确认后将互相发送联系方式。"


async def _share_contacts(need: Listing, offer: Listing) -> None:
    for mine, other in ((need, offer), (offer, need)):
        member = await Member.get(id=mine.member_id)
        them = await Member.get(id=other.member_id).prefetch_related("enterprise")
        if member.chat_id is None:
            continue
        await enqueue(
            chat_id=member.chat_id,
            kind="match_connected",
            params={
                "enterprise": them.enterprise.name,
                "contact": them.contact_name,
                "phone": them.phone,
                "other": other.text,
            },
        )
