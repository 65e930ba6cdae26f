"""Service-guide search: synonyms, typos, field weights, the answer-first decision, and the
labelled questions' figures staying above the floor measured when the search was tuned."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from nlp.guide_search import (
    GuideDoc,
    GuideIndex,
    SearchParams,
    bigrams,
    evaluate,
    split_halves,
)

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "desk" / "defaults" / "guide.yaml"
QUESTIONS = ROOT / "nlp" / "data" / "guide_questions.jsonl"


@lru_cache(maxsize=1)
def catalog_index() -> GuideIndex:
    items = yaml.safe_load(CATALOG.read_text("utf-8"))
    return GuideIndex([GuideDoc.from_mapping(item) for item in items])


def top(query: str, n: int = 1) -> list[str]:
    return [h.code for h in catalog_index().search(query, limit=n).hits]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("执照上的地址要改", "msa-license-change"),  # 执照 → 营业执照, 地址 → 住所
        ("开票额度不够了想提额", "tax-invoice-quota"),  # 开票 → 发票
        ("退税怎么申报", "tax-export-rebate"),  # 退税 → 出口退税
        ("新员工社保在哪增员", "hrs-social-insurance-registration"),  # 社保 → 社会保险
        ("公积金怎么开户", "hrs-housing-fund"),
        ("厂房要通电找谁", "cnt-power-connection"),
        ("老外来上班办什么证", "gov-foreign-work-permit"),
        ("公司法人要换人", "msa-license-change"),  # 公司法人: cut again into known words
    ],
)
def test_synonyms_and_colloquial_words_reach_the_item(query: str, code: str) -> None:
    assert top(query) == [code]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("营业职照地址变更", "msa-license-change"),
        ("出口退锐的流程", "tax-export-rebate"),
        ("发漂额度怎么增加", "tax-invoice-quota"),
        ("高薪技术企业认定条件", "sci-hightech-certification"),
    ],
)
def test_typos_still_find_the_item_in_the_top_three(query: str, code: str) -> None:
    assert code in top(query, 3)


def test_name_and_aliases_weigh_more_than_steps_and_materials() -> None:
    docs = [
        GuideDoc(code="body", name="甲事项", steps=("办理排污许可后再申请",)),
        GuideDoc(code="title", name="排污许可证申请", steps=("网上提交",)),
        GuideDoc(code="alias", name="乙事项", aliases=("排污许可",)),
    ]
    hits = GuideIndex(docs).search("排污许可", limit=3).hits
    assert [h.code for h in hits][:2] in (["title", "alias"], ["alias", "title"])
    assert hits[-1].code == "body"
    assert hits[0].score > hits[-1].score > 0


def test_a_clear_question_is_answered_first() -> None:
    result = catalog_index().search("开票额度不够用了，怎么临时提额")
    assert result.answers_well, result.reason
    assert result.reason == "ok"
    assert result.best is not None and result.best.code == "tax-invoice-quota"
    assert 0 < result.confidence <= 1


@pytest.mark.parametrize(
    "query",
    [
        "我们的退税申请交了两个月了还没到账",  # own stuck case: a human looks at it
        "窗口工作人员态度太差了，我要投诉",
        "园区门口的路灯坏了好久了",  # nothing in the catalog
    ],
)
def test_stuck_cases_complaints_and_unknown_matters_are_not_answered_first(query: str) -> None:
    result = catalog_index().search(query)
    assert not result.answers_well
    assert result.reason != "ok"


def test_a_close_second_is_not_answered_first() -> None:
    docs = [
        GuideDoc(code="a", name="排污许可证申请"),
        GuideDoc(code="b", name="排污许可证变更"),
    ]
    result = GuideIndex(docs, params=SearchParams(min_score=0)).search("排污许可证")
    assert len(result.hits) == 2
    assert not result.answers_well and result.reason == "close second"


def test_empty_query_and_empty_catalog() -> None:
    assert catalog_index().search("  ").hits == ()
    assert not catalog_index().search("？？").answers_well
    assert GuideIndex([]).search("营业执照").hits == ()


def test_bigrams_skip_punctuation_and_fold_latin() -> None:
    assert bigrams("FT账户！") == ["ft账", "账户"]


def load_questions() -> list[dict[str, object]]:
    with QUESTIONS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_labelled_questions_are_many_and_point_at_real_items() -> None:
    rows = load_questions()
    codes = {d.code for d in catalog_index().docs}
    answerable = [r for r in rows if r["code"] != "none"]
    assert len(answerable) >= 120 and len(rows) - len(answerable) >= 20
    for row in answerable:
        assert row["code"] in codes
        assert set(row.get("alt") or ()) <= codes  # type: ignore[arg-type]
    names = {d.name for d in catalog_index().docs}
    assert not [r["text"] for r in rows if r["text"] in names]


# Floors a little under the figures measured when the search was tuned (bench/guide_search.py:
# tuning half top-1 0.959 top-3 0.979, held-out top-1 0.948 top-3 0.990; answered first 0.78 /
# 0.72 with precision 1.0; none set answered 0 / 0). A regression below them fails here.
@pytest.mark.parametrize("half", ["tuning", "held-out"])
def test_labelled_questions_stay_above_the_floor(half: str) -> None:
    tune, held = split_halves(load_questions())
    figures = evaluate(catalog_index(), tune if half == "tuning" else held)
    assert figures.top1 >= 0.90, figures.format()
    assert figures.top3 >= 0.95, figures.format()
    assert figures.answered_share >= 0.60, figures.format()
    assert figures.answered_precision >= 0.97, figures.format()
    assert figures.none_false_answers == 0, figures.format()


def test_split_halves_keeps_both_kinds_in_each_half() -> None:
    tune, held = split_halves(load_questions())
    for part in (tune, held):
        assert any(r["code"] == "none" for r in part)
        assert sum(r["code"] != "none" for r in part) >= 60
    assert not {r["text"] for r in tune} & {r["text"] for r in held}  # type: ignore[misc]
