"""The learned text model: training examples, the model object and its byte format.

This module owns :class:`Example` (one labelled message), the project's packaged corpus
(``nlp/data/corpus/*.jsonl``, read by :func:`default_examples`), its content hash, and
:class:`TextModel`: TF-IDF weighting (sublinear term frequency, smoothed idf, L2 norm) of the
features from :mod:`nlp.features` and three linear heads (department, request type, urgency)
plus the small blend parameters that combine them with the keyword rules (see
:mod:`nlp.train`). Prediction needs only numpy; scikit-learn is needed for training only.

The byte format is a compressed ``.npz`` archive (no pickle): the arrays ``idf``, ``weights``
and ``bias`` and a JSON ``meta`` record (format, vocabulary, class lists, blend parameters,
version, training size and data hash).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from nlp.features import extract_features

__all__ = [
    "CORPUS_DIR",
    "DEFAULT_MODEL_PATH",
    "Example",
    "ModelOutput",
    "TextModel",
    "default_examples",
    "examples_hash",
    "load_examples",
]

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
CORPUS_DIR: Final = DATA_DIR / "corpus"
DEFAULT_MODEL_PATH: Final = DATA_DIR / "model.bin"
FORMAT: Final = "teda-nlp-model/1"


@dataclass(frozen=True)
class Example:
    """One labelled message for training.

    Attributes:
        text: The message as the enterprise wrote it.
        department: Code of the department that should handle it.
        type: Request type (one of :data:`nlp.REQUEST_TYPES`), when known.
        urgent: Whether it is urgent, when known.
    """

    text: str
    department: str
    type: str | None = None
    urgent: bool | None = None


def load_examples(lines: Iterable[str]) -> list[Example]:
    """Read examples from JSON lines with ``text``, ``department`` and optional labels."""
    examples: list[Example] = []
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        urgent = row.get("urgent")
        examples.append(
            Example(
                text=str(row["text"]),
                department=str(row["department"]),
                type=row.get("type") or None,
                urgent=None if urgent is None else bool(urgent),
            )
        )
    return examples


def default_examples(corpus_dir: Path = CORPUS_DIR) -> list[Example]:
    """Return the project's own training corpus (every ``*.jsonl`` file, sorted by name)."""
    examples: list[Example] = []
    for path in sorted(corpus_dir.glob("*.jsonl")):
        examples.extend(load_examples(path.read_text(encoding="utf-8").splitlines()))
    return examples


def examples_hash(examples: Iterable[Example]) -> str:
    """Return a content hash of ``examples`` (order-sensitive, hex SHA-256)."""
    digest = hashlib.sha256()
    for ex in examples:
        record = [ex.text, ex.department, ex.type, ex.urgent]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelOutput:
    """Raw head outputs of :class:`TextModel` for one message."""

    departments: Mapping[str, float]
    types: Mapping[str, float] = field(default_factory=dict)
    urgent: float | None = None
    known_features: int = 0


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return np.asarray(e / e.sum())


class TextModel:
    """A trained TF-IDF + linear model with its blend parameters.

    Build one with :func:`nlp.train.train_model` or :meth:`from_bytes`.

    Attributes:
        version: Data hash prefix and training time, e.g. ``"3f2a9c1b0d7e@20261129T0312Z"``.
        trained_on: Number of examples used.
        data_hash: :func:`examples_hash` of the training examples.
        departments: Department codes of the department head, in column order.
        types: Request types of the type head (empty when trained without types).
        params: Blend parameters and thresholds (see :mod:`nlp.train`).
    """

    def __init__(
        self,
        *,
        vocabulary: Sequence[str],
        idf: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        departments: Sequence[str],
        types: Sequence[str],
        has_urgent: bool,
        params: Mapping[str, Any],
        version: str,
        trained_on: int,
        data_hash: str,
    ) -> None:
        self.vocabulary: tuple[str, ...] = tuple(vocabulary)
        self._index: dict[str, int] = {f: i for i, f in enumerate(self.vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float32)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.departments: tuple[str, ...] = tuple(departments)
        self.types: tuple[str, ...] = tuple(types)
        self.has_urgent = has_urgent
        self.params: dict[str, Any] = dict(params)
        self.version = version
        self.trained_on = trained_on
        self.data_hash = data_hash
        width = len(self.departments) + len(self.types) + int(has_urgent)
        if self.weights.shape != (len(self.vocabulary), width) or self.bias.shape != (width,):
            raise ValueError("model arrays do not match its vocabulary and classes")
        if self.idf.shape != (len(self.vocabulary),):
            raise ValueError("idf does not match the vocabulary")

    def __repr__(self) -> str:
        return (
            f"TextModel(version={self.version!r}, trained_on={self.trained_on}, "
            f"features={len(self.vocabulary)})"
        )

    def vectorize(self, text: str, tokens: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return the TF-IDF vector of normalised ``text`` as ``(indices, values)``."""
        index = self._index
        ids: list[int] = []
        counts: list[float] = []
        for feature, count in extract_features(text, tokens).items():
            i = index.get(feature)
            if i is not None:
                ids.append(i)
                counts.append(count)
        if not ids:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        idx = np.asarray(ids, dtype=np.intp)
        values = (1.0 + np.log(np.asarray(counts, dtype=np.float32))) * self.idf[idx]
        norm = float(np.sqrt(np.dot(values, values)))
        return idx, values / norm if norm > 0 else values

    def logits(self, text: str, tokens: Iterable[str]) -> tuple[np.ndarray, int]:
        """Return the raw scores of all heads and the number of known features."""
        idx, values = self.vectorize(text, tokens)
        if len(idx) == 0:
            return self.bias.copy(), 0
        return values @ self.weights[idx] + self.bias, len(idx)

    def predict(self, text: str, tokens: Iterable[str]) -> ModelOutput:
        """Return the head probabilities for normalised ``text`` segmented into ``tokens``."""
        z, known = self.logits(text, tokens)
        n_dep, n_type = len(self.departments), len(self.types)
        p_dep = _softmax(z[:n_dep])
        p_type = _softmax(z[n_dep : n_dep + n_type]) if n_type else np.zeros(0)
        urgent = None
        if self.has_urgent:
            u = float(z[n_dep + n_type])
            urgent = 1.0 / (1.0 + math.exp(-max(min(u, 50.0), -50.0)))
        return ModelOutput(
            departments=dict(zip(self.departments, p_dep.tolist(), strict=True)),
            types=dict(zip(self.types, p_type.tolist(), strict=True)),
            urgent=urgent,
            known_features=known,
        )

    def to_bytes(self) -> bytes:
        """Serialise the model (compressed npz with a JSON record; no pickle)."""
        meta = {
            "format": FORMAT,
            "vocabulary": list(self.vocabulary),
            "departments": list(self.departments),
            "types": list(self.types),
            "has_urgent": self.has_urgent,
            "params": self.params,
            "version": self.version,
            "trained_on": self.trained_on,
            "data_hash": self.data_hash,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), np.uint8),
            idf=self.idf,
            weights=self.weights,
            bias=self.bias,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TextModel:
        """Load a model written by :meth:`to_bytes`.

        Raises:
            ValueError: ``data`` is not a model in a format this code understands.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
                idf, weights, bias = archive["idf"], archive["weights"], archive["bias"]
        except Exception as exc:  # zipfile, KeyError, JSON, ... all mean "not a model"
            raise ValueError(f"not a teda-desk model: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"unsupported model format {meta.get('format')!r}")
        return cls(
            vocabulary=meta["vocabulary"],
            idf=idf,
            weights=weights,
            bias=bias,
            departments=meta["departments"],
            types=meta["types"],
            has_urgent=bool(meta["has_urgent"]),
            params=meta["params"],
            version=str(meta["version"]),
            trained_on=int(meta["trained_on"]),
            data_hash=str(meta["data_hash"]),
        )
