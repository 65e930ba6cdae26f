"""Accounts of the admin web: argon2 password hashes, login throttling, user creation.

The throttle lives in the database (``web_login_failure``), so it holds across processes and
restarts: ``MAX_FAILURES`` failed logins for one username from one address within ``WINDOW``
lock that pair out until the oldest failure leaves the window.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from desk.errors import InvalidInput
from models.department import Department
from models.webuser import LoginFailure, WebRole, WebUser

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)
THROTTLED = "登录失败次数过多，请 15 分钟后再试。"
BAD_LOGIN = "用户名或密码错误。"
MIN_PASSWORD = 8
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{2,64}")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username does not exist, so both cases cost the same time.

    Made on the first failed login, not at import: an argon2 hash takes 0.15–0.3 s and about
    10 MB, which every worker would pay at start-up.
    """
    return _hasher.hash("teda-desk-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginResult:
    user: WebUser | None
    error: str | None = None


async def _failures(username: str, ip: str, now: dt.datetime) -> int:
    return await LoginFailure.filter(username=username, ip=ip, at__gte=now - WINDOW).count()


async def authenticate(username: str, password: str, *, ip: str, now: dt.datetime) -> LoginResult:
    """Check a login; count failures per username and address; refuse while throttled."""
    username = username.strip()[:64]
    ip = ip[:64]
    if await _failures(username, ip, now) >= MAX_FAILURES:
        return LoginResult(None, THROTTLED)
    user = await WebUser.get_or_none(username=username, active=True) if username else None
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if not ok or user is None:
        await LoginFailure.create(username=username, ip=ip, at=now)
        await LoginFailure.filter(at__lt=now - dt.timedelta(days=1)).delete()
        if await _failures(username, ip, now) >= MAX_FAILURES:
            return LoginResult(None, THROTTLED)
        return LoginResult(None, BAD_LOGIN)
    await LoginFailure.filter(username=username, ip=ip).delete()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login = now
    await user.save(update_fields=["password_hash", "last_login"])
    return LoginResult(user)


async def create_user(
    username: str, password: str, *, role: str, department_code: str | None = None
) -> WebUser:
    """Create an admin-web account (``desk user add``).

    Raises:
        InvalidInput: a bad username, role or department, a short password, a taken name.
    """
    if not _USERNAME.fullmatch(username):
        raise InvalidInput("用户名须为 2–64 个字母、数字或 _ . @ - 字符。")
    try:
        web_role = WebRole(role)
    except ValueError:
        raise InvalidInput("角色须为 " + "、".join(r.value for r in WebRole) + " 之一。") from None
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD} 个字符。")
    code = department_code.upper() if department_code else None
    if web_role == WebRole.STAFF and not code:
        raise InvalidInput("staff 角色须用 --dept 指定所属部门代码。")
    if code and not await Department.exists(code=code, active=True):
        raise InvalidInput(f"没有代码为 {code} 的部门。")
    if await WebUser.exists(username=username):
        raise InvalidInput(f"用户 {username} 已存在。")
    return await WebUser.create(
        username=username,
        password_hash=hash_password(password),
        role=web_role.value,
        department_code=code,
    )


async def has_admin() -> bool:
    return await WebUser.exists(role=WebRole.ADMIN.value, active=True)


FIRST_ADMIN_HINT = (
    "管理后台尚无管理员账号 / no admin-web account yet. Create the first one with:\n"
    "  desk user add NAME --role admin\n"
    "then log in at http://HOST:PORT/admin/"
)
