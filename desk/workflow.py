"""The ticket state machine: one transition table, checked in one place.

States and their meaning are in DESIGN.md. ``check`` is the only way a status changes.
"""

from __future__ import annotations

from models.ticket import TicketStatus as S

from .errors import IllegalTransition

_OPEN_IN_DEPT = frozenset({S.DISPATCHED, S.CLAIMED, S.WAITING, S.REOPENED})

# action -> (allowed from-states, to-state). ``None`` as to-state means "unchanged".
TRANSITIONS: dict[str, tuple[frozenset[S], S | None]] = {
    "create_triage": (frozenset(), S.TRIAGE),
    "create_dispatch": (frozenset(), S.DISPATCHED),
    "dispatch": (frozenset({S.TRIAGE}), S.DISPATCHED),
    "claim": (frozenset({S.DISPATCHED, S.REOPENED}), S.CLAIMED),
    "transfer": (_OPEN_IN_DEPT, S.DISPATCHED),
    "return": (_OPEN_IN_DEPT, S.TRIAGE),
    "wait": (frozenset({S.CLAIMED}), S.WAITING),
    "resume": (frozenset({S.WAITING}), S.CLAIMED),
    "resolve": (_OPEN_IN_DEPT, S.RESOLVED),
    "rate": (frozenset({S.RESOLVED}), None),
    "close": (frozenset({S.RESOLVED}), S.CLOSED),
    "reopen": (frozenset({S.RESOLVED}), S.REOPENED),
    "cancel": (frozenset({S.TRIAGE}) | _OPEN_IN_DEPT, S.CANCELLED),
    "followup": (frozenset({S.TRIAGE, S.RESOLVED}) | _OPEN_IN_DEPT, None),
    "progress": (_OPEN_IN_DEPT, None),
    "supervise": (frozenset({S.TRIAGE}) | _OPEN_IN_DEPT, None),
}

STATUS_LABELS: dict[S, str] = {
    S.TRIAGE: "待分拨",
    S.DISPATCHED: "待认领",
    S.CLAIMED: "办理中",
    S.WAITING: "待企业补充",
    S.RESOLVED: "已办结待评价",
    S.CLOSED: "已关闭",
    S.REOPENED: "重办",
    S.CANCELLED: "已撤销",
}

ACTION_LABELS: dict[str, str] = {
    "dispatch": "分拨",
    "claim": "认领",
    "transfer": "转办",
    "return": "退回",
    "wait": "请企业补充",
    "resume": "恢复办理",
    "resolve": "办结",
    "rate": "评价",
    "close": "关闭",
    "reopen": "重办",
    "cancel": "撤销",
    "followup": "补充",
    "progress": "回复进展",
    "supervise": "督办",
}


def check(action: str, status: S) -> S:
    """Return the state after ``action`` from ``status``, or raise ``IllegalTransition``.

    Args:
        action: a key of ``TRANSITIONS``.
        status: the ticket's current state.
    """
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        raise IllegalTransition(
            f"工单当前状态为「{STATUS_LABELS[status]}」，不能{ACTION_LABELS.get(action, action)}。"
        )
    return status if target is None else target
