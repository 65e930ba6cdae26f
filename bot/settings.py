"""Process settings, loaded once from the environment (prefix ``DESK_``) and a ``.env`` file."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ADMIN_SECRET_HELP = (
    "must be 32 random bytes as 64 hex digits or base64, e.g. the output of "
    "python -c 'import secrets; print(secrets.token_hex(32))'"
)


def decode_key(value: str) -> bytes:
    """A 32-byte key from 64 hex digits or base64 (standard or URL-safe).

    Raises:
        ValueError: anything else.
    """
    text = value.strip()
    key: bytes | None = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        key = bytes.fromhex(text)
    else:
        try:
            key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            key = None
    if key is None or len(key) != 32:
        raise ValueError(ADMIN_SECRET_HELP)
    return key


class Settings(BaseSettings):
    """Every setting of the desk; see the configuration table in README.md."""

    model_config = SettingsConfigDict(
        env_prefix="DESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite://data/desk.sqlite3"
    redis_url: str | None = None
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    auto_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    poll_timeout: int = Field(default=25, ge=0, le=50)
    sender_interval: float = Field(default=0.5, gt=0, le=10)
    # Updates of different chats handled side by side by one worker (PostgreSQL only: SQLite
    # has one connection, and one chat's updates are always handled one after the other).
    inbox_parallel: int = Field(default=8, ge=1, le=32)
    # Answer general questions from the service guide (办事指南) before opening a ticket. On by
    # default: such a question gets the guide's answer first and then the usual draft to 确认,
    # so the core loop's dialog stays as it is; false sends only the draft.
    guide_first: bool = True
    # Who delivers the web chat's sign-in codes, tried in order: ``telegram`` (the contact's own
    # Telegram chat, when it has one) and ``office`` (the screening group, which reads the code
    # to the caller). An SMS gateway would be one more sender (desk.webchat.CodeSender).
    webchat_code_senders: Annotated[tuple[str, ...], NoDecode] = ("telegram", "office")
    scheduler_interval: float = Field(default=60.0, gt=0)
    router_refresh_interval: float = Field(default=10.0, gt=0)
    report_interval: float = Field(default=2.0, gt=0)
    admin_secret: str | None = None
    admin_secure_cookies: bool = False

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError(
                    "must be comma-separated numeric Telegram user ids, e.g. 11111,22222"
                ) from None
        return value

    @field_validator("webchat_code_senders", mode="before")
    @classmethod
    def _split_senders(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(p.strip() for p in value.split(",") if p.strip())
        if isinstance(value, tuple | list):
            unknown = [v for v in value if v not in ("telegram", "office")]
            if unknown or not value:
                raise ValueError(
                    "must be a comma-separated list of telegram, office (e.g. telegram,office)"
                )
            return tuple(value)
        return value

    @field_validator(
        "redis_url",
        "telegram_token",
        "webhook_url",
        "webhook_secret",
        "admin_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _db_scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"sqlite", "postgres", "asyncpg", "psycopg"} or "://" not in value:
            raise ValueError(
                "must be a Tortoise URL such as sqlite://data/desk.sqlite3 or "
                "postgres://user:pass@host:5432/db"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must look like redis://host:6379/0")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("admin_secret")
    @classmethod
    def _admin_secret(cls, value: str | None) -> str | None:
        if value is not None:
            decode_key(value)
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and ":" not in value:
            raise ValueError("does not look like a bot token (expected 123456:ABC…)")
        return value

    @model_validator(mode="after")
    def _webhook_pair(self) -> Settings:
        if self.webhook_url:
            parsed = urlparse(self.webhook_url)
            if parsed.scheme not in {"http", "https"} or not parsed.netloc:
                raise ValueError("DESK_WEBHOOK_URL must be an http(s) URL")
            if not self.webhook_secret:
                raise ValueError("DESK_WEBHOOK_SECRET is required when DESK_WEBHOOK_URL is set")
        return self

    @property
    def telegram_file_url(self) -> str:
        base = self.telegram_api_url
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"

    @property
    def webhook_path(self) -> str | None:
        return (urlparse(self.webhook_url).path or "/") if self.webhook_url else None

    @property
    def admin_secret_key(self) -> bytes | None:
        """The 32-byte key of the admin web's session cookie, or None when not configured."""
        return decode_key(self.admin_secret) if self.admin_secret else None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings() -> Settings:
    """Load and validate settings, or exit with a message naming each bad setting."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = ["配置错误 / invalid settings:"]
        for err in exc.errors():
            loc = "".join(str(x) for x in err["loc"])
            name = f"DESK_{loc.upper()}" if loc else "settings"
            lines.append(f"  {name}: {err['msg']}")
        raise SystemExit("\n".join(lines)) from None
