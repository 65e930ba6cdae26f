"""Multi-term substring matching with Aho-Corasick.

This module owns the scan that finds every occurrence of a fixed set of terms in a text in
one pass: a ``pyahocorasick`` automaton (a project dependency). A plain character-trie scan
with identical results remains as a fallback and as the reference the tests compare against.
:func:`maximal_hits` then applies the rules' semantics that a longer matched term hides the
terms nested inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

try:  # a dependency; the fallback keeps a broken install usable
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - depends on the environment
    _ahocorasick = None

__all__ = ["Hit", "TermMatcher", "maximal_hits"]

_END = ""  # key marking the end of a term in the trie (never a real character)


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a term: ``text[start:end] == term``."""

    term: str
    start: int
    end: int


class TermMatcher:
    """Finds all occurrences of a fixed set of terms in a text."""

    def __init__(self, terms: Iterable[str], *, use_accelerator: bool = True) -> None:
        self._terms = frozenset(t for t in terms if t)
        self._trie: dict[str, Any] = {}
        self._automaton: Any = None
        if use_accelerator and _ahocorasick is not None and self._terms:
            automaton = _ahocorasick.Automaton()
            for term in self._terms:
                automaton.add_word(term, term)
            automaton.make_automaton()
            self._automaton = automaton
        else:
            for term in self._terms:
                node = self._trie
                for ch in term:
                    node = node.setdefault(ch, {})
                node[_END] = term

    @property
    def terms(self) -> frozenset[str]:
        """The terms this matcher looks for."""
        return self._terms

    def find(self, text: str) -> list[Hit]:
        """Return every occurrence of every term, ordered by start then length."""
        if not text or not self._terms:
            return []
        hits: list[Hit] = []
        if self._automaton is not None:
            for end_index, term in self._automaton.iter(text):
                end = end_index + 1
                hits.append(Hit(term, end - len(term), end))
        else:
            root = self._trie
            length = len(text)
            for start in range(length):
                node = root.get(text[start])
                pos = start + 1
                while node is not None:
                    term = node.get(_END)
                    if term is not None:
                        hits.append(Hit(term, start, pos))
                    if pos >= length:
                        break
                    node = node.get(text[pos])
                    pos += 1
        hits.sort(key=lambda h: (h.start, h.end))
        return hits


def maximal_hits(hits: Iterable[Hit]) -> list[Hit]:
    """Drop hits whose span lies inside the span of a longer hit.

    Overlapping hits that are not nested are both kept. ``社保费`` thus hides ``社保`` at the same
    place, while ``社保`` elsewhere in the text still counts.
    """
    ordered = sorted(hits, key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[Hit] = []
    max_end = -1
    for hit in ordered:
        if hit.end <= max_end:
            continue  # nested in an earlier, at least as long hit
        kept.append(hit)
        max_end = hit.end
    return kept
