"""Fixtures of the outage tests (defined in ``outage_harness``).

This folder is a package, so this conftest is ``resilience.conftest`` and never takes the place
of ``tests/e2e/conftest.py`` as the module ``conftest`` that the e2e tests import from.
"""

from .outage_harness import dialog, fake, pg_proxy, private_redis

__all__ = ["dialog", "fake", "pg_proxy", "private_redis"]
