"""Accounts of the admin web (hotline office, managers, department staff) and login throttling."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class WebRole(StrEnum):
    """Roles of the admin web, from the widest to the narrowest."""

    ADMIN = "admin"  # everything
    OFFICE = "office"  # hotline office: triage, dispatch, all tickets, reports
    MANAGER = "manager"  # reads everything, reports, approves extensions
    STAFF = "staff"  # the tickets of their own department only


WEB_ROLE_LABELS = {
    WebRole.ADMIN: "系统管理员",
    WebRole.OFFICE: "热线办",
    WebRole.MANAGER: "管理人员",
    WebRole.STAFF: "部门工作人员",
}


class WebUser(Model):
    """One person who logs in to the admin web, with an argon2 password hash."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharField(max_length=16)
    department_code = fields.CharField(max_length=16, null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login = fields.DatetimeField(null=True)

    class Meta:
        table = "web_user"


class LoginFailure(Model):
    """One failed login, keyed by username and client address (the throttle counts them)."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64)
    ip = fields.CharField(max_length=64)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "web_login_failure"
        indexes = (("username", "ip", "at"),)
