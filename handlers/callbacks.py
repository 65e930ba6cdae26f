"""Callback data: built and parsed in one place, always under Telegram's 64-byte limit.

Format ``<scope>:<id>:<action>[:<arg>]`` — scope ``t`` ticket card, ``d`` draft, ``v`` return
visit, ``c`` cancel, ``x`` extension decision, ``m`` a manager's action (督办), ``g`` the
service guide (``g:<answer>:ok|human`` under an answer, ``g:<department>:dept`` and
``g:<item>:item`` to browse), ``s`` a broadcast topic (``s:<topic>:on|off``), ``k`` an
introduction between a need and an offer (``k:<introduction>:yes|no``), ``l`` a liaison
officer's monthly report (``l:<report>:edit:<part>|submit|draft``, ``l:0:start``), ``w`` a grid
worker's ``/submit`` (``w:<enterprise>:pick``, ``w:<draft>:ok|no``). Parsing is
strict; anything else is rejected before the desk is called, and the desk still checks the
ticket's state and the presser's chat or role (so a forged but well-formed button changes
nothing it may not change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(
    r"(t|d|v|c|x|m|g|s|k|l|w):([0-9]{1,12}):([a-z0-9]{1,10})(?::([A-Za-z0-9]{1,16}))?"
)


@dataclass(frozen=True)
class Callback:
    scope: str
    id: int
    action: str
    arg: str | None = None

    def encode(self) -> str:
        data = f"{self.scope}:{self.id}:{self.action}" + (f":{self.arg}" if self.arg else "")
        if len(data.encode()) > 64:
            raise ValueError("callback data over 64 bytes")
        return data


def parse(data: str | None) -> Callback | None:
    """The callback, or None when ``data`` is not one of ours (forged, truncated, empty)."""
    if not data:
        return None
    m = _PATTERN.fullmatch(data)
    if not m:
        return None
    return Callback(scope=m.group(1), id=int(m.group(2)), action=m.group(3), arg=m.group(4))


def ticket(ticket_id: int, action: str, arg: str | None = None) -> str:
    return Callback("t", ticket_id, action, arg).encode()


def draft(draft_id: int, action: str, arg: str | None = None) -> str:
    return Callback("d", draft_id, action, arg).encode()


def visit(ticket_id: int, choice: str) -> str:
    return Callback("v", ticket_id, choice).encode()


def extension(request_id: int, approve: bool) -> str:
    return Callback("x", request_id, "ok" if approve else "no").encode()


def cancel(ticket_id: int) -> str:
    return Callback("c", ticket_id, "cancel").encode()


def manage(ticket_id: int, action: str) -> str:
    return Callback("m", ticket_id, action).encode()


def guide(target_id: int, action: str) -> str:
    return Callback("g", target_id, action).encode()


def topic(index: int, on: bool) -> str:
    return Callback("s", index, "on" if on else "off").encode()


def introduction(intro_id: int, agree: bool) -> str:
    return Callback("k", intro_id, "yes" if agree else "no").encode()


def liaison(report_id: int, action: str, arg: str | None = None) -> str:
    return Callback("l", report_id, action, arg).encode()


def grid(target_id: int, action: str) -> str:
    return Callback("w", target_id, action).encode()
