"""Synthetic hotline history for bench/reports.py, bulk-loaded with binary COPY.

Each ticket is a simulated story on the desk's state machine (desk/workflow.py): created (routed
automatically, or to the hotline office's triage and dispatched from there), claimed, sometimes
transferred, returned to triage, urged or supervised, resolved, visited (s1/s0 then m3/m2/m1),
and closed or reopened; unvisited results close after the visit window. Each step writes what the
desk writes: the ticket's columns (dispatched_at, claimed_at with claim_hours, resolved_at with
resolve_hours, due_at and response_due_at, rated_at, closed_at, ...) and a ``ticket_event`` row
with the department that acted. A story that reaches ``now`` stops there, so the newest tickets
are open, and the few that stall are open and past their deadline.

Volumes follow office life: weekdays and office hours, a slow growth over the two years, busy
and quiet departments, a few enterprises writing often. Working hours are an approximation
(clock time with nights and weekends thinned out), which is all the aggregates need.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import itertools
import json
import math
import random
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Shanghai")
OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving time
DAY = 86400.0
HOUR = 3600.0
CHUNK = 20_000  # tickets generated and copied at a time

# Share of tickets by department code (busy: tax, market regulation, human resources).
DEPT_WEIGHTS = {
    "MSA": 10,
    "GOV": 6,
    "PNR": 5,
    "CNT": 8,
    "TAX": 14,
    "FIN": 4,
    "HRS": 12,
    "ENV": 5,
    "EMG": 3,
    "INV": 5,
    "SCI": 4,
    "FTZ": 3,
    "CUS": 5,
    "DRC": 3,
    "FCB": 3,
    "CMC": 4,
    "PSB": 3,
    "TDS": 2,
    "ESB": 2,
}
# Requests per local hour of day (office hours, a lunch dip, a little in the evening).
HOUR_WEIGHTS = [1, 0, 0, 0, 0, 0, 1, 3, 10, 16, 16, 12, 6, 10, 15, 15, 12, 7, 4, 3, 3, 2, 2, 1]
# (response window in clock seconds, resolution in working days), after desk/sla.py.
POLICY = {
    "咨询": (6 * HOUR, 2),
    "求助": (24 * HOUR, 10),
    "建议": (24 * HOUR, 10),
    "表扬": (24 * HOUR, 10),
    "投诉": (24 * HOUR, 15),
    "举报": (24 * HOUR, 15),
}
URGENT_POLICY = (2 * HOUR, 1)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志海波宁晨阳欣怡浩宇"
TRADE = (
    "泰达",
    "滨海",
    "津南",
    "渤海",
    "海河",
    "天马",
    "华新",
    "恒信",
    "瑞丰",
    "中科",
    "长城",
    "金桥",
    "开元",
    "鼎盛",
    "诚达",
    "宏远",
    "博雅",
    "新锐",
    "启航",
    "汇通",
    "融创",
    "众和",
)
INDUSTRY = (
    "科技",
    "生物医药",
    "汽车零部件",
    "电子",
    "新材料",
    "精密机械",
    "物流",
    "食品",
    "化工",
    "环保",
    "软件",
    "医疗器械",
    "新能源",
    "贸易",
    "建设工程",
    "检测",
)
FORM = ("有限公司", "股份有限公司", "有限责任公司")
PREFIXES = ("", "", "", "", "您好，", "你好，", "请问一下，", "咨询一下：", "麻烦问下，")
SUFFIXES = ("", "", "", "", "谢谢！", "麻烦尽快答复。", "盼复。", "比较急，谢谢。")
RESULTS = (
    "已电话联系企业，详细解答了相关政策和办理流程，企业表示清楚。",
    "已协调相关科室现场核查，问题已处理完毕，并告知企业后续注意事项。",
    "经核实，企业所述情况属实，已督促相关单位整改到位。",
    "已为企业开通绿色通道，相关手续已办结。",
    "已将政策文件和申报指南发送企业联系人，并约定后续跟进。",
    "已会同属地部门上门走访，企业诉求已协调解决。",
)
REASONS = ("问题仍未解决", "答复不具体", "办理时间太长", "希望上门处理", "")
RETURN_REASONS = ("不属于本部门职责", "诉求内容不清，请补充分拨", "应由属地部门办理")

TICKET_COLUMNS = (
    "id",
    "ref",
    "channel",
    "text",
    "status",
    "type",
    "urgent",
    "escalation_level",
    "route_confidence",
    "route_terms",
    "route_candidates",
    "claimed_by_id",
    "claimed_by_name",
    "claimed_at",
    "due_at",
    "result",
    "resolved_at",
    "resolved_by_name",
    "rating_solved",
    "rating_satisfaction",
    "rating_reason",
    "rated_at",
    "reopen_count",
    "close_reason",
    "closed_at",
    "created_at",
    "updated_at",
    "department_id",
    "enterprise_id",
    "member_id",
    "due_estimated",
    "paused_at",
    "response_due_at",
    "sla_start_at",
    "claim_hours",
    "dispatched_at",
    "resolve_hours",
)
EVENT_COLUMNS = (
    "id",
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "action",
    "from_status",
    "to_status",
    "note",
    "data",
    "ticket_id",
    "department_id",
)
SATISFACTION = {"m3": "满意", "m2": "基本满意", "m1": "不满意"}


class _Stop(Exception):
    """The story reached the present: the rest has not happened yet."""


def _ts(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def working_hours(seconds: float) -> float:
    """Clock time to working hours, roughly: short spans count fully, long ones a third."""
    hours = max(0.0, seconds / HOUR)
    return round(hours if hours <= 4 else 4 + (hours - 4) * 0.3, 3)


def due_after(start: float, days: int) -> float:
    """17:30 local on the calendar day ``days`` working days (weekends added) after ``start``."""
    day = int((start + OFFSET) // DAY) + math.ceil(days * 1.4)
    return day * DAY - OFFSET + 17.5 * HOUR


def corpus() -> dict[str, list[tuple[str, str, bool]]]:
    """Real request texts by department code: the training corpus and the shared dev set."""
    texts: dict[str, list[tuple[str, str, bool]]] = {}
    files = sorted((ROOT / "nlp" / "data" / "corpus").glob("*.jsonl"))
    dev = ROOT.parent / "shared" / "data" / "routing_dev.jsonl"
    for path in [*files, *([dev] if dev.exists() else [])]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.setdefault(row["department"], []).append(
                    (row["text"], row.get("type") or "咨询", bool(row.get("urgent")))
                )
    return texts


class World:
    """Departments, people and texts; ``story`` simulates one ticket."""

    def __init__(
        self,
        rng: random.Random,
        now: float,
        departments: list[tuple[int, str, str]],
        enterprises: int,
    ) -> None:
        self.rng = rng
        self.now = now
        texts = corpus()
        self.depts = [d for d in departments if d[1] in texts]
        self.dept_cum = list(itertools.accumulate(DEPT_WEIGHTS.get(d[1], 2) for d in self.depts))
        self.texts = [texts[d[1]] for d in self.depts]
        self.codes = [d[1] for d in self.depts]
        self.shorts = [d[2] for d in self.depts]
        uid = itertools.count(5_000_000_001)
        self.staff = [[(next(uid), self.person()) for _ in range(8)] for _ in self.depts]
        self.office = [(next(uid), self.person()) for _ in range(6)]  # hotline office
        # Enterprises and members (1–3 each); a few enterprises write much more than most.
        self.enterprise_rows: list[tuple[Any, ...]] = []
        self.member_rows: list[tuple[Any, ...]] = []
        self.members: list[list[tuple[int, int, str]]] = []
        created = _ts(now - 800 * DAY)
        member_id = itertools.count(1)
        for e in range(1, enterprises + 1):
            name = (
                f"天津{rng.choice(TRADE)}{rng.choice(TRADE)}{rng.choice(INDUSTRY)}"
                f"{rng.choice(FORM)}"
            )
            self.enterprise_rows.append((e, name, f"91120116{e:09d}X", created))
            people = []
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                m = next(member_id)
                contact = self.person()
                self.member_rows.append(
                    (
                        m,
                        e,
                        100_000_000 + m,
                        100_000_000 + m,
                        contact,
                        f"13{rng.randrange(10**9):09d}",
                        created,
                    )
                )
                people.append((m, 100_000_000 + m, contact))
            self.members.append(people)
        self.ent_cum = list(itertools.accumulate(1 / (r + 10) ** 0.9 for r in range(enterprises)))
        rng.shuffle(self.members)  # the busy ones are not the first ids

    def person(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def story(
        self,
        tid: int,
        ref: str,
        created: float,
    ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        """One ticket: its row and its events (``at`` still a float), cut at ``now``."""
        r, now = self.rng, self.now
        d = bisect.bisect_left(self.dept_cum, r.random() * self.dept_cum[-1])
        text, type_, urgent = r.choice(self.texts[d])
        text = r.choice(PREFIXES) + text + r.choice(SUFFIXES)
        people = self.members[bisect.bisect_left(self.ent_cum, r.random() * self.ent_cum[-1])]
        member_id, member_uid, contact = r.choice(people)
        enterprise_id = self.member_rows[member_id - 1][1]
        respond, days = URGENT_POLICY if urgent else POLICY.get(type_, POLICY["求助"])
        auto = r.random() < 0.85
        confidence = round(r.uniform(0.66, 0.99) if auto else r.uniform(0.2, 0.64), 3)
        other = r.randrange(len(self.depts))
        candidates = (
            f'[["{self.codes[d]}", {confidence}], '
            f'["{self.codes[other]}", {round((1 - confidence) / 2, 3)}]]'
        )
        f: dict[str, Any] = {
            "status": None,
            "dept": None,
            "claimed_by_id": None,
            "claimed_by_name": None,
            "claimed_at": None,
            "claim_hours": None,
            "result": None,
            "resolved_at": None,
            "resolved_by_name": None,
            "resolve_hours": None,
            "rating_solved": None,
            "rating_satisfaction": None,
            "rating_reason": None,
            "rated_at": None,
            "reopen_count": 0,
            "close_reason": None,
            "closed_at": None,
            "paused_at": None,
            "dispatched_at": None,
            "escalation_level": 0,
            "updated_at": created,
        }
        events: list[tuple[Any, ...]] = []

        def emit(
            at: float,
            kind: str,
            user: tuple[int | None, str],
            action: str,
            to: str | None = None,
            note: str = "",
            data: str = "{}",
            dept: int | None = None,
            side: bool = False,
        ) -> None:
            """Log one step (a transition when ``to``); past ``now`` the story stops there."""
            if at > now:
                if side:
                    return
                raise _Stop
            events.append(
                (
                    at,
                    kind,
                    user[0],
                    user[1],
                    action,
                    f["status"] if to else None,
                    to,
                    note,
                    data,
                    tid,
                    dept,
                )
            )
            if to:
                f["status"] = to
                f["updated_at"] = at

        system = (None, "系统")
        enterprise = (member_uid, contact)
        sla_start, due = created, due_after(created, days)
        response_due = created + respond
        try:
            dept_id = self.depts[d][0] if auto else None
            data = (
                f'{{"route": {{"department": "{self.codes[d]}", "confidence": {confidence},'
                f' "auto": {"true" if auto else "false"}, "candidates": {candidates}}}}}'
            )
            emit(
                created,
                "enterprise",
                enterprise,
                "create",
                "dispatched" if auto else "triage",
                data=data,
                dept=dept_id,
            )
            if auto:
                f["dept"], f["dispatched_at"] = d, created
            t = created
            if r.random() < 0.08:
                emit(
                    t + r.lognormvariate(9, 1),
                    "enterprise",
                    enterprise,
                    "followup",
                    note="补充说明：相关材料已准备好，可随时提供。",
                    dept=dept_id,
                    side=True,
                )
            if r.random() < 0.01:  # withdrawn early
                t += r.lognormvariate(8, 1)
                emit(t, "enterprise", enterprise, "cancel", "cancelled", dept=dept_id)
                f["closed_at"], f["close_reason"] = t, "已撤销"
                raise _Stop
            if not auto:  # the hotline office dispatches by hand
                t += r.lognormvariate(7.8, 1)  # median 40 min
                emit(
                    t,
                    "staff",
                    r.choice(self.office),
                    "dispatch",
                    "dispatched",
                    note=f"分拨至{self.shorts[d]}",
                    data=f'{{"department": "{self.codes[d]}"}}',
                )
                f["dept"], f["dispatched_at"] = d, t
                response_due = t + respond
            rounds = 0
            while True:
                cur = f["dept"]
                x = r.random() if rounds == 0 else 1.0
                if x < 0.04:  # transferred to another department
                    t += r.lognormvariate(8.9, 1)
                    new = (cur + 1 + r.randrange(len(self.depts) - 1)) % len(self.depts)
                    emit(
                        t,
                        "staff",
                        r.choice(self.staff[cur]),
                        "transfer",
                        "dispatched",
                        note=f"{self.shorts[cur]} 转办至{self.shorts[new]}",
                        data=f'{{"from": "{self.codes[cur]}", "to": "{self.codes[new]}"}}',
                        dept=self.depts[cur][0],
                    )
                    f["dept"] = cur = new
                elif x < 0.07:  # returned to triage, dispatched again
                    t += r.lognormvariate(9.2, 1)
                    emit(
                        t,
                        "staff",
                        r.choice(self.staff[cur]),
                        "return",
                        "triage",
                        note=r.choice(RETURN_REASONS),
                        data=f'{{"from": "{self.codes[cur]}"}}',
                        dept=self.depts[cur][0],
                    )
                    f["dept"] = None
                    new = (cur + 1 + r.randrange(len(self.depts) - 1)) % len(self.depts)
                    t += r.lognormvariate(7.8, 1)
                    emit(
                        t,
                        "staff",
                        r.choice(self.office),
                        "dispatch",
                        "dispatched",
                        note=f"分拨至{self.shorts[new]}",
                        data=f'{{"department": "{self.codes[new]}"}}',
                    )
                    f["dept"] = cur = new
                dept_id = self.depts[cur][0]
                window = max(response_due - sla_start, HOUR)
                claim_at = max(t, sla_start) + r.lognormvariate(math.log(window * 0.25), 1.0)
                if claim_at > response_due:
                    emit(
                        response_due,
                        "system",
                        system,
                        "urge",
                        note="催办：超过响应时限未认领",
                        data='{"step": "urge", "level": 0}',
                        dept=dept_id,
                        side=True,
                    )
                stalled = r.random() < 0.006
                span = max(due - claim_at, HOUR)
                resolve_at = claim_at + r.lognormvariate(math.log(span * 0.3), 0.8) * (
                    r.uniform(5, 40) if stalled else 1
                )
                staff = r.choice(self.staff[cur])
                t = claim_at
                emit(t, "staff", staff, "claim", "claimed", dept=dept_id)
                f["claimed_by_id"], f["claimed_by_name"] = staff
                f["claimed_at"], f["claim_hours"] = t, working_hours(t - sla_start)
                for _ in range(r.choice((0, 0, 0, 1, 1, 2))):
                    emit(
                        r.uniform(t, resolve_at),
                        "staff",
                        staff,
                        "progress",
                        note="正在协调相关科室办理，请耐心等待。",
                        dept=dept_id,
                        side=True,
                    )
                if r.random() < 0.005:
                    emit(
                        r.uniform(t, resolve_at),
                        "staff",
                        (7_000_000_001, "督办专员"),
                        "supervise",
                        note="督办：请加快办理",
                        dept=dept_id,
                        side=True,
                    )
                if resolve_at > due:
                    emit(
                        due,
                        "system",
                        system,
                        "urge",
                        note="催办：超过办理时限未办结",
                        data='{"step": "urge", "level": 0}',
                        dept=dept_id,
                        side=True,
                    )
                    if resolve_at > due + DAY and due + DAY <= now:
                        emit(
                            due + DAY,
                            "system",
                            system,
                            "escalate",
                            note="升级：超期一个工作日",
                            data='{"step": "consult", "level": 1}',
                            dept=dept_id,
                            side=True,
                        )
                        f["escalation_level"] = 1
                if r.random() < 0.03:  # waits for the enterprise to add material
                    pause = t + (resolve_at - t) * 0.3
                    emit(
                        pause,
                        "staff",
                        staff,
                        "wait",
                        "waiting",
                        note="请企业补充材料",
                        dept=dept_id,
                    )
                    f["paused_at"] = pause
                    emit(
                        t + (resolve_at - t) * 0.5,
                        "enterprise",
                        enterprise,
                        "resume",
                        "claimed",
                        dept=dept_id,
                    )
                    f["paused_at"] = None
                t = resolve_at
                result = r.choice(RESULTS)
                emit(t, "staff", staff, "resolve", "resolved", note=result, dept=dept_id)
                f["result"], f["resolved_at"], f["resolved_by_name"] = result, t, staff[1]
                f["resolve_hours"] = working_hours(t - sla_start)
                f["rating_solved"] = f["rating_satisfaction"] = None
                if r.random() >= 0.85:  # no answer: closed when the visit window ends
                    t += 4.2 * DAY
                    emit(
                        t, "system", system, "close", "closed", note="回访期满未评价", dept=dept_id
                    )
                    f["closed_at"], f["close_reason"] = t, "未评价"
                    break
                t += r.lognormvariate(9.8, 1.2)  # median 5 hours
                solved = r.random() < (0.95 if rounds == 0 else 0.85) or rounds >= 2
                emit(
                    t,
                    "enterprise",
                    enterprise,
                    "rate",
                    note="s1" if solved else "s0",
                    dept=dept_id,
                )
                f["rating_solved"] = solved
                choice = None
                if solved:
                    t += r.uniform(5, 120)
                    x = r.random()
                    choice = "m3" if x < 0.8 or rounds >= 2 else "m2" if x < 0.975 else "m1"
                    emit(t, "enterprise", enterprise, "rate", note=choice, dept=dept_id)
                    f["rating_satisfaction"] = SATISFACTION[choice]
                if solved and choice != "m1":
                    emit(t, "enterprise", enterprise, "close", "closed", dept=dept_id)
                    f["rated_at"] = f["closed_at"] = t
                    f["close_reason"] = "已评价"
                    break
                rating = "未解决" if not solved else "已解决，不满意"
                emit(
                    t,
                    "enterprise",
                    enterprise,
                    "reopen",
                    "reopened",
                    note=f"企业评价：{rating}",
                    dept=dept_id,
                )
                f["reopen_count"] += 1
                f["rated_at"] = t
                f["claimed_by_id"] = f["claimed_by_name"] = f["claimed_at"] = None
                reason = r.choice(REASONS)
                f["rating_reason"] = reason or None
                sla_start, due, response_due = t, due_after(t, days), t + respond
                rounds += 1
        except _Stop:
            pass
        cur = f["dept"]
        row = (
            tid,
            ref,
            "telegram",
            text,
            f["status"],
            type_,
            urgent,
            f["escalation_level"],
            confidence,
            "[]",
            candidates,
            f["claimed_by_id"],
            f["claimed_by_name"],
            _ts(f["claimed_at"]),
            _ts(due),
            f["result"],
            _ts(f["resolved_at"]),
            f["resolved_by_name"],
            f["rating_solved"],
            f["rating_satisfaction"],
            f["rating_reason"],
            _ts(f["rated_at"]),
            f["reopen_count"],
            f["close_reason"],
            _ts(f["closed_at"]),
            _ts(created),
            _ts(f["updated_at"]),
            None if cur is None else self.depts[cur][0],
            enterprise_id,
            member_id,
            False,
            _ts(f["paused_at"]),
            _ts(response_due),
            _ts(sla_start),
            f["claim_hours"],
            _ts(f["dispatched_at"]),
            f["resolve_hours"],
        )
        return row, events


def creation_times(rng: random.Random, now: float, n: int, months: int) -> list[float]:
    """``n`` sorted creation times over ``months`` months before ``now``: weekdays, office hours,
    and a third more requests at the end than at the start."""
    today = int((now + OFFSET) // DAY)
    first = today - round(months * 30.44)
    days = list(range(first, today + 1))
    weights = [
        (1.0 if (day + 3) % 7 < 5 else 0.12) * (1 + 0.35 * (day - first) / (today - first))
        for day in days  # day 0 (1970-01-01) was a Thursday: (day + 3) % 7 is the weekday
    ]
    day_cum = list(itertools.accumulate(weights))
    hour_cum = list(itertools.accumulate(HOUR_WEIGHTS))
    out: list[float] = []
    while len(out) < n:
        for day, hour in zip(
            rng.choices(days, cum_weights=day_cum, k=n - len(out)),
            rng.choices(range(24), cum_weights=hour_cum, k=n - len(out)),
            strict=True,
        ):
            t = day * DAY - OFFSET + (hour + rng.random()) * HOUR
            if t <= now:
                out.append(t)
    out.sort()
    return out


async def load(
    conn: asyncpg.Connection,
    *,
    now: dt.datetime,
    tickets: int,
    enterprises: int,
    months: int,
    seed: int,
) -> None:
    """Fill a migrated, empty database; prints what it did and how long it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    departments = [
        (r["id"], r["code"], r["short"])
        for r in await conn.fetch("SELECT id, code, short FROM department ORDER BY id")
    ]
    world = World(rng, now.timestamp(), departments, enterprises)
    local = now.astimezone(TZ)
    print(
        f"loading {tickets:,} tickets over {months} months up to {local:%Y-%m-%d %H:%M} "
        f"(Asia/Shanghai), {enterprises:,} enterprises, "
        f"{len(world.member_rows):,} members, {len(departments)} departments"
    )
    # Referential checks are skipped during the load (the generator keeps every reference
    # valid); secondary indexes are built once at the end, as a bulk load does.
    try:
        await conn.execute("SET session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        print("  (not a superuser: foreign keys are checked during the load, which is slower)")
    await conn.execute("SET maintenance_work_mem = '256MB'")
    dropped: list[str] = []
    for table in ("ticket", "ticket_event"):
        for name, definition in await conn.fetch(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = $1::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            table,
        ):
            await conn.execute(f"DROP INDEX {name}")
            dropped.append(definition)
    await conn.copy_records_to_table(
        "enterprise",
        records=world.enterprise_rows,
        columns=["id", "name", "credit_code", "created_at"],
    )
    await conn.copy_records_to_table(
        "member",
        records=world.member_rows,
        columns=[
            "id",
            "enterprise_id",
            "tg_user_id",
            "chat_id",
            "contact_name",
            "phone",
            "created_at",
        ],
    )
    times = creation_times(rng, now.timestamp(), tickets, months)
    event_id = itertools.count(1)
    pending: list[tuple[Any, ...]] = []  # events not yet written, kept in time order
    counters: dict[int, int] = {}

    def chunk(lo: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], float]:
        """Tickets ``lo+1 ..`` of one chunk and the events now due; (rows, events, CPU s)."""
        nonlocal pending
        cpu = time.thread_time()
        rows = []
        for tid in range(lo + 1, min(lo + CHUNK, tickets) + 1):
            created = times[tid - 1]
            day = int((created + OFFSET) // DAY)
            counters[day] = seq = counters.get(day, 0) + 1
            ref = f"TD{dt.date.fromordinal(day + 719163):%Y%m%d}-{seq:04d}"
            row, events = world.story(tid, ref, created)
            rows.append(row)
            pending.extend(events)
        # Events before the next ticket's creation can no longer be preceded by a new one:
        # write them in time order, so ids and pages follow time as in a live database.
        horizon = times[lo + CHUNK] if lo + CHUNK < tickets else math.inf
        pending.sort(key=lambda e: e[0])
        cut = bisect.bisect_left(pending, horizon, key=lambda e: e[0])
        ready, pending = pending[:cut], pending[cut:]
        records = [(next(event_id), _ts(e[0]), *e[1:]) for e in ready]
        return rows, records, time.thread_time() - cpu

    # Generating the next chunk (a thread) overlaps with the server ingesting this one.
    gen_cpu, n_events = 0.0, 0
    upcoming = asyncio.ensure_future(asyncio.to_thread(chunk, 0))
    for lo in range(0, tickets, CHUNK):
        rows, records, cpu = await upcoming
        if lo + CHUNK < tickets:
            upcoming = asyncio.ensure_future(asyncio.to_thread(chunk, lo + CHUNK))
        await conn.copy_records_to_table("ticket", records=rows, columns=TICKET_COLUMNS)
        await conn.copy_records_to_table("ticket_event", records=records, columns=EVENT_COLUMNS)
        gen_cpu, n_events = gen_cpu + cpu, n_events + len(records)
        done = min(lo + CHUNK, tickets)
        if done % 200_000 == 0 or done == tickets:
            print(
                f"  {done:>9,} tickets, {n_events:>10,} events "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    copied = time.perf_counter()
    await conn.execute("RESET session_replication_role")
    t0 = time.perf_counter()
    for definition in dropped:
        await conn.execute(definition)
    t1 = time.perf_counter()
    for table in ("ticket", "ticket_event", "enterprise", "member"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT max(id) FROM {table}))"
        )
    await conn.execute("VACUUM (ANALYZE) ticket, ticket_event, enterprise, member")
    t2 = time.perf_counter()
    print(
        f"loaded {tickets:,} tickets and {n_events:,} events in "
        f"{time.perf_counter() - started:.0f} s: generate + COPY {copied - started:.0f} s "
        f"(generating took {gen_cpu:.0f} s of CPU, overlapped), {len(dropped)} indexes "
        f"{t1 - t0:.0f} s, VACUUM ANALYZE {t2 - t1:.0f} s"
    )
    mix = await conn.fetch("SELECT status, count(*) AS n FROM ticket GROUP BY 1 ORDER BY 2 DESC")
    print("status mix: " + ", ".join(f"{r['status']} {r['n']:,}" for r in mix))
