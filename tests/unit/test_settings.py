"""Process settings: defaults, parsing, validation, and the exit message of load_settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DESK_ setting from the outer environment, and no .env file in the working dir."""
    for name in list(os.environ):
        if name.startswith("DESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = Settings()
    assert s.database_url == "sqlite://data/desk.sqlite3"
    assert s.redis_url is None
    assert s.telegram_token is None
    assert s.telegram_api_url == "https://api.telegram.org/bot"
    assert s.webhook_url is None and s.webhook_secret is None
    assert s.webhook_path is None
    assert s.admin_ids == frozenset()
    assert s.http_host == "127.0.0.1" and s.http_port == 8080
    assert s.timezone == "Asia/Shanghai" and s.tz.key == "Asia/Shanghai"
    assert s.auto_threshold is None
    assert s.poll_timeout == 25


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("1, 2,3", {1, 2, 3}),
        ("11111", {11111}),
        (" 7 ;8 ", {7, 8}),
        ("5,5,", {5}),
        ("", set()),
        ("  ", set()),
    ],
)
def test_admin_ids_parsed(monkeypatch: pytest.MonkeyPatch, raw: str, ids: set[int]) -> None:
    monkeypatch.setenv("DESK_ADMIN_IDS", raw)
    assert Settings().admin_ids == frozenset(ids)


@pytest.mark.parametrize("raw", ["1,abc", "alice", "1.5", "[1,2]"])
def test_bad_admin_ids(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("DESK_ADMIN_IDS", raw)
    with pytest.raises(ValidationError) as info:
        Settings()
    text = str(info.value)
    assert "admin_ids" in text
    assert "comma-separated numeric Telegram user ids" in text


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DESK_ADMIN_IDS=9,10\nDESK_HTTP_PORT=9000\n", "utf-8")
    s = Settings()
    assert s.admin_ids == frozenset({9, 10})
    assert s.http_port == 9000


def test_environment_beats_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DESK_HTTP_PORT=9000\n", "utf-8")
    monkeypatch.setenv("DESK_HTTP_PORT", "9100")
    assert Settings().http_port == 9100


def test_webhook_requires_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_WEBHOOK_URL", "https://desk.example.com/tg/hook")
    with pytest.raises(ValidationError, match="DESK_WEBHOOK_SECRET is required"):
        Settings()
    monkeypatch.setenv("DESK_WEBHOOK_SECRET", "   ")  # blank is no secret
    with pytest.raises(ValidationError, match="DESK_WEBHOOK_SECRET is required"):
        Settings()
    monkeypatch.setenv("DESK_WEBHOOK_SECRET", "s3cret")
    s = Settings()
    assert s.webhook_path == "/tg/hook"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://desk.example.com/tg/hook", "/tg/hook"),
        ("https://desk.example.com", "/"),
        ("http://127.0.0.1:8080/webhook?x=1", "/webhook"),
    ],
)
def test_webhook_path(monkeypatch: pytest.MonkeyPatch, url: str, path: str) -> None:
    monkeypatch.setenv("DESK_WEBHOOK_URL", url)
    monkeypatch.setenv("DESK_WEBHOOK_SECRET", "s3cret")
    assert Settings().webhook_path == path


@pytest.mark.parametrize("url", ["ftp://desk.example.com/hook", "desk.example.com/hook"])
def test_webhook_url_must_be_http(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DESK_WEBHOOK_URL", url)
    monkeypatch.setenv("DESK_WEBHOOK_SECRET", "s3cret")
    with pytest.raises(ValidationError, match="http"):
        Settings()


def test_empty_optional_urls_are_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_REDIS_URL", "")
    monkeypatch.setenv("DESK_WEBHOOK_URL", " ")
    monkeypatch.setenv("DESK_TELEGRAM_TOKEN", "")
    s = Settings()
    assert s.redis_url is None and s.webhook_url is None and s.telegram_token is None


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://data/desk.sqlite3",
        "sqlite://:memory:",
        "postgres://desk:pw@db:5432/desk",
        "asyncpg://desk@127.0.0.1/desk",
        "psycopg://desk@127.0.0.1/desk",
    ],
)
def test_good_database_urls(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DESK_DATABASE_URL", url)
    assert Settings().database_url == url


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@localhost/desk",
        "data/desk.sqlite3",
        "sqlite:data/desk.sqlite3",
        "postgresql+asyncpg://x@y/z",
        "",
    ],
)
def test_bad_database_urls(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DESK_DATABASE_URL", url)
    with pytest.raises(ValidationError, match="Tortoise URL"):
        Settings()


def test_bad_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ValidationError, match="redis://"):
        Settings()
    monkeypatch.setenv("DESK_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert Settings().redis_url == "redis://127.0.0.1:6379/0"


def test_bad_token_and_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_TELEGRAM_TOKEN", "not-a-token")
    with pytest.raises(ValidationError, match="bot token"):
        Settings()
    monkeypatch.setenv("DESK_TELEGRAM_TOKEN", "123456:ABC-def")
    monkeypatch.setenv("DESK_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings()


@pytest.mark.parametrize(
    ("api", "file_url"),
    [
        ("https://api.telegram.org/bot", "https://api.telegram.org/file/bot"),
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/file/bot"),
    ],
)
def test_telegram_file_url(monkeypatch: pytest.MonkeyPatch, api: str, file_url: str) -> None:
    monkeypatch.setenv("DESK_TELEGRAM_API_URL", api)
    assert Settings().telegram_file_url == file_url


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DESK_HTTP_PORT", "0"),
        ("DESK_HTTP_PORT", "70000"),
        ("DESK_AUTO_THRESHOLD", "1.5"),
        ("DESK_POLL_TIMEOUT", "51"),
        ("DESK_SENDER_INTERVAL", "0"),
    ],
)
def test_numeric_ranges(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_load_settings_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_ADMIN_IDS", "1,2")
    assert load_settings().admin_ids == frozenset({1, 2})


def test_load_settings_exits_naming_each_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_ADMIN_IDS", "1,x")
    monkeypatch.setenv("DESK_DATABASE_URL", "mysql://root@localhost/desk")
    monkeypatch.setenv("DESK_HTTP_PORT", "99999")
    with pytest.raises(SystemExit) as info:
        load_settings()
    message = str(info.value.code)
    assert message.startswith("配置错误")
    assert "DESK_ADMIN_IDS:" in message
    assert "DESK_DATABASE_URL:" in message
    assert "DESK_HTTP_PORT:" in message
    assert "comma-separated numeric Telegram user ids" in message


def test_load_settings_exit_for_webhook_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_WEBHOOK_URL", "https://desk.example.com/hook")
    with pytest.raises(SystemExit) as info:
        load_settings()
    assert "DESK_WEBHOOK_SECRET" in str(info.value.code)
