"""“每月一题” candidates: problems several enterprises raise are found, one-offs are not.

A month of 51 requests: three problems planted across enterprises (the e-tax bureau that will
not log in, the road works on 第九大街 that block lorries, the social-insurance base filing
that errors), one complaint a single company sent five times, and thirty unrelated requests
from thirty other companies.
"""

from __future__ import annotations

import pytest

from desk import topics
from desk.topics import Request, find_topics

ETAX = [
    "电子税务局这两天一直登录不上，发票开不出来",
    "电子税务局登录不了，提示系统繁忙，开票受影响",
    "今天电子税务局又登录不上了，急着开发票",
    "电子税务局频繁掉线，登录后发票开具失败",
    "电子税务局登录后卡住，没法开发票",
    "电子税务局无法登录，客户催着要发票",
]
ROADWORKS = [
    "第九大街施工封路，货车进不了厂区",
    "第九大街道路施工，我们的货车绕不进去",
    "第九大街修路封闭，大货车没法进厂",
    "第九大街施工什么时候结束？货车进出很困难",
    "第九大街封路施工，送货的货车进不来",
]
SOCIAL_BASE = [
    "社保缴费基数申报系统一直报错，提交不了",
    "今年社保缴费基数申报，系统提示错误无法提交",
    "社保缴费基数申报页面报错，明天就截止了",
    "社保缴费基数调整，申报系统报错怎么办",
    "社保缴费基数申报提交时系统报错",
]
ONE_COMPANY = [
    "隔壁饭店油烟直排，熏到我们办公室",
    "隔壁饭店的油烟又飘进办公室了",
    "饭店油烟直排问题还没处理，办公室没法开窗",
    "隔壁饭店油烟太大，员工都在咳嗽",
    "再次反映隔壁饭店油烟直排",
]
NOISE = [
    "小规模纳税人季度销售额多少以内免增值税？",
    "外籍员工的工作许可到期了，延期要准备什么材料？",
    "厂区门口的路灯坏了一个星期没人修",
    "想申请高新技术企业认定，研发费用占比怎么算",
    "危险废物转移联单在哪个系统填报",
    "食品经营许可证上的地址写错了怎么更正",
    "员工工伤认定需要哪些材料",
    "出口退税的进度在哪里查询",
    "新建厂房的消防验收要找哪个部门",
    "想在南港建一个危化品仓库，选址有什么要求",
    "政府采购的中标公告在哪个网站发布",
    "银行贷款贴息今年还有吗",
    "孩子想在开发区上小学，入学需要什么证明",
    "进口设备的减免税备案怎么办理",
    "锅炉低氮改造有没有补贴",
    "商标被别人抢注了怎么维权",
    "工程款被总包拖欠半年了",
    "自来水水压太低，三楼以上没水",
    "叉车需要年检吗，去哪里检",
    "公司注销需要先清税吗",
    "人才公寓的租金标准是多少",
    "跨境人民币结算需要开什么账户",
    "停车场收费太高，停车难",
    "安全生产标准化三级达标怎么弄",
    "科技型中小企业评价入库的时间",
    "统计局的月报系统密码忘了",
    "招聘会在哪里报名参加",
    "项目节能审查需要多长时间",
    "外国人住宿登记去哪个派出所",
    "企业年报逾期没报被列入经营异常名录了",
]


def month() -> list[Request]:
    rows: list[Request] = []

    def add(prefix: str, dept: str, texts: list[str], enterprises: list[int]) -> None:
        for i, (text, ent) in enumerate(zip(texts, enterprises, strict=True)):
            tid = len(rows) + 1
            rows.append(Request(tid, f"{prefix}{i + 1}", ent, dept, text))

    add("ETAX", "TAX", ETAX, [1, 2, 3, 4, 5, 6])
    add("ROAD", "TDS", ROADWORKS, [7, 8, 9, 10, 11])
    add("BASE", "HRS", SOCIAL_BASE, [12, 13, 14, 12, 15])  # one company wrote twice
    add("FUME", "ENV", ONE_COMPANY, [99] * 5)
    add("N", "ESB", NOISE, list(range(100, 130)))
    return rows


def _prefix(ref: str) -> str:
    return ref.rstrip("0123456789")


def test_planted_problems_are_found_and_noise_is_not() -> None:
    report = find_topics(month())
    assert (report.total, report.analysed, report.sampled) == (51, 51, False)
    by_prefix = {}
    for topic in report.topics:
        prefixes = {_prefix(ref) for ref, _ in topic.examples}
        assert len(prefixes) == 1, topic  # examples of one topic come from one planted problem
        by_prefix[prefixes.pop()] = topic
    assert set(by_prefix) == {"ETAX", "ROAD", "BASE"}  # no noise topic, no single company

    etax = by_prefix["ETAX"]
    assert "电子税务局" in etax.terms and "登录" in etax.terms
    assert etax.count >= 5 and etax.enterprises >= 5
    assert etax.departments[0] == ("TAX", etax.count)

    road = by_prefix["ROAD"]
    assert {"货车", "施工"} <= set(road.terms)
    assert road.count >= 4 and road.departments[0][0] == "TDS"

    base = by_prefix["BASE"]
    assert "基数" in "".join(base.terms) and base.enterprises == 4
    assert base.count >= 4 and base.count > base.enterprises  # a company that wrote twice

    assert report.topics == sorted(report.topics, key=lambda t: (-t.enterprises, -t.count))
    assert all(t.estimated == t.count for t in report.topics)  # nothing sampled


def test_one_company_alone_is_not_a_topic_unless_allowed() -> None:
    rows = month()
    assert not any(
        _prefix(ref) == "FUME" for t in find_topics(rows).topics for ref, _ in t.examples
    )
    alone = find_topics(rows, min_enterprises=1)
    assert any(_prefix(ref) == "FUME" for t in alone.topics for ref, _ in t.examples)


def test_noise_alone_gives_no_topic() -> None:
    rows = [Request(i, f"N{i}", 100 + i, "ESB", text) for i, text in enumerate(NOISE)]
    assert find_topics(rows).topics == []
    assert find_topics([]).topics == []
    assert find_topics(rows[:2]).topics == []


def test_a_large_month_is_sampled_and_counts_are_scaled() -> None:
    rows = month() * 4  # the same month four times over: 204 requests
    rows = [r._replace(ticket_id=i + 1, ref=f"{r.ref}-{i}") for i, r in enumerate(rows)]
    report = find_topics(rows, max_texts=102, seed=1)
    assert (report.total, report.analysed, report.sampled) == (204, 102, True)
    etax = next(t for t in report.topics if "电子税务局" in t.terms)
    assert etax.estimated == round(etax.count * 2)
    again = find_topics(rows, max_texts=102, seed=1)
    assert [t.terms for t in again.topics] == [t.terms for t in report.topics]  # reproducible


def test_a_month_cut_into_parts_finds_the_same_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large samples are cut by k-means before linking; a problem split across parts is merged."""
    rows = month() * 4
    rows = [r._replace(ticket_id=i + 1, ref=f"{r.ref}-{i}") for i, r in enumerate(rows)]
    whole = find_topics(rows)
    monkeypatch.setattr(topics, "PART_SIZE", 40)
    monkeypatch.setattr(topics, "MAX_LINK", 30)
    parts = find_topics(rows)
    assert [sorted(t.terms[:2]) for t in parts.topics] == [
        sorted(t.terms[:2]) for t in whole.topics
    ]
    assert {_prefix(t.examples[0][0].split("-")[0]) for t in parts.topics} == {
        "ETAX",
        "ROAD",
        "BASE",
    }
    assert [t.count for t in parts.topics] == [t.count for t in whole.topics]
