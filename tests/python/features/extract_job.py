"""A feature extraction run in its own process, for the interruption and CLI tests.

python extract_job.py STORE N BATCH   (MiniLM over N stdlib snippets, two modules)
"""

from __future__ import annotations

import sys

import torch

import attnwidgets as aw
from attnwidgets.features.python_source import python_source_snippets

MODULES = ["encoder.layer.1", "encoder.layer.4"]


def main(store: str, n: int, batch: int) -> None:
    torch.set_num_threads(1)
    model, tokenizer = aw.demo.load_minilm()
    texts, labels = python_source_snippets(n, seed=3, files=40)
    aw.extract(
        model,
        texts,
        MODULES,
        processor=tokenizer,
        labels=labels,
        store=store,
        batch_size=batch,
        progress=False,
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
