"""Tests for department routing, request type and urgency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from handwritten_cases import CASES

from nlp import REQUEST_TYPES, RouteDecision, Router, route
from nlp.classify import classify_type
from nlp.matcher import Hit, TermMatcher, maximal_hits
from nlp.normalize import normalize
from nlp.router import load_default_rules

DEV_SET = Path(__file__).resolve().parents[2].parent / "shared/data/routing_dev.jsonl"
ALL_CODES = {
    "MSA", "GOV", "PNR", "CNT", "TAX", "FIN", "HRS", "ENV", "EMG", "INV",
    "SCI", "FTZ", "CUS", "DRC", "FCB", "CMC", "PSB", "TDS", "ESB",
}  # fmt: skip


def test_default_rules_cover_all_departments() -> None:
    rules = load_default_rules()
    assert set(rules["departments"]) == ALL_CODES
    assert set(Router.from_default().departments) == ALL_CODES


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_handwritten_messages_are_routed(text: str, expected: tuple[str, ...]) -> None:
    assert route(text).department in expected


def test_decision_shape() -> None:
    decision = route("我们想给新招的硕士办海河英才落户，需要准备哪些材料？")
    assert isinstance(decision, RouteDecision)
    assert decision.department == "HRS"
    assert 0.0 <= decision.confidence <= 1.0
    assert 1 <= len(decision.candidates) <= 3
    assert decision.candidates[0][0] == "HRS"
    assert decision.type in REQUEST_TYPES
    assert "海河英才" in decision.matched_terms
    assert decision.auto


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "？？？", "asdfgh", "嗯", None])
def test_empty_or_garbage_goes_to_fallback(text: str | None) -> None:
    decision = route(text)
    assert decision.department == "ESB"
    assert decision.confidence < 0.3
    assert decision.auto is False
    assert decision.type == "咨询"
    assert decision.urgent is False


def test_ambiguous_message_is_not_auto() -> None:
    decision = route("办理一下这个事情需要什么材料")
    assert decision.auto is False


def test_short_terms_must_align_with_words() -> None:
    # "直排" must not be found inside "一直排队".
    decision = route("窗口一直排队排不上号")
    assert "直排" not in decision.matched_terms
    assert decision.department != "ENV"


def test_short_term_split_by_jieba_still_counts_at_reduced_weight() -> None:
    # jieba cuts 想/拿/地建/二期: 拿地 straddles two words, but 拿 is a word of its own.
    departments = {"X": {"name": "兜底"}, "P": {"strong": ["拿地"]}}
    r = Router({"fallback": "X", "departments": departments})
    text = r.prepare("想拿地建二期")
    scores, matched = r.score(text)
    assert matched["P"] == ["拿地"]
    assert 0 < scores["P"] < 3
    assert "拿地" in route("我们想在西区拿地建二期厂房").matched_terms


def test_typo_aliases() -> None:
    assert route("公司想注消，流程复杂吗").department == "MSA"
    assert route("环平批复要多久").department == "ENV"


def test_custom_rules_and_fallback() -> None:
    router = Router(
        rules={
            "fallback": "X",
            "departments": {
                "X": {"name": "兜底"},
                "A": {"strong": ["苹果"], "weak": ["水果"]},
                "B": {"strong": ["香蕉"], "negative": {"苹果": 2}},
            },
        }
    )
    assert router.route("我想买苹果").department == "A"
    assert router.route("香蕉和苹果").department == "A"
    assert router.route("什么都没有").department == "X"


def test_router_rejects_unknown_fallback() -> None:
    with pytest.raises(ValueError):
        Router(rules={"departments": {"A": {"strong": ["苹果"]}}}, fallback="Z")


def test_matcher_finds_all_and_keeps_longest() -> None:
    matcher = TermMatcher(["社保", "社保费", "保费"], use_accelerator=False)
    hits = matcher.find("社保费和社保")
    assert Hit("社保", 0, 2) in hits and Hit("社保费", 0, 3) in hits
    kept = {(h.term, h.start) for h in maximal_hits(hits)}
    assert kept == {("社保费", 0), ("社保", 4)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请问出口退税一般需要多长时间，要准备哪些材料？", "咨询"),
        ("我们的电子税务局一直登不上，申报提交不了，能不能帮忙看看？", "求助"),
        ("我要举报，隔壁工厂晚上偷偷往河里排污水", "举报"),
        ("窗口工作人员态度太差了，问两句就不耐烦，我要投诉", "投诉"),
        ("建议园区多开几条通勤班车，员工上下班太不方便", "建议"),
        ("特别感谢人社局的老师，帮我们把工伤认定很快就办好了，必须点赞", "表扬"),
        ("材料交上去两个月了一点消息都没有，打电话只说在研究", "投诉"),
        ("有家公司打着政府名义收咨询费，好多企业上当了，有人管吗", "举报"),
    ],
)
def test_request_type(text: str, expected: str) -> None:
    assert route(text).type == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("窗口大姐特别耐心，一次就办完了，辛苦了", "表扬"),
        ("说好二十个工作日出结果，到现在两个月了还没消息", "投诉"),
        ("有家饭店私下把地沟油卖给别人", "举报"),
        ("营业执照怎么办理？需要什么材料", "咨询"),
    ],
)
def test_type_cue_rules(text: str, expected: str) -> None:
    assert classify_type(normalize(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "车间里一个储气罐阀门漏气，味道很大，人都撤出来了",
        "我们厂刚刚全厂停电，生产线全停了，求尽快抢修",
        "二十多个工人堵在厂门口讨薪，情绪很激动",
        "员工突然晕倒了，已经叫了120",
        "进口的原料卡在码头三天了，每天滞港费好几千，产线马上断料",
    ],
)
def test_urgent(text: str) -> None:
    assert route(text).urgent is True


@pytest.mark.parametrize(
    "text",
    [
        "今天想问一下出口退税的流程",
        "今年已经停过三次电了，建议供电公司提前通知",
        "上次停电时应急局的同志很快到场，特别感谢",
        "统计报表今天就截止了，系统登不上",
        "危化品经营许可证要准备什么材料？",
    ],
)
def test_not_urgent(text: str) -> None:
    assert route(text).urgent is False


def _is_right(code: str, row: dict[str, object]) -> bool:
    alt = row.get("alt") or []
    assert isinstance(alt, list)
    return code == row["department"] or code in alt


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared dev set not available")
def test_dev_set_accuracy_floor() -> None:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    right = sum(_is_right(route(r["text"]).department, r) for r in rows)
    assert right / len(rows) >= 0.85
    type_right = sum(route(r["text"]).type == r["type"] for r in rows)
    assert type_right / len(rows) >= 0.75
