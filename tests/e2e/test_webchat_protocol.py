"""The web chat's edges, spoken to directly over HTTP and WebSocket: bad input changes nothing.

Unsigned and cross-site sockets are refused, the sign-in API wants its CSRF token and JSON,
malformed frames get an error, a huge message is refused whole, a forged or foreign button
runs nothing, and a message sent twice (same client id, as after a lost ack) counts once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

import aiohttp
import pytest
from conftest import TRIAGE_G, Desk, Dialog, bind_groups
from fakebot import FakeBotAPI

from desk import webchat as wc
from models.enterprise import Member
from models.outbox import OutboxFile, OutboxMessage, OutboxStatus
from models.ticket import Draft
from models.webchat import WebChatMessage

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    """This module runs on PostgreSQL too (its outbox claim is another statement)."""
    return str(request.param)


CODE = re.compile(r"验证码：?\s*(\d{6})")
META = re.compile(r'name="csrf-token" content="([^"]+)"')


async def csrf(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/chat/") as r:
        assert r.status == 200
        found = META.search(await r.text())
    assert found
    return found.group(1)


async def frames_until(ws: aiohttp.ClientWebSocketResponse, pred: Any) -> Any:
    """Read frames until one satisfies ``pred`` (within 8 s); return it."""
    async with asyncio.timeout(8):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            frame = json.loads(msg.data)
            if pred(frame):
                return frame


def has_text(text: str) -> Any:
    return lambda f: f.get("t") == "messages" and any(text in m["html"] for m in f["items"])


async def signed_in(
    http: aiohttp.ClientSession, base: str, d: Dialog, phone: str
) -> tuple[str, aiohttp.ClientWebSocketResponse]:
    token = await csrf(http, base)
    m = d.mark()
    async with http.post(
        f"{base}/chat/api/code", json={"phone": phone}, headers={"X-CSRF-Token": token}
    ) as r:
        assert (await r.json())["ok"]
    sent = await d.expect(TRIAGE_G["id"], "验证码", after=m)
    code = CODE.search(sent.plain_text or "")
    assert code
    async with http.post(
        f"{base}/chat/api/signin",
        json={"phone": phone, "code": code.group(1)},
        headers={"X-CSRF-Token": token},
    ) as r:
        body = await r.json()
    assert body["ok"], body
    ws = await http.ws_connect(f"{base}/chat/ws")
    return body["csrf"], ws


async def test_refusals_and_idempotence(desk: Desk, fake: FakeBotAPI, dialog: Dialog) -> None:
    base = f"http://127.0.0.1:{desk.port}"
    await bind_groups(dialog)
    # unsafe=True: keep cookies of an IP-address host (127.0.0.1), as a browser does.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # No session: no socket.
        try:
            await http.ws_connect(f"{base}/chat/ws")
            raise AssertionError("an unsigned socket was accepted")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 401
        token = await csrf(http, base)
        # The sign-in API wants its CSRF token, and JSON.
        async with http.post(f"{base}/chat/api/code", json={"phone": "13900004444"}) as r:
            assert r.status == 403
        async with http.post(
            f"{base}/chat/api/code", data="phone=1", headers={"X-CSRF-Token": token}
        ) as r:
            assert r.status == 415
        async with http.post(
            f"{base}/chat/api/code", json={"phone": "不是号码"}, headers={"X-CSRF-Token": token}
        ) as r:
            body = await r.json()
            assert r.status == 400 and "手机" in body["error"]
        async with http.post(
            f"{base}/chat/api/signin",
            json={"phone": "13900004444", "code": "123456"},
            headers={"X-CSRF-Token": token},
        ) as r:
            assert "失效" in (await r.json())["error"]  # no code was ever sent

        token, ws = await signed_in(http, base, dialog, "13900004444")
        await frames_until(ws, has_text("企业名称"))
        # A signed-in cookie used from another site's page: refused.
        try:
            await http.ws_connect(f"{base}/chat/ws", origin="https://evil.example")
            raise AssertionError("a cross-site socket was accepted")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 403

        for n, (answer, prompt) in enumerate(
            (("天津协议测试有限公司", "信用代码"), ("跳过", "联系人"))
        ):
            await ws.send_json({"t": "text", "cid": f"reg-{n}", "text": answer})
            await frames_until(ws, has_text(prompt))
        await ws.send_json({"t": "text", "cid": "reg-done", "text": "赵经理"})
        await frames_until(ws, has_text("注册成功"))
        member = await Member.get(phone="13900004444")
        chat = member.chat_id
        assert chat is not None and wc.is_web(chat)

        # A message another worker delivered (no wake-up in this process) still arrives: the
        # page's socket looks every few seconds.
        row = await OutboxMessage.create(  # leased by that worker: this one never takes it
            channel="web", chat_id=chat, kind="error", params={}, status=OutboxStatus.SENDING
        )
        await wc.deliver(row, [wc.WebPart(html="来自另一进程的消息", buttons=[])], now=NOW)
        await frames_until(ws, has_text("来自另一进程的消息"))

        # Malformed frames: an error, nothing else.
        await ws.send_str("{not json")
        assert (await frames_until(ws, lambda f: f["t"] == "error"))["error"]
        await ws.send_json({"t": "text", "text": "没有客户端编号"})
        assert (await frames_until(ws, lambda f: f["t"] == "error"))["error"]
        await ws.send_json({"t": "dance", "cid": "x1"})
        assert (await frames_until(ws, lambda f: f["t"] == "nack"))["cid"] == "x1"

        # Uploads: checked like Telegram's files; a refused one stores nothing.
        files_before = await OutboxFile.all().count()
        form = aiohttp.FormData()
        form.add_field("cid", "up-1")
        form.add_field(
            "file", b"MZ\x90\x00", filename="工具.exe", content_type="application/x-msdownload"
        )
        async with http.post(
            f"{base}/chat/api/upload", data=form, headers={"X-CSRF-Token": token}
        ) as r:
            assert "不支持的文件类型" in (await r.json())["error"]
        form = aiohttp.FormData()
        form.add_field("cid", "up-2")
        form.add_field("file", b"%PDF-1.4", filename="材料.pdf", content_type="application/pdf")
        async with http.post(f"{base}/chat/api/upload", data=form) as r:
            assert r.status == 403  # no CSRF token
        form = aiohttp.FormData()
        form.add_field("cid", "up-3")
        form.add_field("file", b"%PDF-1.4", filename="材料.pdf", content_type="application/pdf")
        async with http.post(
            f"{base}/chat/api/upload", data=form, headers={"X-CSRF-Token": token}
        ) as r:
            assert (await r.json())["ok"]  # taken, but no ticket to add it to: said in the chat
        await frames_until(ws, has_text("请先发文字描述诉求"))
        assert await OutboxFile.all().count() == files_before

        # A huge message: refused whole, with the reason in the chat; no draft.
        await ws.send_json({"t": "text", "cid": "huge", "text": "很长" * 3000})
        await frames_until(ws, lambda f: f["t"] == "ack" and f["cid"] == "huge")
        await frames_until(ws, has_text("消息过长"))
        assert await Draft.filter(member_id=member.id).count() == 0

        # The same message twice (a lost ack): one draft, one line in the history.
        text = "我公司新建厂房需要办理施工许可证，请问需要哪些材料"
        for _ in range(2):
            await ws.send_json({"t": "text", "cid": "same-1", "text": text})
            await frames_until(ws, lambda f: f["t"] == "ack" and f["cid"] == "same-1")
        draft_frame = await frames_until(ws, has_text("请确认是否提交"))
        assert await Draft.filter(member_id=member.id).count() == 1
        assert await WebChatMessage.filter(chat_id=chat, direction="in", html=text).count() == 1
        draft_msg = next(m for m in draft_frame["items"] if m["buttons"])
        confirm = next(
            data for row in draft_msg["buttons"] for label, data in row if "确认提交" in label
        )

        # Forged buttons: a staff card's button, a message of another chat, junk data.
        for cid, data, mid in (
            ("f1", "t:1:claim", draft_msg["id"]),
            ("f2", confirm, draft_msg["id"] + 10_000),
            ("f3", "d:1:ok; drop table", draft_msg["id"]),
        ):
            await ws.send_json({"t": "press", "cid": cid, "data": data, "mid": mid})
            ack = await frames_until(ws, lambda f, c=cid: f["t"] == "ack" and f["cid"] == c)
            assert "无效" in ack["toast"], ack
        assert (await Draft.get(member_id=member.id)).state == "pending"

        # The real button works, once.
        await ws.send_json({"t": "press", "cid": "p1", "data": confirm, "mid": draft_msg["id"]})
        ack = await frames_until(ws, lambda f: f["t"] == "ack" and f["cid"] == "p1")
        assert "已提交" in ack["toast"], ack
        await ws.send_json({"t": "press", "cid": "p2", "data": confirm, "mid": draft_msg["id"]})
        ack = await frames_until(ws, lambda f: f["t"] == "ack" and f["cid"] == "p2")
        assert "已提交" not in ack["toast"], ack
        await ws.close()

        # One client asking codes for many phones is stopped (the screening group is not
        # flooded); each phone alone is limited by the desk as well.
        statuses = []
        for n in range(12):
            async with http.post(
                f"{base}/chat/api/code",
                json={"phone": f"1360000{n:04d}"},
                headers={"X-CSRF-Token": token},
            ) as r:
                statuses.append(r.status)
        assert 429 in statuses and statuses.count(200) <= 10 - 2  # two asked above

        # Shutting down tells open pages it goes away (1001): they reconnect, nothing hangs.
        ws = await http.ws_connect(f"{base}/chat/ws")
        await frames_until(ws, lambda f: f["t"] == "messages")
        stopping = asyncio.create_task(desk.stop())
        async with asyncio.timeout(10):
            msg = await ws.receive()
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        assert ws.close_code == 1001 or msg.data == 1001
        await stopping


async def test_a_page_hears_another_worker_at_once(
    fake: FakeBotAPI, dialog: Dialog, db_url: str, redis_url: str, monkeypatch: Any
) -> None:
    """With Redis, a message another worker delivered reaches a page held by this one through
    the bus, long before the page's own look; with Redis gone, the look still brings it."""
    import admin.webchat as web_module
    from bot.shared import RedisBus

    monkeypatch.setattr(web_module, "LOOK_EVERY", 30.0)  # only the bus can be in time
    desk = Desk(fake=fake, db_url=db_url, webhook=False, redis_url=redis_url)
    await desk.start()
    other = RedisBus(redis_url)  # what the other worker publishes with, after its delivery
    try:
        base = f"http://127.0.0.1:{desk.port}"
        await bind_groups(dialog)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            _, ws = await signed_in(http, base, dialog, "13900005555")
            await frames_until(ws, has_text("企业名称"))
            await asyncio.sleep(0.3)  # the page's pusher is waiting now
            chat = (await WebChatMessage.all().order_by("id").first()).chat_id  # type: ignore[union-attr]
            row = await OutboxMessage.create(  # leased by the other worker
                channel="web", chat_id=chat, kind="error", params={}, status=OutboxStatus.SENDING
            )
            await wc.deliver(row, [wc.WebPart(html="另一进程刚送达", buttons=[])], now=NOW)
            started = asyncio.get_running_loop().time()
            await other.publish(chat)
            async with asyncio.timeout(5):  # far below the 30 s look
                await frames_until(ws, has_text("另一进程刚送达"))
            assert asyncio.get_running_loop().time() - started < 5
            # Its own announcements and garbage on the topic are ignored, nothing breaks.
            await other.redis.publish(other.topic, "nonsense")
            await ws.close()
        # A bus whose Redis is gone: publishing is only logged, delivery is not affected.
        gone = RedisBus("redis://127.0.0.1:1/0", retry_after=0.1)
        await gone.publish(chat)
        await gone.close()
    finally:
        await other.close()
        await desk.stop()
