"""FeatureHeatmapView: a VLM's hidden states at image positions laid back over the image
(numpy + traitlets, no torch; VLM-Lens style feature heatmaps).

For each module (a block of the vision tower or of the language model, picked by name or glob),
the browser draws one map over the image: the L2 norm of each patch's hidden state, one
channel, the first three principal components as RGB (fitted over the module's image
positions), the cosine similarity to a clicked patch, or to a text token's hidden state
(language-model modules only: where text and image tokens share one space). An opacity slider,
and a slider over the modules to walk through depth.

Data: the kernel keeps the ``FeatureSet`` (``feature_records``); each map is computed when the
browser asks (``request_map``) and cached on both sides; ``first_map`` holds the first one, so
an exported page shows it. Typing module names in the widget's box (or setting ``pattern``)
runs the model again through ``source`` (the torch side, ``vlm_features.module_features``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from ...feature_records import FeatureSet
from ..arrays import message_parts
from ..bundles import bundle, require_bundle
from ..inputs import clean_text
from ..vision.requests import Reply, echo_id, error
from . import feature_data as data

BUNDLE = "feature_heatmap_view.js"
CACHED_MAPS = 256


class FeatureHeatmapView(anywidget.AnyWidget):
    """Hidden states over the image: norm, a channel, PCA as RGB, cosine to a patch or a text
    token; one module at a time.

    ``features``: a ``FeatureSet`` (``aw.module_features(run, modules)``);
    ``source``: a function ``pattern -> FeatureSet`` that the widget's module box calls (None:
    the box is hidden); ``pattern``: the names / globs ``features`` came from.

    Example:
        >>> import numpy as np
        >>> from attnwidgets.feature_records import FeatureSet, ModuleFeatures, Surface
        >>> hidden = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
        >>> surface = Surface("image 0", "text", 0, (2, 2), np.arange(1, 5))
        >>> fs = FeatureSet([ModuleFeatures("lm.0", "text", hidden)], [surface],
        ...                 [np.zeros((8, 8, 3), np.uint8)], ["q", *"abcd"],
        ...                 ["text", *4 * ["image"]])
        >>> view = FeatureHeatmapView(fs)
        >>> view.modules, view.first_map["shape"], view.first_map["measure"]
        (['lm.0'], [2, 2, 3], 'pca')
    """

    _esm = bundle(BUNDLE)

    module = traitlets.Int(0).tag(sync=True)  # index into modules
    measure = traitlets.Enum(list(data.MEASURES), "pca").tag(sync=True)
    channel = traitlets.Int(0).tag(sync=True)
    patch = traitlets.List(traitlets.Int()).tag(sync=True)  # [row, col, rows, cols] or []
    text_token = traitlets.Int(-1).tag(sync=True)  # a text position of tokens
    surface = traitlets.Int(0).tag(sync=True)
    opacity = traitlets.Float(0.75, min=0.0, max=1.0).tag(sync=True)
    show_lines = traitlets.Bool(False).tag(sync=True)
    size = traitlets.Int(448, min=64, max=2048).tag(sync=True)
    pattern = traitlets.Unicode("").tag(sync=True)

    modules = traitlets.List(traitlets.Unicode()).tag(sync=True)
    module_towers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    module_dims = traitlets.List(traitlets.Int()).tag(sync=True)
    surfaces = traitlets.List(traitlets.Dict()).tag(sync=True)
    images = traitlets.Dict().tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    text_positions = traitlets.List(traitlets.Int()).tag(sync=True)
    first_map = traitlets.Dict().tag(sync=True)
    data_version = traitlets.Int(0).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    editable = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        features: FeatureSet,
        *,
        source: Callable[[str], FeatureSet] | None = None,
        pattern: str = "",
        module: int = 0,
        measure: str = "pca",
        **kwargs: Any,
    ) -> None:
        require_bundle(BUNDLE)
        if not isinstance(features, FeatureSet):
            raise TypeError(
                "FeatureHeatmapView takes a FeatureSet (aw.module_features(run, modules)), "
                f"not {type(features).__name__}; for a run, use run.show() or "
                "aw.vlm_views.feature_view(run)"
            )
        self._source = source
        self._features = features
        self._maps: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        chosen = {name: kwargs.pop(name) for name in ("text_token", "surface") if name in kwargs}
        super().__init__(
            pattern=pattern,
            editable=source is not None,
            measure=measure,
            **self._data_traits(features, module),
            **kwargs,
        )
        for name, value in chosen.items():  # checked against the data just set
            setattr(self, name, value)
        self.first_map = self._first_map()
        self.on_msg(self._on_message)
        self.observe(self._on_pattern, names=["pattern"])

    @staticmethod
    def _data_traits(features: FeatureSet, module: int) -> dict[str, Any]:
        _check("module", module, len(features.modules))
        texts = [i for i, m in enumerate(features.modality) if m == "text"]
        first = next(
            (
                i
                for i, s in enumerate(features.surfaces)
                if s.tower == features.modules[module].tower
            ),
            0,
        )
        skipped = "; ".join(f"{p}: {why}" for p, why in features.skipped.items())
        return {
            "module": module,
            "modules": [clean_text(m.path) for m in features.modules],
            "module_towers": [m.tower for m in features.modules],
            "module_dims": [m.dim for m in features.modules],
            "surfaces": data.surfaces_json(features),
            "surface": first,
            "images": data.images_value(features),
            "tokens": [clean_text(t) for t in features.tokens],
            "text_positions": texts,
            "text_token": texts[-1] if texts else -1,
            "note": f"not drawn: {skipped}" if skipped else "",
        }

    @property
    def features(self) -> FeatureSet:
        return self._features

    def _first_map(self) -> dict[str, Any]:
        """The map the view shows first (in the state, so that an exported page has it)."""
        content = {"module": self.module, "measure": self.measure, "surface": self.surface,
                   "channel": self.channel, "token": self.text_token,
                   "patch": list(self.patch[:2])}  # fmt: skip
        try:
            return self._map(data.MapRequest.parse(content, self._features))
        except (ValueError, IndexError):
            content["measure"] = "norm"
            return self._map(data.MapRequest.parse(content, self._features))

    def _map(self, request: data.MapRequest) -> dict[str, Any]:
        key = request.key
        if key in self._maps:
            self._maps.move_to_end(key)
            return self._maps[key]
        value = data.map_value(self._features, request)
        self._maps[key] = value
        while len(self._maps) > CACHED_MAPS:
            self._maps.popitem(last=False)
        return value

    def set_features(self, features: FeatureSet, pattern: str | None = None) -> None:
        """Show another ``FeatureSet`` (new modules, or another run) in place; the browser drops
        its cached maps (``data_version``)."""
        old = self.modules[self.module] if self.modules else None
        paths = [m.path for m in features.modules]
        module = paths.index(old) if old in paths else 0
        self._features = features
        self._maps.clear()
        with self.hold_sync(), self.hold_trait_notifications():
            for name, value in self._data_traits(features, module).items():
                setattr(self, name, value)
            self.patch = []
            if pattern is not None:
                self.set_trait("pattern", pattern)
            self.first_map = self._first_map()
            self.data_version += 1

    def _on_pattern(self, change: Any) -> None:
        if self._source is None or change["new"] == change["old"]:
            return
        self.note = f"running the model for {change['new']!r}…"
        try:
            features = self._source(change["new"])
        except Exception as failure:  # a bad name: say so, keep what is shown
            self.set_trait("pattern", change["old"])
            self.note = f"{change['new']!r}: {failure}"
            return
        self.set_features(features)

    @traitlets.validate("module")
    def _valid_module(self, proposal: Any) -> int:
        return _check("module", proposal["value"], len(self._features.modules))

    @traitlets.validate("surface")
    def _valid_surface(self, proposal: Any) -> int:
        return _check("surface", proposal["value"], len(self._features.surfaces))

    @traitlets.validate("patch")
    def _valid_patch(self, proposal: Any) -> list[int]:
        value = list(proposal["value"])
        if value and (
            len(value) != 4
            or not all(isinstance(v, int) for v in value)
            or not (0 <= value[0] < value[2] and 0 <= value[1] < value[3])
        ):
            raise traitlets.TraitError(
                f"patch: {value!r} is not [row, col, rows, cols] (the cell and the grid it was "
                "picked on) or []"
            )
        return value

    @traitlets.validate("text_token")
    def _valid_token(self, proposal: Any) -> int:
        value = proposal["value"]
        if value != -1 and value not in self.text_positions:
            raise traitlets.TraitError(
                f"text_token: {value!r} is not a text position of tokens (or -1)"
            )
        return int(value)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        reply, buffers = self.answer(content)
        self.send(reply, buffers=buffers)

    def answer(self, content: Any) -> Reply:
        """``{"type": "request_map", "id", "module", "measure", "surface", "channel",
        "patch": [row, col], "token"}`` -> ``{"type": "map", "id", "dtype", "shape", "lo",
        "hi", "ratio", ...the request}`` + one buffer; a bad request -> ``{"type": "error",
        "id", "message"}`` naming the field."""
        if not isinstance(content, dict):
            return error(None, f"a request must be an object, not {type(content).__name__}")
        request_id = echo_id(content.get("id"))
        if content.get("type") != "request_map":
            return error(
                request_id, f"type: {str(content.get('type'))[:80]!r} is not 'request_map'"
            )
        try:
            value = self._map(data.MapRequest.parse(content, self._features))
        except (ValueError, IndexError) as failure:
            return error(request_id, str(failure))
        content, buffers = message_parts(value)
        return {**content, "type": "map", "id": request_id, "version": self.data_version}, buffers


def _check(name: str, value: Any, size: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise traitlets.TraitError(f"{name}: {value!r} is out of range; valid: 0..{size - 1}")
    return value
