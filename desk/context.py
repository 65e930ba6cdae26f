"""What the desk needs from the outside, passed down explicitly (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from nlp import RouteDecision, Router

from .worktime import WorkCalendar


class RouterLike(Protocol):
    """What the desk needs of a router (``nlp.Router`` or ``desk.routing.RouterHolder``)."""

    def route(self, text: str) -> RouteDecision: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DeskConfig:
    """Settings of the desk core, built once by ``bot`` from the process settings.

    Attributes:
        admin_ids: Telegram user ids with the admin role.
        tz: the office time zone (references, deadlines and working days use local dates).
        resolve_working_days: the fixed resolution target until SLA policies land.
        visit_working_days: the return-visit window before a ticket closes as 未评价.
        auto_threshold: minimum router confidence for dispatch without triage.
        clock: the current time (injected so tests can move it).
        router: the text router.
        calendar: the working-time calendar (holidays, 调休, office hours).
        enterprise_hourly_limit: messages (new requests and additions) one enterprise may send
            per hour; beyond it the desk answers politely and stores nothing.
        consult_after_days: working days overdue before 会商 (escalation level 1).
        escalate_after_days: working days a rung may stay overdue before the next one
            (专题会, then 领导小组).
        guide_first: answer an enterprise's general question from the service guide before
            any ticket, when the guide answers it well (the usual draft follows the answer).
    """

    admin_ids: frozenset[int] = frozenset()
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    resolve_working_days: int = 5
    visit_working_days: int = 3
    auto_threshold: float | None = None
    clock: Callable[[], datetime] = utcnow
    router: RouterLike = field(default_factory=Router.from_default)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    enterprise_hourly_limit: int = 30
    consult_after_days: int = 1
    escalate_after_days: int = 3
    guide_first: bool = True

    def now(self) -> datetime:
        return self.clock()

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids
