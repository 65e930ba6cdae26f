"""Validation of what enterprises type in: credit codes, mobile numbers, names."""

from __future__ import annotations

import re

from .errors import InvalidInput

# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def uscc_check_char(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a credit code."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def normalize_uscc(raw: str) -> str:
    """Validate a 统一社会信用代码 and return it upper-cased.

    Raises:
        InvalidInput: wrong length, a character outside the alphabet, or a wrong check digit.
    """
    code = re.sub(r"[\s-]", "", raw.upper().translate(_FULLWIDTH))
    if len(code) != 18:
        raise InvalidInput(f"统一社会信用代码应为18位，您输入的是{len(code)}位。")
    bad = sorted({c for c in code if c not in _USCC_ALPHABET})
    if bad:
        raise InvalidInput(
            f"统一社会信用代码含有无效字符：{''.join(bad)}（不使用 I、O、S、V、Z）。"
        )
    if uscc_check_char(code[:17]) != code[17]:
        raise InvalidInput("统一社会信用代码校验位不正确，请核对后重新输入。")
    return code


def normalize_mobile(raw: str) -> str:
    """Validate a mainland mobile number (optionally +86) and return its 11 digits.

    Raises:
        InvalidInput: when it is not an 11-digit mobile number starting with 13–19.
    """
    digits = re.sub(r"[\s\-()（）]", "", raw.translate(_FULLWIDTH))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.match(digits):
        raise InvalidInput("手机号码格式不正确，请输入11位手机号，例如 13812345678。")
    return digits


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """Remove control characters (NUL breaks PostgreSQL text), keeping newlines and tabs."""
    return _CONTROLS.sub("", text)


def clean_name(raw: str, *, what: str, min_len: int = 2, max_len: int = 64) -> str:
    """Trim a name (company or person) and check its length.

    Raises:
        InvalidInput: too short, too long, or a command instead of a name.
    """
    name = " ".join(strip_controls(raw).split())
    if name.startswith("/"):
        raise InvalidInput(f"请直接输入{what}，不要以 / 开头。")
    if not min_len <= len(name) <= max_len:
        raise InvalidInput(f"{what}长度应在{min_len}到{max_len}个字之间。")
    return name


def mask_phone(phone: str) -> str:
    """138****5678: for groups and lists, where personal data stays masked."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def mask_name(name: str) -> str:
    """张** / 欧阳** : keep the surname only."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


_FULLWIDTH = (
    {0xFF10 + i: 0x30 + i for i in range(10)}
    | {0xFF21 + i: 0x41 + i for i in range(26)}
    | {0xFF0B: 0x2B, 0x3000: 0x20, 0xFF0D: 0x2D, 0xFF08: 0x28, 0xFF09: 0x29}
)
