"""The audit log of configuration and account changes (rules, SLA, calendar, users, roles).

Every service that changes the desk's configuration on behalf of a person records one entry
here in the same transaction as the change; ``recent`` reads them back for the admin web.
Tickets are not logged here: each ticket has its own append-only event log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from models.audit import AuditEntry


async def record(
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str = "",
    data: dict[str, Any] | None = None,
    role: str = "",
    ip: str = "",
) -> AuditEntry:
    """Append one entry.

    Args:
        at: when the change was made (the desk's clock).
        actor: who made it (a web username, or ``shell``).
        action: a dotted name, e.g. ``rule.update``, ``user.create``, ``calendar.set``.
        target: what was changed, e.g. ``TAX`` or ``2026-10-10``.
        data: what changed (before/after values); no passwords or secrets.
        role: the actor's role when it acted.
        ip: the client address, when the change came from the web.
    """
    return await AuditEntry.create(
        at=at,
        actor=actor[:128],
        role=role[:16],
        ip=ip[:64],
        action=action[:64],
        target=target[:128],
        data=data or {},
    )


@dataclass(frozen=True)
class Editor:
    """Who makes a change, from where and when (what the audit log records).

    Attributes:
        name: the web username (or ``shell``).
        role: the person's role when acting.
        ip: the client address.
        at: the desk clock's time of the change.
    """

    name: str
    role: str
    ip: str
    at: dt.datetime


def shell(at: dt.datetime | None = None) -> Editor:
    """The ``desk`` command as the editor of a change (now, unless ``at`` is given)."""
    return Editor(name="shell", role="", ip="", at=at or dt.datetime.now(dt.UTC))


async def log(
    editor: Editor, action: str, target: str = "", data: dict[str, Any] | None = None
) -> AuditEntry:
    """``record`` for a change ``editor`` made."""
    return await record(
        at=editor.at,
        actor=editor.name,
        role=editor.role,
        ip=editor.ip,
        action=action,
        target=target,
        data=data,
    )


async def recent(
    *, limit: int = 100, offset: int = 0, action_prefix: str | None = None
) -> list[AuditEntry]:
    """The newest entries first, optionally only actions starting with ``action_prefix``."""
    query = AuditEntry.all()
    if action_prefix:
        query = query.filter(action__startswith=action_prefix)
    return await query.order_by("-at", "-id").offset(offset).limit(limit)
