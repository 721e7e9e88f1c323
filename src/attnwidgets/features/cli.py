"""``attnwidgets extract config.yaml``: feature extraction as a batch job, VLM-Lens style.

The YAML file takes VLM-Lens's field names (``model_path``, ``model``: keyword arguments of
``from_pretrained``, ``modules``, ``pooling_method``, ``output_db``, ``dataset``,
``input_dir``, ``prompt``; lists of one-key dicts or plain mappings alike) and a few of its
own (``model_class``, ``gguf_file``, ``texts_file``, ``batch_size``, ``dtype``, ``device``,
``limit``, ``max_length``); paths are relative to the working directory, as in VLM-Lens::

    model_path: /models/minilm            # a folder, as from_pretrained takes it
    model_class: AutoModel                # any transformers class name (default AutoModel)
    modules: ["encoder.layer.*.output"]
    pooling_method: mean                  # mean, first, last, cls, none
    output_db: features.sqlite            # or features.parquet (a folder)
    dataset:
      - dataset_path: csv                 # datasets.load_dataset(...) arguments,
      - data_files: sentences.csv         # or local_dataset_path: (load_from_disk)
      - dataset_split: train
      - text_column: sentence
      - label_column: label

Run it under ``accelerate launch --num_processes N -m attnwidgets.features.cli extract
config.yaml`` to split the data over N processes (each writes its own part).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ConfigError(ValueError):
    """A config file field that is missing or wrong; the message names it."""


def flat(value: Any, field: str) -> dict[str, Any]:
    """VLM-Lens writes mappings as lists of one-key dicts; both shapes give one dict.

    Example:
        >>> flat([{"dataset_path": "csv"}, {"dataset_split": "train"}], "dataset")
        {'dataset_path': 'csv', 'dataset_split': 'train'}
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        merged: dict[str, Any] = {}
        for item in value:
            merged.update(item)
        return merged
    raise ConfigError(f"{field}: give a mapping or a list of one-key mappings, not {value!r}")


def read_config(path: Path) -> dict[str, Any]:
    try:
        import yaml
    except ImportError as error:  # pragma: no cover - the features extra installs it
        raise ImportError("the CLI reads YAML with pyyaml: pip install pyyaml") from error
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping of fields")
    for field in ("model_path", "modules"):
        if field not in config:
            raise ConfigError(f"{path}: the field {field!r} is missing")
    config.setdefault("output_db", config.get("output", "features.sqlite"))
    return config


def load_model(config: dict[str, Any], device: str) -> tuple[Any, Any]:
    import transformers

    from .. import demo

    name = config.get("model_class", "AutoModel")
    cls = getattr(transformers, name, None)
    if cls is None:
        raise ConfigError(f"model_class: transformers has no {name!r}")
    options = flat(config.get("model"), "model")
    if "gguf_file" in config:
        options["gguf_file"] = config["gguf_file"]
    path = config["model_path"]
    with demo.quiet_loading():
        model = cls.from_pretrained(path, **options).eval().to(device)
        processor = _processor(path, options.get("gguf_file"))
    return model, processor


def _processor(path: str, gguf: str | None) -> Any:
    import transformers

    kwargs = {"gguf_file": gguf} if gguf else {}
    for loader in ("AutoProcessor", "AutoTokenizer", "AutoImageProcessor"):
        try:
            return getattr(transformers, loader).from_pretrained(path, **kwargs)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    raise ConfigError(f"model_path: found no tokenizer or processor in {path}")


def load_data(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``(data, extract keyword arguments)`` from ``dataset``, ``input_dir`` or ``texts_file``."""
    limit = config.get("limit")
    dataset = flat(config.get("dataset"), "dataset")
    if dataset:
        import datasets

        split = dataset.get("dataset_split")
        if "local_dataset_path" in dataset:
            data = datasets.load_from_disk(dataset["local_dataset_path"])
            data = data[split] if split else data
        elif "dataset_path" in dataset:
            extra = {k: dataset[k] for k in ("data_files", "name") if k in dataset}
            data = datasets.load_dataset(dataset["dataset_path"], split=split or "train", **extra)
        else:
            raise ConfigError("dataset: give dataset_path or local_dataset_path")
        if limit is not None:
            data = data.select(range(min(int(limit), len(data))))
        columns = {
            "text": dataset.get("text_column"),
            "image": dataset.get("image_column"),
            "label": dataset.get("label_column"),
        }
        return data, columns
    if "input_dir" in config:
        folder = Path(config["input_dir"])
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(f"input_dir: no image files under {folder}")
        files = files[: int(limit)] if limit is not None else files
        labels = [p.parent.name for p in files] if any(p.parent != folder for p in files) else None
        return files, {"labels": labels}
    if "texts_file" in config:
        lines = Path(config["texts_file"]).read_text(encoding="utf-8").splitlines()
        texts = [line for line in lines if line.strip()]
        return (texts[: int(limit)] if limit is not None else texts), {}
    raise ConfigError("give the data as dataset:, input_dir: or texts_file:")


def run_extract(config_path: Path, progress: bool = True, device: str | None = None) -> Any:
    from .extraction import extract

    config = read_config(config_path)
    data, columns = load_data(config)
    model, processor = load_model(config, device or str(config.get("device", "cpu")))
    pool = config.get("pooling_method", config.get("pool", "mean"))
    pool = "none" if pool in (None, "None") else str(pool)
    return extract(
        model,
        data,
        config["modules"],
        processor=processor,
        pool=pool,
        store=config["output_db"],
        batch_size=int(config.get("batch_size", 32)),
        dtype=str(config.get("dtype", "float16")),
        prompt=config.get("prompt"),
        max_length=config.get("max_length"),
        progress=progress,
        **columns,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="attnwidgets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    job = commands.add_parser("extract", help="extract module outputs over a dataset")
    job.add_argument("config", type=Path, help="a YAML file (VLM-Lens's fields)")
    job.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: the config's, or cpu)")
    job.add_argument("--no-progress", action="store_true", help="no progress bar")
    job.add_argument(
        "--print-modules", action="store_true", help="print the model's module paths and stop"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        if args.print_modules:
            config = read_config(args.config)
            model, _ = load_model(config, args.device or "cpu")
            for path, _module in model.named_modules():
                print(path)
            return 0
        store = run_extract(args.config, progress=not args.no_progress, device=args.device)
    except (ConfigError, ValueError, KeyError, RuntimeError) as error:
        print(f"attnwidgets extract: {error}", file=sys.stderr)
        return 2
    print(store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
