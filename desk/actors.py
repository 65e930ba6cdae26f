"""Who acts: enterprises, staff in a group, admins, the system."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A person (or the system) acting on the desk, and where they act from.

    Attributes:
        kind: ``enterprise``, ``staff`` or ``system``.
        user_id: the channel user id (Telegram user id), if any.
        name: display name for logs and cards.
        chat_id: the chat the action came from (a private chat or a department group).
    """

    kind: str
    user_id: int | None
    name: str
    chat_id: int | None = None

    def __post_init__(self) -> None:
        # Names are stored in 128-character columns; Telegram's full names can be 129.
        if len(self.name) > 128:
            object.__setattr__(self, "name", self.name[:128])

    @staticmethod
    def system() -> Actor:
        return Actor(kind="system", user_id=None, name="系统")
