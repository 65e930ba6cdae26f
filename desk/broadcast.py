"""Broadcasts to enterprises (政策解读、活动发布、通知公告), and each contact's topic opt-outs.

Every registered contact gets every topic unless it opted out (``/subscribe`` in the chat, or
the 退订 button under a broadcast). A broadcast is written to the outbox as *bulk* rows, one per
contact, in one transaction: the sender delivers them after every ticket message and within a
share of the bot's 30 messages a second, so a 10,000-contact broadcast is spread out, never
meets a 429 and never delays a ticket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from models.broadcast import Broadcast, TopicOptOut
from models.enterprise import Member
from models.outbox import OutboxMessage, OutboxStatus

from . import audit
from .audit import Editor
from .db import atomic
from .errors import InvalidInput, NotAllowed
from .notify import channel_of, enqueue
from .validators import strip_controls

# Topic code → label; the index (1-based) is what the chat's buttons carry.
TOPICS: dict[str, str] = {"policy": "政策解读", "event": "活动发布", "notice": "通知公告"}
TITLE_MAX = 64
TEXT_MAX = 3000
BATCH = 1000  # outbox rows written per INSERT


def topic_by_index(index: int) -> str:
    """The topic a button's number names.

    Raises:
        InvalidInput: no such topic.
    """
    codes = list(TOPICS)
    if not 1 <= index <= len(codes):
        raise InvalidInput("没有这个订阅主题。")
    return codes[index - 1]


def topic_index(topic: str) -> int:
    return list(TOPICS).index(topic) + 1


async def _member(user_id: int) -> Member:
    member = await Member.get_or_none(tg_user_id=user_id)
    if member is None:
        raise NotAllowed("请先发送 /start 完成企业注册。")
    return member


async def subscriptions(*, user_id: int) -> dict[str, bool]:
    """Topic → whether this contact receives it."""
    member = await _member(user_id)
    out = set(await TopicOptOut.filter(member=member).values_list("topic", flat=True))
    return {topic: topic not in out for topic in TOPICS}


async def set_subscription(*, user_id: int, topic: str, on: bool) -> dict[str, bool]:
    """Opt in to (``on``) or out of one topic; the contact's topics afterwards."""
    if topic not in TOPICS:
        raise InvalidInput("没有这个订阅主题。")
    member = await _member(user_id)
    async with atomic():
        if on:
            await TopicOptOut.filter(member=member, topic=topic).delete()
        elif not await TopicOptOut.exists(member=member, topic=topic):
            await TopicOptOut.create(member=member, topic=topic)
    return await subscriptions(user_id=user_id)


async def show_subscriptions(*, user_id: int, chat_id: int) -> None:
    """``/subscribe``: each topic with its state and a button to change it."""
    topics = await subscriptions(user_id=user_id)
    rows = [[topic_index(t), TOPICS[t], on] for t, on in topics.items()]
    async with atomic():
        await enqueue(chat_id=chat_id, kind="subscriptions", params={"topics": rows})


async def toggle(*, user_id: int, index: int, on: bool) -> str:
    """A topic button: opt in or out; the toast text."""
    topic = topic_by_index(index)
    await set_subscription(user_id=user_id, topic=topic, on=on)
    return (
        f"已订阅「{TOPICS[topic]}」"
        if on
        else f"已退订「{TOPICS[topic]}」，可随时发送 /subscribe 恢复"
    )


async def send(*, topic: str, title: str, text: str, editor: Editor) -> Broadcast:
    """Queue one broadcast to every contact with a chat that did not opt out of ``topic``.

    The broadcast, its outbox rows and its audit entry (``broadcast.send``, by ``editor``) are
    written in one transaction.

    Raises:
        InvalidInput: unknown topic, empty or too long title or text.
    """
    if topic not in TOPICS:
        raise InvalidInput(f"主题应为：{'、'.join(f'{k}（{v}）' for k, v in TOPICS.items())}")
    title, text = strip_controls(title).strip(), strip_controls(text).strip()
    if not title or len(title) > TITLE_MAX:
        raise InvalidInput(f"标题不能为空，且不超过{TITLE_MAX}字。")
    if not text or len(text) > TEXT_MAX:
        raise InvalidInput(f"正文不能为空，且不超过{TEXT_MAX}字。")
    out = await TopicOptOut.filter(topic=topic).values_list("member_id", flat=True)
    found = (
        await Member.filter(chat_id__isnull=False)
        .exclude(id__in=out)
        .values_list("chat_id", flat=True)
    )
    chats = sorted({int(str(chat)) for chat in found if chat is not None})
    params: dict[str, object] = {
        "topic": topic,
        "topic_index": topic_index(topic),
        "label": TOPICS[topic],
    }
    async with atomic():
        sent = await Broadcast.create(
            topic=topic,
            title=title,
            text=text,
            created_by=editor.name[:128],
            recipients=len(chats),
        )
        params.update(broadcast_id=sent.id, title=title, text=text)
        await OutboxMessage.bulk_create(
            [
                OutboxMessage(
                    chat_id=chat,
                    kind="broadcast",
                    params=params,
                    bulk=True,
                    channel=channel_of(chat),
                )
                for chat in chats
            ],
            batch_size=BATCH,
        )
        await audit.log(
            editor,
            "broadcast.send",
            target=f"broadcast:{sent.id}",
            data={"topic": topic, "title": title, "recipients": sent.recipients},
        )
    return sent


@dataclass(frozen=True)
class Delivery:
    """How far one broadcast's outbox rows got (``pending`` includes rows being sent)."""

    sent: int = 0
    pending: int = 0
    failed: int = 0


async def recent(*, limit: int = 50) -> list[Broadcast]:
    """The newest broadcasts first."""
    return await Broadcast.all().order_by("-created_at", "-id").limit(limit)


async def delivery_counts(*, broadcast_ids: Iterable[int]) -> dict[int, Delivery]:
    """Each broadcast's outbox rows by state (every id given is in the answer).

    The rows name their broadcast in ``params`` (JSON, read the same way on SQLite and
    PostgreSQL in Python); only rows written since the oldest of these broadcasts are read.
    """
    wanted = set(broadcast_ids)
    counts = {i: {"sent": 0, "pending": 0, "failed": 0} for i in wanted}
    if not wanted:
        return {}
    oldest = await Broadcast.filter(id__in=wanted).order_by("created_at").first()
    if oldest is None:
        return {i: Delivery() for i in wanted}
    since = oldest.created_at - dt.timedelta(minutes=1)
    rows = await OutboxMessage.filter(kind="broadcast", created_at__gte=since).values_list(
        "params", "status"
    )
    for params, status in rows:
        key = params.get("broadcast_id") if isinstance(params, dict) else None
        if key not in counts:
            continue
        state = OutboxStatus(status)
        if state == OutboxStatus.SENT:
            counts[key]["sent"] += 1
        elif state == OutboxStatus.FAILED:
            counts[key]["failed"] += 1
        else:
            counts[key]["pending"] += 1
    return {i: Delivery(**c) for i, c in counts.items()}
