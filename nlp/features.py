"""Sparse text features for the learned model.

This module owns the one feature function used both when training and when routing, so the
two can never drift apart: character 1–3-grams inside runs of Chinese characters, latin letters
and digits (digits folded to ``0``), plus jieba words of two or more characters (prefixed
``w:``) from the project segmenter. Input is text already passed through
:func:`nlp.normalize.normalize`; counts are returned, weighting is the model's business.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

__all__ = ["MAX_NGRAM", "extract_features", "word_tokens"]

MAX_NGRAM = 3
_CHUNK_RE = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_DIGITS = str.maketrans("0123456789", "0000000000")


def word_tokens(tokens: Iterable[str]) -> list[str]:
    """Return the word features (``w:<token>``) for jieba tokens."""
    return [
        "w:" + t.translate(_DIGITS)
        for t in tokens
        if len(t) >= 2 and _CHUNK_RE.fullmatch(t) is not None
    ]


def extract_features(text: str, tokens: Iterable[str]) -> Counter[str]:
    """Count the features of normalised ``text`` segmented into ``tokens``."""
    counts: Counter[str] = Counter()
    for chunk in _CHUNK_RE.findall(text.translate(_DIGITS)):
        length = len(chunk)
        for n in range(1, MAX_NGRAM + 1):
            for i in range(length - n + 1):
                counts[chunk[i : i + n]] += 1
    counts.update(word_tokens(tokens))
    return counts
