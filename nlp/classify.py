"""Request type and urgency detection.

This module owns the cue rules that decide what kind of request a message is (one of
:data:`REQUEST_TYPES`) and whether it is urgent. Both work on normalised text with weighted
regular-expression cues, so colloquial and indirect wording can be covered by patterns rather than
fixed phrases.

Type decision, in order:

* 举报 / 投诉 / 建议 / 表扬 win when their cue score reaches a threshold and beats the others;
  a plain request for help softens complaint cues (a stuck case phrased with some frustration
  is still 求助).
* otherwise 求助 (the enterprise's own concrete case is stuck or needs handling) against 咨询
  (general information: policy, procedure, materials, time limits); ties go to 咨询.

Urgency needs an *impact* cue (production stopping, safety, livelihood, goods stuck in port)
together with *immediacy*, or a single cue that is urgent on its own (leak, fire, injury, crowd
at the gate). Paperwork deadlines alone ("今天截止") are not urgent, nor are praise, suggestions
or general questions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["REQUEST_TYPES", "classify_type", "detect_urgency", "type_scores", "urgency_scores"]

REQUEST_TYPES: Final[tuple[str, ...]] = ("咨询", "求助", "投诉", "举报", "建议", "表扬")

Cue = tuple[re.Pattern[str], float]


def _cues(spec: Mapping[str, float]) -> tuple[Cue, ...]:
    return tuple((re.compile(p), w) for p, w in spec.items())


_REPORT = _cues(
    {
        r"举报|检举|揭发": 4,
        r"偷排|偷偷(排|倒|烧)|私自(排|倒)|直排|乱排|偷倒|乱倒": 3,
        r"虚报|骗取|骗补|套取|套补|冒领|冒用|假冒|仿冒|伪报|瞒报|低报|走私|虚开|造假|弄虚作假": 3,
        r"围标|串标|陪标|挂证|量身定做|量身定制|内定": 3,
        r"(卖|买卖|倒卖|代开)(增值税)?(专用)?发票": 3,
        r"童工|黑作坊|非法|违法|违规(经营|生产|操作|建设|用地|收费)?": 2,
        r"线索|前员工|实名|匿名|证据(我|都)": 2,
        r"(希望|请|麻烦|建议)(相关部门|有关部门|你们)?(核查|查一下|查查|查处|调查|管一管)": 2,
        r"有人管(吗|没有)|没人管吗|这(不就是|不是|明显是)|明显是|看着不像(合规|正规)": 1,
        r"隔壁|附近(有|一)家|有家|有一家|某(家|企业|公司)": 1,
        r"不合规|违反规定|涉嫌|太危险|隐患很大|没法睡觉|睡不着|扰民": 1,
        r"打着.{0,12}旗号|上当|坑人|骗人|骗钱|忽悠": 2,
        (
            r"私下|偷偷|暗地|背地|伪造|造假|套现|倒卖|转卖|出借|转租|挪用|挪去|冒名|顶替|泄露"
            r"|打击报复|好处费|回扣|收红包|不入账|逃避|偷税|骗(企业|补贴|钱|人|取)|无证|没有(任何)?证照"
        ): 2,
        r"(有人|有家|有个|有商户|有企业|有公司|有一家|发现有)": 1,
        r"不(签|给|交|缴|登记|开)(劳动合同|加班费|社保|发票|身份证)|用童工|现在正在": 1,
        r"(一点|什么|毫无|没有任何).{0,6}(措施|防护|手续|资质)(都|也)?(没有|没)": 2,
    }
)
_COMPLAINT = _cues(
    {
        r"投诉": 4,
        r"态度(太|很|极|非常|特别)?(差|恶劣|冷漠|蛮横|生硬)|不耐烦|爱答不理|摆架子|甩脸": 3,
        (
            r"推诿|踢皮球|推来推去|互相推|不作为|乱作为|吃拿卡要|刁难|故意拖|不认账|出尔反尔"
            r"|不理旧账"
        ): 3,
        r"就不能一次|太耽误事|耽误事|意见很大|怨声载道|以哪个为准|说法不一|口径不一": 3,
        r"效率(也)?(太|很|极|真)?低|太慢了|慢得|磨洋工|石沉大海|这叫服务|什么服务|像话吗": 3,
        (
            r"(一直|始终|迟迟|还是|都)(没|没有|不)(人)?(答复|回复|回音|消息|反馈|结论|说法"
            r"|回应|处理|管|修|理)"
        ): 2,
        r"没人(管|修|理|回|接|处理|答复|跟|来|给)|一点(消息|反馈|回音|动静)(都|也)?没有": 2,
        r"还(是)?没(有)?(结论|答复|回复|消息|反馈|下文|动静|说法|结果|人来)": 2,
        r"(排|等)了.{0,6}(小时|钟头|上午|下午|一天)": 2,
        (
            r"[0-9一二三四五六七八九十两半几]+(个)?多?(天|周|星期|个月|月|年|个工作日)(了|多了"
            r"|都|还|一点|过去)"
        ): 1,
        r"早就|只说|只会说|一直说在|都说在|还在研究|在走流程|等通知|回去等": 2,
        r"(合规|合理|合法|正常)吗|是不是.{0,12}(有问题|不对|搞错)": 1,
        r"(反映|打电话|找)了?(好几|很多|多|无数|[二三四五六七八九十几])次": 2,
        r"多次反映|反复反映|反映过|已经反映": 2,
        r"说好的|承诺的?.{0,10}(没|不)|过了时限|超过时限|超时|超期|早就过了|逾期未办": 2,
        r"不是(规定|说好|承诺|说)[^?？]{0,30}(吗|么)": 2,
        r"一次性告知|来回(跑|交|折腾|补)|跑了[好几两三四]+趟|[三四五六七]次": 1,
        r"拖了|拖着|一拖再拖|拖到现在|到现在(都|还)?(没|不)": 2,
        r"到底|凭什么|太(差|过分|离谱|不合理)|不合理|变相|乱收费|强制|非要|排斥|卡脖子": 1,
        r"[!！]{1}|[?？]{2,}": 0.5,
        (
            r"什么态度|太冲|难听|形同虚设|没有任何(反馈|回复|消息|答复)|(谁|哪个)也不(管|牵头|负责)"
            r"|说法(都)?不一|(个|种)说法|前后不一|听谁的|等不起|应付不过来|三天两头|偏偏|死活"
            r"|非要|折腾|(太|很|真)(麻烦|难|慢)|没用|不合理|不对等|严重不符|明明"
        ): 2,
        r"说好(的)?.{0,16}(结果|现在|到现在|还|却|又|可)": 2,
        (
            r"(拖|等|过去|办)了.{0,4}[0-9一二三四五六七八九十两半几]+(个)?多?"
            r"(天|周|星期|个月|月|年)"
        ): 1,
    }
)
_SUGGESTION = _cues(
    {
        r"(?<!项目)建议(?!书)": 3,
        r"提(个|一个|点|一点)?(建议|意见)|呼吁|恳请(考虑|研究)": 3,
        (
            r"(能不能|能否|可否|是否可以|可不可以)(考虑|研究|多|增加|增设|开通|延长|扩大|简化"
            r"|取消|放宽|统一|推出|引进|把)"
        ): 2,
        r"希望(能|可以|区里|政府|管委会|有关部门|相关部门)": 1,
        r"如果能[^。]{0,30}(就好了|就更好了)|最好(能|是|按)|不妨|应该(多|增加|考虑)": 2,
        r"(太|很|非常)不方便": 1,
    }
)
_PRAISE = _cues(
    {
        r"表扬|点赞|点个赞|锦旗|感谢信|好评|赞一个|致谢|道谢|道声谢": 3,
        (
            r"非常感谢|特别感谢|十分感谢|衷心感谢|感谢(市场|税务|人社|海关|应急|政务|街道|社区"
            r"|你们|贵|区里|各位|.{0,8}(局|中心|办|同志|老师|窗口|团队))"
        ): 3,
        r"感谢|谢谢(你们|您们|各位|海关|.{0,6}同志)": 2,
        (
            r"快多了|帮助很大|帮了大忙|(天|周|小时|分钟)(就|内就)(到账|办好|批|解决|协调好"
            r"|放行|到|通)"
        ): 2,
        (
            r"给力|真快|这么快|很快就|真高|真好用|很好用|好用|很专业|十分专业|很到位|很贴心"
            r"|很周到|很满意|都满意|太方便|省事|省心|解决了大问题|帮了大忙|没想到"
        ): 2,
        r"谢谢": 1,
        r"辛苦了|辛苦你们|有收获|受益匪浅|办得(好|真好|漂亮)|(都|很)满意": 2,
        (
            r"(很|非常|特别|十分|真|太)(专业|耐心|实在|实用|周到|贴心|感动|及时|清楚|高效)"
            r"|效率(真|很|非常|特别)?高|真(好|不错|快)"
        ): 2,
    }
)
_HELP = _cues(
    {
        (
            r"(能不能|能否|可否|可不可以|请|麻烦|求|希望)(请|帮|给|派|安排|协调|催|联系|加急"
            r"|加快|先|临时|分期|宽限|通融|特事特办|过来|来|尽快)"
        ): 3,
        (
            r"帮忙|帮帮|求助|求救|救救|帮我们|请帮|麻烦帮|协调一下|催一下|催催|指导一下"
            r"|给点指导|辅导一下|派人|支援"
        ): 3,
        (
            r"怎么办|咋办|咋整|如何是好|怎么处理|怎么解决|如何解决|怎么解除|怎么消除|怎么更正"
            r"|怎么补救|补救|有没有办法|该怎么"
        ): 2,
        (
            r"卡在|卡住|卡了|被退|退回|被驳回|驳回|不通过|没通过|审核不过|过不去|失败|报错"
            r"|出错|对不上|找不到入口|被拒"
        ): 2,
        (
            r"登不上|进不去|打不开|提交不上|提交不了|上传不了|开不了|办不了|领不了|用不了"
            r"|打不通|没人接|占线"
        ): 2,
        r"加急|急需|急死|急用|尽快|越快越好|抓紧|宽限|先放行": 2,
        r"想找|想请|牵个线|牵线|对接一下|推荐|联系一下|介绍": 1.5,
        r"我们(厂|公司|企业|单位|这边|的)|我司|我厂|本公司|公司的|我们是|我们在|我们做": 1,
        r"一直|还没|还是没|都没|仍然|迟迟|已经|刚刚|刚才|昨天|上周|上个月": 0.5,
        (
            r"错了|填错|写错|归错|弄错|搞错|漏报|忘了|用完了|到期了|被列入|被认定|被罚|被查"
            r"|被扣|被盗|被偷"
        ): 1.5,
        r"核实一下|查一下|看看(是不是|怎么回事)|卡在哪": 1.5,
        r"压了|扣了|扣着|被压|急得|急坏|愁死": 1.5,
    }
)
_INQUIRY = _cues(
    {
        r"(需要|要|得|应)(准备|提交|提供|交)?(什么|哪些|啥)(材料|资料|手续|证明|条件|资质)": 3,
        r"(什么|哪些|啥)(材料|资料|手续|条件|要求|标准|政策|流程|区别)": 2,
        r"流程|手续|材料|条件|要求|标准|资格|门槛|政策|规定|办法|指南|目录|清单": 1,
        r"多久|多长时间|几个工作日|多少(个)?工作日|几天|时限|什么时候|何时|截止": 1.5,
        r"怎么(申请|申报|办理|操作|报名|算|定|收|开通|认定)|如何(申请|申报|办理|操作|认定)": 2,
        r"去哪|找哪里|在哪|哪里": 1,
        r"请问|想问|想了解|咨询|了解一下|打听|听说": 1.5,
        r"是不是|是否|有没有|能不能|可以吗|行吗|吗[?？]?$|吗[?？]": 0.5,
        r"多少|比例|额度|金额|费用|收费|一般": 1,
    }
)

_STRONG_TYPES: Final[tuple[str, ...]] = ("举报", "投诉", "建议", "表扬")
_THRESHOLD: Final[Mapping[str, float]] = {"举报": 3, "投诉": 2.5, "建议": 3, "表扬": 3}


def _score(text: str, cues: Sequence[Cue]) -> float:
    return sum(w for pattern, w in cues if pattern.search(text))


def type_scores(text: str) -> dict[str, float]:
    """Return the raw cue score of each request type for normalised ``text``."""
    return {
        "咨询": _score(text, _INQUIRY),
        "求助": _score(text, _HELP),
        "投诉": _score(text, _COMPLAINT),
        "举报": _score(text, _REPORT),
        "建议": _score(text, _SUGGESTION),
        "表扬": _score(text, _PRAISE),
    }


def classify_type(text: str) -> str:
    """Return the request type of normalised ``text`` (``咨询`` when nothing stands out)."""
    if not text:
        return "咨询"
    scores = type_scores(text)
    help_score = scores["求助"]
    adjusted = dict(scores)
    # Asking for help with one's own stuck case softens complaint and report cues.
    if help_score >= 3:
        adjusted["投诉"] -= 1.5
        adjusted["举报"] -= 1
    # A question or a request for help makes polite thanks ("麻烦了，谢谢") not praise.
    if help_score >= 3 or scores["咨询"] >= 3:
        adjusted["表扬"] -= 1.5
    best_strong = max(_STRONG_TYPES, key=lambda t: (adjusted[t], -_STRONG_TYPES.index(t)))
    if adjusted[best_strong] >= _THRESHOLD[best_strong]:
        return best_strong
    return "求助" if help_score > scores["咨询"] else "咨询"


_IMPACT_ALONE = _cues(
    {
        r"泄漏|泄露|漏气|在漏|漏了|漏油|漏液|着火|起火|失火|火灾|冒烟|爆炸|爆燃|中毒|窒息|触电": 3,
        r"(受伤|压伤|烫伤|砸伤|摔伤|昏迷|晕倒|头晕|恶心|胸痛|流血)": 2,
        (
            r"(没有|毫无|一点|没).{0,4}(防爆|防火|防护|安全)措施|(防爆|防火|防护"
            r"|安全)措施.{0,4}(没有|都没)"
        ): 2,
        r"随时(可能|会)(爆|着|出事|塌)|一触即发": 3,
        r"送医|送(到)?医院|120|救护车|抢救|急救|人在医院|住院": 2,
        r"堵门|堵在|拉横幅|围堵|聚集|闹事|上访|情绪(很|非常)?激动|跳楼": 3,
        r"讨薪|要工钱|欠(了)?(工人|农民工)?.{0,6}工资|工资.{0,6}(发不出|发不了|成问题|没着落)": 2,
    }
)
_IMPACT = _cues(
    {
        r"停产|停工|停线|停机|停摆|断料|全厂.{0,4}停|干不了活|开不了工|没法(生产|开工)": 2,
        r"(生产线|产线|车间|设备|机器|工厂|厂里).{0,8}(停|等|断|瘫)": 2,
        r"停电|断电|没电|停水|断水|没水|停气|断气|停汽|断供|爆管|爆了": 2,
        r"滞港|压港|压车|压柜|滞箱|滞期|冷箱|货物?.{0,4}(卡|扣|压)|罐车": 2,
        r"报废|凝住|变质|坏掉|违约金|赔(偿)?.{0,4}(钱|万|违约)": 1.5,
        r"现金流.{0,6}断|断贷|资金链.{0,4}断|撑不住|活不下去|发不出": 2,
        r"积水|内涝|淹": 1.5,
        r"出不去|进不来|进不去|动不了": 1.5,
        r"(货|订单).{0,8}(发不|交不|出不|不收)|不收货|截关|截港|船期|赶.{0,4}(船|航班)|误了?船": 2,
        r"易燃|易爆|危化品|危险化学品|液化气|气瓶|稀释剂|储罐": 1,
    }
)
_IMMEDIACY = _cues(
    {
        r"刚刚|刚才|刚出|正在|现在|目前|此刻|马上|立刻|立即|赶紧|火速": 1,
        r"今天|今晚|今早|今天上午|今天下午|当天|明天就|一早|几个小时|就剩|只剩|还剩": 1,
        r"紧急|十万火急|加急|越快越好|尽快|来不及|等不了|急死|急急": 1,
        r"每天|一天(就|要)?.{0,6}(万|千|损失)|天天": 1,
        r"一直停|停着|已经停|下个月工资|年底.{0,6}工资|眼看|等着|在等|干等|(就|只)?隔一堵墙": 1,
    }
)
_NOT_URGENT_TYPES: Final[frozenset[str]] = frozenset({"表扬", "建议"})


def urgency_scores(text: str) -> tuple[float, float, float]:
    """Return the ``(alone, impact, immediacy)`` cue scores of normalised ``text``."""
    if not text:
        return 0.0, 0.0, 0.0
    return _score(text, _IMPACT_ALONE), _score(text, _IMPACT), _score(text, _IMMEDIACY)


def detect_urgency(text: str, request_type: str | None = None) -> bool:
    """Return whether normalised ``text`` describes an urgent situation.

    Args:
        text: Normalised message text.
        request_type: The type already decided for the message, if any; praise and suggestions
            are never urgent, and a general question needs stronger evidence.
    """
    if not text:
        return False
    if request_type in _NOT_URGENT_TYPES:
        return False
    alone, impact, immediacy = urgency_scores(text)
    if request_type == "咨询":
        return alone >= 3 or (alone + impact >= 4 and (immediacy >= 1 or alone >= 2))
    if alone >= 3 or impact >= 4:
        return True
    if alone >= 2 and (impact >= 1 or immediacy >= 1):
        return True
    return impact >= 2 and immediacy >= 1
