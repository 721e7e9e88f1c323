"""DualEncoderView: a dual encoder's (CLIP / SigLIP) text prompts against each patch of an
image (numpy + traitlets, no torch).

Each prompt's cosine similarity to every patch in the joint space is drawn over the image
(one prompt large, every prompt as a thumbnail), beside the zero-shot scores as bars: CLIP's
softmax over the prompts of ``logit_scale * cos``, SigLIP's sigmoid per prompt of
``logit_scale * cos + logit_bias``. Everything is in the widget's state (no messages): an
exported page keeps it.
"""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import traitlets

from ...feature_records import PromptMaps
from ..arrays import array_value, packed_value
from ..bundles import bundle, require_bundle
from ..inputs import clean_text

BUNDLE = "dual_encoder_view.js"


def score_note(maps: PromptMaps) -> str:
    """How the scores were made, in one sentence.

    Example:
        >>> m = PromptMaps(["a"], np.zeros((1, 1, 1), np.float32), np.ones(1, np.float32),
        ...                np.zeros(1, np.float32), "softmax", 100.0, None,
        ...                np.zeros((1, 1, 3), np.uint8))
        >>> score_note(m)
        'softmax over the prompts of 100 × cos(image, prompt) (CLIP)'
    """
    if maps.kind == "softmax":
        return f"softmax over the prompts of {maps.logit_scale:.4g} × cos(image, prompt) (CLIP)"
    bias = maps.logit_bias if maps.logit_bias is not None else 0.0
    return (
        f"sigmoid of {maps.logit_scale:.4g} × cos(image, prompt) + {bias:.4g}, per prompt (SigLIP)"
    )


class DualEncoderView(anywidget.AnyWidget):
    """Prompts against patches: similarity maps over the image and zero-shot score bars.

    ``maps``: a ``PromptMaps`` (``aw.prompt_maps(run)`` for a CLIP / SigLIP run,
    ``lens(image=img, text=["a cat", "a dog"])``); ``prompt``: the prompt drawn large.

    Example:
        >>> m = PromptMaps(["a cat", "a dog"], np.zeros((2, 2, 2), np.float32),
        ...                np.array([0.7, 0.3], np.float32), np.zeros(2, np.float32),
        ...                "softmax", 100.0, None, np.zeros((16, 16, 3), np.uint8))
        >>> view = DualEncoderView(m)
        >>> view.prompts, view.prompt, view.grid
        (['a cat', 'a dog'], 0, [2, 2])
    """

    _esm = bundle(BUNDLE)

    prompt = traitlets.Int(0).tag(sync=True)
    opacity = traitlets.Float(0.75, min=0.0, max=1.0).tag(sync=True)
    show_lines = traitlets.Bool(False).tag(sync=True)
    size = traitlets.Int(384, min=64, max=2048).tag(sync=True)
    thumb = traitlets.Int(96, min=24, max=512).tag(sync=True)

    prompts = traitlets.List(traitlets.Unicode()).tag(sync=True)
    grid = traitlets.List(traitlets.Int()).tag(sync=True)
    image = traitlets.Dict().tag(sync=True)
    maps = traitlets.Dict().tag(sync=True)
    scores = traitlets.Dict().tag(sync=True)
    score_kind = traitlets.Unicode("softmax").tag(sync=True)
    score_note = traitlets.Unicode("").tag(sync=True)

    def __init__(self, maps: PromptMaps, *, prompt: int | None = None, **kwargs: Any) -> None:
        require_bundle(BUNDLE)
        if not isinstance(maps, PromptMaps):
            raise TypeError(
                "DualEncoderView takes PromptMaps (aw.prompt_maps(run) of a CLIP / "
                f"SigLIP run), not {type(maps).__name__}"
            )
        values = np.asarray(maps.maps, np.float32)
        count = len(maps.prompts)
        if values.ndim != 3 or values.shape[0] != count or np.shape(maps.scores) != (count,):
            raise ValueError(
                f"PromptMaps: maps {list(values.shape)} and scores {list(np.shape(maps.scores))} "
                f"do not fit {count} prompts ([prompts, rows, cols] and [prompts])"
            )
        if prompt is None:
            prompt = int(np.argmax(maps.scores)) if count else 0
        self._count = count
        finite = values[np.isfinite(values)]
        super().__init__(
            prompt=prompt,
            prompts=[clean_text(p) for p in maps.prompts],
            grid=[int(values.shape[1]), int(values.shape[2])],
            image=array_value(maps.image, "uint8"),
            maps=array_value(
                values,
                "float32",
                lo=float(finite.min()) if finite.size else 0.0,
                hi=float(finite.max()) if finite.size else 0.0,
            ),
            scores=packed_value({"scores": maps.scores, "logits": maps.logits}),
            score_kind=maps.kind,
            score_note=score_note(maps),
            **kwargs,
        )

    @traitlets.validate("prompt")
    def _valid_prompt(self, proposal: Any) -> int:
        value = proposal["value"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < self._count:
            raise traitlets.TraitError(
                f"prompt: {value!r} is out of range; valid: 0..{self._count - 1}"
            )
        return value
