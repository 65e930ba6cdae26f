"""Soak harness: real ``desk run`` worker processes on PostgreSQL + Redis behind the fake Bot API.

The workers are started exactly as an operator starts them (``python -m bot.cli run`` with
``DESK_*`` variables), in webhook mode, all with the same public webhook URL. The fake Bot API
delivers updates like Telegram (queued, retried until a 2xx answer) and round-robins every
attempt over the workers' own URLs, like a load balancer in front of them.

Registered enterprises and bound groups are written straight into the database (that is set-up,
not what is under test); every message under test goes fake Bot API → webhook → desk → outbox →
fake Bot API.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
from fakebot import FakeBotAPI
from fakebot.server import SentMessage

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "nlp" / "data" / "corpus"
SECRET = "soak-webhook-secret"
ADMIN_ID = 9001
PUBLIC_WEBHOOK = "https://desk.example.org/tg/hook"  # the one address (behind the balancer)
WEBHOOK_PATH = "/tg/hook"
REF = re.compile(r"TD\d{8}-\d{4,}")
FIRST_USER_ID = 7_000_000
FIRST_GROUP_ID = -1_009_000_000_000

#: Kinds a soak run may put in the outbox; anything else (an error reply, "not registered",
#: a rate-limit refusal) means a message was misunderstood.
EXPECTED_KINDS = frozenset(
    {"draft_confirm", "ack", "card", "triage_card", "followup", "followup_ok"}
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_token() -> str:
    """A bot token of its own: the workers' shared send budget in Redis is keyed by its id."""
    return f"{random.randint(10**9, 2 * 10**9)}:SOAK-{uuid.uuid4().hex[:16]}"


def first_update_id() -> int:
    """Update ids of their own, so the desk's Redis dedup keys cannot meet another run's."""
    return random.randint(1, 1000) * 10**9


# ---------------------------------------------------------------- worker processes


@dataclass
class Worker:
    """One ``desk run`` process; it can be killed and started again on the same port."""

    name: str
    env: dict[str, str]
    port: int
    log_dir: Path
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Where the balancer sends webhook POSTs for this worker."""
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("ab")
        self.starts += 1
        self._log.write(f"\n===== start #{self.starts} =====\n".encode())
        self._log.flush()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=self.log_dir,  # no stray .env from the project folder
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self, timeout: float = 60.0) -> float:  # noqa: ASYNC109
        """Wait until ``/healthz`` answers 200 (the channel has started); returns seconds."""
        started = time.monotonic()
        url = f"http://127.0.0.1:{self.port}/healthz"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                if not self.alive:
                    raise RuntimeError(
                        f"{self.name} exited with {self.returncode} during start-up:\n"
                        + self.log_tail()
                    )
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return time.monotonic() - started
                except (aiohttp.ClientError, OSError, TimeoutError):
                    pass
                if time.monotonic() - started > timeout:
                    raise TimeoutError(
                        f"{self.name} not ready after {timeout}s:\n" + self.log_tail()
                    )
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine loses the process."""
        if self.proc is None or not self.alive:
            raise RuntimeError(
                f"{self.name} is not running (exit {self.returncode}):\n" + self.log_tail()
            )
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def terminate(self, timeout: float = 30.0) -> tuple[int | None, float]:  # noqa: ASYNC109
        """SIGTERM and wait; returns the exit code (``None`` if still running) and seconds."""
        assert self.proc is not None and self.alive
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None, time.monotonic() - started
        return self.proc.returncode, time.monotonic() - started

    async def ensure_stopped(self) -> None:
        """Clean-up: SIGKILL this worker (only this pid) if it still runs; close its log."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_errors(self) -> list[str]:
        """Tracebacks and ERROR lines of this worker's log (for the report)."""
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]


def worker_env(
    *,
    fake: FakeBotAPI,
    db_url: str,
    redis_url: str,
    port: int,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one worker: only ``DESK_*`` settings of ours, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(
        {
            "DESK_DATABASE_URL": db_url,
            "DESK_REDIS_URL": redis_url,
            "DESK_TELEGRAM_TOKEN": fake.token,
            "DESK_TELEGRAM_API_URL": fake.base_url,
            "DESK_WEBHOOK_URL": PUBLIC_WEBHOOK,
            "DESK_WEBHOOK_SECRET": SECRET,
            "DESK_HTTP_HOST": "127.0.0.1",
            "DESK_HTTP_PORT": str(port),
            "DESK_ADMIN_IDS": str(ADMIN_ID),
            "DESK_SENDER_INTERVAL": "0.2",
            "DESK_SCHEDULER_INTERVAL": "5",  # the scheduler runs too (its Redis lease: 10 s)
            # The soaks count each message's outbox rows exactly (one draft per request);
            # answer-first would add the guide's answer before some drafts. The guide's own
            # dialogs are tested in tests/e2e/test_guide_chat.py and tests/desk.
            "DESK_GUIDE_FIRST": "false",
            "DESK_LOG_LEVEL": "INFO",
        }
    )
    env.update(extra or {})
    return env


async def desk_init(env: dict[str, str], cwd: Path) -> str:
    """``desk init`` as a deploy runs it: schema, migrations, default departments."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "init",
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode("utf-8", errors="replace")
    assert proc.returncode == 0, f"desk init failed:\n{text}"
    return text


# ---------------------------------------------------------------- Redis hygiene


async def redis_client_or_skip(url: str, unavailable: Callable[[str, Exception], None]) -> Any:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await asyncio.wait_for(client.ping(), timeout=5)
    except Exception as exc:
        await client.aclose()
        unavailable("Redis", exc)
    return client


async def redis_cleanup(client: Any, *, token: str, update_ids: Iterable[int]) -> int:
    """Delete the keys this run's workers wrote (send budget, update dedup); returns the count.

    The Redis database is shared with other tests, so nothing is flushed: the send budget is
    keyed by this run's own bot token and the dedup keys by this run's own update ids.
    """
    keys: list[Any] = [
        key async for key in client.scan_iter(match=f"desk:send:{token.split(':')[0]}:*")
    ]
    keys += [f"desk:upd:tg:{uid}" for uid in update_ids]
    deleted = 0
    for start in range(0, len(keys), 500):
        deleted += int(await client.delete(*keys[start : start + 500]))
    return deleted


# ---------------------------------------------------------------- seeding


@dataclass
class Enterprise:
    index: int
    user: dict[str, Any]

    @property
    def chat_id(self) -> int:
        return int(self.user["id"])


async def seed(n_enterprises: int) -> tuple[list[Enterprise], dict[str, int]]:
    """Registered enterprises (one member each) and every department's group bound.

    Needs Tortoise connected to the soak database. Returns the enterprises and the group chat
    id of each department code (``TRIAGE`` included).
    """
    from models.department import TRIAGE_CODE, Department, GroupBinding
    from models.enterprise import Enterprise as EnterpriseRow
    from models.enterprise import Member

    codes = [d.code for d in await Department.filter(active=True)]
    groups: dict[str, int] = {}
    for k, code in enumerate([*codes, TRIAGE_CODE]):
        chat_id = FIRST_GROUP_ID - k
        await GroupBinding.create(
            code=code, chat_id=chat_id, title=f"{code} 工单群", bound_by=ADMIN_ID
        )
        groups[code] = chat_id
    enterprises: list[Enterprise] = []
    for i in range(n_enterprises):
        user_id = FIRST_USER_ID + i
        row = await EnterpriseRow.create(name=f"泰达浸泡测试第{i:04d}号科技有限公司")
        await Member.create(
            enterprise=row,
            tg_user_id=user_id,
            chat_id=user_id,
            contact_name=f"联系人{i:04d}",
            phone=f"138{i:08d}",
        )
        enterprises.append(
            Enterprise(i, {"id": user_id, "first_name": f"企业{i:04d}", "last_name": "经办"})
        )
    return enterprises, groups


def corpus_texts() -> list[str]:
    """Requests from the project's own corpus, interleaved over the 19 departments."""
    per_department = [
        [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line]
        for path in sorted(CORPUS.glob("*.jsonl"))
    ]
    assert per_department, f"no corpus in {CORPUS}"
    longest = max(len(texts) for texts in per_department)
    return [texts[i] for i in range(longest) for texts in per_department if i < len(texts)]


# ---------------------------------------------------------------- the simulated enterprises


@dataclass
class Stats:
    """What the simulated users did and saw."""

    updates: list[int] = field(default_factory=list)  # every update id the fake created
    messages: list[int] = field(default_factory=list)  # the update ids of the text messages
    refs: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    followups: dict[int, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # chat -> [(ref, marker)]
    drafts: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))  # markers
    via_draft: int = 0  # follow-ups that replied to an unlinked copy and went through 补充到
    done_messages: int = 0
    waits: list[float] = field(default_factory=list)  # seconds each answer took to come

    def wait_figures(self) -> str:
        """How long users waited for answers (a stalled chat waits for a dead worker's lease)."""
        if not self.waits:
            return "no answers"
        waits = sorted(self.waits)

        def pick(q: float) -> float:
            return waits[min(len(waits) - 1, int(q * len(waits)))]

        return (
            f"{len(waits)} answers: median {pick(0.5):.1f}s, p95 {pick(0.95):.1f}s, "
            f"max {waits[-1]:.0f}s; {sum(w > 30 for w in waits)} waited over 30 s"
        )


async def next_message(
    fake: FakeBotAPI,
    chat_id: int,
    predicate: Callable[[SentMessage], bool],
    *,
    after: int,
    timeout: float,  # noqa: ASYNC109
    what: str,
    waits: list[float] | None = None,
) -> SentMessage:
    """The first message in ``chat_id`` newer than ``after`` that satisfies ``predicate``
    (the seconds it took are appended to ``waits``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    seen = after
    while True:
        for msg in fake.sent(chat_id):
            if msg.seq > after and not msg.deleted and predicate(msg):
                if waits is not None:
                    waits.append(loop.time() - started)
                return msg
            seen = max(seen, msg.seq)
        remaining = deadline - loop.time()
        if remaining <= 0:
            texts = [m.plain_text for m in fake.sent(chat_id)][-6:]
            raise TimeoutError(f"chat {chat_id}: no {what} within {timeout:.0f}s; last: {texts}")
        try:
            await fake.wait_for(chat_id, None, after=seen, timeout=remaining)
        except TimeoutError:
            continue


def button(msg: SentMessage, label: str) -> str:
    for text, data in FakeBotAPI.buttons(msg):
        if label in text and data is not None:
            return data
    raise LookupError(f"no button {label!r} on {msg.plain_text!r}")


def ticket_marker(k: int) -> str:
    return f"（浸泡编号{k:05d}）"


def followup_marker(k: int) -> str:
    return f"补充材料{k:05d}"


@dataclass
class Step:
    kind: str  # "ticket" | "followup"
    text: str
    marker: str


def plan(n_messages: int, per_enterprise: int, followup_every: int) -> list[list[Step]]:
    """Split ``n_messages`` over enterprises; one in ``followup_every`` messages of an
    enterprise (mid-session, never its first) is a follow-up to its latest ticket, the rest are
    new requests."""
    texts = corpus_texts()
    plans: list[list[Step]] = []
    for k in range(n_messages):
        if k % per_enterprise == 0:
            plans.append([])
        steps = plans[-1]
        position = len(steps)
        if position > 0 and position % followup_every == followup_every // 2:
            marker = followup_marker(k)
            steps.append(
                Step("followup", f"{marker}：相关合同和票据扫描件已备齐，请查收。", marker)
            )
        else:
            marker = ticket_marker(k)
            steps.append(Step("ticket", texts[k % len(texts)] + marker, marker))
    return plans


async def run_enterprise(
    fake: FakeBotAPI,
    ent: Enterprise,
    steps: list[Step],
    stats: Stats,
    *,
    timeout: float,  # noqa: ASYNC109 - one limit per step, not for the whole session
) -> None:
    """One enterprise's session: each request is confirmed, each follow-up replies to the
    acknowledgement of its latest ticket; every step waits for the bot's answer."""
    chat = ent.chat_id
    user = ent.user
    refs = stats.refs[chat]
    for step in steps:
        if step.kind == "ticket":
            mark = fake.mark()
            update = await fake.user_sends(user, text=step.text)
            stats.updates.append(update["update_id"])
            stats.messages.append(update["update_id"])
            stats.drafts[chat].append(step.marker)
            draft = await next_message(
                fake,
                chat,
                lambda m, marker=step.marker: m.matches(marker),  # type: ignore[misc]
                after=mark,
                timeout=timeout,
                waits=stats.waits,
                what=f"draft confirmation of {step.marker}",
            )
            mark = fake.mark()
            update = await fake.user_presses(
                user, chat, draft.message_id, button(draft, "确认提交")
            )
            stats.updates.append(update["update_id"])
            ack = await next_message(
                fake,
                chat,
                lambda m: _ack_ref(m) is not None and _ack_ref(m) not in refs,
                after=mark,
                timeout=timeout,
                waits=stats.waits,
                what=f"acknowledgement of {step.marker}",
            )
            ref = _ack_ref(ack)
            assert ref is not None
            refs.append(ref)
        else:
            ref = refs[-1]
            # Reply to the newest copy of the acknowledgement (an older copy may be a
            # duplicate that the desk never linked to the ticket).
            target = [m for m in fake.sent(chat) if _ack_ref(m) == ref][-1]
            mark = fake.mark()
            update = await fake.user_sends(
                user, text=step.text, reply_to_message_id=target.message_id
            )
            stats.updates.append(update["update_id"])
            stats.messages.append(update["update_id"])
            answer = await next_message(
                fake,
                chat,
                lambda m, marker=step.marker, ref=ref: (  # type: ignore[misc]
                    m.matches(f"已将补充内容转给承办部门（工单 {ref}）") or m.matches(marker)
                ),
                after=mark,
                timeout=timeout,
                waits=stats.waits,
                what=f"follow-up answer for {step.marker}",
            )
            if answer.matches(step.marker):
                # The reply hit a copy the desk does not know: it became a draft, and the
                # enterprise adds it to the ticket with the draft's 补充到 button instead.
                stats.via_draft += 1
                stats.drafts[chat].append(step.marker)
                mark = fake.mark()
                update = await fake.user_presses(
                    user, chat, answer.message_id, button(answer, f"补充到 {ref}")
                )
                stats.updates.append(update["update_id"])
                await next_message(
                    fake,
                    chat,
                    lambda m, ref=ref: m.matches(f"已将补充内容转给承办部门（工单 {ref}）"),  # type: ignore[misc]
                    after=mark,
                    timeout=timeout,
                    waits=stats.waits,
                    what=f"follow-up answer for {step.marker} (via draft)",
                )
            stats.followups[chat].append((ref, step.marker))
        stats.done_messages += 1


def _ack_ref(msg: SentMessage) -> str | None:
    """The ticket reference of an acknowledgement (it carries the 撤销工单 button)."""
    for text, _ in FakeBotAPI.buttons(msg):
        if text.startswith("撤销工单"):
            found = REF.search(text)
            return found.group(0) if found else None
    return None


# ---------------------------------------------------------------- database views


async def backlog() -> tuple[int, int]:
    """(inbox rows pending or working, outbox rows pending or sending)."""
    from models.outbox import OutboxMessage, OutboxStatus
    from models.system import InboxUpdate

    inbox = await InboxUpdate.filter(status__in=["pending", "working"]).count()
    outbox = await OutboxMessage.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
    ).count()
    return inbox, outbox


async def wait_drained(fake: FakeBotAPI, *, timeout: float, label: str) -> float:  # noqa: ASYNC109
    """Wait until the fake has nothing to deliver and the inbox and outbox are empty."""
    started = time.monotonic()
    last_print = started
    while True:
        inbox, outbox = await backlog()
        pending = len(fake.webhook_pending)
        if inbox == 0 and outbox == 0 and pending == 0:
            return time.monotonic() - started
        now = time.monotonic()
        if now - started > timeout:
            raise TimeoutError(
                f"{label}: not drained after {timeout:.0f}s: inbox {inbox}, outbox {outbox}, "
                f"webhook queue {pending}"
            )
        if now - last_print > 10:
            print(
                f"  [{label}] draining: inbox {inbox}, outbox {outbox}, webhook {pending}",
                flush=True,
            )
            last_print = now
        await asyncio.sleep(0.5)


@dataclass
class Delivery:
    """The outbox rows against what the fake received."""

    rows_by_kind: Counter[str]
    not_sent: list[tuple[int, str, str, str | None]]  # (id, kind, status, error)
    missing: list[tuple[int, str, int, int]]  # (row id, kind, chat, message id) never received
    wrong_content: list[tuple[int, str, str]]  # (row id, kind, what was expected in it)
    duplicates: list[SentMessage]  # received, referenced by no row, a repeat of one that is
    unexplained: list[SentMessage]  # received, referenced by no row, and not a repeat


async def check_delivery(fake: FakeBotAPI, chats: Iterable[int]) -> Delivery:
    """Match every outbox row with the messages the fake received, and the other way round."""
    from models.outbox import OutboxMessage, OutboxStatus

    rows = await OutboxMessage.all().order_by("id")
    received = {chat: {m.message_id: m for m in fake.sent(chat)} for chat in chats}
    for row in rows:
        received.setdefault(row.chat_id, {m.message_id: m for m in fake.sent(row.chat_id)})
    referenced: dict[int, set[int]] = defaultdict(set)
    not_sent: list[tuple[int, str, str, str | None]] = []
    missing: list[tuple[int, str, int, int]] = []
    wrong: list[tuple[int, str, str]] = []
    for row in rows:
        if row.status != OutboxStatus.SENT:
            not_sent.append((row.id, row.kind, str(row.status), row.error))
            continue
        if not row.message_ids:
            missing.append((row.id, row.kind, row.chat_id, 0))
        for mid in row.message_ids:
            referenced[row.chat_id].add(int(mid))
            msg = received[row.chat_id].get(int(mid))
            if msg is None:
                missing.append((row.id, row.kind, row.chat_id, int(mid)))
                continue
            expected = _expected_content(row.kind, row.params)
            if expected and not msg.matches(expected):
                wrong.append((row.id, row.kind, expected))
    duplicates, unexplained = [], []
    for chat, messages in received.items():
        known = [m for mid, m in messages.items() if mid in referenced[chat]]
        known_texts = {m.text for m in known}
        known_refs = {ref for m in known for ref in REF.findall(m.plain_text or "")}
        for mid, msg in messages.items():
            if mid in referenced[chat]:
                continue
            refs = set(REF.findall(msg.plain_text or ""))
            if msg.text in known_texts or (refs and refs <= known_refs):
                duplicates.append(msg)
            else:
                unexplained.append(msg)
    return Delivery(
        rows_by_kind=Counter(row.kind for row in rows),
        not_sent=not_sent,
        missing=missing,
        wrong_content=wrong,
        duplicates=sorted(duplicates, key=lambda m: m.ts),
        unexplained=unexplained,
    )


def _expected_content(kind: str, params: dict[str, Any]) -> str | None:
    """A piece of text the delivered message of an outbox row must contain."""
    if kind in ("ack", "card", "triage_card", "followup_ok"):
        return str(params.get("ref") or "") or None
    if kind == "followup":
        text = str(params.get("text") or "")
        return text[:12] or None
    if kind == "draft_confirm":
        text = str(params.get("text") or "")
        found = re.search(r"（浸泡编号\d+）|补充材料\d+", text)
        return found.group(0) if found else None
    return None


def match_duplicates_to_kills(
    duplicates: list[SentMessage], kills: list[float], window: float
) -> tuple[dict[int, int], list[SentMessage]]:
    """Assign each duplicate to a kill that came at most ``window`` seconds after its first copy
    (the send was in flight when the worker died). Returns duplicates per kill and the rest."""
    per_kill: dict[int, int] = defaultdict(int)
    stray: list[SentMessage] = []
    for msg in duplicates:
        candidates = [i for i, k in enumerate(kills) if -1.0 <= k - msg.ts <= window]
        if not candidates:
            stray.append(msg)
            continue
        per_kill[candidates[0]] += 1
    return per_kill, stray
