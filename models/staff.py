"""Roles granted to Telegram users beyond enterprise contacts and department groups."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    """Roles an admin grants (``/grant ROLE`` in reply to the user, or in the admin web)."""

    MANAGER = "manager"  # reads every figure, /stats /overdue /rank /report, sends 督办
    LIAISON = "liaison"  # a department's liaison officer: the monthly report (/liaison)
    GRID = "grid"  # 网格员: /submit on behalf of the enterprises on their list


ROLE_LABELS = {Role.MANAGER: "管理人员", Role.LIAISON: "联络员", Role.GRID: "网格员"}


class RoleGrant(Model):
    """One user holding one role (a revoked grant is deleted, the log keeps the history)."""

    id = fields.IntField(primary_key=True)
    user_id = fields.BigIntField()
    role = fields.CharField(max_length=16)
    name = fields.CharField(max_length=128, default="")
    department_code = fields.CharField(max_length=16, null=True)
    granted_by = fields.BigIntField(null=True)
    granted_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "role_grant"
        unique_together = (("user_id", "role"),)
