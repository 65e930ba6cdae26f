"""The admin web and department workbench (aiohttp + Jinja2, server-rendered, Chinese).

It may use ``desk`` and ``models``, never the Telegram side (``bot``, ``handlers``,
``telegram``): lint-imports checks it.
"""

from __future__ import annotations

from .app import create_admin_app

__all__ = ["create_admin_app"]
