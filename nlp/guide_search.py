"""Search over the service guide (办事指南): which catalog item answers an enterprise's question.

Pure text work on a list of documents (no database): :class:`GuideIndex` builds a BM25F index
over two channels and answers :meth:`GuideIndex.search` with ranked :class:`GuideHit` rows and a
decision whether the best item *answers well* (the chat then shows it before opening a ticket).

* **Words**: the normalised text (:func:`nlp.normalize.normalize`) cut by jieba
  (:class:`nlp.segment.Segmenter` with the domain dictionary), filler words dropped, and every
  token mapped to its canonical form through a small synonym table (执照 → 营业执照,
  开票 → 发票, 社保 → 社会保险 …), on the documents and on the query alike.
* **Character bigrams**: a fallback for typos (营业职照) and for words jieba cuts differently;
  weighted lower than words.

Each document has weighted fields: its name and aliases count more than its conditions,
materials and steps. The answer decision needs three things: a high enough score, a margin
between the best and the second item, and *coverage* (the share of the query's informative
words, weighted by IDF, that the best item contains), and the question must not read as the
enterprise's own stuck case or a complaint (:func:`nlp.classify.type_scores`), which a human
must handle however well an item matches its words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from nlp.classify import type_scores
from nlp.normalize import normalize
from nlp.segment import Segmenter

__all__ = [
    "SYNONYMS",
    "GuideDoc",
    "GuideHit",
    "GuideIndex",
    "GuideResult",
    "SearchParams",
    "guide_segmenter",
]

# canonical term: the other ways enterprises say it (both sides of the index use the canonical)
SYNONYMS: Final[Mapping[str, tuple[str, ...]]] = {
    "营业执照": ("执照", "营业证", "营业执照副本", "三证合一", "牌照"),
    "发票": ("开票", "发票额度", "票据", "专票", "普票", "数电票", "电子发票", "税票", "领票"),
    "出口退税": ("退税", "出口退", "退(免)税", "退免税", "免抵退"),
    "社会保险": ("社保", "五险", "养老保险", "失业保险", "工伤保险", "参保"),
    "医疗保险": ("医保", "医疗保障"),
    "住房公积金": ("公积金", "公积", "住房基金"),
    "注销": ("关闭", "关掉", "注销掉", "销户", "吊销", "清算"),
    "变更": (
        "更改",
        "修改",
        "改名",
        "改",
        "换",
        "变",
        "变了",
        "变动",
        "更换",
        "改成",
        "改为",
        "迁址",
        "搬家",
    ),
    "住所": ("地址", "注册地址", "办公地址", "经营地址", "注册地"),
    "注册资本": ("注册资金", "注资"),
    "市场监管": ("工商", "工商局", "市监局", "市场监督管理局"),
    "增容": ("扩容", "加容量", "容量", "扩大容量"),
    "法定代表人": ("法人", "法人代表", "法定代表"),
    "用电": ("电力", "供电", "电源", "接电", "通电", "电"),
    "用水": ("自来水", "供水", "接水", "通水"),
    "用气": ("燃气", "天然气", "煤气", "通气"),
    "报装": ("报装申请", "开户安装", "装表"),
    "不动产": ("房产", "房屋", "厂房产权", "房本", "房产证", "产权证"),
    "过户": ("转移登记", "转让", "买卖过户"),
    "高新技术企业": ("高新", "高企", "国高新", "高新企业", "高新技术"),
    "海关": ("关务", "关区"),
    "报关": ("清关", "通关", "报检", "申报进口", "申报出口"),
    "环评": ("环境影响评价", "环境评价", "环境影响报告", "环评手续"),
    "排污许可": ("排污证", "排污许可证", "排放许可", "排污"),
    "施工许可": ("开工证", "开工许可", "施工证", "施工许可证"),
    "消防": ("防火",),
    "人才": ("英才", "人材"),
    "落户": ("户口", "入户", "迁户口", "户籍"),
    "外国人": ("外籍", "老外", "外国员工", "外籍员工", "外国专家"),
    "工作许可": ("工作证", "就业证", "工作许可证"),
    "补贴": ("补助", "奖励", "扶持资金", "资助", "奖补", "扶持"),
    "政策兑现": ("兑现", "兑付", "政策资金"),
    "专利": ("发明专利", "实用新型", "外观专利"),
    "商标": ("牌子", "品牌", "logo"),
    "食品": ("餐饮", "饭店", "餐厅", "食堂", "吃的"),
    "药品": ("药店", "药房"),
    "医疗器械": ("器械",),
    "安全生产": ("安全", "安全生产许可"),
    "危险化学品": ("危化品", "危化", "化学品"),
    "劳动争议": ("劳动纠纷", "劳资纠纷", "劳动仲裁", "仲裁", "员工纠纷"),
    "工资": ("薪水", "薪资", "工钱"),
    "公章": ("印章", "章", "刻章", "财务章"),
    "贷款": ("融资", "借钱", "借款", "信贷"),
    "招聘": ("招工", "招人", "缺人", "用工"),
    "危险废物": ("危废", "危险废弃物"),
    "居留许可": ("居留", "居留证", "签证"),
    "入学": ("上学", "读书", "入园", "就学"),
    "额度": ("限额", "上限", "提额"),
    "增加": ("增量", "提高", "调高", "提升", "加"),
    "申领": ("领用", "申请领取", "领取"),
    "预案": ("应急预案",),
    "招投标": ("招标", "投标", "竞标"),
    "保证金": ("押金",),
    "上市": ("ipo", "挂牌", "新三板"),
    "电梯": ("升降机",),
    "叉车": ("铲车",),
    "子女": ("孩子", "小孩", "儿子", "女儿"),
    "设立": ("注册", "新办", "成立", "开办", "开公司"),
    "经营异常": ("异常名录", "经营异常名录", "异常"),
    "信用修复": ("信用恢复", "修复信用"),
    "留抵退税": ("留抵", "留抵税额"),
    "研发费用": ("研发投入", "研发支出"),
    "加计扣除": ("加计",),
    "统计": ("统计局", "统计报表"),
    "规划许可": ("规划证", "规划许可证"),
    "验收": ("竣工验收",),
    "居住证": ("暂住证",),
    "土地": ("用地", "地块"),
}

# Filler words that say nothing about which item: the question frame and its politeness.
STOPWORDS: Final[frozenset[str]] = frozenset(
    """
    的 了 吗 呢 啊 吧 呀 嘛 哦 哈 么 着 过 是 在 有 和 与 及 或 等 把 被 给 让 对 向 从 到 就 都 也
    还 又 再 才 很 太 更 最 我 我们 你 你们 您 他 她 它 他们 咱们 自己 这 那 这个 那个 这种 那种
    这样 那样 这边 那边 一下 一个 一些 些 个 请问 请 麻烦 想 想问 问 问问 问一下 咨询 了解
    打听 怎么 怎样 如何 怎么样 咋 啥 什么 哪些 哪个 哪里 哪儿 去哪 多少 多久 多长 时间 能 能不能
    可以 可不可以 是否 是不是 需要 要 得 应该 办 办理 办法 手续 流程 材料 资料 步骤 公司 企业
    单位 我司 我厂 本公司 现在 目前 今年 明年 已经 刚 刚刚 一般 大概 具体 相关 有关 情况 问题
    谢谢 您好 你好 老师 领导 同志 一直 没 没有 不 不是 会 能够 之后 以后 之前 以前 然后 因为
    所以 如果 但是 不过 而且 并且 还是 或者 比如 吗? 呢? 一 二 三 几 天 去 来 找 做 弄 搞 用
    上 下 里 中 内 先 后 第一 第一次 首次 头一次
    要求 条件 规定 政策 情形 事 事情 事项 业务 申请 提交 准备 带 交 需 这块 方面
    """.split()
)

# The enterprise's own case is stuck or overdue: a human must look at it, whatever it matches.
_STUCK = re.compile(
    r"(还|仍|一直|迟迟|始终|都)(没|未|不)(有)?(到账|下来|批|退|办|通过|消息|回复|答复|结果|拿到|给)"
    r"|(没|未)(通过|批下来|到账|退回来)|被(退回|驳回|拒|扣|卡)|超过.{0,6}(时限|期限)|超期|逾期未"
    r"|(交|提交|申请|办|报)了.{0,6}[0-9一二三四五六七八九十两半几多]+.{0,2}(天|周|星期|月|年)"
)
_CJK_OR_WORD = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")
_PUNCT_TOKEN = re.compile(r"^[\W_]+$")


def _variant_map() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for canonical, variants in SYNONYMS.items():
        for variant in variants:
            mapping[normalize(variant)] = canonical
    return mapping


_CANONICAL: Final[Mapping[str, str]] = _variant_map()


@lru_cache(maxsize=1)
def guide_segmenter() -> Segmenter:
    """The segmenter for the guide: the domain dictionary plus every synonym, as whole words."""
    words = {w for c, vs in SYNONYMS.items() for w in (c, *vs) if len(w) > 1}
    return Segmenter(extra_words=sorted(words))


@dataclass(frozen=True)
class GuideDoc:
    """One catalog item as the search sees it."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()
    department: str = ""
    conditions: str = ""
    materials: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    extra: str = ""  # time limit, fees, where, contact: searchable, weighted lowest

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any]) -> GuideDoc:
        """Build a document from a catalog mapping (the YAML/database field names)."""

        def strings(value: Any) -> tuple[str, ...]:
            if not value:
                return ()
            if isinstance(value, str):
                return (value,)
            return tuple(str(v) for v in value if v)

        extra = " ".join(
            str(item.get(k) or "") for k in ("time_limit", "fees", "location", "contact")
        )
        return cls(
            code=str(item["code"]),
            name=str(item["name"]),
            aliases=strings(item.get("aliases")),
            department=str(item.get("department") or item.get("department_code") or ""),
            conditions=str(item.get("conditions") or ""),
            materials=strings(item.get("materials")),
            steps=strings(item.get("steps")),
            extra=extra.strip(),
        )


@dataclass(frozen=True)
class GuideHit:
    """One ranked item: its code, name, department and score (words + bigrams)."""

    code: str
    name: str
    department: str
    score: float
    coverage: float  # IDF-weighted share of the query's words found in the item


@dataclass(frozen=True)
class GuideResult:
    """The ranked hits for one query and whether the first one answers the question well."""

    query: str
    hits: tuple[GuideHit, ...]
    answers_well: bool
    confidence: float  # 0..1: the best hit's coverage, scaled down by a small margin
    reason: str  # why (not) answered first: "ok", "no match", "low score", "close second", …
    terms: tuple[str, ...] = ()

    @property
    def best(self) -> GuideHit | None:
        return self.hits[0] if self.hits else None


@dataclass(frozen=True)
class SearchParams:
    """Weights and the answer-first thresholds (tuned on half of the labelled questions)."""

    k1: float = 1.2
    title_weight: float = 2.0
    alias_weight: float = 1.5
    body_weight: float = 1.0
    extra_weight: float = 0.3
    title_b: float = 0.3
    body_b: float = 0.75
    bigram_weight: float = 0.35
    min_score: float = 5.0  # the best item's score
    min_coverage: float = 0.3  # share of the query's informative words the best item holds
    min_margin: float = 0.05  # (best - second) / best
    # 求助 + 投诉 + 举报 cue score from which a human must answer (a stuck case adds this much)
    max_case_score: float = 5.0


_FIELDS: Final[tuple[str, ...]] = ("title", "alias", "body", "extra")


@dataclass
class _Channel:
    """A BM25F index over one kind of term (words or character bigrams)."""

    tfs: list[dict[str, Counter[str]]] = field(default_factory=list)
    lengths: list[dict[str, int]] = field(default_factory=list)
    avg: dict[str, float] = field(default_factory=dict)
    df: Counter[str] = field(default_factory=Counter)
    idf: dict[str, float] = field(default_factory=dict)

    def add(self, fields: Mapping[str, list[str]]) -> None:
        self.tfs.append({f: Counter(fields.get(f, ())) for f in _FIELDS})
        self.lengths.append({f: len(fields.get(f, ())) for f in _FIELDS})
        self.df.update({t for terms in fields.values() for t in terms})

    def finish(self) -> None:
        n = max(len(self.tfs), 1)
        for f in _FIELDS:
            self.avg[f] = max(sum(ln[f] for ln in self.lengths) / n, 1.0)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in self.df.items()}

    def max_idf(self) -> float:
        n = max(len(self.tfs), 1)
        return math.log(1 + (n + 0.5) / 0.5)

    def scores(self, terms: Iterable[str], p: SearchParams) -> list[float]:
        weights = {
            "title": (p.title_weight, p.title_b),
            "alias": (p.alias_weight, p.title_b),
            "body": (p.body_weight, p.body_b),
            "extra": (p.extra_weight, p.body_b),
        }
        out = [0.0] * len(self.tfs)
        for term in set(terms):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i, tf in enumerate(self.tfs):
                pseudo = 0.0
                for f, (w, b) in weights.items():
                    n = tf[f].get(term)
                    if n:
                        norm = 1 - b + b * self.lengths[i][f] / self.avg[f]
                        pseudo += w * n / norm
                if pseudo:
                    out[i] += idf * pseudo / (p.k1 + pseudo)
        return out


class GuideIndex:
    """A search index over catalog documents; build once, query many times (thread-safe reads).

    Args:
        docs: the catalog items (inactive ones already left out by the caller).
        params: weights and thresholds; the tuned defaults unless given.
        segmenter: the jieba wrapper; :func:`guide_segmenter` unless given.
    """

    def __init__(
        self,
        docs: Sequence[GuideDoc],
        *,
        params: SearchParams | None = None,
        segmenter: Segmenter | None = None,
    ) -> None:
        self.docs = tuple(docs)
        self.params = params or SearchParams()
        self._seg = segmenter or guide_segmenter()
        self._words = _Channel()
        self._bigrams = _Channel()
        self._doc_terms: list[set[str]] = []
        self._known: frozenset[str] = frozenset()
        for doc in self.docs:
            fields = {
                "title": doc.name,
                "alias": " ".join(doc.aliases),
                "body": " ".join((doc.conditions, *doc.materials, *doc.steps)),
                "extra": doc.extra,
            }
            words = {f: self.terms(text) for f, text in fields.items()}
            self._words.add(words)
            self._bigrams.add({f: bigrams(text) for f, text in fields.items()})
            self._doc_terms.append({t for ts in words.values() for t in ts})
        self._words.finish()
        self._bigrams.finish()
        self._known = frozenset(self._words.idf) | frozenset(_CANONICAL) | STOPWORDS

    def __len__(self) -> int:
        return len(self.docs)

    def terms(self, text: str) -> list[str]:
        """The canonical, informative words of ``text`` (synonyms mapped, fillers dropped).

        Once the index is built, a query word it does not know (公司法人, 高薪技术企业) is cut
        again into the longest words it does know, left to right.
        """
        out: list[str] = []
        known = self._known
        for token in self._seg.cut(text):
            pieces = [token]
            if known and len(token) > 2 and token not in known and token not in _CANONICAL:
                pieces = _split_known(token, known)
            for piece in pieces:
                if piece in STOPWORDS or _PUNCT_TOKEN.match(piece):
                    continue
                out.append(_CANONICAL.get(piece, piece))
        return out

    def search(self, query: str, *, limit: int = 5) -> GuideResult:
        """Rank the items for ``query`` and decide whether the best one answers it well."""
        p = self.params
        text = normalize(query)
        terms = self.terms(text)
        if not self.docs or not text:
            return GuideResult(query, (), False, 0.0, "no match", tuple(terms))
        word_scores = self._words.scores(terms, p)
        gram_scores = self._bigrams.scores(bigrams(text), p)
        totals = [w + p.bigram_weight * g for w, g in zip(word_scores, gram_scores, strict=True)]
        order = sorted(range(len(self.docs)), key=lambda i: (-totals[i], i))
        hits = tuple(
            GuideHit(
                code=self.docs[i].code,
                name=self.docs[i].name,
                department=self.docs[i].department,
                score=round(totals[i], 4),
                coverage=round(self._coverage(terms, i), 4),
            )
            for i in order[:limit]
            if totals[i] > 0
        )
        answers, confidence, reason = self._decide(text, hits)
        return GuideResult(text, hits, answers, confidence, reason, tuple(terms))

    def _coverage(self, terms: Sequence[str], i: int) -> float:
        unique = set(terms)
        if not unique:
            return 0.0
        top = self._words.max_idf()
        total = sum(self._words.idf.get(t, top) for t in unique)
        found = sum(self._words.idf[t] for t in unique if t in self._doc_terms[i])
        return found / total if total else 0.0

    def _decide(self, text: str, hits: Sequence[GuideHit]) -> tuple[bool, float, str]:
        p = self.params
        if not hits:
            return False, 0.0, "no match"
        best = hits[0]
        second = hits[1].score if len(hits) > 1 else 0.0
        margin = (best.score - second) / best.score if best.score else 0.0
        confidence = round(best.coverage * min(1.0, 0.5 + margin / (2 * p.min_margin)), 4)
        cues = type_scores(text)
        case = cues["求助"] + cues["投诉"] + cues["举报"]
        if _STUCK.search(text):
            case += p.max_case_score
        if case >= p.max_case_score:
            return False, confidence, "own case or complaint"
        if best.score < p.min_score:
            return False, confidence, "low score"
        if best.coverage < p.min_coverage:
            return False, confidence, "low coverage"
        if margin < p.min_margin:
            return False, confidence, "close second"
        return True, confidence, "ok"


def _split_known(token: str, known: frozenset[str]) -> list[str]:
    """Cut ``token`` into the longest known words, left to right; unknown characters dropped.

    A token with no known word in it stays whole (the bigrams still see its characters).
    """
    out: list[str] = []
    i = 0
    while i < len(token):
        for j in range(min(len(token), i + 8), i + 1, -1):
            if token[i:j] in known:
                out.append(token[i:j])
                i = j
                break
        else:
            i += 1
    return out or [token]


def bigrams(text: str) -> list[str]:
    """Character bigrams of the Chinese characters and latin words of normalised ``text``."""
    units = _CJK_OR_WORD.findall(normalize(text))
    return [units[i] + units[i + 1] for i in range(len(units) - 1)]


# ---------------------------------------------------------------- evaluation on labelled questions

NONE_LABEL: Final = "none"


@dataclass(frozen=True)
class GuideEval:
    """Figures of a labelled question set: ranking, answer-first share and precision, none set."""

    questions: int
    top1: float
    top3: float
    answered_share: float  # answerable questions answered first
    answered_precision: float  # of those, the share whose first item was right
    none_questions: int
    none_false_answers: float  # none-set questions answered first anyway (should be 0)
    misses: tuple[tuple[str, str, str], ...] = ()  # (text, expected, got) at top-1

    def format(self, title: str = "") -> str:
        lines = [title] if title else []
        lines += [
            f"  questions {self.questions}: top-1 {self.top1:.3f}  top-3 {self.top3:.3f}",
            f"  answered first {self.answered_share:.3f}, precision {self.answered_precision:.3f}",
            f"  none set {self.none_questions}: answered anyway {self.none_false_answers:.3f}",
        ]
        return "\n".join(lines)


def split_halves(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The tuning half (odd positions within each label kind) and the held-out half."""
    answerable = [r for r in rows if r.get("code") != NONE_LABEL]
    nones = [r for r in rows if r.get("code") == NONE_LABEL]
    tune = answerable[0::2] + nones[0::2]
    held = answerable[1::2] + nones[1::2]
    return tune, held


def evaluate(index: GuideIndex, rows: Iterable[Mapping[str, Any]]) -> GuideEval:
    """Search every labelled question (``text``, ``code`` or ``none``, optional ``alt``)."""
    n = top1 = top3 = answered = answered_right = nones = none_answered = 0
    misses: list[tuple[str, str, str]] = []
    for row in rows:
        result = index.search(str(row["text"]), limit=3)
        if row.get("code") == NONE_LABEL:
            nones += 1
            none_answered += result.answers_well
            continue
        n += 1
        right = {str(row["code"]), *(str(a) for a in row.get("alt") or ())}
        codes = [h.code for h in result.hits]
        first_right = bool(codes) and codes[0] in right
        top1 += first_right
        top3 += bool(right.intersection(codes[:3]))
        if result.answers_well:
            answered += 1
            answered_right += first_right
        if not first_right:
            misses.append((str(row["text"]), str(row["code"]), codes[0] if codes else "-"))
    return GuideEval(
        questions=n,
        top1=top1 / n if n else 0.0,
        top3=top3 / n if n else 0.0,
        answered_share=answered / n if n else 0.0,
        answered_precision=answered_right / answered if answered else 0.0,
        none_questions=nones,
        none_false_answers=none_answered / nones if nones else 0.0,
        misses=tuple(misses),
    )
