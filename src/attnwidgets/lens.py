"""``wrap(model, tokenizer)``: the one-call entry point, built from ``capture`` and the widgets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from .norm_records import NormRecord
from .positions import PositionScheme
from .qk_records import QKRecord
from .qkv_records import QKVRecord
from .recording import Capture, capture
from .recording.threads import eval_mode
from .records import AttentionRecord
from .run import Run, Runs
from .streaming import StepStreamer, step_callbacks


def max_positions(model: torch.nn.Module) -> int | None:
    """How many positions the model takes (``config.max_position_embeddings``), if it says."""
    config = getattr(model, "config", None)
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def check_length(model: torch.nn.Module, inputs: dict[str, Any], new_tokens: int = 0) -> None:
    """ValueError when the input is empty, or longer than the model's positions (counting
    ``new_tokens`` still to be generated); the model is not called.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> model = GPT2Model(GPT2Config(n_layer=1, n_head=1, n_embd=8, n_positions=4))
        >>> check_length(model, {"input_ids": torch.zeros(1, 6, dtype=torch.long)})
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: 6 tokens is more than GPT2Model takes: 4 positions ...
    """
    ids = inputs.get("input_ids")
    if ids is None or not hasattr(ids, "shape") or len(ids.shape) == 0:
        return
    count = int(ids.shape[-1])
    if count == 0:
        raise ValueError("no tokens to run: the text is empty (the tokenizer gave 0 tokens)")
    limit = max_positions(model)
    if limit is not None and count + new_tokens > limit:
        what = f"{count} tokens" + (f" + {new_tokens} new tokens" if new_tokens else "")
        raise ValueError(
            f"{what} is more than {type(model).__name__} takes: {limit} positions "
            "(config.max_position_embeddings); shorten the text"
            + (" or ask for fewer new tokens" if new_tokens else "")
        )


class Lens:
    """A model plus its tokenizer: call it with text or tensors to get a ``Run``.

    The model is left as it was after every call (mode, hooks, attention implementation).
    Each call runs in eval mode without gradients. A model in training mode is switched to eval
    only when no other thread is running it: the lens waits up to ``busy_wait`` seconds for
    such a thread to stop at a module call, else it runs in training mode and says so in
    ``run.notes``; other threads wait at their next module call while it is switched (see
    ``recording.threads``). A model compiled with ``torch.compile`` is run through the module it
    wraps.
    """

    busy_wait = 2.0
    """Seconds to wait for another thread running the model before running without eval."""

    def __init__(
        self, model: torch.nn.Module, tokenizer: Any = None, **capture_options: Any
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"wrap() takes a torch.nn.Module, not {type(model).__name__}")
        inner = getattr(model, "_orig_mod", None)
        if type(model).__name__ == "OptimizedModule" and isinstance(inner, torch.nn.Module):
            model = inner  # compiled code runs without our hooks; the same weights, uncompiled
        self.model = model
        self.tokenizer = _as_tokenizer(tokenizer)
        if "norms" not in capture_options:
            from .recording.norms import find_norm_modules

            capture_options["norms"] = bool(find_norm_modules(model))
        self.capture_options = capture_options

    def __call__(self, text: str | Sequence[str] | None = None, **inputs: Any) -> Run | Runs:
        """A Run of ``text`` (or of tensors: ``input_ids=...``, ``pixel_values=...``); a list
        of texts, or tensors holding more than one example, give ``Runs`` (one Run per
        example, padding left out). Vision models take images: ``lens(image)``, a list of
        images, or ``pixel_values=...`` (see ``VisionRun``)."""
        from .vision_run import vision_call  # images in: lens(image), lens(pixel_values=...)
        from .vlm_run import vlm_call  # images and text in: lens(image=img, text="...")

        if (vlm := vlm_call(self, text, inputs)) is not None:
            return vlm  # type: ignore[no-any-return]
        vision = vision_call(self, text, inputs)
        if isinstance(vision, list):  # a batch of images: one VisionRun per image
            return Runs(list(vision))
        if vision is not None:
            return vision
        texts = list(text) if isinstance(text, (list, tuple)) else None
        if texts is not None:
            from .batches import pad_texts

            if self.tokenizer is None:
                raise ValueError(
                    "a list of texts given but no tokenizer: wrap the model with one, "
                    "aw.wrap(model, AutoTokenizer.from_pretrained(path))"
                )
            inputs = {**pad_texts(self.tokenizer, texts), **inputs}
        else:
            inputs = self._inputs(text, inputs)  # type: ignore[arg-type]
        check_length(self.model, inputs)
        with self._capturing() as (cap, notes):
            outputs = self.model(**inputs)
        records: dict[str, list[AttentionRecord]] | dict[str, list[QKRecord]]
        if self.capture_options.get("attention") == "qk":
            records = {"probability": cap.qk_records()}  # Q and K: tiles on demand
        else:
            kinds = ("probability", *self._scores(cap, batch=True))
            records = {kind: cap.records(kind) for kind in kinds}
        if texts is not None or len(records["probability"]) > 1:
            return self._batch(records, inputs, outputs, texts, cap)
        return Run(
            self._labels(inputs),
            records["probability"][0],
            inputs,
            outputs,
            self.model,
            self._norms(cap),
            {
                kind: found[0]
                for kind, found in records.items()
                if kind != "probability" and isinstance(found[0], AttentionRecord)
            },
            lens=self,
            text=text if isinstance(text, str) else self._decode(inputs.get("input_ids")),
            notes=notes,
            qkv=self._qkv(cap),
        )

    def can_generate(self) -> bool:
        """Whether the model has a language-model head (``generate`` works; not with
        ``attention="qk"``, which keeps one forward pass)."""
        if self.capture_options.get("attention") == "qk":
            return False
        check = getattr(self.model, "can_generate", None)
        return bool(check()) if callable(check) else False

    def generate(
        self,
        text: str | None = None,
        *,
        max_new_tokens: int = 20,
        view: Any = None,
        stream: bool = False,
        on_step: Callable[[Run, int], None] | None = None,
        **inputs: Any,
    ) -> Run:
        """Greedy generation with the KV cache; the Run holds the attention of the whole
        sequence (one row per fed token), ``generated`` the new tokens and ``outputs`` the ids.

        Streaming: ``view=`` (an AttentionView, or the widget of ``run.widget()``) shows each
        step as it is produced; ``stream=True`` displays a new explorer and fills it;
        ``on_step(run_so_far, new_tokens)`` is called after each new token.

        Example:
            >>> run = lens.generate("Once upon a time", max_new_tokens=10)  # doctest: +SKIP
            >>> run = lens.generate("Once", max_new_tokens=10, stream=True)  # doctest: +SKIP
        """
        if self.capture_options.get("attention") == "qk":
            raise ValueError(
                "attention='qk' keeps one forward pass, and generate runs one per new token: "
                "generate with a lens without attention='qk', then run the whole text through "
                "this lens (lens(text)) to explore its attention"
            )
        if not self.can_generate():
            raise TypeError(
                f"{type(self.model).__name__} has no language-model head, so it cannot generate "
                "(lens.can_generate() is False). Load a model with one, e.g. "
                "AutoModelForCausalLM.from_pretrained(path) (or AutoModelForSeq2SeqLM), and wrap "
                "that; lens(text) shows this model's attention"
            )
        from .vlm_run import vlm_generate  # images and text in: generate(image=, text=)

        if vlm := vlm_generate(self, text, inputs, max_new_tokens, view, stream, on_step):
            return vlm
        inputs = self._inputs(text, inputs)
        check_length(self.model, inputs, max_new_tokens)
        callbacks = step_callbacks(view, stream, on_step, max_new_tokens)
        try:
            with self._capturing(norms=False) as (cap, notes):  # norms: one pass at the end
                streamer = StepStreamer(lambda ids: callbacks(*self._step(cap, ids, inputs, text)))
                sequences = self.model.generate(  # type: ignore[operator]
                    **inputs,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    streamer=streamer if callbacks else None,
                )
                run = self._generation_run(cap, sequences, inputs, text)
                run.notes = notes
            run.norms = self._sequence_norms(inputs, sequences, len(run.tokens))
        except Exception as error:
            callbacks.fail(error)  # the open views say so (and keep the steps they got)
            raise
        callbacks.finish(run)
        return run

    def _step(
        self, cap: Capture, sequence: torch.Tensor, inputs: dict[str, Any], text: str | None
    ) -> tuple[Run, int]:
        """After each new token: the Run of what was fed so far, and how many tokens are new."""
        run = self._generation_run(cap, sequence, inputs, text)
        return run, len(run.generated)

    def _generation_run(
        self, cap: Capture, sequences: torch.Tensor, inputs: dict[str, Any], text: str | None
    ) -> Run:
        record = cap.attention
        prompt = inputs["input_ids"].shape[-1] if "input_ids" in inputs else 0
        # rows fed so far: the last layer's (the language model's, after a vision tower)
        fed = {"input_ids": sequences[:, : record[-1].shape[1] if len(record) else 0]}
        generated = self._labels({"input_ids": sequences[:, prompt:]})
        full = self._decode(sequences) if text is not None else None
        return Run(
            self._labels(fed),
            record,
            inputs,
            sequences,
            self.model,
            scores=self._scores(cap),
            lens=self,
            text=full,
            generated=generated,
            qkv=self._qkv(cap),
        )

    def _decode(self, ids: Any) -> str | None:
        """The text of ``ids`` ``[1, n]`` without special tokens, or None without a tokenizer."""
        tokenizer = getattr(self.tokenizer, "tokenizer", self.tokenizer)
        if ids is None or tokenizer is None or not hasattr(tokenizer, "decode"):
            return None
        row = ids[0].tolist() if ids.dim() == 2 else ids.tolist()
        return str(tokenizer.decode(row, skip_special_tokens=True))

    def _scores(self, cap: Capture, batch: bool = False) -> dict[str, AttentionRecord]:
        """The pre-softmax records captured, by kind (empty unless ``scores=`` was given);
        ``batch``: only which kinds were captured (the records of the first example)."""
        if not self.capture_options.get("scores"):
            return {}
        kinds: dict[str, AttentionRecord] = {}
        for kind in ("scores", "scaled", "masked"):
            try:
                kinds[kind] = cap.records(kind)[0] if batch else cap.record(kind)
            except (KeyError, ValueError, RuntimeError):
                continue  # not captured (scores=["masked"] asks for one kind)
        return kinds

    def _batch(
        self,
        records: dict[str, list[AttentionRecord]] | dict[str, list[QKRecord]],
        inputs: dict[str, Any],
        outputs: Any,
        texts: Sequence[str] | None,
        cap: Capture,
    ) -> Runs:
        """One Run per example of a batch, padding left out (``attnwidgets.batches``)."""
        from .batches import example_run

        count = len(records["probability"])
        runs = [
            example_run(self, i, records, inputs, outputs, texts[i] if texts else None)
            for i in range(count)
        ]
        return Runs(runs, self._norms(cap))

    def _sequence_norms(
        self, inputs: dict[str, Any], sequences: torch.Tensor, fed: int
    ) -> NormRecord | None:
        """After generation: the norm statistics of one forward pass over every token fed
        (prompt and generated), so the Norms tab shows the generated tokens too. None when
        norms are not captured."""
        options = self.capture_options.get("norms")
        if not options or fed == 0:
            return None
        ids = sequences[:, :fed]
        again = {**inputs, "input_ids": ids}
        mask = inputs.get("attention_mask")
        if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.shape[1] < fed:
            extra = mask.new_ones(mask.shape[0], fed - mask.shape[1])
            again["attention_mask"] = torch.cat([mask, extra], dim=1)
        with self._capturing(attention=False, scores=False, residual=False) as (cap, _):
            self.model(**again)
        norms: NormRecord = cap.norms
        return norms

    def _qkv(self, cap: Capture) -> QKVRecord | None:
        return cap.qkv if self.capture_options.get("qkv") else None

    def _norms(self, cap: Capture) -> NormRecord | None:
        return cap.norms if self.capture_options.get("norms") else None

    def _inputs(self, text: str | None, inputs: dict[str, Any]) -> dict[str, Any]:
        if text is not None and not isinstance(text, str):
            raise TypeError(_not_text(text))
        if text is not None:
            inputs = {**self._encode(text), **inputs}
        if not inputs:
            raise ValueError("give text, e.g. lens('The cat sat'), or tensors, e.g. input_ids=...")
        ids = inputs.get("input_ids")
        if isinstance(ids, torch.Tensor) and ids.numel() == 0:
            raise ValueError(
                f"the input has no tokens (input_ids of shape {list(ids.shape)}): give text or "
                "ids with at least one token"
            )
        return inputs

    @contextmanager
    def _capturing(self, **override: Any) -> Iterator[tuple[Capture, list[str]]]:
        """Eval mode (unless another thread is running the model: see the class) and no grad
        for the call; yields the capture and the run's notes. ``override`` replaces capture
        options for this call."""
        options = {**self.capture_options, **override}
        with eval_mode(self.model, self.busy_wait) as busy:
            notes = [busy] if busy else []
            with torch.no_grad(), capture(self.model, **options) as cap:
                yield cap, notes

    def positions(self, length: int | None = None) -> PositionScheme:
        """The wrapped model's positional encoding as data (see ``aw.positions``).

        Example:
            >>> lens.positions().kind  # doctest: +SKIP
            'learned'
        """
        from .recording.positions import extract_positions

        return extract_positions(self.model, length)

    def _encode(self, text: str) -> dict[str, Any]:
        if self.tokenizer is None:
            raise ValueError(
                f"text given but no tokenizer: wrap the model with one, "
                f"aw.wrap(model, AutoTokenizer.from_pretrained(path)), or pass tensors, "
                f"lens(input_ids=torch.tensor([[...]])) ({type(self.model).__name__})"
            )
        encoded = self.tokenizer(text, return_tensors="pt")
        return dict(encoded)

    def _labels(self, inputs: dict[str, Any]) -> list[str]:
        ids = inputs.get("input_ids")
        if ids is None:
            return []
        row = ids[0].tolist() if ids.dim() == 2 else ids.tolist()
        tokenizer = getattr(self.tokenizer, "tokenizer", self.tokenizer)
        if tokenizer is None:
            return [str(i) for i in row]
        pieces = tokenizer.convert_ids_to_tokens(row)
        return [
            _readable(tokenizer, piece) if isinstance(piece, str) else f"<id {token}>"
            for token, piece in zip(row, pieces, strict=False)
        ]


def _as_tokenizer(tokenizer: Any) -> Any:
    """The tokenizer (or processor) given, a local folder loaded with ``AutoTokenizer``, or a
    clear error for anything that cannot encode text."""
    if isinstance(tokenizer, (str, os.PathLike)):
        path = os.fspath(tokenizer)
        if os.path.isdir(path):
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(path)
        raise TypeError(
            f"wrap(model, {path!r}): the second argument is the tokenizer object, not a name. "
            f"Load it first, tok = AutoTokenizer.from_pretrained({path!r}), then "
            "aw.wrap(model, tok) (a local folder path is loaded for you)"
        )
    if tokenizer is not None and not callable(tokenizer):
        raise TypeError(
            f"wrap(model, tokenizer): {type(tokenizer).__name__} cannot encode text (it is not "
            "callable); pass a Hugging Face tokenizer or processor, or nothing and tensors later"
        )
    return tokenizer


def _not_text(given: Any) -> str:
    """Why ``lens(given)`` is refused, and what it takes."""
    kind = f"{type(given).__module__.split('.')[0]}.{type(given).__name__}"
    if type(given).__module__ == "builtins":
        kind = type(given).__name__
    message = (
        f"lens() takes text (a str) as its first argument, not {kind}; tensors go by name: "
        "lens(input_ids=...), lens(pixel_values=...), lens(**tokenizer(text, return_tensors='pt'))."
    )
    if type(given).__module__.startswith("PIL") or getattr(given, "ndim", 0) >= 3:
        message += (
            " Images go through the model's image processor: "
            "lens(**image_processor(image, return_tensors='pt'))"
        )
    return message


def _readable(tokenizer: Any, piece: str) -> str:
    """Byte-level pieces like ``Ġcat`` become `` cat``; WordPiece stays as it is."""
    if piece.startswith("##") or piece.startswith("[") or piece.startswith("<"):
        return piece
    try:
        text = tokenizer.convert_tokens_to_string([piece])
    except Exception:
        return piece
    return text if text else piece


def wrap(model: torch.nn.Module, tokenizer: Any = None, **capture_options: Any) -> Lens:
    """Wrap a model (and optionally its tokenizer or processor) for one-line inspection.

    ``capture_options`` go to ``aw.capture`` on every call (e.g. ``scores=True``, ``layers=``);
    norm statistics are captured by default when the model has norms (``norms=False`` skips).

    Example:
        >>> import torch, attnwidgets as aw
        >>> from transformers import BertConfig, BertModel
        >>> model = BertModel(BertConfig(num_hidden_layers=2, num_attention_heads=2,
        ...                              hidden_size=16, intermediate_size=32, vocab_size=30))
        >>> run = aw.wrap(model)(input_ids=torch.tensor([[1, 5, 7, 2]]))
        >>> run.attention.shape, run.tokens
        ((2, 2, 4, 4), ['1', '5', '7', '2'])
    """
    return Lens(model, tokenizer, **capture_options)
