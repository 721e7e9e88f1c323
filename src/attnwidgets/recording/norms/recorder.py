"""``record_norms(model)``: histograms and statistics of every norm module's input and output.

Norm modules are found by ``detection.py``. Statistics are computed with torch on the tensor's
own device (``summaries.py``, on the primitives of ``histogram.py``); only the small summaries
(``attnwidgets.norm_records``) reach the CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from ...norm_records import DEFAULTS, NormLayer, NormRecord
from .detection import NoNormModulesError, affine_parameters, find_norm_modules
from .histogram import HISTOGRAM_SAMPLE, Workspace
from .summaries import Measured, finish, measure


class NormRecorder:
    """Forward hooks on every norm module; ``record`` is what they saw, in call order.

    A hook measures what it needs of the tensors (they may change after the call) and leaves
    the arithmetic on the small results for later: all of a forward pass's calls are finished
    together when ``layers`` or ``record`` is read, or when ``hooked()`` ends (``on_layer``
    finishes each call at once). Set ``enabled = False`` to make the hooks return at once (the
    training monitor's throttle). With ``thread`` set (``record_norms`` sets the calling
    thread), calls on other threads are not recorded: hooks are global to a module, and the
    live box may run the model on another thread meanwhile.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        bins: int = DEFAULTS.bins,
        subsample: int | None = HISTOGRAM_SAMPLE,
        keep_raw: bool = False,
        outlier_ratio: float = DEFAULTS.outlier_ratio,
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
        self.thread: int | None = None  # record only this thread's calls (None: any thread)
        self.workspace = Workspace()  # temporaries reused by every call (no page faults)
        self.seconds = 0.0  # time spent summarising, for callers that budget it
        self.on_layer: Callable[[NormLayer], None] | None = None
        self._layers: list[NormLayer] = []
        self._pending: list[tuple[dict[str, Any], Measured]] = []

    @property
    def layers(self) -> list[NormLayer]:
        """One ``NormLayer`` per call since the last ``clear()``, in call order."""
        if self._pending:
            self._finish()
        return self._layers

    @property
    def record(self) -> NormRecord:
        """What the hooks recorded since the last ``clear()``."""
        return NormRecord(self.layers)

    def clear(self) -> None:
        self._layers, self._pending = [], []

    def _finish(self) -> None:
        start = time.perf_counter()
        pending, self._pending = self._pending, []
        summaries = finish([measured for _, measured in pending])
        for (fields, _), (source, output) in zip(pending, summaries, strict=True):
            self._layers.append(NormLayer(input=source, output=output, **fields))
        self.seconds += time.perf_counter() - start

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
            if self._pending:  # the work of the block, done in it
                self._finish()

    def _hook(self, path: str, kind: str) -> Callable[..., None]:
        def record(module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
            if not self.enabled or (
                self.thread is not None and threading.get_ident() != self.thread
            ):
                return
            inputs = [*args, *kwargs.values()]
            source = next((a for a in inputs if isinstance(a, torch.Tensor)), None)
            if source is None or not isinstance(output, torch.Tensor):
                return
            start = time.perf_counter()
            with torch._C.DisableTorchFunction():  # our arithmetic: no mode needs to see it
                self._pending.append(self._measure_call(path, kind, module, source, output))
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
        """One ``NormLayer`` from a call's input and output (shared histogram range), at once."""
        fields, measured = self._measure_call(path, kind, module, source, output)
        summaries = finish([measured])[0]
        return NormLayer(input=summaries[0], output=summaries[1], **fields)

    def _measure_call(
        self,
        path: str,
        kind: str,
        module: torch.nn.Module,
        source: torch.Tensor,
        output: torch.Tensor,
    ) -> tuple[dict[str, Any], Measured]:
        """What a call leaves to finish: its ``NormLayer`` fields but the summaries, and the
        measurement of its input and output."""
        measured = measure(
            [source, output],
            bins=self.bins,
            limit=self.subsample,
            outlier_ratio=self.outlier_ratio,
            details=self.details,
            workspace=self.workspace,
        )
        gamma, beta = affine_parameters(module)
        fields = {
            "name": path,
            "kind": kind,
            "class_name": type(module).__name__,
            "shape": tuple(source.shape),
            "gamma": gamma,
            "beta": beta,
        }
        if self.keep_raw:
            fields["raw_input"] = source.detach().float().cpu().numpy()
            fields["raw_output"] = output.detach().float().cpu().numpy()
        return fields, measured


@contextmanager
def record_norms(
    model: torch.nn.Module,
    *,
    bins: int = DEFAULTS.bins,
    subsample: int | None = HISTOGRAM_SAMPLE,
    keep_raw: bool = False,
    outlier_ratio: float = DEFAULTS.outlier_ratio,
) -> Iterator[NormRecorder]:
    """Record every norm call of the forward passes run inside the block.

    ``bins``: histogram bins (shared by a call's input and output). ``subsample``: the histogram
    counts at most this many evenly strided elements per tensor (8,192 by default; ``None``
    counts every element, slower: see benchmarks/README.md); NaN/Inf counts, range, mean, std and
    per-token statistics always use every element. ``keep_raw``: also copy the raw tensors to
    the CPU.
    ``outlier_ratio``: ``|x|`` above this multiple of the median ``|x|`` is marked as an outlier.
    Raises ``NoNormModulesError`` when the model has no norm module. Only the calls made on
    the thread that entered the block are recorded. Hooks are removed on exit.

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
    recorder.thread = threading.get_ident()
    with recorder.hooked():
        yield recorder
