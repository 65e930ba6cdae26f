"""Text normalisation for routing.

This module owns the canonical form that every rule term and every incoming message is reduced
to before matching: full-width ASCII folded to half-width, latin lowercased, emoji, control and
zero-width characters removed, runs of repeated punctuation shortened and whitespace collapsed.
It is pure and has no dependencies beyond the standard library.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize"]

_FULLWIDTH_OFFSET = 0xFEE0
_IDEOGRAPHIC_SPACE = "\u3000"
# Unicode categories dropped outright: other symbols (emoji, dingbats), private use,
# surrogates, unassigned, format (zero-width joiners, BOM) and controls.
_DROP_CATEGORIES = frozenset({"So", "Sk", "Co", "Cs", "Cn", "Cf", "Cc"})
_KEEP_CONTROLS = frozenset("\n\t\r")
_WHITESPACE_RE = re.compile(r"\s+")
# Three or more of the same punctuation mark ("！！！", "？？？", "……") become one.
_REPEAT_PUNCT_RE = re.compile(r"([!?.,~。，！？、…~\-_*#=])\1{2,}")


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
        return ch.lower()
    category = unicodedata.category(ch)
    if category in _DROP_CATEGORIES:
        return ""
    if category.startswith("L") and ch.isascii() is False and "LATIN" in unicodedata.name(ch, ""):
        return ch.lower()
    return ch


def normalize(text: str | None) -> str:
    """Return the canonical matching form of ``text``.

    Args:
        text: Raw message text; ``None`` is treated as empty.

    Returns:
        Normalised text, possibly empty. Chinese characters and Chinese punctuation
        other than the full-width ASCII block are kept as they are.
    """
    if not text:
        return ""
    folded = "".join(_fold_char(ch) for ch in text)
    folded = _REPEAT_PUNCT_RE.sub(r"\1", folded)
    return _WHITESPACE_RE.sub(" ", folded).strip()
