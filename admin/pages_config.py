"""Pages of the desk's configuration: routing rules with a test box, SLA policies, the
working-day calendar, and the audit log.

(Routes are registered by ``setup``; see ``admin.app``.)
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this module's routes on the admin app."""
