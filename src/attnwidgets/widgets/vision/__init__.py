"""Images: ``ImageAttentionView`` (``image_attention``: a query's attention over the image,
the heads grid, rollout; the arrays it sends, ``image_attention_data``; the replies to the
browser's requests, ``requests``), ``PatchingView`` (``patching``: the image cut into
patches, their embeddings and position similarities) and ``PredictionGridView``
(``prediction_grid``: a classifier's predictions over many images, with the arrays it sends,
``prediction_grid_data``). The JavaScript they share is ``js/vision/``."""

from .image_attention import ImageAttentionView
from .patching import PatchingView
from .prediction_grid import PredictionGridView

__all__ = ["ImageAttentionView", "PatchingView", "PredictionGridView"]
