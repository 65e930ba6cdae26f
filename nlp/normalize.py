"""Text normalisation for routing.

This module owns the canonical form that every rule term, every training example and every
incoming message is reduced to before matching or feature extraction: traditional characters
converted to simplified ones (OpenCC ``t2s``), full-width ASCII folded to half-width, latin
lowercased, emoji, control and zero-width characters removed, runs of repeated punctuation
shortened and whitespace collapsed. Misspellings are rewritten later by the router from the
rules' ``aliases`` (they are editable data, not code).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = ["MAX_CHARS", "normalize", "to_simplified"]

MAX_CHARS = 3000  # longer messages are cut: the request is at the start, the rest is story

_FULLWIDTH_OFFSET = 0xFEE0
_IDEOGRAPHIC_SPACE = "\u3000"
# Unicode categories dropped outright: other symbols (emoji, dingbats), private use,
# surrogates, unassigned, format (zero-width joiners, BOM) and controls.
_DROP_CATEGORIES = frozenset({"So", "Sk", "Co", "Cs", "Cn", "Cf", "Cc"})
_KEEP_CONTROLS = frozenset("\n\t\r")
_WHITESPACE_RE = re.compile(r"\s+")
# Three or more of the same punctuation mark ("！！！", "？？？", "……") become one.
_REPEAT_PUNCT_RE = re.compile(r"([!?.,~。，！？、…~\-_*#=])\1{2,}")


@lru_cache(maxsize=1)
def _converter() -> Any:
    """Return the OpenCC traditional → simplified converter (built once, thread-safe)."""
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters in ``text`` to simplified ones."""
    if not text or text.isascii():
        return text
    return str(_converter().convert(text))


def _fold_char(ch: str) -> str:
    """Return the half-width, lowercase form of one character, or "" to drop it."""
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - _FULLWIDTH_OFFSET).lower()
    if ch == _IDEOGRAPHIC_SPACE:
        return " "
    if ch in _KEEP_CONTROLS:
        return " "
    if code < 0x80:
        return "" if code < 0x20 or code == 0x7F else ch.lower()
    category = unicodedata.category(ch)
    if category in _DROP_CATEGORIES:
        return ""
    if category.startswith("L") and "LATIN" in unicodedata.name(ch, ""):
        return ch.lower()
    return ch


def normalize(text: str | None) -> str:
    """Return the canonical matching form of ``text``.

    Args:
        text: Raw message text; ``None`` is treated as empty. Text beyond
            :data:`MAX_CHARS` characters is ignored.

    Returns:
        Normalised text, possibly empty. Chinese characters are simplified; Chinese
        punctuation other than the full-width ASCII block is kept as it is.
    """
    if not text:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text[:MAX_CHARS]
    folded = "".join(_fold_char(ch) for ch in text)
    folded = to_simplified(folded)
    folded = _REPEAT_PUNCT_RE.sub(r"\1", folded)
    return _WHITESPACE_RE.sub(" ", folded).strip()
