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
from models.enterprise import Enterprise, Member
from models.matching import Introduction, Listing
from nlp.matching import Profile, idf, profile, score

from . import audit
from .audit import Editor
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


async def introduce(
    *, need_id: int, offer_id: int, by: str, editor: Editor | None = None
) -> Introduction:
    """The hotline office introduces a need to an offer: both enterprises are asked first.

    Args:
        need_id: the need (【泰企需】).
        offer_id: the offer (【泰服企】).
        by: who introduces (kept on the introduction).
        editor: the admin-web user, when made there: the audit log records it in the same
            transaction.
    """
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
        if editor is not None:
            await audit.log(
                editor,
                "matching.introduce",
                target=f"need {need.id} → offer {offer.id}",
                data={"introduction": intro.id},
            )
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


# ---------------------------------------------------------------- the hotline office's view


@dataclass(frozen=True)
class Fit:
    """A suggested offer for a need, as the office sees it (names included: the office may)."""

    listing_id: int
    enterprise: str
    industry: str | None
    text: str
    score: float
    introduced: str | None  # the state of an introduction made already, if any


@dataclass(frozen=True)
class NeedView:
    listing_id: int
    enterprise: str
    industry: str | None
    text: str
    posted_at: dt.datetime
    fits: list[Fit]


INTRO_STATES = {
    "asked": "已征询，待双方答复",
    "connected": "双方同意，已交换联系方式",
    "declined": "一方婉拒",
}


async def office_view(*, limit: int = 50, per_need: int = 5) -> list[NeedView]:
    """The newest active needs, each with its best-fitting offers and any introduction made."""
    needs = await Listing.filter(kind="need", active=True).order_by("-id").limit(limit)
    offers = {o.id: o for o in await Listing.filter(kind="offer", active=True)}
    names = {
        e.id: e.name
        for e in await Enterprise.filter(
            id__in={n.enterprise_id for n in needs} | {o.enterprise_id for o in offers.values()}
        )
    }
    made = {
        (i.need_id, i.offer_id): i.state
        for i in await Introduction.filter(need_id__in=[n.id for n in needs])
    }
    views = []
    for need in needs:
        fits = [
            Fit(
                listing_id=s.listing_id,
                enterprise=names.get(offers[s.listing_id].enterprise_id, "（已注销企业）"),
                industry=s.industry,
                text=s.text,
                score=round(s.score, 2),
                introduced=INTRO_STATES.get(made.get((need.id, s.listing_id), ""), None),
            )
            for s in await suggestions(listing=need, limit=per_need)
        ]
        views.append(
            NeedView(
                listing_id=need.id,
                enterprise=names.get(need.enterprise_id, "（已注销企业）"),
                industry=need.industry,
                text=need.text,
                posted_at=need.created_at,
                fits=fits,
            )
        )
    return views


async def recent_introductions(*, limit: int = 50) -> list[dict[str, object]]:
    """The newest introductions with both sides' texts and their state, for the office."""
    intros = await Introduction.all().order_by("-id").limit(limit)
    listings = {
        x.id: x
        for x in await Listing.filter(
            id__in={i.need_id for i in intros} | {i.offer_id for i in intros}
        )
    }
    names = {
        e.id: e.name
        for e in await Enterprise.filter(id__in={x.enterprise_id for x in listings.values()})
    }

    def side(listing_id: int) -> str:
        x = listings.get(listing_id)
        return f"{names.get(x.enterprise_id, '')}：{x.text}" if x else ""

    return [
        {
            "id": i.id,
            "need": side(i.need_id),
            "offer": side(i.offer_id),
            "state": INTRO_STATES.get(i.state, i.state),
            "by": i.created_by,
            "at": i.created_at,
        }
        for i in intros
    ]
