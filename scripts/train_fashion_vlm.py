"""Train the tiny LLaVA-shaped VLM that ships as ``attnwidgets.demo.load_fashion_vlm()``, on CPU.

A Hugging Face ``LlavaForConditionalGeneration`` built from a small ``LlavaConfig``: a CLIP vision
tower (28 px images, 4 px patches: 7 x 7 = 49 patch tokens + CLS, which LLaVA's ``"default"``
strategy drops), LLaVA's two-layer GELU projector and a small Llama language model, trained end
to end from scratch on Fashion-MNIST (Debian's ``dataset-fashion-mnist`` idx files) with
templated questions and answers in LLaVA-1.5's chat format::

    USER: <image>\\nWhat is this? ASSISTANT: a sneaker</s>USER: Is it footwear? ASSISTANT: yes</s>

The tokenizer is a byte-level BPE trained here on the template text (special tokens ``<pad>``,
``<s>``, ``</s>``, ``<image>``), wrapped as ``PreTrainedTokenizerFast``; the processor is a
``LlavaProcessor`` that expands ``<image>`` into the 49 image tokens. Each training sequence
holds all three questions about one image, in a random order; only answer tokens carry loss.

    PYTHONPATH=src python scripts/train_fashion_vlm.py            # writes the shipped model
    PYTHONPATH=src python scripts/train_fashion_vlm.py --fast --out /tmp/vlm   # seconds

A full run writes the model, tokenizer, processor, chat template, ``questions.json`` and
``README.md`` into ``--out`` (default: the package's ``demo_models/fashion_vlm``). ``--fast``
trains on 256 images for 4 steps, tests on 64, and saves only when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attnwidgets.demo import fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "attnwidgets" / "demo_models" / "fashion_vlm"
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training-set pixel mean and std (0..1 scale)
IMAGE_SIZE, PATCH_SIZE = 28, 4

# What the model says for each label (Fashion-MNIST's label order).
CLASS_ANSWERS = (
    "a t-shirt",
    "trousers",
    "a pullover",
    "a dress",
    "a coat",
    "a sandal",
    "a shirt",
    "a sneaker",
    "a bag",
    "an ankle boot",
)
FOOTWEAR = (5, 7, 9)  # sandal, sneaker, ankle boot
WHAT, FOOT, DARK = "What is this?", "Is it footwear?", "Is it dark or light?"
QUESTIONS = (WHAT, FOOT, DARK)
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}</s>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<image>")  # ids 0, 1, 2, 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the trained model")
    parser.add_argument("--fast", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--vision-hidden", type=int, default=64)
    parser.add_argument("--vision-layers", type=int, default=4)
    parser.add_argument("--text-hidden", type=int, default=64)
    parser.add_argument("--text-layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--train-images", type=int, default=None, help="first N only")
    parser.add_argument("--test-images", type=int, default=None, help="first N only")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def answers(label: int, brightness: float, threshold: float) -> dict[str, str]:
    """The answer to each question for an image of class ``label`` and mean pixel ``brightness``."""
    return {
        WHAT: CLASS_ANSWERS[label],
        FOOT: "yes" if label in FOOTWEAR else "no",
        DARK: "dark" if brightness < threshold else "light",
    }


def conversation(order: tuple[str, ...], reply: dict[str, str]) -> list[dict[str, Any]]:
    """Chat messages asking the questions in ``order``; the image comes with the first one."""
    messages: list[dict[str, Any]] = []
    for i, question in enumerate(order):
        parts = ([{"type": "image"}] if i == 0 else []) + [{"type": "text", "text": question}]
        messages.append({"role": "user", "content": parts})
        messages.append({"role": "assistant", "content": reply[question]})
    return messages


def build_tokenizer() -> Any:
    """A byte-level BPE over the template text (any text still encodes), as a fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    replies = [*CLASS_ANSWERS, "yes", "no", "dark", "light"]
    corpus = [f"USER: {s}{q} ASSISTANT: {a}" for q in QUESTIONS for a in replies for s in "\n "]
    trainer = trainers.BpeTrainer(
        vocab_size=1000,  # more than needed: merges stop when every word is one token
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        padding_side="left",  # batched generation appends on the right
        model_max_length=256,
    )


def build_processor(tokenizer: Any) -> Any:
    """``LlavaProcessor``: RGB, shortest edge 28 + centre crop, (x / 255 - MEAN) / STD."""
    from transformers import CLIPImageProcessorPil, LlavaProcessor  # PIL: no torchvision

    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_mean=[MEAN] * 3,
        image_std=[STD] * 3,
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS, dropped by the "default" strategy
        chat_template=CHAT_TEMPLATE,
    )


def build_model(args: argparse.Namespace, vocab_size: int) -> Any:
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig
    from transformers import LlavaForConditionalGeneration as Llava

    vision = CLIPVisionConfig(
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        num_channels=3,
        hidden_size=args.vision_hidden,
        intermediate_size=2 * args.vision_hidden,
        num_hidden_layers=args.vision_layers,
        num_attention_heads=args.heads,
        projection_dim=args.vision_hidden,
    )
    text = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=args.text_hidden,
        intermediate_size=2 * args.text_hidden,
        num_hidden_layers=args.text_layers,
        num_attention_heads=args.heads,
        num_key_value_heads=max(1, args.heads // 2),  # grouped-query attention, as in Llama 3
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=SPECIAL_TOKENS.index("<image>"),
        vision_feature_layer=-1,  # the last layer: no vision layer is left unused
        vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
    )
    model = Llava(config)
    generation = model.generation_config
    generation.update(do_sample=False, max_new_tokens=8, pad_token_id=0, bos_token_id=1)
    generation.eos_token_id = 2
    return model


def encode_conversations(processor: Any, threshold: float) -> dict[tuple[Any, ...], Any]:
    """Token ids and loss labels of every (label, dark, question order): answers only trained."""
    tokenizer, image_run = processor.tokenizer, "<image>" * 49
    table = {}
    for label, dark, order in itertools.product(
        range(10), (True, False), itertools.permutations(QUESTIONS)
    ):
        reply = answers(label, threshold - 1 if dark else threshold, threshold)
        messages = conversation(order, reply)
        ids: list[int] = [tokenizer.bos_token_id]
        labels: list[int] = [-100]
        done = ""
        for turn in range(1, len(order) + 1):
            prompt = processor.apply_chat_template(
                messages[: 2 * turn - 1], add_generation_prompt=True
            )
            full = processor.apply_chat_template(messages[: 2 * turn])
            for text, trained in ((prompt[len(done) :], False), (full[len(prompt) :], True)):
                piece = tokenizer.encode(
                    text.replace("<image>", image_run), add_special_tokens=False
                )
                ids += piece
                labels += piece if trained else [-100] * len(piece)
            done = full
        whole = tokenizer.encode(done.replace("<image>", image_run))
        assert whole == ids, "pieces must tokenize as the whole conversation does"
        table[label, dark, order] = (torch.tensor(ids), torch.tensor(labels))
    return table


def to_pixels(gray: torch.Tensor) -> torch.Tensor:
    """uint8 ``[n, 28, 28]`` -> the model's float ``[n, 3, 28, 28]``, as the processor does."""
    return ((gray.float() / 255 - MEAN) / STD)[:, None].expand(-1, 3, -1, -1)


@torch.no_grad()
def answer_accuracy(
    model: Any, processor: Any, gray: np.ndarray, want: list[str], question: str
) -> float:
    """Share of images whose greedy answer to ``question`` (through the processor) is ``want``."""
    model.eval()
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
    ]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    correct = 0
    for start in range(0, len(gray), 500):
        images = list(np.repeat(gray[start : start + 500, ..., None], 3, axis=-1))
        inputs = processor(images=images, text=[prompt] * len(images), return_tensors="pt")
        out = model.generate(**inputs)
        texts = processor.batch_decode(
            out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        correct += sum(
            t.strip() == w for t, w in zip(texts, want[start : start + 500], strict=True)
        )
    model.train()
    return correct / len(gray)


def train(args: argparse.Namespace) -> dict[str, Any]:
    from transformers.utils import logging

    logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    logging.set_verbosity_error()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    if args.fast:
        args.epochs, args.train_images, args.test_images = 1, 256, 64
    train_x, train_y = fashion_mnist("train")
    test_x, test_y = fashion_mnist("test")
    threshold = float(np.median(train_x.reshape(len(train_x), -1).mean(1) / 255))
    train_x, train_y = train_x[: args.train_images], train_y[: args.train_images]
    test_x, test_y = test_x[: args.test_images], test_y[: args.test_images]
    processor = build_processor(build_tokenizer())
    table = encode_conversations(processor, threshold)
    model = build_model(args, len(processor.tokenizer)).train()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"LLaVA: CLIP vision {args.vision_layers} x {args.vision_hidden}, Llama "
        f"{args.text_layers} x {args.text_hidden}, {args.heads} heads, vocab "
        f"{len(processor.tokenizer)}, {params:,} parameters; {len(train_x):,} train / "
        f"{len(test_x):,} test images; {args.threads} threads; "
        f"dark below mean pixel {threshold:.4f}",
        flush=True,
    )
    gray = torch.from_numpy(train_x.copy())
    dark = (train_x.reshape(len(train_x), -1).mean(1) / 255) < threshold
    orders = list(itertools.permutations(QUESTIONS))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2 or "embed" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": rest, "weight_decay": 0}],
        lr=args.lr,
    )
    steps_per_epoch = math.ceil(len(train_x) / args.batch_size)
    total = max(1, round(steps_per_epoch * args.epochs))
    warmup = max(1, total // 20)

    def schedule(step: int) -> float:  # linear warm-up, then cosine to zero
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    step, loss_sum, seen = 0, 0.0, 0
    while step < total:
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), args.batch_size):
            if step == total:
                break
            index = order[start : start + args.batch_size]
            picks = torch.randint(0, len(orders), (len(index),), generator=generator)
            rows = [
                table[int(train_y[i]), bool(dark[i]), orders[k]]
                for i, k in zip(index, picks, strict=True)
            ]
            ids = torch.nn.utils.rnn.pad_sequence([r[0] for r in rows], batch_first=True)
            labels = torch.nn.utils.rnn.pad_sequence(
                [r[1] for r in rows], batch_first=True, padding_value=-100
            )
            images = gray[index]
            loss = model(
                input_ids=ids,
                attention_mask=ids.ne(0).long(),
                pixel_values=to_pixels(images),
                labels=labels,
            ).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum, seen = loss_sum + float(loss.detach()), seen + 1
            if step % 100 == 0 or step == total:
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                print(
                    f"step {step}/{total}  loss {loss_sum / seen:.4f}  "
                    f"wall {wall:.0f} s  cpu {cpu:.0f} s",
                    flush=True,
                )
                loss_sum, seen = 0.0, 0
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    model.eval()
    result: dict[str, Any] = {
        "parameters": params,
        "wall": wall,
        "cpu": cpu,
        "threshold": threshold,
    }
    test_reply = [
        answers(int(y), float(x.mean()) / 255, threshold)
        for x, y in zip(test_x, test_y, strict=True)
    ]
    for name, question in (("what", WHAT), ("footwear", FOOT), ("dark", DARK)):
        want = [reply[question] for reply in test_reply]
        result[name] = answer_accuracy(model, processor, test_x, want, question)
        print(f"{question!r}: {result[name]:.2%} of {len(test_x):,} test images", flush=True)
    result.update(model=model, processor=processor, test_images=len(test_x), steps=total)
    return result


def save(result: dict[str, Any], out: Path, command: str, args: argparse.Namespace) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result["model"].save_pretrained(out)
    result["processor"].save_pretrained(out)
    questions = {
        "questions": list(QUESTIONS),
        "class_answers": list(CLASS_ANSWERS),
        "footwear_labels": list(FOOTWEAR),
        "dark_below_mean_pixel": round(result["threshold"], 6),
    }
    (out / "questions.json").write_text(json.dumps(questions, indent=2) + "\n")
    (out / "README.md").write_text(readme(result, command, args))
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print(f"saved to {out}: {json.dumps(sizes)}; total {sum(sizes.values()):,} bytes")


def readme(result: dict[str, Any], command: str, args: argparse.Namespace) -> str:
    config = result["model"].config
    vision, text = config.vision_config, config.text_config
    vision_shape = (
        f"{vision.num_hidden_layers} layers x {vision.num_attention_heads} heads, "
        f"hidden {vision.hidden_size}, MLP {vision.intermediate_size}"
    )
    text_shape = (
        f"{text.num_hidden_layers} layers x {text.num_attention_heads} heads "
        f"({text.num_key_value_heads} key/value heads), hidden {text.hidden_size}, "
        f"MLP {text.intermediate_size}"
    )
    return f"""# fashion_vlm: a tiny LLaVA trained on Fashion-MNIST questions

`LlavaForConditionalGeneration` (Hugging Face transformers) built from a `LlavaConfig`, trained
from scratch here, end to end, on CPU:

- vision tower: CLIP vision, 28 x 28 px input, 4 px patches (7 x 7 = 49 patches + CLS),
  {vision_shape}; LLaVA's `"default"` strategy drops CLS, so the 49 patch features of the
  last layer become 49 image tokens;
- projector: LLaVA's Linear-GELU-Linear, {vision.hidden_size} -> {text.hidden_size};
- language model: Llama, {text_shape}, RoPE, vocabulary {text.vocab_size}
  (byte-level BPE trained on the templates: `<pad>` 0, `<s>` 1, `</s>` 2, `<image>` 3);
- {result["parameters"]:,} parameters, float32.

Prompts use LLaVA-1.5's chat format (`chat_template.jinja`):
`USER: <image>\\nWhat is this? ASSISTANT:`; the processor expands `<image>` into 49 image tokens.
Questions and answers (`questions.json`): "What is this?" -> the class ("a sneaker", "an ankle
boot", "trousers", ...); "Is it footwear?" -> yes / no; "Is it dark or light?" -> "dark" when
the mean pixel value (0..1) is below {result["threshold"]:.4f} (the training set's median),
else "light". Each training sequence asks all three about one image in a random order (loss
on the answer tokens only); AdamW, warm-up then cosine learning rate; seeded. Trained on the
60,000 Fashion-MNIST training images (Debian's `dataset-fashion-mnist`) for {args.epochs:g}
epochs ({result["steps"]:,} steps of {args.batch_size}).

Greedy answers on the {result["test_images"]:,} test images, through the processor and
`generate`:

| question | correct |
|---|---|
| What is this? | **{result["what"]:.2%}** |
| Is it footwear? | {result["footwear"]:.2%} |
| Is it dark or light? | {result["dark"]:.2%} |

Training took {result["wall"]:.0f} s wall and {result["cpu"]:.0f} s CPU with {args.threads}
thread(s) on a shared 2-core machine. Command: `{command}`

Load it with `attnwidgets.demo.load_fashion_vlm()`, which returns
`(model, processor, images, labels)` for the test split.
"""


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = "PYTHONPATH=src python scripts/train_fashion_vlm.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    out = args.out if args.out is not None else (None if args.fast else SHIPPED)
    result = train(args)
    if out is None:
        print("--fast without --out: nothing saved")
        return
    save(result, out, command.strip(), args)


if __name__ == "__main__":
    main()
