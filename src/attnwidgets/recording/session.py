"""``capture(model)``: a context manager that records what a model computes, then cleans up."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch

from ..qk_records import QKRecord
from ..qkv_records import QKVRecord
from ..records import AttentionRecord
from .activations.modules import ModuleRecorder
from .activations.residual import ResidualRecorder
from .aliases import QKV, LayerSelection, count_attention_modules, is_attention_module, resolve
from .attention import admission, interface
from .attention.admission import CallShape, check_budget, check_compiled
from .attention.calls import (
    NOTHING_KEPT,
    CallInfo,
    QKVCall,
    batch_records,
    call_window,
    head_tensor,
)
from .attention.generation import AttentionCall, RecomputedRows, is_generation, merge_steps
from .attention.qk_capture import QKInputs
from .attention.qk_recorder import QKRecorder, describe_problems
from .attention.qk_rules import QKUnsupported
from .attention.recompute import KINDS
from .attention.record_memory import record_memory
from .attention.sdpa_mode import ModulePathStack, RecordingMode
from .attention.unsupported import why_unsupported
from .options import check_attention, check_dtype, check_selection, kinds_of

_NOTHING: frozenset[str] = frozenset()


class CaptureError(RuntimeError):
    """The capture could not see or keep what was asked for; the message says what was tried."""


class Capture:
    """What one ``capture(model)`` block recorded.

    ``attention`` is the record of a single sequence; ``attentions`` has one record per batch
    item. Each layer is ``[heads, query, key]``, in call order, named by module path. After
    ``model.generate`` (with or without a KV cache) each layer holds the whole generated
    sequence, rows appended per step; ``step_attentions()`` gives each step alone.
    ``record(kind)`` gives the scores.
    ``cap["transformer.h.3.attn"]`` or ``cap["blocks.3.attn.hook_pattern"]`` give the kept
    tensor; ``norms`` and the residual names (``cap["blocks.3.hook_resid_post"]``) what
    ``norms=True`` / ``residual=True`` recorded; ``nonfinite`` flags layers holding NaN/Inf.
    ``qkv`` (``qkv=True``) holds each call's queries, keys, values and head outputs;
    ``cap["model.layers.2.mlp"]`` the output of a module named in ``modules=``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        kinds: frozenset[str] = frozenset({"probability"}),
        selection: LayerSelection | None = None,
        dtype: torch.dtype = torch.float32,
        reuse_weights: bool = False,
        max_bytes: int | None = None,
        qkv: bool = False,
        qk: bool = False,
    ) -> None:
        self.model = model
        self.thread = threading.get_ident()  # records only the calls of the thread it began on
        self.reuse_weights = reuse_weights
        self.kinds = kinds
        self.want_qkv = qkv
        self.qkv_calls: list[QKVCall] = []
        self.qk_recorder = QKRecorder(dtype) if qk else None  # attention="qk"
        self.windows: dict[str, tuple[int, int] | None] = {}  # path: allowed key - query band
        self.modules: ModuleRecorder | None = None
        self.dtype = dtype
        self.selection = selection or LayerSelection(model, None)
        self._names = {module: path for path, module in model.named_modules()}
        self._calls: list[AttentionCall] = []
        self._merged: tuple[int, list[AttentionCall]] | None = None
        self._recomputed = RecomputedRows()  # generate(use_cache=False): keep new rows only
        self.forwards = ModulePathStack(model, self.thread)
        self.used_interface = False
        self.calls_seen = 0
        self.unsupported: dict[str, str] = {}  # path: "Class: why its attention is no matrix"
        self.residual: ResidualRecorder | None = None
        self.norm_recorder: Any = None
        self.max_bytes = max_bytes
        self.kept_bytes = 0  # of attention records
        self._budget: admission.Budget | None = None  # resolved at the first attention call
        self._admitted_step = -1
        self._layers = 1  # attention modules selected, counted at the first attention call

    # -- recording (called by attention.interface and attention.sdpa_mode) -----------------
    def _watched(self, module: torch.nn.Module) -> str | None:
        """The module's path when this capture records it (this thread's call, selected,
        supported), else None."""
        if threading.get_ident() != self.thread:
            return None  # another thread's forward of the same model
        path: str | None = self._names.get(module)
        if path is None or not self.selection(path):
            return None
        reason = why_unsupported(module)
        if reason is not None:
            self.unsupported.setdefault(path, f"{type(module).__name__}: {reason}")
            return None
        return path

    def kinds_for(self, module: torch.nn.Module) -> frozenset[str]:
        if not self.kinds or self._watched(module) is None:
            return _NOTHING
        return self.kinds

    def wants_inputs(self, module: torch.nn.Module) -> bool:
        return self.want_qkv and self._watched(module) is not None

    def wants_qk(self, module: torch.nn.Module) -> bool:
        return self.qk_recorder is not None and self._watched(module) is not None

    def record_qk(self, module: torch.nn.Module, inputs: QKInputs) -> None:
        """Keep the call's Q, K, rule and log-sum-exp, within the memory budget."""
        assert self.qk_recorder is not None
        name = self._names[module]
        shape = CallShape.of(inputs.query, inputs.key.shape[-2])
        reason = admission.unsupported_input(
            f"{name} ({type(module).__name__})", inputs.query, shape
        )
        if reason is not None:
            raise CaptureError(f"{reason}. The model is left as it was.")
        self._resolve_budget()
        assert self._budget is not None
        needed = self.kept_bytes + self.qk_recorder.bytes_for(inputs)
        if self._budget.limit is not None and needed > self._budget.limit:
            raise CaptureError(
                f"keeping Q and K of {name} would bring this capture's records to "
                f"{admission.gib(needed)}: more than its budget of "
                f"{admission.gib(self._budget.limit)} ({self._budget.source}). The model is left "
                "as it was. What helps: fewer layers (layers=), dtype=torch.float16, a shorter "
                "input, or a larger budget (max_bytes=, aw.record_memory.budget)."
            )
        step = self.forwards.forward_count
        window = call_window(module, inputs.kwargs)
        self.kept_bytes += self.qk_recorder.record(name, step, module, inputs, window)

    def refuse_qk(self, module: torch.nn.Module, why: str) -> None:
        if self.qk_recorder is not None:
            self.qk_recorder.refuse(self._names[module], module, why)

    def _resolve_budget(self) -> None:
        if self._budget is None:
            default = record_memory.budget
            check_budget(default, "aw.record_memory.budget")
            self._budget = admission.resolve_budget(self.max_bytes, default)

    def record_call(self, module: torch.nn.Module, info: CallInfo) -> None:
        """The call's sliding window (for the views), and with ``qkv=True`` its tensors."""
        name = self._names[module]
        self.windows[name] = info.window
        if self.want_qkv and info.output is not None:
            self.qkv_calls.append(info.kept(name, self.forwards.forward_count, self.dtype))

    def admit(self, module: torch.nn.Module, query: torch.Tensor, shape: CallShape) -> None:
        """Before an attention call is recorded: refuse what cannot be, and (at the first call
        of each forward) records beyond the memory budget, with a ``CaptureError``."""
        step = self.forwards.forward_count
        if step == self._admitted_step:
            return
        self._admitted_step = step
        where = f"{self._names.get(module) or '<model>'} ({type(module).__name__})"
        reason = admission.unsupported_input(where, query, shape)
        if reason is not None:
            raise CaptureError(f"{reason}. The model is left as it was.")
        if self._budget is None:
            self._resolve_budget()
            assert self._budget is not None
            if self._budget.limit is not None:
                self._layers = count_attention_modules(self.model, self.selection)
        if self._budget.limit is None:
            return
        continuation = bool(self._calls) and shape.queries < shape.keys
        layers, kinds, kept = self._layers, sorted(self.kinds), self.kept_bytes
        needed = admission.estimate_bytes(
            shape, layers=layers, kinds=kinds, dtype=self.dtype, kept=kept, step=continuation
        )
        if needed > self._budget.limit:
            raise CaptureError(
                admission.refusal(
                    needed, self._budget, shape, kept, continuation,
                    layers=layers, kinds=kinds, dtype=self.dtype,
                )
            )  # fmt: skip

    def record_attention(
        self, module: torch.nn.Module, steps: dict[str, torch.Tensor], source: str
    ) -> None:
        kept = {}
        for kind, tensor in steps.items():
            tensor = tensor.detach().to("cpu", self.dtype)
            kept[kind] = tensor.unsqueeze(0) if tensor.dim() == 3 else tensor
        if kept:
            name = self._names[module]
            kept = self._recomputed.new_rows(name, kept)
            self.kept_bytes += sum(tensor.nbytes for tensor in kept.values())
            self._calls.append(AttentionCall(name, self.forwards.forward_count, kept, source))

    # -- reading ---------------------------------------------------------------------------
    @property
    def calls(self) -> list[AttentionCall]:
        """Recorded calls; after generation one per module, holding every step's rows."""
        if not is_generation(self._calls):
            return self._calls
        if self._merged is None or self._merged[0] != len(self._calls):
            self._merged = (len(self._calls), merge_steps(self._calls))
        return self._merged[1]

    @property
    def layer_names(self) -> list[str]:
        """Module path of each recorded attention call, e.g. ``transformer.h.3.attn``."""
        return [call.name for call in self.calls]

    def records(self, kind: str = "probability") -> list[AttentionRecord]:
        """One record per batch item of ``kind``: probability, scores, scaled or masked."""
        calls = self._require(kind)
        batch = calls[0].kept[kind].shape[0]
        windows = [self.windows.get(c.name) for c in calls]
        return [
            AttentionRecord(
                [c.kept[kind][i].numpy() for c in calls],
                self.layer_names,
                kind=kind,
                windows=windows,
            )
            for i in range(batch)
        ]

    def record(self, kind: str = "probability") -> AttentionRecord:
        """The record of ``kind`` for the only sequence in the batch."""
        records = self.records(kind)
        if len(records) != 1:
            raise ValueError(
                f"the captured batch holds {len(records)} sequences; "
                f"pick one with cap.records({kind!r})[i] (or cap.attentions[i])"
            )
        return records[0]

    @property
    def attentions(self) -> list[AttentionRecord]:
        """One probability record per batch item: ``[layers][heads, query, key]``."""
        return self.records("probability")

    @property
    def attention(self) -> AttentionRecord:
        """The record of the only sequence in the batch (see ``attentions`` for batches)."""
        return self.record("probability")

    def step_attentions(self, item: int = 0, kind: str = "probability") -> list[AttentionRecord]:
        """Per forward step (e.g. each token of ``generate``): the record of batch ``item``."""
        self._require(kind)
        steps: dict[int, list[AttentionCall]] = {}
        for call in self._calls:
            steps.setdefault(call.step, []).append(call)
        return [
            AttentionRecord(
                [c.kept[kind][item].numpy() for c in calls], [c.name for c in calls], kind=kind
            )
            for calls in steps.values()
        ]

    def qkv_records(self) -> list[QKVRecord]:
        """One ``QKVRecord`` per batch item (``qkv=True``): each call's Q, K, V, head outputs,
        scale, mask and window; ``record.steps(layer, head)`` redoes its attention step by step.
        """
        if not self.want_qkv:
            raise CaptureError("Q, K and V were not captured: use aw.capture(model, qkv=True)")
        if self.unsupported:
            raise CaptureError(self._unsupported_message())
        if not self.qkv_calls:
            raise CaptureError(f"{NOTHING_KEPT} {self._nothing_message()}")
        return batch_records(self.qkv_calls)

    @property
    def qkv(self) -> QKVRecord:
        """The ``QKVRecord`` of the only sequence in the batch (``qkv=True``)."""
        records = self.qkv_records()
        if len(records) != 1:
            raise ValueError(
                f"the captured batch holds {len(records)} sequences; pick one with "
                "cap.qkv_records()[i]"
            )
        return records[0]

    def qk_records(self) -> list[QKRecord]:
        """One ``QKRecord`` per batch item (``attention="qk"``): per layer Q, K, the mask rule
        and each row's log-sum-exp; tiles, rows and metrics computed on demand."""
        if self.qk_recorder is None:
            raise CaptureError("Q and K were not kept: use aw.capture(model, attention='qk')")
        if self.unsupported:
            raise CaptureError(self._unsupported_message())
        if self.qk_recorder.problems:
            raise CaptureError(
                f"attention='qk' cannot keep the attention of "
                f"{describe_problems(self.qk_recorder.problems)}. The model ran unchanged; leave "
                "these modules out with layers=, or record dense attention (attention=True)"
            )
        if not self.qk_recorder.calls:
            raise CaptureError(f"attention='qk' kept nothing: {self._nothing_message()}")
        try:
            return self.qk_recorder.records()
        except QKUnsupported as error:
            raise CaptureError(str(error)) from None

    @property
    def qk(self) -> QKRecord:
        """The ``QKRecord`` of the only sequence in the batch (``attention="qk"``)."""
        records = self.qk_records()
        if len(records) != 1:
            raise ValueError(
                f"the captured batch holds {len(records)} sequences; pick one with "
                "cap.qk_records()[i]"
            )
        return records[0]

    @property
    def nonfinite(self) -> dict[str, str]:
        """Layers whose probabilities hold NaN or Inf (recorded as they are, never a crash)."""
        flagged = {}
        for call in self._calls:
            weights = call.kept.get("probability")
            if weights is not None and not bool(torch.isfinite(weights).all()):
                nan = bool(torch.isnan(weights).any())
                flagged[call.name] = "NaN" if nan else "Inf"
        return flagged

    @property
    def norms(self) -> Any:
        """The ``NormRecord`` of ``norms=True`` (see ``attnwidgets.recording.norms``)."""
        if self.norm_recorder is None:
            raise CaptureError("norms were not captured: use aw.capture(model, norms=True)")
        record = self.norm_recorder.record
        return type(record)([layer for layer in record if self.selection.widened(layer.name)])

    def __getitem__(self, name: str) -> Any:
        """Data by module path or TransformerLens alias, e.g. ``cap["blocks.0.attn.hook_pattern"]``.

        Attention comes as a ``[batch, heads, query, key]`` tensor, residual names as
        ``[batch, seq, d_model]``, norm names as the module's last ``NormLayer``, a module of
        ``modules=`` as its output, ``hook_q`` / ``hook_k`` / ``hook_v`` / ``hook_z`` as
        ``[batch, pos, heads, d_head]`` (TransformerLens's layout; K and V keep their
        key/value heads).
        """
        if self.modules is not None and name in self.modules.outputs:
            return self.modules.outputs[name]
        if self.residual is not None and name in self.residual.tensors:
            return self.residual.tensors[name]
        target = resolve(self.model, name)
        if target.what in ("resid_pre", "resid_post", "mlp_out", "attn_out"):
            if self.residual is not None:
                raise KeyError(
                    f"{name!r}: residual=True recorded {sorted(self.residual.tensors)[:6]}..., "
                    f"not this one (outside layers={self.selection.text}, or the model did not "
                    "run inside the with block)"
                )
            raise KeyError(f"{name!r}: residual stream not captured; use residual=True")
        if target.what in QKV:
            if not self.want_qkv:
                raise KeyError(f"{name!r}: Q, K and V were not captured; use qkv=True")
            return head_tensor(self.qkv_calls, name, target.path, target.what)
        if target.what is None and not self._is_attention_path(target.path):
            if self.modules is not None and target.path in self.modules.paths:
                raise KeyError(f"{name!r}: {target.path} did not run inside the with block")
            raise KeyError(
                f"{name!r}: {target.path} is not an attention module and its output was not "
                f"recorded; use aw.capture(model, modules=[{target.path!r}])"
            )
        if target.what == "norm":
            found = [layer for layer in self.norms if layer.name == target.path]
            if not found:
                raise KeyError(f"{name!r}: no norm recorded for {target.path}")
            return found[-1]
        kind = target.what or "probability"
        for call in reversed(self._require(kind)):
            if call.name == target.path or call.name.startswith(f"{target.path}."):
                return call.kept[kind]
        raise KeyError(f"{name!r}: no attention recorded for {target.path}; got {self.layer_names}")

    def _is_attention_path(self, path: str) -> bool:
        return any(c.name == path or c.name.startswith(f"{path}.") for c in self.calls) or (
            is_attention_module(self.model.get_submodule(path)) if path else True
        )

    def _require(self, kind: str) -> list[AttentionCall]:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")
        if kind not in self.kinds:
            if self.qk_recorder is not None:
                raise CaptureError(
                    f"{kind} was not captured: this capture kept Q and K (attention='qk'); read "
                    "cap.qk, a QKRecord (tiles, rows, metrics, and dense layers below its limit)"
                )
            hint = "attention=True" if kind == "probability" else f"scores=[{kind!r}]"
            raise CaptureError(f"{kind} was not captured: use aw.capture(model, {hint})")
        calls = self.calls
        if self.unsupported:
            raise CaptureError(self._unsupported_message())
        if not calls:
            raise CaptureError(self._nothing_message())
        missing = [f"{c.name} ({c.source})" for c in calls if kind not in c.kept]
        if missing:
            raise CaptureError(
                f"{kind} is not available for {', '.join(missing)}: hand-written softmax "
                "attention gives probability and masked only (the softmax sees no Q or K)"
            )
        return calls

    def _unsupported_message(self) -> str:
        paths: dict[str, list[str]] = {}
        for path, why in self.unsupported.items():
            paths.setdefault(why, []).append(path)
        found = "; ".join(f"{', '.join(where)} ({why})" for why, where in paths.items())
        return (
            f"cannot record the attention of {found}. The model ran unchanged; leave these "
            "modules out with layers= to read the others"
        )

    def _nothing_message(self) -> str:
        interface = (
            "used, but no attention module called it"
            if self.used_interface
            else "not available for this model"
        )
        silent = [
            f"{path} ({type(m).__name__})"
            for path, m in self.model.named_modules()
            if is_attention_module(m)
            or "attn" in path.rsplit(".", 1)[-1].lower()
            or "attention" in path.rsplit(".", 1)[-1].lower()
        ]
        where = f" Attention-like modules that recorded nothing: {silent[:4]}." if silent else ""
        return (
            f"no attention was captured from {type(self.model).__name__}. Tried: transformers' "
            f"AttentionInterface ({interface}); scaled_dot_product_attention, "
            f"nn.MultiheadAttention and [batch, heads, query, key] softmax calls inside the "
            f"model ({self.calls_seen} seen).{where} Run the model inside the `with` block "
            "and check layers=, or load it with attn_implementation='eager' or 'sdpa'."
        )


@contextmanager
def capture(
    model: torch.nn.Module,
    *,
    attention: bool | str = True,
    scores: bool | str | Iterable[str] = False,
    norms: bool | dict[str, Any] = False,
    residual: bool = False,
    layers: int | str | Iterable[int | str] | None = None,
    dtype: torch.dtype = torch.float32,
    reuse_weights: bool = False,
    max_bytes: int | None = None,
    qkv: bool = False,
    modules: str | Iterable[str] | None = None,
) -> Iterator[Capture]:
    """Record what ``model`` computes in the forward passes run inside the block.

    ``attention``: per-head probabilities; ``"qk"`` keeps instead, per layer, Q and K as the
    kernel used them, the mask rule and each row's log-sum-exp (``cap.qk``, a ``QKRecord``:
    exact tiles and rows computed on demand, no ``[query, key]`` tensor; for long inputs).
    ``scores``: also ``"scores"`` (Q K^T), ``"scaled"``
    and ``"masked"`` (what enters the softmax), or True for all three. ``norms``: norm
    statistics (True or ``record_norms`` options). ``residual``: block inputs/outputs and MLP
    outputs. ``layers``: block indices, module paths, globs or TransformerLens aliases.
    ``dtype``: kept on the CPU as float32, float16 or float64. ``reuse_weights``: compute each
    sdpa output as ``weights @ V`` from the recorded weights instead of running sdpa beside them
    (faster, see benchmarks/README.md; float32 without gradients only; outputs within float32
    rounding of sdpa, not bit-identical). The weights are written into memory of dropped records
    where some waits (``aw.record_memory``). ``qkv``: also each call's queries, keys (after
    rotary), values and head outputs (``cap.qkv``; the step view). ``modules``: outputs of any
    modules by path or glob (``modules=["model.layers.*.mlp"]``, then
    ``cap["model.layers.2.mlp"]``).
    Every option applies or raises here, before the model runs, naming what did not match.
    ``max_bytes``: the most the attention records may take; a
    forward whose records would exceed it raises ``CaptureError`` before they are allocated
    (default: ``aw.record_memory.budget``, half of the memory available at the start).

    Only calls on the thread that entered the block are recorded; other threads may run the
    same model meanwhile, unrecorded and with their usual outputs. ``torch.compile``d models
    are refused (capture ``model._orig_mod``); meta-device, complex and empty attention raise
    ``CaptureError`` saying so.

    Hugging Face models record through transformers' AttentionInterface; plain PyTorch through
    ``scaled_dot_product_attention``, ``nn.MultiheadAttention`` and softmax. On exit the model
    is restored, even when the forward raises: hooks removed, implementation restored.

    Example:
        >>> import torch, attnwidgets as aw
        >>> from transformers import GPT2Config, GPT2Model
        >>> model = GPT2Model(GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=50))
        >>> with aw.capture(model, scores="masked") as cap:
        ...     _ = model(torch.tensor([[1, 2, 3]]))
        >>> cap.attention.shape, cap.record("masked")[0][0, 0, 1].item()
        ((2, 2, 3, 3), -inf)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"capture() takes a torch.nn.Module, not {type(model).__name__}")
    check_dtype(dtype)
    check_compiled(model)
    check_budget(max_bytes, "max_bytes")
    selection = LayerSelection(model, layers)
    qk = check_attention(attention, scores)
    kinds = kinds_of(bool(attention) and not qk, scores)
    norms_module = importlib.import_module(f"{__package__}.norms") if norms else None
    norm_paths = [p for p, _, _ in norms_module.find_norm_modules(model)] if norms_module else []
    check_selection(
        model, selection, attention=bool(kinds) or qkv or qk, residual=residual,
        norm_paths=norm_paths,
    )  # fmt: skip
    cap = Capture(
        model,
        kinds=kinds,
        selection=selection,
        dtype=dtype,
        reuse_weights=reuse_weights,
        max_bytes=max_bytes,
        qkv=qkv,
        qk=qk,
    )
    recording = bool(cap.kinds) or qkv or qk
    with ExitStack() as stack:
        if modules is not None:
            cap.modules = ModuleRecorder(model, modules, dtype=dtype, thread=cap.thread)
            stack.enter_context(cap.modules.hooked())
        stack.enter_context(cap.forwards.hooked(every_module=recording))
        if norms_module is not None:
            options = norms if isinstance(norms, dict) else {}
            cap.norm_recorder = stack.enter_context(norms_module.record_norms(model, **options))
        if residual:
            cap.residual = ResidualRecorder(model, dtype=dtype, selected=selection.touches)
            stack.enter_context(cap.residual.hooked())
        if recording:
            cap.used_interface = stack.enter_context(interface.recording(model))
            stack.enter_context(interface.activated(cap))
            mode = RecordingMode(cap, cap.forwards)
            stack.enter_context(mode)
        try:
            yield cap
        except Exception as error:
            if cap.forwards.failed is not None and hasattr(error, "add_note"):  # 3.11+
                error.add_note(
                    f"attnwidgets: raised inside {cap.forwards.failed} during capture; hooks "
                    "were removed and the attention implementation restored."
                )
            raise
        finally:
            if recording:
                cap.calls_seen = mode.calls_seen
