"""The ticket state machine: every (action, state) pair of the transition table."""

from __future__ import annotations

import pytest

from desk.errors import DeskError, IllegalTransition
from desk.workflow import ACTION_LABELS, STATUS_LABELS, TRANSITIONS, check
from models.ticket import TicketStatus as S

ALL_STATES = list(S)

ALLOWED = [
    (action, state)
    for action, (allowed, _target) in TRANSITIONS.items()
    for state in ALL_STATES
    if state in allowed
]
DISALLOWED = [
    (action, state)
    for action, (allowed, _target) in TRANSITIONS.items()
    for state in ALL_STATES
    if state not in allowed
]

# The expected table, written out by hand from DESIGN.md "The ticket" (not derived from the code).
IN_DEPT = {S.DISPATCHED, S.CLAIMED, S.WAITING, S.REOPENED}
EXPECTED: dict[str, tuple[set[S], S | None]] = {
    "create_triage": (set(), S.TRIAGE),
    "create_dispatch": (set(), S.DISPATCHED),
    "dispatch": ({S.TRIAGE}, S.DISPATCHED),
    "claim": ({S.DISPATCHED, S.REOPENED}, S.CLAIMED),
    "transfer": (IN_DEPT, S.DISPATCHED),
    "return": (IN_DEPT, S.TRIAGE),
    "wait": ({S.CLAIMED}, S.WAITING),
    "resume": ({S.WAITING}, S.CLAIMED),
    "resolve": (IN_DEPT, S.RESOLVED),
    "rate": ({S.RESOLVED}, None),
    "close": ({S.RESOLVED}, S.CLOSED),
    "reopen": ({S.RESOLVED}, S.REOPENED),
    "cancel": ({S.TRIAGE} | IN_DEPT, S.CANCELLED),
    "followup": ({S.TRIAGE, S.RESOLVED} | IN_DEPT, None),
    "progress": (IN_DEPT, None),
    "supervise": ({S.TRIAGE} | IN_DEPT, None),  # 督办 by a manager: no state change
}


def test_table_matches_the_design() -> None:
    assert set(TRANSITIONS) == set(EXPECTED)
    for action, (allowed, target) in TRANSITIONS.items():
        exp_allowed, exp_target = EXPECTED[action]
        assert set(allowed) == exp_allowed, action
        assert target == exp_target, action


def test_every_state_has_a_label() -> None:
    assert set(STATUS_LABELS) == set(S)
    assert all(label.strip() for label in STATUS_LABELS.values())


def test_terminal_states_allow_nothing() -> None:
    for state in (S.CLOSED, S.CANCELLED):
        for action in TRANSITIONS:
            with pytest.raises(IllegalTransition):
                check(action, state)


@pytest.mark.parametrize(("action", "state"), ALLOWED, ids=[f"{a}-{s}" for a, s in ALLOWED])
def test_allowed_transition_gives_target(action: str, state: S) -> None:
    _allowed, target = EXPECTED[action]
    expected = state if target is None else target
    assert check(action, state) is expected


@pytest.mark.parametrize(("action", "state"), DISALLOWED, ids=[f"{a}-{s}" for a, s in DISALLOWED])
def test_disallowed_transition_raises_with_chinese_message(action: str, state: S) -> None:
    with pytest.raises(IllegalTransition) as info:
        check(action, state)
    err = info.value
    assert isinstance(err, DeskError)
    assert err.code == "illegal_transition"
    assert f"「{STATUS_LABELS[state]}」" in err.message
    assert err.message.startswith("工单当前状态为")
    if action in ACTION_LABELS:
        assert ACTION_LABELS[action] in err.message
    assert str(err) == err.message


def test_create_actions_have_no_source_state() -> None:
    for state in ALL_STATES:
        for action in ("create_triage", "create_dispatch"):
            with pytest.raises(IllegalTransition):
                check(action, state)


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        check("fly", S.TRIAGE)


def test_round_trips_of_the_happy_path() -> None:
    """triage → dispatched → claimed → waiting → claimed → resolved → reopened → … → closed."""
    state = S.TRIAGE
    for action in (
        "dispatch",
        "claim",
        "wait",
        "resume",
        "resolve",
        "reopen",
        "claim",
        "resolve",
        "rate",
        "close",
    ):
        state = check(action, state)
    assert state is S.CLOSED
