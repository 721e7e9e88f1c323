"""ImageAttentionView and PatchingView, created, used, closed and dropped: collected with the
records they held (the observers and message handler they register hold no cycle that
survives ``close()``)."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from attnwidgets.records import AttentionRecord
from attnwidgets.vision_records import VisionInfo
from attnwidgets.widgets.vision.image_attention import ImageAttentionView
from attnwidgets.widgets.vision.patching import PatchingView


def test_vision_views_are_collected_after_close():
    info = VisionInfo.build("vit", np.zeros((32, 32, 3), np.uint8), (4, 4), (8, 8), ["[CLS]"])
    record = AttentionRecord([np.full((2, 17, 17), 1 / 17, np.float32)] * 3)
    view = ImageAttentionView(record, info=info, overlay="rollout")
    view.send = lambda content, buffers=None: None  # type: ignore[method-assign]
    view._handle_custom_msg({"type": "request_layer", "id": 1, "layer": 2}, [])
    view.discard_ratio = 0.5
    patching = PatchingView(info, np.ones((4, 4, 3)), np.eye(16))
    refs = [weakref.ref(view), weakref.ref(patching), weakref.ref(record)]
    view.close()
    patching.close()
    del view, patching, record
    gc.collect()
    assert [ref() is None for ref in refs] == [True, True, True]
