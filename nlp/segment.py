"""Chinese word segmentation with the project's domain dictionary.

This module owns the jieba tokenizer used by routing. It never touches jieba's global
tokenizer: each :class:`Segmenter` wraps a private ``jieba.Tokenizer`` that is initialised
lazily on first use and extended with ``nlp/data/domain_dict.txt`` (government-service terms
such as 营业执照, 出口退税, FT账户) plus any extra words the caller supplies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import jieba

from nlp.normalize import normalize

__all__ = ["DOMAIN_DICT_PATH", "Segmenter", "default_segmenter", "segment"]

DOMAIN_DICT_PATH = Path(__file__).resolve().parent / "data" / "domain_dict.txt"

# jieba logs "Building prefix dict..." at DEBUG/INFO on its own logger; keep it quiet.
jieba.setLogLevel(logging.WARNING)


class Segmenter:
    """A lazily initialised private jieba tokenizer with the domain dictionary loaded."""

    def __init__(
        self,
        *,
        dict_path: Path | None = DOMAIN_DICT_PATH,
        extra_words: Iterable[str] = (),
    ) -> None:
        self._dict_path = dict_path
        self._extra_words = tuple(w for w in extra_words if w)
        self._tokenizer: jieba.Tokenizer | None = None
        self._lock = threading.Lock()

    def _get(self) -> jieba.Tokenizer:
        tokenizer = self._tokenizer
        if tokenizer is not None:
            return tokenizer
        with self._lock:
            if self._tokenizer is None:
                tok = jieba.Tokenizer()
                tok.initialize()
                if self._dict_path is not None and self._dict_path.exists():
                    tok.load_userdict(str(self._dict_path))
                for word in self._extra_words:
                    tok.add_word(word)
                self._tokenizer = tok
            return self._tokenizer

    def cut(self, text: str, *, normalized: bool = False) -> list[str]:
        """Segment ``text`` into tokens, dropping pure whitespace.

        Args:
            text: The text to segment.
            normalized: Set when ``text`` already went through :func:`normalize`.

        Returns:
            The tokens in order (precise mode, HMM on for unknown words).
        """
        clean = text if normalized else normalize(text)
        if not clean:
            return []
        return [t for t in self._get().lcut(clean, HMM=True) if t.strip()]

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """Segment already normalised ``text`` into ``(token, start, end)`` offsets.

        Whitespace tokens are kept so that offsets always index into ``text``.
        """
        if not text:
            return []
        return [(w, int(a), int(b)) for w, a, b in self._get().tokenize(text, HMM=True)]


@lru_cache(maxsize=1)
def default_segmenter() -> Segmenter:
    """Return the shared segmenter with only the domain dictionary loaded."""
    return Segmenter()


def segment(text: str) -> list[str]:
    """Segment ``text`` with the default segmenter (normalising it first)."""
    return default_segmenter().cut(text)
