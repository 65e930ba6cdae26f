"""Pages of the ticket workbench: list, search, detail and actions, operator intake, exports.

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
