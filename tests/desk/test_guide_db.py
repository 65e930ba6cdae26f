"""The service guide on SQLite and PostgreSQL: the starter catalog loads once and never
overwrites edits, search follows changes at once, files go in and out whole, and a file with
any problem changes nothing and says why in Chinese."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from desk import guide
from desk.errors import InvalidInput, NotFound
from desk.setup import load_defaults
from models.guide import ServiceItem


async def snapshot() -> list[tuple[object, ...]]:
    return [
        (r.code, r.department_code, r.name, tuple(r.aliases), tuple(r.steps), r.active, r.source)
        for r in await ServiceItem.all().order_by("code")
    ]


NEW_ITEM = {
    "code": "tax-cross-region",
    "department": "TAX",
    "name": "跨区域涉税事项报告",
    "aliases": ["外出经营报验", "异地施工预缴"],
    "conditions": "纳税人跨省（自治区、直辖市）临时从事生产经营活动的。",
    "materials": ["跨区域涉税事项报告表"],
    "steps": ["电子税务局填报", "经营地报验登记", "经营结束后反馈"],
    "time_limit": "即时办结",
    "fees": "免费",
    "contact": "经开区税务局纳税服务科",
}


async def test_starter_catalog_is_loaded_once(db: str) -> None:
    items = await guide.list_items()
    assert len(items) == len(guide.default_items()) >= 45
    again = await load_defaults()
    assert again["guide_created"] == 0 and again["guide_refreshed"] == 0
    assert await ServiceItem.all().count() == len(items)
    tax = await guide.list_items(department="TAX")
    assert tax and {i.department_code for i in tax} == {"TAX"}
    item = await guide.get_item(code="tax-export-rebate")
    assert item.name.startswith("出口退")
    assert item.materials and item.steps and "工作日" in item.time_limit


async def test_enterprise_asks_and_the_catalog_answers_first(db: str) -> None:
    result = await guide.search(query="我们是外贸公司，第一次办出口退税要先备案吗", limit=3)
    assert result.best is not None and result.best.code == "tax-export-rebate"
    assert result.answers_well
    stuck = await guide.search(query="我们的退税申请交了两个月了还没到账", limit=3)
    assert not stuck.answers_well


async def test_get_item_unknown_code_says_so(db: str) -> None:
    with pytest.raises(NotFound, match="没有编码为 nope 的事项"):
        await guide.get_item(code="nope")


async def test_search_follows_changes_at_once(db: str) -> None:
    before = await guide.search(query="异地施工预缴怎么报告", limit=3)
    assert "tax-cross-region" not in [h.code for h in before.hits]
    counts = await guide.upsert_items(items=[NEW_ITEM])
    assert counts == {"created": 1, "updated": 0, "unchanged": 0}
    after = await guide.search(query="异地施工预缴怎么报告", limit=3)
    assert after.best is not None and after.best.code == "tax-cross-region"
    # deactivated: gone from search and from the lists, still there for get_item
    await guide.upsert_items(items=[{**NEW_ITEM, "active": False}], source="admin")
    gone = await guide.search(query="异地施工预缴怎么报告", limit=3)
    assert "tax-cross-region" not in [h.code for h in gone.hits]
    assert "tax-cross-region" not in [i.code for i in await guide.list_items(department="TAX")]
    assert (await guide.get_item(code="tax-cross-region")).active is False


async def test_another_process_change_is_picked_up(db: str) -> None:
    await guide.search(query="营业执照变更", limit=1)  # index built
    row = await ServiceItem.get(code="esb-supply-demand")
    row.name = "企业供需对接与叉车租赁撮合"  # changed behind this process's back
    await row.save()
    result = await guide.search(query="叉车租赁撮合", limit=1)
    assert result.best is not None and result.best.code == "esb-supply-demand"


async def test_seed_never_overwrites_an_imported_edit(db: str) -> None:
    edited = {**guide.default_items()[0], "name": "营业执照变更（本区口径）"}
    await guide.upsert_items(items=[edited])
    await load_defaults()
    row = await guide.get_item(code=edited["code"])
    assert row.name == "营业执照变更（本区口径）" and row.source == "import"


@pytest.mark.parametrize("suffix", [".yaml", ".csv"])
async def test_export_import_round_trip(db: str, tmp_path: Path, suffix: str) -> None:
    await guide.upsert_items(items=[NEW_ITEM])
    path = tmp_path / f"guide{suffix}"
    count = await guide.export_file(path=path)
    assert count == await ServiceItem.all().count()
    before = await snapshot()
    counts = await guide.import_file(path=path)
    assert counts == {"created": 0, "updated": 0, "unchanged": count}
    assert await snapshot() == before
    # edit one item in the file, add one: exactly those change
    if suffix == ".yaml":
        data = yaml.safe_load(path.read_text("utf-8"))
        data[0]["steps"] = [*data[0]["steps"], "领取结果"]
        data.append({**NEW_ITEM, "code": "tax-cross-region-2", "name": "跨区域涉税事项反馈"})
        path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        rows[0]["steps"] += "\n领取结果"
        mine = next(r for r in rows if r["code"] == "tax-cross-region")
        rows.append({**mine, "code": "tax-cross-region-2", "name": "跨区域涉税事项反馈"})
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    counts = await guide.import_file(path=path)
    assert counts == {"created": 1, "updated": 1, "unchanged": count - 1}
    first = await ServiceItem.all().order_by("department_code", "sort", "id").first()
    assert first is not None and first.steps[-1] == "领取结果"
    assert (await guide.get_item(code="tax-cross-region-2")).materials == NEW_ITEM["materials"]


async def test_bad_file_changes_nothing_and_says_why(db: str, tmp_path: Path) -> None:
    before = await snapshot()
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            [
                NEW_ITEM,  # fine on its own, but the file is taken whole or not at all
                {"code": "xyz-thing", "department": "XYZ", "name": "某事项"},
                {"code": "tax-no-name", "department": "TAX"},
                {**NEW_ITEM, "steps": {"a": 1}},
            ],
            allow_unicode=True,
        ),
        "utf-8",
    )
    with pytest.raises(InvalidInput) as info:
        await guide.import_file(path=path)
    message = info.value.message
    assert "未做任何修改" in message
    assert "部门代码 XYZ 不存在" in message
    assert "缺少必填字段「事项名称」" in message
    assert "编码 tax-cross-region 重复" in message
    assert "「办理流程」应为文字列表" in message
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("items.txt", "x", "不支持的文件类型"),
        ("items.yaml", "code: [unclosed", "YAML 格式错误"),
        ("items.yaml", "code: a", "应为事项列表"),
        ("items.yaml", "[]", "没有任何事项"),
        ("items.csv", "name,department\n某事项,TAX\n", "CSV 表头缺少必需列：code"),
        ("missing.yaml", None, "找不到文件"),
    ],
)
async def test_unreadable_files_are_refused(
    db: str, tmp_path: Path, name: str, content: str | None, expected: str
) -> None:
    before = await snapshot()
    path = tmp_path / name
    if content is not None:
        path.write_text(content, "utf-8")
    with pytest.raises(InvalidInput, match=expected):
        await guide.import_file(path=path)
    assert await snapshot() == before
