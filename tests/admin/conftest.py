"""Admin-web harness: the real desk app (``bot.app.create_app``, SQLite, no Telegram token) on a
free port, and Debian's Chromium driven headless by Playwright.

Playwright's own browser download is never used: ``make test`` installs the ``chromium`` Debian
package and the browser is launched from ``CHROMIUM`` (``/usr/bin/chromium`` unless
``DESK_TEST_CHROMIUM`` says otherwise). Screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from admin.auth import create_user
from bot.app import create_app
from bot.settings import Settings
from models.department import GroupBinding
from models.enterprise import Enterprise, Member
from models.ticket import Ticket, TicketStatus

CHROMIUM = os.environ.get("DESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FOUND = Path(CHROMIUM).exists()
REQUIRE = os.environ.get("DESK_REQUIRE_SERVICES", "") not in ("", "0", "false")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PASSWORD = "correct-horse-42"
TRIAGE_CHAT, TAX_CHAT, ENV_CHAT = -100400, -100200, -100300
ENT_CHAT = 1001


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    base: str  # e.g. http://127.0.0.1:PORT/admin
    ticket_id: int  # a ticket waiting in triage, candidates TAX then ENV


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    port = _free_port()
    settings = Settings(
        database_url=f"sqlite://{tmp_path / 'desk.sqlite3'}",
        http_host="127.0.0.1",
        http_port=port,
        scheduler_interval=3600,
        admin_secret="ab" * 32,
        _env_file=None,  # type: ignore[call-arg]
    )
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await create_user("admin", PASSWORD, role="admin")
        await create_user("office", PASSWORD, role="office")
        await create_user("taxstaff", PASSWORD, role="staff", department_code="TAX")
        for code, chat in (("TRIAGE", TRIAGE_CHAT), ("TAX", TAX_CHAT), ("ENV", ENV_CHAT)):
            await GroupBinding.create(code=code, chat_id=chat, title=f"{code} 群")
        ent = await Enterprise.create(name="天津泰达测试科技有限公司")
        member = await Member.create(
            enterprise=ent,
            tg_user_id=ENT_CHAT,
            chat_id=ENT_CHAT,
            contact_name="王经理",
            phone="13812345678",
        )
        ticket = await Ticket.create(
            ref="TD20200101-0001",  # a past day: never one the desk allocates now
            enterprise=ent,
            member=member,
            text="我公司想咨询一下研发费用加计扣除的申报流程，另外厂区噪声问题也想反映。",
            status=TicketStatus.TRIAGE,
            route_confidence=0.41,
            route_terms=["加计扣除", "噪声"],
            route_candidates=[["TAX", 0.41], ["ENV", 0.33]],
        )
        yield Site(base=f"http://127.0.0.1:{port}/admin", ticket_id=ticket.id)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not CHROMIUM_FOUND:
        msg = f"Chromium not found at {CHROMIUM} (apt-get install chromium; make test does)"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


async def login(browser: Any, site: Site, username: str, password: str = PASSWORD) -> Any:
    """A new page of ``browser``, signed in to the admin web as ``username``."""
    page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def csrf_of(page: Any) -> str:
    """The signed-in page's CSRF token (for posting forms directly)."""
    return await page.get_attribute("form[action$=logout] input[name=csrf_token]", "value") or ""
