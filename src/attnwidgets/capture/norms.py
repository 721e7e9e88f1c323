"""``record_norms(model)``: histograms and statistics of every norm module's input and output.

Norm modules are found by class (``nn.LayerNorm``, ``nn.RMSNorm``) and by shape for the Hugging
Face classes that do not subclass them (``LlamaRMSNorm``, ``T5LayerNorm``, Gemma's, Qwen3's
per-head ``q_norm``/``k_norm``): a class named ``*Norm`` with a 1-D ``weight`` and an ``eps`` or
``variance_epsilon``. Statistics are computed with torch on the tensor's own device; only the
small summaries (``attnwidgets.norm_records``) are copied to the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils.hooks import RemovableHandle

from ..norm_records import NormLayer, NormRecord, TensorSummary, widen

_NOT_NORMS = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm)


class NoNormModulesError(ValueError):
    """The model has no LayerNorm / RMSNorm-like module to watch."""


def norm_kind(module: torch.nn.Module) -> str | None:
    """``"layernorm"``, ``"rmsnorm"``, or ``None`` when the module is not a token norm.

    Example:
        >>> norm_kind(torch.nn.LayerNorm(8)), norm_kind(torch.nn.RMSNorm(8))
        ('layernorm', 'rmsnorm')
        >>> norm_kind(torch.nn.BatchNorm1d(8)) is None
        True
    """
    if isinstance(module, torch.nn.LayerNorm):
        return "layernorm"
    if isinstance(module, torch.nn.RMSNorm):
        return "rmsnorm"
    if isinstance(module, _NOT_NORMS):
        return None
    name = type(module).__name__
    weight = getattr(module, "weight", None)
    has_eps = hasattr(module, "eps") or hasattr(module, "variance_epsilon")
    if not (name.endswith("Norm") and has_eps and isinstance(weight, torch.Tensor)):
        return None
    if weight.dim() != 1:
        return None
    if "RMS" in name.upper() or name == "T5LayerNorm" or getattr(module, "bias", None) is None:
        return "rmsnorm"
    return "layernorm"


def find_norm_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module, str]]:
    """``(dotted path, module, kind)`` of every norm module, in registration order.

    Example:
        >>> block = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
        >>> [(path, kind) for path, _, kind in find_norm_modules(block)]
        [('1', 'layernorm')]
    """
    found = []
    for path, module in model.named_modules():
        kind = norm_kind(module)
        if kind is not None:
            found.append((path or type(module).__name__, module, kind))
    return found


def affine_parameters(module: torch.nn.Module) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The effective scale (gamma) and shift (beta) as float32 numpy, ``None`` when absent.

    Gemma's norms multiply by ``1 + weight``; that sum is what is returned for them.
    """
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    gamma = beta = None
    if isinstance(weight, torch.Tensor):
        scale = weight.detach().float()
        if type(module).__name__.startswith("Gemma"):
            scale = scale + 1.0
        gamma = scale.cpu().numpy().reshape(-1)
    if isinstance(bias, torch.Tensor):
        beta = bias.detach().float().cpu().numpy().reshape(-1)
    return gamma, beta


MEDIAN_SAMPLE = 1 << 16


def subsample(flat: torch.Tensor, limit: int | None) -> torch.Tensor:
    """Every k-th element so that at most ``limit`` remain (all of them when ``limit`` is None).

    Example:
        >>> subsample(torch.arange(10.0), 4).tolist()
        [0.0, 3.0, 6.0, 9.0]
    """
    if limit is None or flat.numel() <= limit:
        return flat
    return flat[:: math.ceil(flat.numel() / limit)]


def all_finite(sample: torch.Tensor) -> bool:
    """True when every value is finite: min and max are (NaN propagates through both).

    One reduction instead of ``isfinite(x).all()``'s several passes.
    """
    if sample.numel() == 0:
        return True
    low, high = torch.aminmax(sample)
    return math.isfinite(float(low)) and math.isfinite(float(high))


def finite_part(sample: torch.Tensor) -> tuple[torch.Tensor, int, int, int]:
    """The finite values and the counts of NaN, +Inf and -Inf."""
    if all_finite(sample):
        return sample, 0, 0, 0
    finite_mask = torch.isfinite(sample)
    nan = int(torch.isnan(sample).sum())
    posinf = int(torch.isposinf(sample).sum())
    neginf = int(torch.isneginf(sample).sum())
    return sample[finite_mask], nan, posinf, neginf


def summarize(
    tensor: torch.Tensor,
    *,
    bins: int,
    value_range: tuple[float, float],
    limit: int | None = None,
    outlier_ratio: float = 100.0,
    max_outliers: int = 8,
    details: bool = True,
    sample: torch.Tensor | None = None,
) -> TensorSummary:
    """A ``TensorSummary`` computed on ``tensor``'s device (see ``TensorSummary.from_numpy``).

    ``details=False`` skips the per-token statistics and outliers (left empty): about half the
    cost, what the training monitor uses. ``sample`` is ``sampled(tensor, limit)`` when the
    caller already has it.

    Example:
        >>> s = summarize(torch.tensor([[1.0, 2.0, float("inf")]]), bins=2, value_range=(1, 2))
        >>> s.counts.tolist(), s.posinf, s.token_mean.tolist()
        ([1, 1], 1, [inf])
    """
    with torch.no_grad():
        x = tensor.detach()
        if not x.is_floating_point():
            x = x.float()
        if sample is None:
            sample = sampled(x, limit)
        finite, nan, posinf, neginf = finite_part(sample)
        lo, hi = value_range
        counts = torch.histc(finite, bins=bins, min=lo, max=hi)
        if finite.numel():
            std, mean = torch.std_mean(finite, correction=0)
            low, high = torch.aminmax(finite)
            abs_max = max(-float(low), float(high))
        else:
            std = mean = torch.tensor(float("nan"))
            abs_max = float("nan")
        extra = token_details(x, outlier_ratio, max_outliers) if details else {}
        return TensorSummary(
            counts=counts.to("cpu", torch.int64).numpy(),
            lo=lo,
            hi=hi,
            nan=nan,
            posinf=posinf,
            neginf=neginf,
            elements=x.numel(),
            sampled=sample.numel(),
            mean=float(mean),
            std=float(std),
            abs_max=abs_max,
            **extra,
        )


def token_details(x: torch.Tensor, outlier_ratio: float, max_outliers: int) -> dict[str, Any]:
    """Per-token mean / std / RMS of the first sequence, its median ``|x|`` and its outliers."""
    first = x.reshape(1, -1) if x.dim() <= 1 else (x if x.dim() == 2 else x[0])
    rows = first.reshape(first.shape[0], -1, first.shape[-1]).float()
    token_std, token_mean = torch.std_mean(rows, dim=-1, correction=0)
    token_rms = (token_mean.square() + token_std.square()).sqrt()  # RMS^2 = mean^2 + var
    magnitude = first.reshape(first.shape[0], -1).abs()
    # The median |x| only sets the outlier threshold: exact up to MEDIAN_SAMPLE values, else
    # taken on evenly spaced ones (a full median sorts every value: the costliest statistic).
    median_sample = subsample(magnitude.reshape(-1), MEDIAN_SAMPLE)
    median_abs = float(median_sample.nanmedian()) if magnitude.numel() else 0.0
    return {
        "token_mean": token_mean.mean(-1).cpu().numpy().astype(np.float32),
        "token_std": token_std.mean(-1).cpu().numpy().astype(np.float32),
        "token_rms": token_rms.mean(-1).cpu().numpy().astype(np.float32),
        "outliers": _outliers(magnitude, first, median_abs, outlier_ratio, max_outliers),
        "median_abs": median_abs,
    }


def _outliers(
    magnitude: torch.Tensor, values: torch.Tensor, median: float, ratio: float, limit: int
) -> np.ndarray:
    flat = magnitude.reshape(-1)
    if not all_finite(flat):
        flat = torch.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)
    k = min(limit, flat.numel())
    if k == 0:
        return np.zeros((0, 3), np.float32)
    top_values, top = torch.topk(flat, k)
    top = top[top_values > ratio * max(median, 1e-12)].cpu()
    per_token = magnitude.shape[1]
    signed = values.reshape(-1)[top.to(values.device)].float().cpu()
    rows = torch.stack([(top // per_token).float(), (top % per_token).float(), signed], dim=1)
    return rows.numpy().astype(np.float32).reshape(-1, 3)


def sampled(tensor: torch.Tensor, limit: int | None) -> torch.Tensor:
    """The (sub)sampled values as one contiguous float tensor on the tensor's device.

    Gathering the strided sample once makes every later pass over it cheap.
    """
    x = tensor.detach().reshape(-1)
    if not x.is_floating_point() or x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return subsample(x, limit).contiguous()


def shared_range(*samples: torch.Tensor) -> tuple[float, float]:
    """``(min, max)`` over the finite values of all samples, widened if empty or flat.

    Example:
        >>> shared_range(torch.tensor([1.0, float("nan")]), torch.tensor([-2.0, float("inf")]))
        (-2.0, 1.0)
    """
    lows, highs = [], []
    with torch.no_grad():
        for sample in samples:
            finite = sample if all_finite(sample) else sample[torch.isfinite(sample)]
            if finite.numel():
                low, high = torch.aminmax(finite)
                lows.append(float(low))
                highs.append(float(high))
    if not lows:
        return widen(0.0, 0.0)
    return widen(min(lows), max(highs))


class NormRecorder:
    """Forward hooks on every norm module; ``record`` is what they saw, in call order.

    Set ``enabled = False`` to make the hooks return at once (the training monitor's throttle).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        bins: int = 64,
        subsample: int | None = None,
        keep_raw: bool = False,
        outlier_ratio: float = 100.0,
        details: bool = True,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"record_norms() takes a torch.nn.Module, not {type(model).__name__}")
        if bins < 1:
            raise ValueError(f"bins must be at least 1, not {bins}")
        if subsample is not None and subsample < 1:
            raise ValueError(f"subsample must be None or a positive element count, not {subsample}")
        self.model = model
        self.norms = find_norm_modules(model)
        if not self.norms:
            raise NoNormModulesError(
                f"{type(model).__name__} has no LayerNorm / RMSNorm-like module. Looked for "
                "nn.LayerNorm, nn.RMSNorm and classes named *Norm with a 1-D weight and eps or "
                "variance_epsilon (e.g. LlamaRMSNorm, T5LayerNorm); BatchNorm and GroupNorm are "
                "not token norms. Pass the model that contains the norms, e.g. the transformer."
            )
        self.bins = bins
        self.subsample = subsample
        self.keep_raw = keep_raw
        self.outlier_ratio = outlier_ratio
        self.details = details
        self.enabled = True
        self.seconds = 0.0  # time spent summarising, for callers that budget it
        self.layers: list[NormLayer] = []
        self.on_layer: Callable[[NormLayer], None] | None = None

    @property
    def record(self) -> NormRecord:
        """What the hooks recorded since the last ``clear()``."""
        return NormRecord(self.layers)

    def clear(self) -> None:
        self.layers = []

    @contextmanager
    def hooked(self) -> Iterator[NormRecorder]:
        handles: list[RemovableHandle] = []
        try:
            for path, module, kind in self.norms:
                hook = self._hook(path, kind)
                handles.append(module.register_forward_hook(hook, with_kwargs=True))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, path: str, kind: str) -> Callable[..., None]:
        def record(module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
            if not self.enabled:
                return
            inputs = [*args, *kwargs.values()]
            source = next((a for a in inputs if isinstance(a, torch.Tensor)), None)
            if source is None or not isinstance(output, torch.Tensor):
                return
            start = time.perf_counter()
            self.layers.append(self.summarize_call(path, kind, module, source, output))
            self.seconds += time.perf_counter() - start
            if self.on_layer is not None:
                self.on_layer(self.layers[-1])

        return record

    def summarize_call(
        self,
        path: str,
        kind: str,
        module: torch.nn.Module,
        source: torch.Tensor,
        output: torch.Tensor,
    ) -> NormLayer:
        """One ``NormLayer`` from a call's input and output (shared histogram range)."""
        with torch.no_grad():
            samples = [sampled(tensor, self.subsample) for tensor in (source, output)]
        options: dict[str, Any] = {
            "bins": self.bins,
            "value_range": shared_range(*samples),
            "outlier_ratio": self.outlier_ratio,
            "details": self.details,
        }
        gamma, beta = affine_parameters(module)
        layer = NormLayer(
            name=path,
            kind=kind,
            class_name=type(module).__name__,
            shape=tuple(source.shape),
            input=summarize(source, sample=samples[0], **options),
            output=summarize(output, sample=samples[1], **options),
            gamma=gamma,
            beta=beta,
        )
        if self.keep_raw:
            layer.raw_input = source.detach().float().cpu().numpy()
            layer.raw_output = output.detach().float().cpu().numpy()
        return layer


@contextmanager
def record_norms(
    model: torch.nn.Module,
    *,
    bins: int = 64,
    subsample: int | None = None,
    keep_raw: bool = False,
    outlier_ratio: float = 100.0,
) -> Iterator[NormRecorder]:
    """Record every norm call of the forward passes run inside the block.

    ``bins``: histogram bins (shared by a call's input and output). ``subsample``: at most this
    many elements per tensor for the histogram and global mean/std (per-token statistics always
    use every element of the first sequence). ``keep_raw``: also copy the raw tensors to the CPU.
    ``outlier_ratio``: |x| above this multiple of the median |x| is marked as an outlier.
    Raises ``NoNormModulesError`` when the model has no norm module. Hooks are removed on exit.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
        >>> with record_norms(model, bins=16) as norms:
        ...     _ = model(torch.randn(2, 5, 4))
        >>> rec = norms.record
        >>> rec.layer_names, int(rec[0].input.counts.sum()), rec[0].output.token_mean.shape
        (['1'], 80, (5,))
    """
    recorder = NormRecorder(
        model, bins=bins, subsample=subsample, keep_raw=keep_raw, outlier_ratio=outlier_ratio
    )
    with recorder.hooked():
        yield recorder
