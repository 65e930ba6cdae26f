"""Build the shipped default model: ``uv run python -m nlp.build``.

This module owns the command that trains the model on the packaged corpus
(``nlp/data/corpus/*.jsonl``) with the default rules and writes it to ``nlp/data/model.bin``.
Run it after every corpus change; a test fails while the shipped model is stale.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from nlp.model import DEFAULT_MODEL_PATH, default_examples
from nlp.train import train_model


def main(argv: list[str] | None = None) -> int:
    """Train on the default corpus and write the model file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args(argv)
    examples = default_examples()
    start = time.perf_counter()
    model = train_model(examples)
    data = model.to_bytes()
    args.out.write_bytes(data)
    print(
        f"wrote {args.out} ({len(data) / 1024:.0f} KiB): version {model.version}, "
        f"{model.trained_on} examples, {len(model.vocabulary)} features, "
        f"{time.perf_counter() - start:.1f} s"
    )
    print(json.dumps(model.params, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
