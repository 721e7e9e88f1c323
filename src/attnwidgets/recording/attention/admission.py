"""Before a capture keeps anything: inputs it can record, and the memory its records will take.

At the first attention call of each forward, knowing the batch, heads, queries and keys, a
capture estimates the bytes of the attention records that forward will leave (layers x batch x
heads x queries x keys x bytes per value x kinds, plus one float32 layer of working memory; after
generation the steps are read back as one square per layer) and refuses with a ``CaptureError``
that gives the estimate and what helps, before anything big is allocated. The budget is
``aw.capture(model, max_bytes=...)``, else ``aw.record_memory.budget``: bytes, a fraction of
the memory available when the capture starts (0.5 by default), or None for no limit.

The same first call refuses what cannot be recorded with a sentence instead of torch's error:
tensors on the meta device (shapes without values), complex attention, and calls with no heads,
queries or keys; ``capture()`` itself refuses ``torch.compile``d models.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

DEFAULT_BUDGET = 0.5
"""Fraction of the memory available at the start of a capture that its records may take."""


def available_memory() -> int | None:
    """Bytes the system can hand out now without swapping (psutil, else /proc/meminfo), or None.

    Example:
        >>> available_memory() is None or available_memory() > 0
        True
    """
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or failing: read the kernel's own estimate
        pass
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_budget(value: object, name: str) -> None:
    """Raise unless ``value`` is None, a positive number of bytes or a fraction in (0, 1].

    Example:
        >>> check_budget(0.25, "memory_budget"); check_budget(1 << 30, "max_bytes")
        >>> check_budget(-1, "max_bytes")
        Traceback (most recent call last):
        ...
        ValueError: max_bytes=-1: give a positive number of bytes (or None for no limit)
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} takes bytes (int) or None, not {type(value).__name__}")
    if isinstance(value, float) and name != "max_bytes":
        if not 0.0 < value <= 1.0:
            raise ValueError(
                f"{name}={value}: a float is a fraction of available memory in (0, 1]; "
                "give bytes as an int"
            )
        return
    if value <= 0:
        raise ValueError(f"{name}={value}: give a positive number of bytes (or None for no limit)")


@dataclass(frozen=True)
class Budget:
    """How many bytes a capture's records may take (``limit`` None: no limit), and why."""

    limit: int | None
    source: str


def resolve_budget(max_bytes: int | float | None, default: int | float | None) -> Budget:
    """The budget of one capture: ``max_bytes`` when given, else the package default.

    Example:
        >>> resolve_budget(1000, 0.5)
        Budget(limit=1000, source='max_bytes=1000')
        >>> resolve_budget(None, None).limit is None
        True
    """
    if max_bytes is not None:
        return Budget(int(max_bytes), f"max_bytes={int(max_bytes)}")
    if default is None:
        return Budget(None, "aw.record_memory.budget = None")
    if isinstance(default, float) and default <= 1.0:
        available = available_memory()
        if available is None:  # nothing to take a fraction of: no guard
            return Budget(None, "available memory unknown")
        return Budget(
            int(default * available),
            f"{default:.0%} of the {gib(available)} of memory available "
            f"(aw.record_memory.budget = {default})",
        )
    return Budget(int(default), f"aw.record_memory.budget = {int(default)}")


def gib(count: float) -> str:
    """Bytes as ``'1.5 GiB'`` (or MiB below one GiB).

    Example:
        >>> gib(3 << 29), gib(5 << 20)
        ('1.5 GiB', '5.0 MiB')
    """
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GiB"
    return f"{count / (1 << 20):.1f} MiB"


@dataclass(frozen=True)
class CallShape:
    """One attention call: ``batch`` sequences x ``heads`` x ``queries`` x ``keys``."""

    batch: int
    heads: int
    queries: int
    keys: int

    @classmethod
    def of(cls, query: torch.Tensor, keys: int) -> CallShape:
        """From a ``[..., heads, query, dim]`` query (leading dimensions are the batch).

        Example:
            >>> CallShape.of(torch.zeros(2, 12, 5, 8), 7)
            CallShape(batch=2, heads=12, queries=5, keys=7)
        """
        shape = query.shape
        heads = shape[-3] if len(shape) >= 3 else 1
        batch = 1
        for size in shape[:-3]:
            batch *= size
        return cls(batch, heads, shape[-2] if len(shape) >= 2 else 1, keys)


def check_compiled(model: torch.nn.Module) -> None:
    """Refuse compiled models: compiled code runs without the hooks a capture records through.

    Example:
        >>> check_compiled(torch.nn.Linear(2, 2))  # not compiled: nothing to say
    """
    inner = getattr(model, "_orig_mod", None)
    if type(model).__name__ == "OptimizedModule" and isinstance(inner, torch.nn.Module):
        raise TypeError(
            f"capture() got a torch.compile'd model (OptimizedModule around "
            f"{type(inner).__name__}): compiled code runs without the hooks and attention "
            "functions a capture records through. Capture the module it wraps and call that "
            "inside the block: `with aw.capture(model._orig_mod) as cap: model._orig_mod(...)` "
            "(the same weights, run without compiling; the compiled model is left as it is). "
            "aw.wrap(model) does this by itself."
        )
    for path, module in model.named_modules():
        if getattr(module, "_compiled_call_impl", None) is not None:
            raise TypeError(
                f"capture(): {path or 'the model'} ({type(module).__name__}) was compiled in "
                "place with module.compile(): compiled code runs without the hooks a capture "
                "records through. Capture an uncompiled copy of the model (e.g. load it again), "
                "or compile with model_c = torch.compile(model) and capture model itself."
            )


def unsupported_input(where: str, query: torch.Tensor, shape: CallShape) -> str | None:
    """Why an attention call on ``query`` cannot be recorded, or None when it can.

    Example:
        >>> q = torch.zeros(1, 2, 3, 4, device="meta")
        >>> unsupported_input("h.0.attn (Attention)", q, CallShape.of(q, 3)).split(":")[0]
        'h.0.attn (Attention) runs on the meta device'
    """
    if query.device.type == "meta":
        return (
            f"{where} runs on the meta device: meta tensors have shapes but no values, so there "
            "is no attention to record. Load the weights first (e.g. from_pretrained without "
            "device_map='meta', or model.to_empty(device='cpu') then load_state_dict); "
            "accelerate's offloaded models (weights on meta, loaded by its hooks) are supported"
        )
    if query.is_complex():
        return (
            f"{where} computes attention on complex tensors ({query.dtype}): records hold real "
            "probabilities and scores, so a capture supports float16, bfloat16, float32 and "
            "float64 attention. Capture the real-valued model, or compute |scores| yourself"
        )
    empty = [
        name
        for name, size in (("heads", shape.heads), ("queries", shape.queries), ("keys", shape.keys))
        if size == 0
    ]
    if empty or shape.batch == 0:
        what = ", ".join(f"0 {name}" for name in empty) or "an empty batch"
        return (
            f"{where} was called with {what} ([batch {shape.batch}, heads {shape.heads}, "
            f"queries {shape.queries}, keys {shape.keys}]): there is no attention to record. "
            "Give at least one token (and a model with at least one head)"
        )
    return None


def estimate_bytes(
    shape: CallShape, *, layers: int, kinds: list[str], dtype: torch.dtype, kept: int, step: bool
) -> int:
    """Bytes a forward's records will bring the capture to: what it ``kept`` so far, ``layers``
    calls of ``shape`` for each of ``kinds`` in ``dtype``, the float32 layer it computes in when
    ``dtype`` is smaller, and after a generation ``step`` the whole ``keys x keys`` square per
    layer it is read back as.

    Example (the issue's case: 2 layers x 12 heads at 16,384 tokens, float32):
        >>> shape = CallShape(1, 12, 16384, 16384)
        >>> gib(estimate_bytes(shape, layers=2, kinds=["probability"], dtype=torch.float32,
        ...                    kept=0, step=False))
        '24.0 GiB'
    """
    cells = shape.batch * shape.heads * shape.queries * shape.keys
    per_cell = layers * len(kinds) * dtype.itemsize
    needed = kept + cells * per_cell
    if dtype.itemsize < 4:  # computed in float32, then converted
        needed += cells * 4
    if step:
        needed += shape.batch * shape.heads * shape.keys * shape.keys * per_cell
    return needed


def refusal(
    needed: int,
    budget: Budget,
    shape: CallShape,
    kept: int,
    continuation: bool,
    *,
    layers: int,
    kinds: list[str],
    dtype: torch.dtype,
) -> str:
    """The message of a refused capture: the estimate, how it was made, and what helps."""
    parts = (
        f"{layers} attention layer{'s' if layers != 1 else ''} x {shape.batch} "
        f"sequence{'s' if shape.batch != 1 else ''} x {shape.heads} heads x "
        f"{shape.queries:,} queries x {shape.keys:,} keys x {dtype.itemsize} bytes "
        f"({str(dtype).replace('torch.', '')}) x {len(kinds)} kind{'s' if len(kinds) != 1 else ''}"
        f" ({', '.join(kinds)})"
    )
    if continuation:
        parts += ", and the generated sequence read back as one square per layer"
    if kept:
        parts += f", after {gib(kept)} already recorded"
    assert budget.limit is not None
    return (
        f"recording this forward's attention would take about {gib(needed)} ({parts}): more "
        f"than this capture's budget of {gib(budget.limit)} ({budget.source}). It was refused "
        "before anything that size was allocated, and the model is left as it was. What helps: "
        "fewer layers (layers=[0] records block 0 only), dtype=torch.float16 (half the bytes), "
        "a shorter input; or a larger budget: aw.capture(model, max_bytes=...) or "
        "aw.record_memory.budget (bytes, a fraction of available memory, or None for no limit)."
    )
