"""Tests for text normalisation and domain segmentation."""

from __future__ import annotations

import jieba

from nlp.normalize import normalize
from nlp.segment import Segmenter, segment


def test_fullwidth_ascii_and_digits_become_halfwidth_lowercase() -> None:
    assert normalize("ＦＴ账户１２３ＡＢＣ") == "ft账户123abc"


def test_whitespace_is_collapsed_and_trimmed() -> None:
    assert normalize("  出口\u3000退税 \n\t 多久  ") == "出口 退税 多久"


def test_emoji_and_zero_width_noise_are_removed() -> None:
    assert normalize("停电了😭😭\u200b救命🙏") == "停电了救命"


def test_repeated_punctuation_is_shortened() -> None:
    assert normalize("怎么办？？？？！！！") == "怎么办?!"


def test_chinese_text_and_punctuation_survive() -> None:
    assert normalize("你好，请问“海河英才”怎么办。") == "你好,请问“海河英才”怎么办。"


def test_empty_and_none() -> None:
    assert normalize("") == ""
    assert normalize(None) == ""
    assert normalize(" \u200b 😀 ") == ""


def test_domain_words_stay_whole() -> None:
    tokens = segment("我们想办理出口退税和不动产登记，还有FT账户、海河英才落户、高新技术企业认定")
    for word in ("出口退税", "不动产登记", "ft账户", "海河英才", "高新技术企业"):
        assert word in tokens


def test_more_domain_words() -> None:
    tokens = segment("排污许可证快到期了，社保和公积金怎么交，AEO认证和专精特新怎么申报")
    for word in ("排污许可证", "社保", "公积金", "aeo认证", "专精特新"):
        assert word in tokens


def test_private_tokenizer_leaves_global_jieba_alone() -> None:
    seg = Segmenter(extra_words=["泰达测试词"])
    assert "泰达测试词" in seg.cut("这是泰达测试词吗")
    assert "泰达测试词" not in jieba.dt.FREQ


def test_spans_index_into_text() -> None:
    text = "ft账户 开户"
    spans = Segmenter().spans(text)
    assert all(text[a:b] == w for w, a, b in spans)
    assert spans[-1][2] == len(text)


def test_segment_empty() -> None:
    assert segment("") == []
