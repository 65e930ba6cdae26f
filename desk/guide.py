"""The service guide (办事指南): the departments' catalog of service items, and search over it.

The catalog lives in ``service_item``; the project ships a starter catalog
(``desk/defaults/guide.yaml``) that :func:`seed_guide` loads without ever overwriting an item
somebody edited or imported. Files in YAML or CSV go in and out with :func:`import_file` and
:func:`export_file` (the shell's ``desk guide import/export``): a file is checked whole first and
a file with any problem changes nothing, with the problems listed in Chinese.

Search (:func:`search`) runs on an in-process :class:`nlp.guide_search.GuideIndex`, rebuilt when
the catalog changed: in this process at once, in the others at their next search (a cheap
count-and-newest query decides).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from models.department import Department
from models.guide import ANSWER_STATES, GuideAnswer, ServiceItem
from models.ticket import Draft, Ticket
from nlp.guide_search import GuideDoc, GuideIndex, GuideResult

from . import audit
from .audit import Editor
from .db import atomic
from .errors import InvalidInput, NotFound
from .notify import enqueue

log = logging.getLogger(__name__)

__all__ = [
    "FIELDS",
    "default_items",
    "export_file",
    "get_item",
    "import_file",
    "list_items",
    "search",
    "seed_guide",
    "upsert_items",
]

# The exchange format's fields, in file order (YAML keys, CSV columns).
FIELDS: tuple[str, ...] = (
    "code",
    "department",
    "name",
    "aliases",
    "conditions",
    "materials",
    "steps",
    "time_limit",
    "fees",
    "location",
    "online_url",
    "contact",
    "active",
)
LIST_FIELDS = frozenset({"aliases", "materials", "steps"})
REQUIRED = ("code", "department", "name")
_TEXT_LIMITS = {"name": 128, "time_limit": 255, "fees": 255, "online_url": 512, "contact": 255}
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
_FIELD_NAMES = {
    "code": "编码",
    "department": "部门",
    "name": "事项名称",
    "aliases": "别名",
    "materials": "申请材料",
    "steps": "办理流程",
}


# ---------------------------------------------------------------- reading and checking items


def default_items() -> list[dict[str, Any]]:
    """The starter catalog shipped with the project (``desk/defaults/guide.yaml``)."""
    text = resources.files("desk").joinpath("defaults/guide.yaml").read_text("utf-8")
    # libyaml's loader when present: the catalog is read at every start (4x faster).
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(data, list)
    return data


def _as_list(value: Any) -> list[str] | None:
    """A list of non-empty strings from a list, or from text with one entry a line."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list | tuple):
        if not all(isinstance(v, str | int | float) for v in value):
            return None
        return [str(v).strip() for v in value if str(v).strip()]
    return None


def _as_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是", "启用"):
        return True
    if text in ("0", "false", "no", "n", "否", "停用"):
        return False
    return None


def check_items(
    items: Sequence[Any], departments: Iterable[str], *, numbered: bool = True
) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate and clean catalog items; returns the clean items and the problems (Chinese).

    ``numbered``: each problem names its item (``第3条（code）：…``), as a file needs; one item
    from a form is not numbered.
    """
    known = set(departments)
    clean: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, raw in enumerate(items, start=1):
        if not isinstance(raw, Mapping):
            problems.append(f"第{n}条：应为一个事项（字段: 值），实际是 {type(raw).__name__}")
            continue
        where = (
            f"第{n}条（{raw.get('code') or raw.get('name') or '无编码'}）：" if numbered else ""
        )
        item: dict[str, Any] = {}
        for key in REQUIRED:
            given = raw.get(key) or (raw.get("department_code") if key == "department" else None)
            value = str(given or "").strip()
            if not value:
                problems.append(f"{where}缺少必填字段「{_FIELD_NAMES[key]}」（{key}）")
            item[key] = value
        code, dept = item["code"], item["department"]
        if code and not _CODE_RE.match(code):
            problems.append(f"{where}编码 {code!r} 只能用小写字母、数字和连字符（2–64 个字符）")
        if code in seen:
            problems.append(f"{where}编码 {code} 重复")
        seen.add(code)
        if dept and dept not in known:
            problems.append(f"{where}部门代码 {dept} 不存在（已有：{'、'.join(sorted(known))}）")
        for key in LIST_FIELDS:
            values = _as_list(raw.get(key))
            if values is None:
                problems.append(f"{where}「{_FIELD_NAMES[key]}」应为文字列表")
                values = []
            item[key] = values
        for key in ("conditions", "time_limit", "fees", "location", "online_url", "contact"):
            given = raw.get(key)
            item[key] = "" if given is None else str(given).strip()
            limit = _TEXT_LIMITS.get(key)
            if limit and len(item[key]) > limit:
                problems.append(f"{where}{key} 超过 {limit} 个字符")
        if len(item["name"]) > _TEXT_LIMITS["name"]:
            problems.append(f"{where}事项名称超过 128 个字符")
        active = _as_bool(raw.get("active"))
        if active is None:
            problems.append(f"{where}active 应为 true/false")
        item["active"] = active is not False
        unknown = set(raw) - set(FIELDS) - {"department_code"}
        if unknown:
            problems.append(f"{where}未知字段 {'、'.join(sorted(map(str, unknown)))}")
        clean.append(item)
    return clean, problems


def _row_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """The model's column values for a clean item."""
    values = {k: item[k] for k in FIELDS if k not in ("code", "department")}
    values["department_code"] = item["department"]
    return values


def _item_dict(row: ServiceItem) -> dict[str, Any]:
    """A row in the exchange format."""
    out: dict[str, Any] = {k: getattr(row, k) for k in FIELDS if k != "department"}
    out["department"] = row.department_code
    return {k: out[k] for k in FIELDS}


def _doc(row: ServiceItem) -> GuideDoc:
    return GuideDoc.from_mapping(_item_dict(row))


# ---------------------------------------------------------------- the index cache


@dataclass
class _IndexCache:
    """The index this process searches, and the catalog state it was built from."""

    index: GuideIndex | None = None
    key: str = ""


_cache = _IndexCache()


async def _state_key() -> str:
    """Changes whenever an item is added, edited or removed (cheap to poll)."""
    newest = await ServiceItem.all().order_by("-updated_at", "-id").first()
    count = await ServiceItem.all().count()
    return f"{count}|{newest.id if newest else '-'}|{newest.updated_at if newest else '-'}"


def invalidate() -> None:
    """Forget the index (after a change made by this process)."""
    _cache.index, _cache.key = None, ""


async def _index() -> GuideIndex:
    key = await _state_key()
    if _cache.index is None or key != _cache.key:
        rows = await ServiceItem.filter(active=True).order_by("department_code", "sort", "id")
        _cache.index, _cache.key = GuideIndex([_doc(r) for r in rows]), key
        log.info("guide index built: %d items (%s)", len(rows), key)
    return _cache.index


# ---------------------------------------------------------------- services


async def search(*, query: str, limit: int = 5) -> GuideResult:
    """Rank the active items for an enterprise's question; ``answers_well`` says answer first."""
    return (await _index()).search(query, limit=limit)


async def get_item(*, code: str) -> ServiceItem:
    """One item by its code.

    Raises:
        NotFound: no item has this code.
    """
    item = await ServiceItem.get_or_none(code=code)
    if item is None:
        raise NotFound(f"办事指南中没有编码为 {code} 的事项")
    return item


async def list_items(
    *, department: str | None = None, include_inactive: bool = False
) -> list[ServiceItem]:
    """The active items (every item with ``include_inactive``), by department then catalog
    order; one department's when given."""
    query = ServiceItem.all() if include_inactive else ServiceItem.filter(active=True)
    if department is not None:
        query = query.filter(department_code=department)
    return await query.order_by("department_code", "sort", "id")


async def upsert_items(*, items: Sequence[Any], source: str = "import") -> dict[str, int]:
    """Create or update items by code, all or nothing.

    Args:
        items: mappings in the exchange format (:data:`FIELDS`); lists may be given as text
            with one entry a line.
        source: who the rows now belong to (``import``, ``admin``); :func:`seed_guide` never
            overwrites rows that are not ``default``.

    Returns:
        Counts of ``created``, ``updated`` and ``unchanged`` items.

    Raises:
        InvalidInput: a problem in any item; the message lists them and nothing was changed.
    """
    codes = [d.code for d in await Department.all()]
    clean, problems = check_items(items, codes)
    if not clean and not problems:
        problems.append("文件中没有任何事项")
    if problems:
        raise InvalidInput("办事指南导入失败，未做任何修改：\n" + "\n".join(problems[:30]))
    created = updated = unchanged = 0
    async with atomic():
        wanted = [i["code"] for i in clean]
        existing = {r.code: r for r in await ServiceItem.filter(code__in=wanted)}
        next_sort = await ServiceItem.all().count()
        for item in clean:
            values = _row_values(item)
            row = existing.get(item["code"])
            if row is None:
                await ServiceItem.create(
                    code=item["code"], sort=next_sort, source=source, **values
                )
                next_sort += 1
                created += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.source = source
                await row.save()
                updated += 1
            else:
                unchanged += 1
    invalidate()
    return {"created": created, "updated": updated, "unchanged": unchanged}


def _snapshot(row: ServiceItem | None) -> dict[str, Any]:
    """An item's fields in the exchange format (empty for none), to tell what an edit changed."""
    return _item_dict(row) if row is not None else {}


async def save_item(
    *, editor: Editor, item: Mapping[str, Any], create: bool
) -> tuple[ServiceItem, list[str]]:
    """One item from the admin web, created (``create``: its code must be new) or edited, and
    its audit entry (``guide.edit``: what changed and the old values), in one transaction.

    Returns:
        The saved item and the fields that changed (none: nothing was written).

    Raises:
        InvalidInput: refused, each problem on a line; nothing changed.
        NotFound: editing an item that does not exist.
    """
    code = str(item.get("code") or "").strip()
    before = await ServiceItem.get_or_none(code=code) if code else None
    if create and before is not None:
        raise InvalidInput(f"编码 {code} 已被其他事项使用，请换一个编码或去编辑该事项。")
    if not create and before is None:
        raise NotFound(f"办事指南中没有编码为 {code} 的事项")
    clean, problems = check_items([item], [d.code for d in await Department.all()], numbered=False)
    if problems:
        raise InvalidInput("未保存，请修改：\n" + "\n".join(problems))
    async with atomic():
        counts = await upsert_items(items=clean, source="admin")
        after = await get_item(code=code)
        if counts["unchanged"]:
            return after, []
        old, new = _snapshot(before), _snapshot(after)
        changed = sorted(k for k in new if old.get(k) != new[k])
        await audit.log(
            editor,
            "guide.edit",
            target=code,
            data={
                "created": before is None,
                "name": after.name,
                "department": after.department_code,
                "changed": changed,
                **({"before": {k: old[k] for k in changed}} if old else {}),
            },
        )
    return after, changed


async def seed_guide() -> dict[str, int]:
    """Load the starter catalog: add missing items, refresh untouched defaults, keep the rest."""
    created = refreshed = kept = 0
    codes = {d.code for d in await Department.all()}
    clean, problems = check_items(default_items(), codes)
    if problems:  # a broken shipped file is a bug; never block start-up over it
        log.error("starter guide has problems: %s", problems)
        return {"created": 0, "refreshed": 0, "kept": 0}
    existing = {r.code: r for r in await ServiceItem.all()}
    for sort, item in enumerate(clean):
        values = _row_values(item)
        row = existing.get(item["code"])
        if row is None:
            await ServiceItem.create(code=item["code"], sort=sort, source="default", **values)
            created += 1
        elif row.source == "default" and any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            await row.save()
            refreshed += 1
        else:
            kept += 1
    if created or refreshed:
        invalidate()
    return {"created": created, "refreshed": refreshed, "kept": kept}


# ---------------------------------------------------------------- files


def _file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".csv":
        return "csv"
    raise InvalidInput(f"不支持的文件类型 {suffix or '（无扩展名）'}：请用 .yaml、.yml 或 .csv")


def read_file(path: Path) -> list[Any]:
    """The items of a YAML (a list, or a mapping with ``items``) or CSV file (one per row)."""
    kind = _file_kind(path)
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"找不到文件 {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} 不是 UTF-8 编码的文本文件") from None
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = [f for f in REQUIRED if f not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(f"CSV 表头缺少必需列：{'、'.join(missing)}")
        return [dict(row) for row in reader]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"YAML 格式错误：{exc}") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise InvalidInput("YAML 文件应为事项列表（或含 items 列表的映射）")
    return data


async def import_file(*, path: str | Path, source: str = "import") -> dict[str, int]:
    """Import a YAML or CSV catalog file; all or nothing (see :func:`upsert_items`)."""
    items = await asyncio.to_thread(read_file, Path(path))
    return await upsert_items(items=items, source=source)


def _csv_cell(key: str, value: Any) -> str:
    if key in LIST_FIELDS:
        return "\n".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def export_file(*, path: str | Path) -> int:
    """Write every item (inactive ones included) to a YAML or CSV file; returns the count."""
    target = Path(path)
    kind = _file_kind(target)
    ordered = await ServiceItem.all().order_by("department_code", "sort", "id")
    rows = [_item_dict(r) for r in ordered]
    if kind == "yaml":
        text = yaml.safe_dump(rows, allow_unicode=True, sort_keys=False, width=1000)
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(FIELDS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(k, v) for k, v in row.items()})
        text = out.getvalue()
    await asyncio.to_thread(target.write_text, text, "utf-8")
    return len(rows)


# ---------------------------------------------------------------- in the chat


async def item_params(item: ServiceItem) -> dict[str, Any]:
    """What a chat shows of one item (the renderer escapes it)."""
    dept = await Department.get_or_none(code=item.department_code)
    return {
        "item_id": item.id,
        "name": item.name,
        "department": dept.name if dept else item.department_code,
        "conditions": item.conditions,
        "materials": list(item.materials or []),
        "steps": list(item.steps or []),
        "time_limit": item.time_limit,
        "fees": item.fees,
        "location": item.location,
        "online_url": item.online_url,
        "contact": item.contact,
    }


async def show_menu(*, chat_id: int) -> None:
    """``/guide``: the departments that publish items, each a button to its list."""
    counts: dict[str, int] = {}
    for code in await ServiceItem.filter(active=True).values_list("department_code", flat=True):
        counts[str(code)] = counts.get(str(code), 0) + 1
    depts = await Department.filter(code__in=list(counts), active=True).order_by("id")
    async with atomic():
        await enqueue(
            chat_id=chat_id,
            kind="guide_menu",
            params={"departments": [[d.id, d.name, counts[d.code]] for d in depts]},
        )


async def show_department(*, chat_id: int, department_id: int) -> str:
    """One department's items, each a button to its details; the toast text."""
    dept = await Department.get_or_none(id=department_id, active=True)
    items = await list_items(department=dept.code) if dept else []
    if dept is None or not items:
        raise NotFound("该部门暂无办事指南。")
    async with atomic():
        await enqueue(
            chat_id=chat_id,
            kind="guide_list",
            params={"department": dept.name, "items": [[i.id, i.name] for i in items]},
        )
    return dept.name


async def show_item(*, chat_id: int, item_id: int) -> str:
    """One item's details in the chat; the toast text."""
    item = await ServiceItem.get_or_none(id=item_id, active=True)
    if item is None:
        raise NotFound("该事项已下线或不存在。")
    params = await item_params(item)
    async with atomic():
        await enqueue(chat_id=chat_id, kind="guide_item", params=params)
    return item.name


# ---------------------------------------------------------------- measured


@dataclass(frozen=True)
class AnswerStats:
    """How the answer-first line did over a period.

    Attributes:
        questions: new requests from enterprises (each kept as a draft, answered first or not).
        answered: of those, answered from the guide first.
        solved: answers the enterprise marked 已解决 (their draft withdrawn).
        human: answers followed by a ticket with the question (仍需人工, or 确认 under the
            draft sent with the answer).
        no_reply: answers with no button pressed and no ticket from their draft.
        without_ticket: answered and no ticket opened from the answer (solved + no reply).
        later_ticket: of ``without_ticket``, the enterprise opened a ticket anyway within
            ``LATER_DAYS`` days after the answer.
    """

    questions: int
    answered: int
    solved: int
    human: int
    no_reply: int
    without_ticket: int
    later_ticket: int

    @property
    def answered_share(self) -> float:
        return self.without_ticket / self.questions if self.questions else 0.0

    @property
    def later_share(self) -> float:
        return self.later_ticket / self.without_ticket if self.without_ticket else 0.0


LATER_DAYS = 7


async def answer_stats(*, since: dt.datetime, until: dt.datetime) -> AnswerStats:
    """Figures of the answer-first line for answers and drafts created in [since, until)."""
    answers = await GuideAnswer.filter(created_at__gte=since, created_at__lt=until).values(
        "id", "state", "created_at", "member__enterprise_id", "draft_id"
    )
    drafts = await Draft.filter(created_at__gte=since, created_at__lt=until).count()
    # An answer is followed by the question's draft, already counted; only answers from
    # before drafts followed answers are questions of their own.
    alone = sum(1 for a in answers if a["draft_id"] is None)
    by_state = {s: sum(1 for a in answers if a["state"] == s) for s in ANSWER_STATES}
    later = 0
    for a in answers:
        if a["state"] == "human":
            continue
        opened = await Ticket.filter(
            enterprise_id=a["member__enterprise_id"],
            created_at__gt=a["created_at"],
            created_at__lte=a["created_at"] + dt.timedelta(days=LATER_DAYS),
        ).exists()
        later += opened
    return AnswerStats(
        questions=drafts + alone,
        answered=len(answers),
        solved=by_state["solved"],
        human=by_state["human"],
        no_reply=by_state["offered"],
        without_ticket=by_state["solved"] + by_state["offered"],
        later_ticket=later,
    )
