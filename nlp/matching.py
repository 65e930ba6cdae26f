"""Supply–demand matching (【泰企需】【泰服企】): which offers fit a need, and the other way round.

Pure text work: a listing's content words (jieba with the domain dictionary, short and filler
words dropped) and its industry (a small keyword table); two listings score by the weighted
overlap of their words plus a bonus when their industries agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from nlp.segment import segment

# Industry → words that name it (the zone's main industries).
INDUSTRIES: dict[str, tuple[str, ...]] = {
    "汽车": ("汽车", "整车", "零部件", "新能源车", "轮胎", "底盘", "车灯", "线束"),
    "电子信息": ("电子", "芯片", "半导体", "电路板", "PCB", "传感器", "通信", "显示屏", "元器件"),
    "软件与数据": ("软件", "系统开发", "信息化", "数据", "云", "小程序", "ERP", "算法", "网站"),
    "生物医药": ("医药", "药品", "生物", "医疗器械", "试剂", "疫苗", "原料药", "CRO", "临床"),
    "新材料": ("材料", "复合材料", "涂料", "高分子", "碳纤维", "合金", "薄膜"),
    "化工": ("化工", "化学品", "溶剂", "树脂", "危化品", "助剂"),
    "装备制造": (
        "设备",
        "机械",
        "装备",
        "机床",
        "自动化",
        "机器人",
        "模具",
        "加工",
        "零件",
        "钣金",
    ),
    "食品": ("食品", "饮料", "粮油", "乳制品", "冷链", "包装食品"),
    "物流": ("物流", "仓储", "运输", "快递", "货运", "配送", "报关", "冷链运输"),
    "包装印刷": ("包装", "纸箱", "印刷", "标签", "托盘"),
    "能源环保": ("光伏", "储能", "环保", "节能", "污水", "固废", "检测", "碳"),
    "商务服务": ("法律", "财税", "代理记账", "咨询", "培训", "人力资源", "招聘", "设计", "会展"),
    "金融": ("融资", "贷款", "保险", "担保", "租赁", "投资"),
}
STOP = frozenset(
    "我们 公司 企业 需要 寻找 提供 有意 欢迎 可以 合作 联系 我司 本公司 有限公司 相关 一批 "
    "长期 稳定 优质 专业 希望 或者 以及 能够 进行 服务 产品 业务 求购 采购 供应 对接".split()
)


def terms(text: str) -> frozenset[str]:
    """The content words of a listing (two characters or more, no filler)."""
    return frozenset(w for w in segment(text) if len(w) >= 2 and w not in STOP)


def industry_of(text: str) -> str | None:
    """The industry whose words the text names most, if any."""
    best, hits = None, 0
    for name, words in INDUSTRIES.items():
        n = sum(1 for w in words if w.lower() in text.lower())
        if n > hits:
            best, hits = name, n
    return best


@dataclass(frozen=True)
class Profile:
    """What matching knows of one listing."""

    terms: frozenset[str]
    industry: str | None


def profile(text: str) -> Profile:
    return Profile(terms=terms(text), industry=industry_of(text))


def score(a: Profile, b: Profile, *, weight: dict[str, float] | None = None) -> float:
    """How well two listings fit (0 = nothing in common); ``weight`` favours rare words."""
    shared = a.terms & b.terms
    w = weight or {}
    overlap = sum(w.get(t, 1.0) for t in shared)
    size = math.sqrt(
        sum(w.get(t, 1.0) for t in a.terms) * sum(w.get(t, 1.0) for t in b.terms) or 1.0
    )
    same = 0.25 if a.industry and a.industry == b.industry else 0.0
    return round(overlap / size + same, 4)


def idf(profiles: Iterable[Profile]) -> dict[str, float]:
    """Rarer words count more: log(1 + N / document frequency)."""
    seen = list(profiles)
    freq: dict[str, int] = {}
    for p in seen:
        for t in p.terms:
            freq[t] = freq.get(t, 0) + 1
    return {t: math.log(1 + len(seen) / n) for t, n in freq.items()}
