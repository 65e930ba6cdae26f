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


# ---------------------------------------------------------------- uploads

UPLOAD_MAX_BYTES = 20 * 1024 * 1024  # what a bot may download (getFile): staff must open it
# Materials enterprises send: scans and photos, office and WPS documents, OFD e-invoices, PDFs,
# spreadsheets, and archives of those. Programs and scripts are refused.
UPLOAD_EXTENSIONS = frozenset(
    """
    pdf ofd doc docx wps xls xlsx et csv ppt pptx dps txt rtf odt ods odp
    jpg jpeg png gif bmp webp heic heif tif tiff
    zip rar 7z
    """.split()
)
_UPLOAD_MIME_PREFIXES = ("image/", "text/plain", "text/csv")
_UPLOAD_MIMES = frozenset(
    """
    application/pdf application/ofd application/msword application/vnd.ms-excel
    application/vnd.ms-powerpoint application/rtf application/zip application/x-zip-compressed
    application/vnd.rar application/x-rar-compressed application/x-7z-compressed
    application/wps-office.doc application/wps-office.xls application/kswps application/kset
    """.split()
)


def check_upload(file: dict[str, object]) -> None:
    """Refuse a file that is too large or of a type the desk does not take.

    Args:
        file: what the channel knows of it: ``kind`` (photo or document), and when known
            ``name``, ``mime`` and ``size`` (bytes).

    Raises:
        InvalidInput: too large, or not a document type enterprises send as material.
    """
    size = file.get("size")
    if isinstance(size, int) and size > UPLOAD_MAX_BYTES:
        raise InvalidInput(
            f"文件过大（{size / 1024 / 1024:.1f} MB），单个文件请不超过 "
            f"{UPLOAD_MAX_BYTES // 1024 // 1024} MB；可压缩或分几次发送。"
        )
    if file.get("kind") == "photo":
        return
    name = str(file.get("name") or "")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    mime = str(file.get("mime") or "").lower()
    if ext:
        ok = ext in UPLOAD_EXTENSIONS
    else:  # no file name: judge by the declared type
        ok = (
            mime in _UPLOAD_MIMES
            or mime.startswith(_UPLOAD_MIME_PREFIXES)
            or (mime.startswith("application/vnd.openxmlformats-officedocument."))
        )
    if not ok:
        raise InvalidInput(
            f"不支持的文件类型{f'（.{ext}）' if ext else ''}。请发送图片、PDF、OFD、Word、Excel、"
            "PPT、WPS 文档或 zip/rar 压缩包。"
        )
