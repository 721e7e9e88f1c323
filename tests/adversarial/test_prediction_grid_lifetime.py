"""aw.PredictionGrid, created, clicked (an attention view opened, then replaced), closed and
dropped: the grid, its view, both attention views and the images they hold are collected
(the opener, observers and message handlers hold no cycle that survives ``close()``)."""

from __future__ import annotations

import gc
import weakref

import numpy as np

import attnwidgets as aw


def test_prediction_grid_and_its_attention_views_are_collected_after_close():
    model, processor, images, labels = aw.demo.load_fashion_vit(limit=16)
    images = np.ascontiguousarray(images)
    grid = aw.PredictionGrid(model, processor, images, labels)
    grid.grid.send = lambda content, buffers=None: None  # type: ignore[method-assign]
    grid.grid._handle_custom_msg({"type": "open", "id": 1, "index": 2}, [])
    first = grid.attention
    grid.grid._handle_custom_msg({"type": "open", "id": 2, "index": 5}, [])
    refs = [weakref.ref(x) for x in (grid, grid.grid, first, grid.attention, grid.probabilities)]
    grid.close()
    del grid, first
    gc.collect()
    alive = [ref() for ref in refs if ref() is not None]
    assert not alive, [type(x).__name__ for x in alive]
