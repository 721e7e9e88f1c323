"""Vision-language views: ``CrossModalView`` (``cross_modal``: text tokens over the image and
image regions over the text, with the blocks it sends, ``cross_modal_data``),
``FeatureHeatmapView`` (``feature_heatmap``: a module's features per patch as norm, channel,
PCA colours or cosine, with its arrays, ``feature_data``) and ``DualEncoderView``
(``dual_encoder``: CLIP / SigLIP prompt maps and zero-shot bars). The JavaScript is ``js/vlm/``
on ``js/vision/``."""

from .cross_modal import CrossModalView
from .dual_encoder import DualEncoderView
from .feature_heatmap import FeatureHeatmapView

__all__ = ["CrossModalView", "DualEncoderView", "FeatureHeatmapView"]
