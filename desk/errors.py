"""Errors the desk raises; channels translate them into a reply at the edge.

Every error carries a Chinese message meant for the person who caused it.
"""

from __future__ import annotations


class DeskError(Exception):
    """Base class: something the user asked for cannot be done; nothing was changed."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DeskError):
    code = "not_found"


class NotAllowed(DeskError):
    code = "not_allowed"


class InvalidInput(DeskError):
    code = "invalid"


class RateLimited(DeskError):
    code = "rate_limited"


class IllegalTransition(DeskError):
    code = "illegal_transition"


class Conflict(DeskError):
    """Someone else changed the ticket first (a lost race: claim, stale button)."""

    code = "conflict"


class AlreadyProcessed(Exception):
    """The inbound update was handled before; its effects are already committed."""
