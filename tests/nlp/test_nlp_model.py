"""Tests for normalisation, Aho-Corasick matching, the learned model, evaluation and robustness.

An enterprise writes in traditional characters, with typos, emoji or junk; the router still
answers (triage when unsure) and never raises. A triage correction, once retrained, changes the
next decision for a similar message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp import (
    EvalReport,
    Example,
    Router,
    TextModel,
    default_examples,
    evaluate,
    load_default_rules,
    train_model,
    validate_rules,
)
from nlp.matcher import TermMatcher, maximal_hits
from nlp.model import DEFAULT_MODEL_PATH, examples_hash
from nlp.normalize import normalize

DEV_SET = Path(__file__).resolve().parents[2].parent / "shared/data/routing_dev.jsonl"


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.from_default()


# -- normalisation -------------------------------------------------------------------------


def test_traditional_characters_become_simplified() -> None:
    expected = "我们公司的营业执照过期了,请问怎么办?"
    assert normalize("我們公司的營業執照過期了，請問怎麼辦？") == expected


def test_traditional_message_routes_like_simplified(router: Router) -> None:
    simplified = router.route("出口退税申报被退回了，单证备案怎么补")
    traditional = router.route("出口退稅申報被退回了，單證備案怎麼補")
    assert traditional.department == simplified.department == "TAX"
    assert traditional.matched_terms == simplified.matched_terms


def test_control_characters_and_width_are_folded() -> None:
    assert normalize("ＡＥＯ\x00認證\x07\x1b") == "aeo认证"


# -- Aho-Corasick matching -----------------------------------------------------------------


def test_aho_corasick_is_used_and_agrees_with_plain_scan() -> None:
    terms = ["社保", "社保费", "保费", "费用", "出口退税", "退税"]
    fast = TermMatcher(terms)
    slow = TermMatcher(terms, use_accelerator=False)
    assert fast._automaton is not None  # pyahocorasick is a dependency
    text = "社保费用和出口退税，退税社保"
    assert fast.find(text) == slow.find(text)
    kept = [(h.term, h.start) for h in maximal_hits(fast.find(text))]
    assert ("社保费", 0) in kept and ("社保", 0) not in kept and ("退税", 10) in kept


def test_rules_semantics_patterns_negatives_and_alignment() -> None:
    rules = {
        "fallback": "X",
        "departments": {
            "X": {"name": "兜底"},
            "A": {"strong": ["直排"], "patterns": {"(停|断)了?电": 2}},
            "B": {"strong": ["排队"], "negative": {"电": 5}},
        },
    }
    r = Router(rules)
    scores, matched = r.score(r.prepare("一直排队"))
    assert "A" not in scores  # 直排 does not line up with the words 一直 / 排队
    assert matched["B"] == ["排队"]
    scores, matched = r.score(r.prepare("厂里停了电，还要排队"))
    assert "停了电" in matched["A"] and "B" not in scores  # pattern; negative term wins


def test_validate_rules() -> None:
    assert validate_rules(load_default_rules()) == []
    problems = validate_rules(
        {
            "fallback": "Z",
            "departments": {
                "A": {"strong": ["苹果", ""], "patterns": {"(未闭合": 2}, "colour": 1},
                "b-1": {"terms": {"香蕉": "很多"}},
            },
        }
    )
    text = "\n".join(problems)
    assert "fallback" in text and "bad regex" in text and "unknown key 'colour'" in text
    assert "b-1" in text and "weight of '香蕉'" in text and "empty" in text
    assert validate_rules([]) and validate_rules({"departments": {}})  # type: ignore[arg-type]


# -- model ---------------------------------------------------------------------------------


def test_shipped_model_matches_corpus(router: Router) -> None:
    """Fails when the corpus changed without `uv run python -m nlp.build`."""
    model = TextModel.from_bytes(DEFAULT_MODEL_PATH.read_bytes())
    examples = default_examples()
    assert len({ex.department for ex in examples}) == 19
    assert model.data_hash == examples_hash(examples), "run: uv run python -m nlp.build"
    assert model.trained_on == len(examples)
    assert router.model_version == model.version


def test_model_round_trip(router: Router) -> None:
    assert router.model is not None
    data = router.model.to_bytes()
    copy = TextModel.from_bytes(data)
    assert copy.version == router.model.version and copy.trained_on == router.model.trained_on
    again = Router(model=copy)
    for text in ("我们想给新招的硕士办海河英才落户", "柜子在码头被扣了三天", "你好"):
        assert again.route(text) == router.route(text)


def test_from_bytes_rejects_junk() -> None:
    with pytest.raises(ValueError):
        TextModel.from_bytes(b"not a model")


def test_candidates_are_probabilities(router: Router) -> None:
    decision = router.route("我们的电子税务局一直登不上，申报提交不了")
    assert decision.department == "TAX" and decision.auto
    assert decision.candidates[0] == ("TAX", decision.confidence)
    assert all(0.0 <= p <= 1.0 for _, p in decision.candidates)
    assert sum(p for _, p in decision.candidates) <= 1.0 + 1e-6


def test_rules_only_router_still_works() -> None:
    plain = Router()
    assert plain.model_version is None
    assert plain.route("公司想注销营业执照").department == "MSA"


def test_a_correction_changes_the_next_decision() -> None:
    """Triage sent shared-bike complaints to the street office; retraining learns it."""
    probe = "门口的共享单车越来越多，堆得人都走不过去了"
    assert Router.from_default().route(probe).department != "TDS"
    corrections = [
        Example("共享单车停得到处都是，厂门口都进不去车", "TDS", "投诉", False),
        Example("园区里的共享单车堆成山，能不能让运营公司来清理", "TDS", "求助", False),
        Example("共享单车乱停在我们公司门口好几天了", "TDS", "投诉", False),
        Example("路边共享单车倒了一地没人收拾", "TDS", "投诉", False),
    ]
    model = train_model(default_examples() + corrections, folds=2)
    assert model.trained_on == len(default_examples()) + 4
    assert Router(model=model).route(probe).department == "TDS"


# -- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "   \n\t ",
        "😀😀😀🙏🙏",
        "？？？！！！",
        "\x00\x01\x02\x1b[31m\x7f",
        bytes(range(128, 256)).decode("latin-1"),
        bytes([0xFF, 0xFE, 0x00, 0x9C, 0xE4, 0xBD]).decode("utf-8", errors="replace") * 50,
        "\ud800\udfff",
        "嗯",
        "asdfgh",
    ],
)
def test_malformed_input_goes_to_triage(router: Router, text: str | None) -> None:
    decision = router.route(text)
    assert decision.auto is False
    assert decision.department == "ESB"
    assert decision.confidence < 0.5


def test_very_long_input_does_not_raise(router: Router) -> None:
    decision = router.route("我们公司的出口退税" * 1200)  # 10,800 characters
    assert decision.department == "TAX"
    junk = router.route("啊" * 10_000)
    assert junk.auto is False


# -- evaluation ----------------------------------------------------------------------------


def test_evaluate_on_a_small_fixture(router: Router) -> None:
    rows = [
        {"text": "出口退税多久到账", "department": "TAX", "type": "咨询", "urgent": False},
        {"text": "开公司要办营业执照", "department": "GOV", "alt": ["MSA"], "type": "咨询"},
        {"text": "车间储气罐漏气了，人都撤出来了", "department": "EMG", "urgent": True},
        {"text": "出口退税多久到账", "department": "CUS", "type": "求助", "urgent": True},
    ]
    report = evaluate(router, rows)
    assert isinstance(report, EvalReport)
    figures = report.as_dict()
    assert figures["n"] == 4
    assert figures["top1"] == 0.75
    assert figures["per_department"]["CUS"] == 0.0
    assert figures["confusions"][0] == {"gold": "CUS", "predicted": "TAX", "count": 1}
    assert figures["urgent_recall"] == 0.5
    assert figures["type_accuracy"] == 2 / 3
    assert set(figures) >= {"top3", "auto_share", "auto_precision", "urgent_precision"}
    text = report.format()
    assert "top-1" in text and "CUS -> TAX: 1" in text


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared dev set not available")
def test_dev_set_floors(router: Router) -> None:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    figures = evaluate(router, rows).as_dict()
    assert figures["top1"] >= 0.92
    assert figures["top3"] >= 0.97
    assert figures["auto_share"] >= 0.7 and figures["auto_precision"] >= 0.96
    assert figures["type_accuracy"] >= 0.85
    assert figures["urgent_recall"] >= 0.85 and figures["urgent_precision"] >= 0.65
