"""Smoke: the schema migrates and the default departments load on both databases."""

from models.department import Department


async def test_defaults_loaded(db: str) -> None:
    assert await Department.filter().count() == 19
    assert await Department.exists(code="TAX")
