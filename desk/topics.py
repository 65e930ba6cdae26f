"""“每月一题” candidates: problems many enterprises raised in the same month.

The month's request texts are clustered across enterprises; a cluster that several enterprises
share is a candidate for the month's topic (每月一题), the one problem the hotline office takes up
for a systemic fix. For each candidate the briefing shows its characteristic terms, how many
requests and enterprises it covers, the departments that handled them and example tickets.

Method (``find_topics``, pure, no database):

1. **Cap.** At most ``max_texts`` requests are analysed (default 5,000). A month of about
   40,000 requests is sampled at random with a fixed seed, so the same month gives the same
   answer; counts are then those of the sample, and ``estimated`` scales them to the month.
   Segmentation is the slow part (about 0.2 ms a text), so the cap keeps a month to a couple of
   seconds of CPU.
2. **Terms.** Each text (its first ``TEXT_CHARS`` characters: the request comes first) is cut by
   the project segmenter (jieba with the domain dictionary, :mod:`nlp.segment`); words of two or
   more characters that are not request boilerplate (``STOPWORDS``: 请问, 公司, 办理 ...) are kept.
3. **Vectors.** TF-IDF (sublinear term frequency, L2 norm); a word must occur in two texts.
4. **Groups.** Average-linkage clustering (cosine) joins requests while the mean similarity
   between two groups is at least ``GROUP_SIMILARITY``; unrelated requests stay alone. To keep
   the pairwise matrix small, k-means first cuts the sample into parts of about ``PART_SIZE``
   (a part is linked on its own; at most ``MAX_LINK`` requests, 32 MB of distances).
5. **Cores.** Each group keeps its core: members with cosine similarity ``CORE_SIMILARITY`` to
   the group's centre that share ``SHARED_TERMS`` of its ``CORE_TERMS`` strongest words (one
   shared word is a coincidence). Cores with alike centres (a problem cut in two by k-means)
   are merged and checked again.
6. **Candidates.** A core must hold ``min_count`` requests from ``min_enterprises`` different
   enterprises (one company writing five times is its own case, not a common problem). They
   are ranked by enterprises, then requests.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from nlp.segment import Segmenter, default_segmenter

__all__ = [
    "MAX_TEXTS",
    "Request",
    "Topic",
    "TopicReport",
    "find_topics",
    "load_requests",
    "month_topics",
]

MAX_TEXTS = 5000
PRAISE = "表扬"  # a ticket type; thanks are not a problem to take up
TEXT_CHARS = 200
GROUP_SIMILARITY = 0.25
PART_SIZE = 500
MAX_LINK = 2000
CORE_SIMILARITY = 0.35
CORE_TERMS = 8
SHARED_TERMS = 2
MERGE_SIMILARITY = 0.5
TOP_TERMS = 5
EXAMPLES = 3

# Counts and spans of time ("四个", "两句", "三天", "半年") say nothing about the problem.
_QUANTITY = re.compile(
    r"[零一二三四五六七八九十两几百千万半多每整]+[个次天日月年周句家件条份遍趟回号位名]?"
)
_WORD = re.compile(r"[a-z\u3400-\u4dbf\u4e00-\u9fff][0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")

# Words every request may contain: they say nothing about which problem it is.
STOPWORDS = frozenset(
    """
    我们 我司 我方 本公司 公司 企业 你们 您们 贵方 请问 咨询 问下 问一下 想问 一下 了解 知道 怎么
    怎么办 怎样 如何 什么 为什么 为何 哪里 哪个 哪些 哪家 多少 多久 几天 能否 能不能 可否 可以
    可不可以 是否 是不是 有没有 要不要 算不算 需要 要求 现在 目前 已经 还是 还有 没有 不是 就是
    这个 那个 这些 那些 这样 那样 这种 一直 今天 昨天 明天 后天 上午 下午 晚上 早上 上周 本周
    下周 一周 两周 上个月 这个月 下个月 今年 去年 一年 半年 时候 时间 情况 问题 事情 有关 相关
    部门 办理 处理 解决 协调 反映 麻烦 谢谢 感谢 您好 你好 希望 建议 举报 投诉 表扬 点赞 尽快
    赶紧 马上 突然 一个 一些 几个 一家 某家 几家 多家 这家 那家 有人 有个 两个 三个 一次 两次
    几次 每次 自己 之前 之后 以后 然后 但是 因为 所以 如果 而且 或者 以及 关于 对于 进行 的话
    帮忙 帮助 帮我们 告诉 到底 应该 必须 不能 不会 不了 不要 可能 还要 还没 能够 这边 那边 根本
    实在 特别 非常 真的 很多 一样 不一样 直接 专门 满足 条件 才能 材料 准备 一般 俺们 咋办 咋整
    咋弄 咋回事 泰达 经开区 开发区 区里 天津 我们公司 我们企业 多谢 急急 申请 政策 服务 支持 享受
    工作人员 一个月 几个月 好几百 设个 里面 东西 过去 整个 超过 适不 不到 左右 以上 以内
    ok the a an in on at to of for and or is are be we our us you your it this that with from by
    as can how what when where why please company teda hi hello thanks thank do does have has not
    will would could should there any
    """.split()
)


class Request(NamedTuple):
    """One request as the clustering sees it (a plain tuple works too)."""

    ticket_id: int
    ref: str
    enterprise_id: int
    department: str | None  # department code, None while in triage
    text: str


@dataclass(frozen=True)
class Topic:
    """One candidate problem."""

    terms: list[str]  # the most characteristic words, strongest first
    count: int  # requests in the analysed texts
    estimated: int  # ``count`` scaled to the whole month (equal when nothing was sampled)
    enterprises: int  # distinct enterprises among them
    departments: list[tuple[str, int]]  # (code, requests), most first; "—" for triage
    examples: list[tuple[str, str]]  # (ref, text) of the requests closest to the centre
    cohesion: float  # mean cosine similarity of the requests to the centre (0..1)


@dataclass
class TopicReport:
    """The candidates of one month and what they were drawn from."""

    topics: list[Topic] = field(default_factory=list)
    total: int = 0  # requests in the month
    analysed: int = 0  # requests clustered (all of them, or the sample)

    @property
    def sampled(self) -> bool:
        return self.analysed < self.total


def _words(segmenter: Segmenter, text: str) -> list[str]:
    return [
        t
        for t in segmenter.cut(text[:TEXT_CHARS])
        if t not in STOPWORDS and _WORD.fullmatch(t) is not None and not _QUANTITY.fullmatch(t)
    ]


def find_topics(
    rows: Iterable[tuple[int, str, int, str | None, str]],
    *,
    max_texts: int = MAX_TEXTS,
    min_count: int = 3,
    min_enterprises: int = 3,
    max_topics: int = 10,
    seed: int = 0,
    segmenter: Segmenter | None = None,
) -> TopicReport:
    """Cluster the requests and return the problems several enterprises share.

    Args:
        rows: ``(ticket id, ref, enterprise id, department code, text)`` for each request.
        max_texts: analyse at most this many (a seeded random sample beyond it).
        min_count: requests a candidate needs (in the analysed texts).
        min_enterprises: distinct enterprises a candidate needs.
        max_topics: candidates returned, best first.
        seed: the seed of the sample and of k-means (same input, same answer).
        segmenter: defaults to the project segmenter with the domain dictionary.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    requests = [Request(*r) for r in rows]
    report = TopicReport(total=len(requests))
    if len(requests) > max_texts:
        requests = random.Random(seed).sample(requests, max_texts)
        requests.sort(key=lambda r: r.ticket_id)
    report.analysed = len(requests)
    if len(requests) < min_count:
        return report
    seg = segmenter or default_segmenter()
    docs = [_words(seg, r.text) for r in requests]
    try:
        vectorizer = TfidfVectorizer(
            analyzer=_identity, min_df=2, max_df=0.5, sublinear_tf=True, dtype=np.float32
        )
        x = vectorizer.fit_transform(docs)
    except ValueError:  # no word occurs twice: nothing recurs
        return report
    keep = np.flatnonzero(x.getnnz(axis=1) > 0)
    if len(keep) < min_count:
        return report
    x = x[keep]
    requests = [requests[i] for i in keep]
    vocabulary = vectorizer.get_feature_names_out()

    with threadpool_limits(limits=1):  # a shared server: one core, predictable
        groups = [
            group
            for part in _partition(x, np.arange(x.shape[0]), seed)
            for group in _link(x, part)
            if len(group) >= min_count
        ]
    cores = _refine(x, groups, min_count)
    cores = _refine(x, _merge(x, cores), min_count)

    scale = report.total / report.analysed
    topics: list[Topic] = []
    centres = _centres(x, cores)
    for core, centre in zip(cores, centres, strict=True):
        enterprises = {requests[i].enterprise_id for i in core}
        if len(enterprises) < min_enterprises:
            continue
        sims = np.asarray(x[core] @ centre).ravel()
        closest = core[np.argsort(-sims, kind="stable")]
        terms = [str(vocabulary[i]) for i in np.argsort(-centre, kind="stable")[:TOP_TERMS]]
        departments = Counter(requests[i].department or "—" for i in core).most_common()
        topics.append(
            Topic(
                terms=terms,
                count=len(core),
                estimated=round(len(core) * scale),
                enterprises=len(enterprises),
                departments=departments,
                examples=[(requests[i].ref, requests[i].text) for i in closest[:EXAMPLES]],
                cohesion=float(sims.mean()),
            )
        )
    topics.sort(key=lambda t: (-t.enterprises, -t.count, -t.cohesion, t.terms))
    report.topics = topics[:max_topics]
    return report


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    """Row numbers grouped by label."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return list(np.split(order, bounds))


def _partition(x: Any, rows: np.ndarray, seed: int, depth: int = 0) -> list[np.ndarray]:
    """Cut the requests into parts of about ``PART_SIZE`` with k-means (coarse, cheap)."""
    if len(rows) <= PART_SIZE:
        return [rows]
    if depth < 3:
        from sklearn.cluster import KMeans

        k = -(-len(rows) // PART_SIZE)
        km = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=30)
        parts = _groups(km.fit_predict(x[rows]))
        if len(parts) > 1:
            return [q for p in parts for q in _partition(x, rows[p], seed, depth + 1)]
    # k-means cannot cut it (near-identical texts): fixed pieces; _merge joins alike cores.
    return [rows[i : i + MAX_LINK] for i in range(0, len(rows), MAX_LINK)]


def _link(x: Any, rows: np.ndarray) -> list[np.ndarray]:
    """Average-linkage clusters of one part: groups whose mean similarity is high enough."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(rows) < 2:
        return [rows]
    xs = x[rows]
    distance = 1.0 - np.asarray((xs @ xs.T).todense(), dtype=np.float64)
    np.clip(distance, 0.0, 2.0, out=distance)
    tree = linkage(distance[np.triu_indices(len(rows), 1)], method="average")
    labels = fcluster(tree, t=1.0 - GROUP_SIMILARITY, criterion="distance")
    return [rows[g] for g in _groups(labels)]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def _centres(x: Any, groups: list[np.ndarray]) -> np.ndarray:
    """The unit-length mean vector of each group (one sparse product for all of them)."""
    if not groups:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    rows = np.concatenate(groups)
    cols = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    weights = np.repeat([1.0 / len(g) for g in groups], [len(g) for g in groups])
    member = sparse.csr_matrix((weights, (cols, rows)), shape=(len(groups), x.shape[0]))
    centres = np.asarray((member @ x).todense(), dtype=np.float32)
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    return centres / np.where(norms > 0, norms, 1.0)


def _refine(x: Any, groups: list[np.ndarray], min_count: int) -> list[np.ndarray]:
    """Shrink each group to its core: close to the centre and sharing its words.

    A member stays when its cosine similarity to the group's centre is at least
    ``CORE_SIMILARITY`` and it contains ``SHARED_TERMS`` of the centre's ``CORE_TERMS``
    strongest words (one shared word is a coincidence, two are a subject). The centre is
    recomputed from the core and the test repeated once. All groups are scored at once.
    """
    cores = groups
    for _ in range(2):
        if not cores:
            return []
        centres = _centres(x, cores)
        top = np.argpartition(-centres, min(CORE_TERMS, centres.shape[1] - 1), axis=1)
        top = top[:, :CORE_TERMS]
        strong = np.zeros(centres.shape, dtype=np.float32)
        np.put_along_axis(strong, top, 1.0, axis=1)
        strong[centres <= 0] = 0.0
        members = np.concatenate(groups)
        owner = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        xm = x[members].tocsr()
        row = np.repeat(np.arange(len(members)), np.diff(xm.indptr))
        cell = owner[row], xm.indices
        sims = np.bincount(row, weights=xm.data * centres[cell], minlength=len(members))
        shared = np.bincount(row, weights=strong[cell], minlength=len(members))
        keep = (sims >= CORE_SIMILARITY) & (shared >= SHARED_TERMS)
        kept_groups: list[np.ndarray] = []
        kept_cores: list[np.ndarray] = []
        start = 0
        for group in groups:
            core = group[keep[start : start + len(group)]]
            start += len(group)
            if len(core) >= min_count:
                kept_groups.append(group)
                kept_cores.append(core)
        groups, cores = kept_groups, kept_cores
    return cores


def _merge(x: Any, cores: list[np.ndarray]) -> list[np.ndarray]:
    """Join cores whose centres are alike (one problem that k-means cut in two)."""
    if len(cores) < 2:
        return cores
    centres = sparse.csr_matrix(_centres(x, cores))  # a centre holds few words
    similar = (centres @ centres.T).toarray()
    parent = list(range(len(cores)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(similar, 1) >= MERGE_SIMILARITY), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[np.ndarray]] = {}
    for i, core in enumerate(cores):
        groups.setdefault(root(i), []).append(core)
    return [np.unique(np.concatenate(g)) for g in groups.values()]


# ---------------------------------------------------------------- the database side


async def load_requests(
    *, start: dt.datetime, end: dt.datetime, max_texts: int = MAX_TEXTS, seed: int = 0
) -> tuple[int, list[Request]]:
    """The requests created in ``[start, end)``: how many there are, and up to ``max_texts``.

    Cancelled requests and praise (表扬) are left out. Only the ids are read for the whole
    month; texts are read for the sample (a seeded random one, as in :func:`find_topics`).
    """
    from models.department import Department
    from models.ticket import Ticket, TicketStatus

    month = Ticket.filter(
        created_at__gte=start, created_at__lt=end, status__not=TicketStatus.CANCELLED
    ).exclude(type=PRAISE)
    found: Any = await month.values_list("id", flat=True)
    ids = [int(i) for i in found]
    total = len(ids)
    if total > max_texts:
        ids = sorted(random.Random(seed).sample(ids, max_texts))
    codes = dict(await Department.all().values_list("id", "code"))
    out: list[Request] = []
    for i in range(0, len(ids), 2000):
        chunk = ids[i : i + 2000]
        for tid, ref, ent, dept, text in await Ticket.filter(id__in=chunk).values_list(
            "id", "ref", "enterprise_id", "department_id", "text"
        ):
            out.append(Request(tid, ref, ent, codes.get(dept), text))
    out.sort(key=lambda r: r.ticket_id)
    return total, out


async def month_topics(
    *, start: dt.datetime, end: dt.datetime, max_texts: int = MAX_TEXTS, **options: Any
) -> TopicReport:
    """Load the month's requests and find the candidates (clustering runs in a thread)."""
    import asyncio

    total, rows = await load_requests(start=start, end=end, max_texts=max_texts)
    report = await asyncio.to_thread(find_topics, rows, max_texts=max_texts, **options)
    report.total = total
    # Sampled in SQL: scale the counts to the month, as find_topics does for its own samples.
    if report.analysed and total > report.analysed:
        scale = total / report.analysed
        report.topics = [
            Topic(
                terms=t.terms,
                count=t.count,
                estimated=round(t.count * scale),
                enterprises=t.enterprises,
                departments=t.departments,
                examples=t.examples,
                cohesion=t.cohesion,
            )
            for t in report.topics
        ]
    return report
