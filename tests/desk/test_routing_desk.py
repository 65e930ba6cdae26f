"""Routing on the desk side: rules in the database, corrections, retraining, live reload."""

from __future__ import annotations

import pytest

from desk import registration, routing, tickets
from desk.actors import Actor
from desk.context import DeskConfig
from desk.errors import InvalidInput
from models.routing import RouterModel, RoutingExample
from models.ticket import Draft, Ticket, TicketStatus

ADMIN_ID = 1
TRIAGE_CHAT, TAX_CHAT, ENV_CHAT = -400, -200, -300
ENT = Actor(kind="enterprise", user_id=501, name="张三", chat_id=501)
TRI = Actor(kind="staff", user_id=7, name="分拨员", chat_id=TRIAGE_CHAT)
TAXS = Actor(kind="staff", user_id=8, name="税务员", chat_id=TAX_CHAT)
ENVS = Actor(kind="staff", user_id=9, name="环保员", chat_id=ENV_CHAT)


@pytest.fixture
async def holder(db: str) -> routing.RouterHolder:
    h = routing.RouterHolder()
    await h.refresh()
    return h


@pytest.fixture
def cfg(holder: routing.RouterHolder) -> DeskConfig:
    return DeskConfig(admin_ids=frozenset({ADMIN_ID}), router=holder)


async def setup_desk(cfg: DeskConfig) -> None:
    for chat, code in ((TRIAGE_CHAT, "TRIAGE"), (TAX_CHAT, "TAX"), (ENV_CHAT, "ENV")):
        await tickets.bind_group(cfg, actor=Actor("staff", ADMIN_ID, "管理员", chat), code=code)
    await registration.start(actor=ENT)
    for answer in ("天津示例科技有限公司", "跳过", "张三", "13812345678"):
        await registration.answer(actor=ENT, text=answer)


async def submit(cfg: DeskConfig, text: str) -> Ticket:
    await tickets.draft_request(cfg, actor=ENT, text=text)
    draft = await Draft.filter().order_by("-id").first()
    assert draft is not None
    await tickets.decide_draft(cfg, actor=ENT, draft_id=draft.id, action="ok")
    return await Ticket.get(id=(await Draft.get(id=draft.id)).ticket_id)


async def test_rules_live_in_the_database_and_edits_apply_without_restart(
    cfg: DeskConfig, holder: routing.RouterHolder
) -> None:
    doc = await routing.rules_document()
    assert len(doc["departments"]) == 19 and doc["fallback"] == "ESB"
    message = "我们想在园区搞一个萤火虫观察节，找谁审批"
    assert "萤火虫" not in holder.route(message).matched_terms

    bad = {**doc, "departments": {**doc["departments"], "ENV": {"strong": {"x": "heavy"}}}}
    with pytest.raises(InvalidInput):
        await routing.replace_rules(bad, by="test")
    assert not await holder.refresh()  # nothing changed

    env = dict(doc["departments"]["ENV"])
    env["terms"] = {**(env.get("terms") or {}), "萤火虫": 6}
    edited = {**doc, "departments": {**doc["departments"], "ENV": env}}
    counts = await routing.replace_rules(edited, by="test")
    assert counts["changed"] == 1
    assert await holder.refresh()
    decision = holder.route(message)
    assert decision.department == "ENV"
    assert "萤火虫" in decision.matched_terms


async def test_every_human_routing_decision_is_a_labelled_example(cfg: DeskConfig) -> None:
    await setup_desk(cfg)
    ticket = await submit(cfg, "你好，我想问个事情")  # too vague: goes to triage
    assert ticket.status == TicketStatus.TRIAGE
    await tickets.card_action(cfg, actor=TRI, ticket_id=ticket.id, action="dispatch", arg="TAX")
    await tickets.card_action(cfg, actor=TAXS, ticket_id=ticket.id, action="to", arg="ENV")
    await tickets.card_action(cfg, actor=ENVS, ticket_id=ticket.id, action="return")
    await tickets.group_message(cfg, actor=ENVS, text="不归我们管")
    await tickets.card_action(cfg, actor=TRI, ticket_id=ticket.id, action="dispatch", arg="TAX")
    rows = await RoutingExample.filter(ticket_id=ticket.id).order_by("id")
    assert [(r.source, r.department) for r in rows] == [
        ("triage", "TAX"),
        ("transfer", "ENV"),
        ("return", "TAX"),
    ]
    examples = await routing.examples()
    assert [e.department for e in examples] == ["TAX"]  # the newest decision per ticket wins


async def test_retraining_learns_a_correction_and_every_process_reloads(
    cfg: DeskConfig, holder: routing.RouterHolder
) -> None:
    other = routing.RouterHolder()
    await other.refresh()
    probe = "园区食堂的自动售货机吞了员工的硬币，联系不上运营方"
    before = holder.route(probe)
    target = "TDS" if before.department != "TDS" else "INV"
    corrections = [
        "食堂自动售货机吞币了，找不到运营方",
        "园区里的自动售货机老是吞硬币",
        "自动售货机不出货也不退钱，运营方电话打不通",
        "员工反映楼下售货机吞钱，谁来管一下",
        "售货机坏了好几天没人修，钱也不退",
        "自动售货机吞币问题反复出现，希望有人协调运营公司",
    ]
    for text in corrections:
        await RoutingExample.create(text=text, department=target, source="triage")
    report = await routing.retrain(eval_rows=[{"text": probe, "department": target, "alt": []}])
    assert report.corrections == len(corrections)
    assert report.before is not None and report.after is not None
    assert await RouterModel.filter(active=True).count() == 1
    assert await holder.refresh() and await other.refresh()
    for h in (holder, other):
        assert h.route(probe).department == target
    assert not await holder.refresh()  # unchanged since
