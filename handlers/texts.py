"""Chinese copy of the Telegram channel: every word the bot says lives here."""

from __future__ import annotations

HOTLINE = "泰达企业服务热线（25201111）"

BTN = {
    "claim": "✋ 认领",
    "transfer": "🔀 转办",
    "return": "↩️ 退回",
    "resolve": "✅ 办结",
    "wait": "📝 请企业补充",
    "extend": "⏳ 申请延期",
    "approve": "✅ 批准延期",
    "reject": "❌ 驳回",
    "back": "⬅️ 返回",
    "more": "其他部门…",
    "confirm": "✅ 确认提交",
    "discard": "❌ 取消",
    "add_to": "➕ 补充到 {ref}",
    "cancel_ticket": "撤销工单 {ref}",
    "solved": "已解决",
    "unsolved": "未解决",
    "m3": "满意",
    "m2": "基本满意",
    "m1": "不满意",
    "share_phone": "📱 分享我的手机号",
    "skip": "跳过",
    "digest_claim": "✋ 认领 {ref}",
    "digest_pick": "🗂 分拨 {ref}",
    "digest_show": "详情",
    "supervise": "📮 督办 {ref}",
    "guide_ok": "👍 已解决",
    # No "确认" here or in GUIDE_ANSWER_*: the draft that follows is the message with 确认.
    "guide_human": "🙋 仍需人工",
    "guide_dept": "{name}（{count}项）",
    "unsubscribe": "🔕 退订「{label}」",
    "match_yes": "🤝 同意对接",
    "match_no": "🙅 暂不对接",
    "topic_on": "✅ {label}（点击退订）",
    "topic_off": "🔕 {label}（点击订阅）",
}

REG_STEPS = {
    "name": "第1步（共4步）：请输入<b>企业名称</b>（营业执照上的全称）。",
    "code": "第2步（共4步）：请输入18位<b>统一社会信用代码</b>；不便提供请发送「跳过」。",
    "contact": "第3步（共4步）：请输入<b>联系人</b>姓名。",
    "phone": "第4步（共4步）：请输入联系人<b>手机</b>号码，或点击下方按钮分享您的手机号。",
}

WELCOME = f"您好！这里是{HOTLINE}。首次使用请先完成企业注册。"
REG_DONE = (
    "✅ 注册成功！\n企业：{enterprise}\n信用代码：{credit_code}\n"
    "联系人：{contact}\n手机：{phone}\n\n"
    "现在可以直接发送文字，描述您遇到的问题（办事难点、政策咨询、投诉建议等），"
    "我们会生成工单、转交主管部门并限时办结。发送 /tickets 查看我的工单。"
)
REG_JOINED = "（贵单位已有同事注册，您已加入同一企业账户。）"
REG_CANCELLED = "已取消注册。发送 /start 可重新开始。"
WELCOME_BACK = (
    "您好，{contact}（{enterprise}）。请直接发送文字描述您的问题；发送 /tickets 查看我的工单。"
)
SIGNIN_CODE = (
    "🔐 网页版企业服务平台登录验证码：<b>{code}</b>（{minutes} 分钟内有效）。\n"
    "如非本人操作，请忽略本消息，切勿告诉他人。"
)
SIGNIN_CODE_OFFICE = (
    "🔐 网页聊天登录验证码\n手机：{phone}{enterprise_line}\n验证码：<b>{code}</b>"
    "（{minutes} 分钟内有效）\n请核实来电人身份（如回拨该号码）后再告知验证码。"
)
NOT_REGISTERED = "请先发送 /start 完成企业注册，再提交诉求。"
CONTACT_IGNORED = "已收到联系人信息。如需提交诉求，请直接发送文字描述。"
UNKNOWN_COMMAND = (
    "未知命令。可用命令：\n/start 注册或查看身份\n/tickets 我的工单\n/guide 办事指南\n"
    "/subscribe 订阅设置\n/need 发布需求（泰企需）\n/offer 发布供给（泰服企）\n"
    "/cancel 取消当前操作"
)
GROUP_HELP = (
    "工作群命令：\n/bind 部门代码（管理员绑定本群）\n/done 工单号 办理结果\n/cancel 取消当前操作\n"
    "/leader 回复负责人消息（管理员指定部门负责人）\n/escalate 工单号 原因（管理员手动升级）\n"
    "回复（引用）工单卡片即可向企业发送办理进展。"
)
NOTHING_TO_CANCEL = "当前没有需要取消的操作。"
PENDING_CANCELLED = "已取消。"
ERROR = "⚠️ {message}"
INTERNAL_ERROR = "⚠️ 系统繁忙，请稍后再试。"

DRAFT_CONFIRM = "📝 请确认是否提交以下诉求：\n\n{text}\n\n确认后将生成工单，转交主管部门办理。"
DRAFT_CONFIRM_OPEN = "如这是对已有工单的补充，请选择「补充到」对应工单。"
DRAFT_CANCELLED = "已取消，本条诉求未提交。"
DRAFT_WITHDRAWN = (
    "已撤回上面的诉求草稿：您已通过办事指南解决，不会生成工单。如还有问题，直接发送文字即可。"
)

ACK = (
    "✅ 已受理，工单号 <b>{ref}</b>\n承办部门：{department}\n办理时限：{deadline}前\n\n"
    "如需补充说明或材料，请回复（引用）本条消息发送。"
)
ACK_TRIAGE = (
    "✅ 已受理，工单号 <b>{ref}</b>\n热线办正在为您确定承办部门。\n办理时限：{deadline}前\n\n"
    "如需补充说明或材料，请回复（引用）本条消息发送。"
)
DISPATCHED = "📮 工单 <b>{ref}</b> 已分拨至{department}办理，办理时限：{deadline}前。"
CLAIMED = "👤 工单 <b>{ref}</b> 已由{department}工作人员认领，正在办理。"
TRANSFERRED = "🔀 工单 <b>{ref}</b> 已转由{department}办理，办理时限：{deadline}前。"
PROGRESS = (
    "💬 工单 <b>{ref}</b> 办理进展（{department}）：\n{text}\n\n如需回复，请回复（引用）本条消息。"
)
PROGRESS_FILE = "💬 工单 {ref} 办理进展（{department}）"
FOLLOWUP_OK = "已将补充内容转给承办部门（工单 {ref}）。"
CANCELLED = "工单 <b>{ref}</b> 已撤销。"
REOPENED_ACK = (
    "🔁 工单 <b>{ref}</b> 已退回{department}重新办理（重办），新的办理时限：{deadline}前。\n"
    "请直接发送未解决或不满意的原因，我们会转给承办部门。"
)
VISIT = (
    "✅ 工单 <b>{ref}</b> 已办结\n承办部门：{department}\n办理结果：\n{result}\n\n"
    "【回访】请问您的问题是否已解决？对办理结果是否满意？"
)
RESULT_FULL = "✅ 工单 <b>{ref}</b> 办理结果全文："
VISIT_PARTIAL = "已选择：{chosen}，请继续评价。"
VISIT_DONE = "感谢您的评价：{chosen}。"
VISIT_EXPIRED = "回访期已满，工单已自动关闭（未评价）。"
TICKET_LIST_EMPTY = "您还没有工单。直接发送文字即可提交诉求。"
TICKET_LIST_HEAD = "📋 我的工单（最近{count}条）："
TICKET_LIST_ITEM = "{n}. <b>{ref}</b>｜{department}｜{status_label}｜期限 {deadline}\n    {text}"

CARD_HEAD = "{icon} <b>{ref}</b>{urgent}｜{type}｜{department}"
CARD_BODY = (
    "企业：{enterprise}（{contact} {phone}）\n办理时限：{deadline}\n状态：{status_label}{claimant}"
)
CARD_MATCHED = "命中：{terms}"
CARD_BUTLER = "👔 管家抄送：您可直接在此按按钮办理，或回复本卡片向企业反馈进展。"
ACK_KEY = "⭐{flag} 已安排专属管家全程跟进。"
KEY_ASSIGNED = (
    "👔 {name}，您已被指定为{flag}<b>{enterprise}</b>的管家（一项目一管家）。"
    "该企业的每件工单都会抄送到这里，您可直接按卡片上的按钮认领、办理。"
)
KEY_REMOVED = "您已不再担任<b>{enterprise}</b>的管家，该企业的工单将不再抄送给您。"
CARD_REOPEN = "🔁【重办】第{n}次"
TRIAGE_HEAD = "🗂 待分拨 <b>{ref}</b>{urgent}｜{type}"
DIGEST_HEAD = "📦 <b>{title}汇总</b>（{n} 件）"
DIGEST_NOTE = (
    "本群消息已达发送频率上限，以下工单合并为一条发送。"
    "按「{verb}」直接办理，按「详情」展开完整卡片。"
)
DIGEST_ITEM = (
    "{i}. <b>{ref}</b>{urgent}{key}｜{type}｜限 {deadline}\n    {enterprise}{filed_by}：{text}"
)
DIGEST_FILED_BY = "（网格员{name}代报）"
TRIAGE_SUGGEST = "路由建议：{candidates}（置信度 {confidence:.0%}）"
PICK_DEPT = "请选择部门："
FOLLOWUP = "📎 工单 <b>{ref}</b> {label}：\n{text}"
FOLLOWUP_FILE = "📎 工单 {ref} {label}材料"
PROGRESS_OK = "已将回复转给企业（工单 {ref}）。"
ASK_RESOLVE = (
    "✍️ {who}，请在本群直接发送工单 <b>{ref}</b> 的<b>办理结果</b>"
    "（您的下一条消息将作为结果发给企业；发送 /cancel 取消）。"
)
ASK_RETURN = (
    "✍️ {who}，请在本群直接发送工单 <b>{ref}</b> 的<b>退回原因</b>"
    "（您的下一条消息将作为原因；发送 /cancel 取消）。"
)
BOUND = "✅ 本群已绑定为：{name}（{code}）。相关工单将推送到本群。"
CONTINUED = "（续 {n}/{total}）"
DONE_USAGE = "用法：/done 工单号 办理结果，例如：/done TD20261129-0001 已为企业办理完毕。"
BIND_USAGE = "用法：/bind 部门代码，例如 /bind TAX；分拨群使用 /bind TRIAGE。"

GROUP_UNREACHABLE = (
    "⚠️ <b>{department}</b>的工作群（{title}）无法送达：{reason}。\n"
    "该部门的新工单卡片和提醒暂时发不出去{ref_note}。请把机器人重新拉入该群，"
    "或在新的工作群中发送 /bind {code} 重新绑定；绑定后会补发其未结工单。"
)
SLA_NUDGE = "🔔 工单 <b>{ref}</b> 已超过响应时限（应于 {respond_by} 前认领）仍未认领，请尽快认领。"
SLA_WARN = "⏰ 工单 <b>{ref}</b> 办理时限提醒：{label}，截止 {deadline}。"
SLA_URGE = (
    "📣【催办】工单 <b>{ref}</b>（{department}）已超过办理时限 {overdue_since}，"
    "请立即办理并反馈结果。\n如仍未办结，将于 {next_deadline} 提请企业服务局会商。"
)
SLA_CONSULT = (
    "🤝【会商】工单 <b>{ref}</b> 超期未办结，提请企业服务局组织多部门会商。\n"
    "会商记录：\n主办部门：{department}\n涉及部门：{departments}\n原办理时限：{overdue_since}\n"
    "会商办结时限：{next_deadline}\n企业：{enterprise}\n诉求："
)
SLA_AGENDA = (
    "📋【{label}议题】工单 <b>{ref}</b>（{department}）\n升级原因：{reason}\n"
    "涉及部门：{departments}\n原办理时限：{overdue_since}\n下一时限：{next_deadline}\n诉求："
)
SLA_LEVEL = "⬆️ 工单 <b>{ref}</b> 已升级至{level_name}（{reason}）。"
CALENDAR_MISSING = (
    "⚠️ 工作日历缺少 {years} 年的官方节假日和调休数据，相关截止时间目前按周末和法定节假日估算。"
    "请升级 chinesecalendar 或在后台录入调休安排。"
)
ESCALATE_USAGE = (
    "用法：/escalate 工单号 原因（仅管理员），例如 /escalate TD20261129-0001 多次催办无果。"
)
ASK_WAIT = (
    "✍️ {who}，请在本群直接发送需要企业补充的材料或说明（工单 <b>{ref}</b>；"
    "发送后计时暂停，企业补充后恢复；发送 /cancel 取消）。"
)
ASK_EXTEND = (
    "✍️ {who}，请在本群发送工单 <b>{ref}</b> 的新截止日期和延期理由，"
    "例如：2026-12-15 需要现场核查（发送 /cancel 取消）。"
)
NEED_INFO = (
    "📝 工单 <b>{ref}</b> 需要您补充材料或说明（{department}）：\n{need}\n\n"
    "请回复（引用）本条消息发送文字、图片或文件；补充前办理计时暂停。"
)
EXTENSION_REQUEST = (
    "⏳【延期申请】工单 <b>{ref}</b>（{department}）\n申请人：{who}\n"
    "当前时限：{deadline}\n申请延至：{new_deadline}\n理由：{reason}"
)
EXTENSION_APPROVED = "\n✅ 已批准（{who}）"
EXTENSION_REJECTED = "\n❌ 已驳回（{who}）"
EXTENSION_SENT = "已提交工单 <b>{ref}</b> 的延期申请（延至 {new_deadline}），等待热线办审批。"
EXTENSION_DECIDED_OK = "✅ 工单 <b>{ref}</b> 的延期申请已批准，新的办理时限：{new_deadline}。"
EXTENSION_DECIDED_NO = "❌ 工单 <b>{ref}</b> 的延期申请已被驳回，请按原时限 {deadline} 办结。"
EXTENDED = "⏳ 工单 <b>{ref}</b> 的办理时限已延长至 {deadline}，感谢您的耐心。"
LEADER_USAGE = "用法：管理员回复（引用）部门负责人的一条消息，发送 /leader。"


# ---------------------------------------------------------------- managers

STATS_HEAD = "📊 <b>{label}</b> 工单统计（{scope}）"
STATS_COUNTS = (
    "受理 {received}｜派发 {dispatched}｜认领 {claimed}｜办结 {resolved}\n"
    "期内到期未按时办结 {overdue}｜当前超期在办 {open_overdue}"
)
STATS_RATES = "响应率 {response}｜解决率 {resolution}｜满意率 {satisfaction}"
STATS_MORE = "按时办结率 {on_time}｜重办率 {reopen}｜退回率 {returned}"
STATS_HOURS = "平均认领 {claim} 工时｜平均办结 {resolve} 工时"
STATS_DEPT_NOW = "当前在办 {open} 件，其中超期 {late} 件"
STATS_FOOT = "口径：响应率=按时认领/派发；解决率、满意率按回访评价计；“—”表示期内无数据。"
RANK_HEAD = "🏆 <b>{label}</b> 部门考核排名（三率均值）"
RANK_ROW = (
    "{n}. <b>{name}</b> {score}\n"
    "    响应 {response}｜解决 {resolution}｜满意 {satisfaction}"
    "｜按时 {on_time}｜派发 {dispatched}"
)
RANK_EMPTY = "本期尚无可排名的部门。"
RANK_UNRANKED = "本期无工单（不参与排名）：{names}"
RANK_FOOT = "综合分为响应率、解决率、满意率中有数据各项的平均值。"
OVERDUE_NONE = "✅ 当前没有超期或24小时内到期的在办工单。"
OVERDUE_HEAD = "⏰ <b>超期及临期工单</b>（共 {total} 件，其中已超期 {overdue} 件）"
OVERDUE_ROW = (
    "{i}. {urgent}<b>{ref}</b>｜{department}｜{status_label}{level}\n    时限 {deadline}，{state}"
)
OVERDUE_LATE = "已超期 {hours} 工时"
OVERDUE_SOON = "剩余 {hours} 工时"
OVERDUE_MORE = "……另有 {n} 件未列出。"
LEVEL_MARK = "｜升级{level}级"
SUPERVISION = (
    "📮 <b>督办单</b> {ref}\n"
    "承办部门：{department}\n"
    "督办人：{by}\n"
    "办理时限：{deadline}（{state}，当前{status_label}）\n"
    "诉求：{text}\n"
    "请承办部门抓紧办理，并于今日内在工单卡片下回复办理进展。"
)
TIMELINE_HEAD = (
    "🗂 <b>{ref}</b>{urgent}｜{type}｜{department}｜{status_label}\n"
    "企业：{enterprise}\n时限：{deadline}\n办理过程："
)
TIMELINE_ROW = "{at} {who} {what}{note}"
TIMELINE_SKIPPED = "（较早的 {n} 条记录从略）\n"
DAILY_HEAD = "☀️ <b>{date} 工单日报</b>｜{department}"
DAILY_COUNTS = "在办 {open} 件：待认领 {unclaimed}，今日到期 {today}，已超期 {late}"
DAILY_ROW = "· <b>{ref}</b> {status_label}，时限 {deadline}（{mark}）"
GRANT_USAGE = (
    "用法：回复某位用户的消息并发送 /grant manager（授予管理人员角色）；/revoke manager 收回。"
    "在部门工作群中发送 /grant liaison 授予该部门联络员角色。"
)
MANAGER_HELP = (
    "管理人员命令：\n"
    "/stats [today|week|month|2026-11] 统计与三率\n"
    "/overdue 超期及临期工单（可督办）\n"
    "/rank [2026-11] 部门考核排名\n"
    "/dept 部门代码 [期间] 部门情况\n"
    "/ticket 工单编号 办理过程\n"
    "/report [2026-11] 月度营商环境简报（Word）及工单明细（Excel）"
)


# ---------------------------------------------------------------- service guide (办事指南)

GUIDE_ANSWER_HEAD = "💡 您的问题在《办事指南》中有答案，供先行参考："
GUIDE_ANSWER_TAIL = (
    "以上是否解决了您的问题？已解决请点「已解决」，下面的诉求草稿随即撤回、不生成工单；"
    "如需部门人工办理，请点「仍需人工」或直接提交下面的草稿（两者只生成一张工单），"
    "将以您的原话生成工单、转交主管部门限时办结。"
)
GUIDE_ITEM = "📘 <b>{name}</b>\n主管部门：{department}"
GUIDE_FIELDS = {
    "conditions": "办理条件",
    "materials": "申请材料",
    "steps": "办理流程",
    "time_limit": "办理时限",
    "fees": "收费标准",
    "location": "办理地点",
    "online_url": "网上办理",
    "contact": "咨询科室",
}
GUIDE_MENU = "📚 办事指南：请选择部门查看其服务事项。也可直接发送问题，系统会先从指南中查找答案。"
GUIDE_MENU_EMPTY = "办事指南暂无事项。请直接发送文字描述您的问题。"
GUIDE_LIST = "📚 {department} 的服务事项（点击查看详情）："

# ---------------------------------------------------------------- broadcasts

BROADCAST = "📢 【{label}】<b>{title}</b>\n\n{text}"
SUBSCRIPTIONS = "📬 订阅设置：点击按钮切换。已订阅的主题会收到经开区的政策解读、活动和通知。"

# ---------------------------------------------------------------- supply–demand matching

MATCH_POSTED = "✅ 已发布【{label}】编号 {listing_id}{industry}：\n{text}"
MATCH_SUGGESTIONS = "\n\n目前较匹配的信息（热线办可为双方撮合，双方同意后才互换联系方式）："
MATCH_NONE = "\n\n暂无匹配的信息；有合适的企业发布后，热线办会为您撮合。"
MATCH_ASK = (
    "🤝 热线办为贵单位的【{mine_label}】找到一条可能匹配的【{other_label}】{industry}：\n"
    "{other}\n\n贵单位的信息：{mine}\n\n是否同意与对方互换企业名称和联系方式？双方都同意后才会发送。"
)
MATCH_CONNECTED = (
    "🤝 双方均已同意对接。对方信息：\n企业：{enterprise}\n联系人：{contact}\n电话：{phone}\n"
    "对方发布的内容：{other}"
)
MATCH_DECLINED = "本次撮合对方暂不对接，未向对方提供贵单位信息。热线办会继续为您留意。"
MATCH_INTRODUCED = "已发起撮合（编号 {intro_id}）：已分别询问双方，双方同意后将互相发送联系方式。"

# ---------------------------------------------------------------- liaison officers (联络员)

LIAISON_BTN_EDIT = "✏️ 修改{n}"
LIAISON_BTN_SUBMIT = "✅ 提交"
LIAISON_BTN_DRAFT = "💾 暂存草稿"
LIAISON_BTN_START = "📝 开始填写"
LIAISON_WELCOME = (
    "📋 {department} {month}联络员信息报送\n共 {total} 个部分，逐项填写；"
    "没有内容的部分请发送「无」跳过，图片或文件会附到当前部分；/cancel 暂停（草稿保留）。"
)
LIAISON_ASK = "<b>第{n}/{total}部分：{title}</b>\n请填写：{hint}。"
LIAISON_ASK_CURRENT = "当前内容：{current}"
LIAISON_ASK_FILES = "本部分已有附件 {files} 个。"
LIAISON_ASK_EDITING = "请发送新的内容（将替换原内容{dropped}），没有内容请发送「无」。"
LIAISON_REVIEW = "📋 <b>{department} {month}联络员信息报送</b>（{state}）"
LIAISON_REVIEW_DRAFT = (
    "请核对以下内容：可点击「修改N」重填某一部分，确认无误后点击「提交」（{due}前）。"
)
LIAISON_REVIEW_LOCKED = (
    "已于 {submitted_at} 由 {author} 提交，不能再修改；如需修改请联系热线办退回。"
)
LIAISON_REMIND = (
    "⏰ 联络员信息报送提醒：{department} {month}的报告{state}，请于{due}前报送"
    "（指标推进、任务推进、改革创新、学习宣传、开展活动、走访企业、学习借鉴七个部分）。\n"
    "点击下方按钮或发送 /liaison 开始填写。"
)
LIAISON_REMIND_LATE = (
    "⏰ 联络员信息报送提醒：{department} {month}的报告已超过{due}的报送期限，请尽快报送。\n"
    "点击下方按钮或发送 /liaison 开始填写。"
)
LIAISON_LATE = "📋 {month}联络员信息报送（{due}截止）：{total} 个部门中以下 {count} 个尚未提交："
LIAISON_LATE_NONE = "📋 {month}联络员信息报送（{due}截止）：{total} 个部门均已提交。"

# Grid workers (网格员): /submit on behalf of an enterprise, and the copies they receive.
GRID_PICK = "🏢 <b>网格员代报</b>：请选择要代为提交诉求的企业。"
GRID_PICK_MORE = "名单中共 {total} 家企业，以下仅列出 {shown} 家；可直接发送企业名称中的字词搜索。"
GRID_PICK_FOUND = "包含「{query}」的企业共 {total} 家："
GRID_PICK_NONE = "名单中没有包含「{query}」的企业，请换个字词再试，或发送 /cancel 取消。"
GRID_ASK_TEXT = (
    "已选择企业：<b>{enterprise}</b>\n请发送文字描述企业遇到的问题"
    "（也可发送带说明文字的图片或文件）。发送 /cancel 取消。"
)
GRID_FILE_KEPT = "已收到附件。请再发送文字，描述企业遇到的问题。"
GRID_CONFIRM = (
    "📝 请确认是否代 <b>{enterprise}</b> 提交以下诉求：\n\n{text}\n\n"
    "确认后将以该企业名义生成工单，企业会收到受理、进展、结果和回访通知，您会收到进展抄送。"
)
GRID_CONFIRM_FILE = "附件：{file}"
GRID_CANCELLED = "已取消代报，诉求未提交。"
GRID_FILED_BY = "（由网格员 {name} 代为提交）"
CARD_FILED_BY = "代报：网格员 {name}"
GRID_COPY_HEAD = "📋【网格员抄送】{enterprise}｜工单 <b>{ref}</b>\n"
GRID_COPY = {
    "ack": "已受理，承办部门：{department}，办理时限：{deadline}前。",
    "dispatched": "已分拨至{department}办理，办理时限：{deadline}前。",
    "transferred": "已转由{department}办理，办理时限：{deadline}前。",
    "claimed": "已由{department}工作人员认领，正在办理。",
    "need_info": "承办部门请企业补充材料：{text}",
    "extended": "办理时限已延长至{deadline}前。",
    "reopened": "企业评价未解决或不满意，已退回{department}重新办理（重办）。",
    "cancelled": "企业已撤销该工单。",
    "progress": "{department}进展：{text}",
    "result": "已办结。办理结果：\n{result}\n\n企业将收到回访评价。",
    "rated": "企业已评价：{chosen}。",
    "expired": "回访期满，企业未评价，工单已关闭。",
}
GRID_UNREACHABLE = (
    "⚠️ 该企业暂无可接收消息的联系人（未在机器人或网页版登录），以上通知企业收不到，请您转告企业。"
)
