"""The service guide (办事指南): the catalog of service items each department publishes."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ServiceItem(Model):
    """One service item (服务事项) of a department's service list.

    ``code`` is a stable slug (``msa-license-change``) that links, the chat's buttons and the
    import file use; ``department_code`` is a :class:`~models.department.Department` code, as
    in the other tables that name a department. ``materials`` and ``steps`` are lists of
    strings, ``aliases`` the other names enterprises use for the item.
    """

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    department_code = fields.CharField(max_length=16, db_index=True)
    name = fields.CharField(max_length=128)
    aliases: list = fields.JSONField(default=list)
    conditions = fields.TextField(default="")
    materials: list = fields.JSONField(default=list)
    steps: list = fields.JSONField(default=list)
    time_limit = fields.CharField(max_length=255, default="")  # legal time limit (法定时限)
    fees = fields.CharField(max_length=255, default="")
    location = fields.TextField(default="")  # where to apply: window, online platform
    online_url = fields.CharField(max_length=512, default="")
    contact = fields.CharField(max_length=255, default="")  # responsible office (no phone)
    sort = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    source = fields.CharField(max_length=16, default="default")  # default | import | admin
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "service_item"
        ordering = ["department_code", "sort", "id"]

    def __str__(self) -> str:
        return self.name
