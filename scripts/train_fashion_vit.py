"""Train the small ViT that ships as ``attnwidgets.demo.load_fashion_vit()``, on CPU.

A Hugging Face ``ViTForImageClassification`` built from a ``ViTConfig`` (28 px images,
4 px patches: 7 x 7 = 49 patches + [CLS]; 3 input channels, the gray channel repeated, so RGB
photos go through the same processor) trained on Fashion-MNIST read from Debian's
``dataset-fashion-mnist`` files. Prints loss, test accuracy, wall and CPU time per epoch.

    PYTHONPATH=src python scripts/train_fashion_vit.py            # writes the shipped model
    PYTHONPATH=src python scripts/train_fashion_vit.py --fast --out /tmp/vit   # seconds

A full run writes ``config.json``, ``model.safetensors``, ``preprocessor_config.json`` and
``README.md`` into ``--out`` (default: the package's ``demo_models/fashion_vit``) and, when
that is the package folder, the bundled test sample beside it. ``--fast`` trains on 1,024
images for one epoch and saves only when ``--out`` is given.

The defaults reproduce the shipped model: 88.24% test accuracy after 10 epochs, 635 s of CPU
on one thread (one thread was faster than two on a busy 2-core machine; ``--threads 2`` on an
idle one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional
from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil
from transformers.utils import logging

from attnwidgets.demo import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_SAMPLE,
    FASHION_VIT_DIR,
    fashion_mnist,
)

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training-set pixel mean and std (0..1 scale)
SAMPLE_SIZE = 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the trained model")
    parser.add_argument("--fast", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--mlp", type=int, default=128)
    parser.add_argument("--shift", type=int, default=0, help="random translation, pixels")
    parser.add_argument("--train-images", type=int, default=None, help="first N only")
    parser.add_argument("--test-images", type=int, default=None, help="first N only")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch.set_num_threads (1: best on a busy machine)"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build_model(args: argparse.Namespace) -> ViTForImageClassification:
    config = ViTConfig(
        image_size=28,
        patch_size=4,
        num_channels=3,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.mlp,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        id2label=dict(enumerate(FASHION_MNIST_CLASSES)),
        label2id={name: i for i, name in enumerate(FASHION_MNIST_CLASSES)},
    )
    return ViTForImageClassification(config)


def build_processor() -> ViTImageProcessorPil:
    """The processor the model was trained for: uint8 pixels -> (x / 255 - MEAN) / STD, RGB.

    The PIL backend needs no torchvision; it saves as a plain ``ViTImageProcessor``.
    """
    return ViTImageProcessorPil(
        do_resize=True,
        size={"height": 28, "width": 28},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[MEAN] * 3,
        image_std=[STD] * 3,
        do_convert_rgb=True,
    )


def to_pixels(gray: torch.Tensor) -> torch.Tensor:
    """uint8 ``[n, 28, 28]`` -> the model's float ``[n, 3, 28, 28]``, as the processor does."""
    x = (gray.float() / 255 - MEAN) / STD
    return x[:, None].expand(-1, 3, -1, -1)


def augment(gray: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and a random translation of up to ``shift`` px (zero fill)."""
    n, h, w = gray.shape
    flip = torch.rand(n, generator=generator) < 0.5
    gray = torch.where(flip[:, None, None], gray.flip(-1), gray)
    if shift == 0:
        return gray
    padded = functional.pad(gray, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    return padded[torch.arange(n)[:, None, None], rows, cols]


@torch.no_grad()
def accuracy(model: torch.nn.Module, gray: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(gray), 1000):
        logits = model(pixel_values=to_pixels(gray[start : start + 1000])).logits
        correct += int((logits.argmax(-1) == labels[start : start + 1000]).sum())
    model.train()
    return correct / len(gray)


def train(
    args: argparse.Namespace,
) -> tuple[ViTForImageClassification, dict[str, float], list[str]]:
    """The trained model (eval mode), its final numbers, and the per-epoch log lines."""
    logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    train_x, train_y = (torch.from_numpy(a) for a in fashion_mnist("train"))
    test_x, test_y = (torch.from_numpy(a) for a in fashion_mnist("test"))
    if args.fast:
        args.epochs, args.train_images, args.test_images = 1, 1024, 1000
    train_x, train_y = train_x[: args.train_images], train_y[: args.train_images]
    test_x, test_y = test_x[: args.test_images], test_y[: args.test_images]
    model = build_model(args).train()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"ViT {args.layers} layers x {args.heads} heads, hidden {args.hidden}, mlp {args.mlp}, "
        f"{params:,} parameters; {len(train_x):,} train / {len(test_x):,} test images; "
        f"{args.threads} threads",
        flush=True,
    )
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embeddings" not in n]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2 or "embeddings" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": rest, "weight_decay": 0}],
        lr=args.lr,
    )
    steps_per_epoch = math.ceil(len(train_x) / args.batch_size)
    total: int = steps_per_epoch * args.epochs
    warmup = max(1, total // 20)

    def schedule(step: int) -> float:  # linear warm-up, then cosine to zero
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    log: list[str] = []
    result: dict[str, float] = {
        "parameters": params,
        "train_images": len(train_x),
        "test_images": len(test_x),
    }
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(train_x), generator=generator)
        loss_sum, seen = 0.0, 0
        for start in range(0, len(order), args.batch_size):
            index = order[start : start + args.batch_size]
            pixels = to_pixels(augment(train_x[index], args.shift, generator))
            logits = model(pixel_values=pixels).logits
            loss = functional.cross_entropy(
                logits, train_y[index], label_smoothing=args.label_smoothing
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach()) * len(index)
            seen += len(index)
        test_accuracy = accuracy(model, test_x, test_y)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        line = (
            f"epoch {epoch}/{args.epochs}  loss {loss_sum / seen:.4f}  "
            f"test accuracy {test_accuracy:.4f}  wall {wall:.0f} s  cpu {cpu:.0f} s"
        )
        print(line, flush=True)
        log.append(line)
        result.update(accuracy=test_accuracy, wall=wall, cpu=cpu, loss=loss_sum / seen)
    return model.eval(), result, log


def save(
    model: ViTForImageClassification,
    out: Path,
    result: dict[str, float],
    log: list[str],
    args: argparse.Namespace,
    command: str,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    build_processor().save_pretrained(out)
    (out / "README.md").write_text(readme(model, result, log, args, command))
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print(f"saved to {out}: " + json.dumps(sizes))


def readme(
    model: ViTForImageClassification,
    result: dict[str, float],
    log: list[str],
    args: argparse.Namespace,
    command: str,
) -> str:
    c = model.config
    shift = f" and translations of up to {args.shift} px" if args.shift else ""
    return f"""# fashion_vit: a small ViT trained on Fashion-MNIST

A Hugging Face `ViTForImageClassification` built from a `ViTConfig` and trained from scratch on
CPU by `scripts/train_fashion_vit.py`. Load it with `attnwidgets.demo.load_fashion_vit()`,
which returns `(model, processor, images, labels)` for the test split.

- Test accuracy: **{result["accuracy"]:.2%}** on the {int(result["test_images"]):,} test images
- Input: 28 x 28 px, 3 channels (the gray image repeated, so RGB photos work too)
- Patches: 4 x 4 px, a 7 x 7 grid: 49 patches + [CLS] = 50 tokens
- Encoder: {c.num_hidden_layers} layers x {c.num_attention_heads} heads, hidden size \
{c.hidden_size}, MLP {c.intermediate_size}, {int(result["parameters"]):,} parameters, float32
- Processor (`ViTImageProcessor`): resize to 28 x 28, convert to RGB, rescale by 1/255,
  normalise with mean {MEAN} and std {STD} (Fashion-MNIST's training-set statistics)
- Data: the {int(result["train_images"]):,} Fashion-MNIST training images from Debian's
  `dataset-fashion-mnist`, random horizontal flips{shift}
- Optimiser: AdamW, batch {args.batch_size}, peak learning rate {args.lr}, weight decay \
{args.weight_decay}, label smoothing {args.label_smoothing}, {args.epochs} epochs, warm-up then \
cosine; seed {args.seed}
- Training time: {result["wall"]:.0f} s wall, {result["cpu"]:.0f} s CPU (`time.process_time`), \
torch threads: {args.threads}, on a 2-core machine shared with other jobs
- Command: `{command}`

```
{chr(10).join(log)}
```
"""


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer, by name: equal digests mean equal weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_sample(path: Path) -> None:
    images, labels = fashion_mnist("test")
    np.savez_compressed(
        path, images=images[:SAMPLE_SIZE], labels=labels[:SAMPLE_SIZE].astype(np.uint8)
    )
    print(f"saved the first {SAMPLE_SIZE} test images to {path} ({path.stat().st_size:,} bytes)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = "PYTHONPATH=src python scripts/train_fashion_vit.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    out = args.out if args.out is not None else (None if args.fast else FASHION_VIT_DIR)
    model, result, log = train(args)
    print(f"weights sha256 {weights_digest(model)}")
    if out is None:
        print("--fast without --out: nothing saved")
        return
    save(model, out, result, log, args, command.strip())
    if out.resolve() == FASHION_VIT_DIR.resolve():
        save_sample(FASHION_MNIST_SAMPLE)


if __name__ == "__main__":
    main()
