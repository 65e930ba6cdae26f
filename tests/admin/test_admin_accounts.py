"""``desk user add``, the first-run hint, the admin session key setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from admin.auth import verify_password
from bot import db
from bot.settings import Settings, decode_key
from models.webuser import WebUser

DESK = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def desk(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DESK, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )


def test_user_add_and_first_run_hint(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'desk.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env["DESK_DATABASE_URL"] = url
    first = desk(["init"], env)
    assert first.returncode == 0, first.stderr
    assert "desk user add NAME --role admin" in first.stdout  # no admin yet: the hint

    made = desk(
        ["user", "add", "chief", "--role", "admin", "--password-stdin"], env, "s3cret-pass\n"
    )
    assert made.returncode == 0, made.stderr
    assert "chief created (role admin)" in made.stdout
    again = desk(["init"], env)
    assert "desk user add" not in again.stdout  # an admin exists: no hint

    staff = desk(
        ["user", "add", "li", "--role", "staff", "--dept", "tax", "--password-stdin"],
        env,
        "another-pass\n",
    )
    assert staff.returncode == 0, staff.stderr
    refusals = [
        (["user", "add", "chief", "--role", "admin"], "s3cret-pass\n", "已存在"),
        (["user", "add", "wang", "--role", "staff"], "s3cret-pass\n", "--dept"),
        (["user", "add", "zhao", "--role", "office"], "short\n", "至少 8"),
        (["user", "add", "qian", "--role", "staff", "--dept", "NOPE"], "s3cret-pass\n", "NOPE"),
    ]
    for args, stdin, words in refusals:
        out = desk([*args, "--password-stdin"], env, stdin)
        assert out.returncode != 0 and words in out.stderr, (args, out.stderr)
    no_tty = desk(["user", "add", "sun", "--role", "office"], env, "")
    assert no_tty.returncode != 0 and "--password-stdin" in no_tty.stderr
    # Accounts made from the shell are in the audit log (no password in it).
    import sqlite3

    with sqlite3.connect(tmp_path / "desk.sqlite3") as conn:
        logged = conn.execute(
            "SELECT actor, action, target, data FROM audit_entry ORDER BY id"
        ).fetchall()
    assert [row[:3] for row in logged] == [
        ("shell", "user.create", "chief"),
        ("shell", "user.create", "li"),
    ]
    assert all("pass" not in row[3] for row in logged)


async def test_created_users_hold_an_argon2_hash(tmp_path: Path) -> None:
    from admin.auth import create_user

    url = f"sqlite://{tmp_path / 'desk.sqlite3'}"
    await db.connect(url)
    try:
        await db.prepare(url)
        await create_user("boss", "long-enough-1", role="manager")
        user = await WebUser.get(username="boss")
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, "long-enough-1")
        assert not verify_password(user.password_hash, "long-enough-2")
        assert user.active and user.last_login is None and user.department_code is None
    finally:
        await db.close()


def test_admin_secret_accepts_hex_and_base64_of_32_bytes() -> None:
    key = bytes(range(32))
    assert decode_key(key.hex()) == key
    import base64

    assert decode_key(base64.b64encode(key).decode()) == key
    assert decode_key(base64.urlsafe_b64encode(key).decode()) == key
    for bad in ("abcd", "zz" * 32, base64.b64encode(b"x" * 16).decode()):
        with pytest.raises(ValueError):
            decode_key(bad)
    settings = Settings(admin_secret=key.hex(), _env_file=None)  # type: ignore[call-arg]
    assert settings.admin_secret_key == key
    assert Settings(admin_secret="", _env_file=None).admin_secret_key is None  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="32 random bytes"):
        Settings(admin_secret="nope", _env_file=None)  # type: ignore[call-arg]
