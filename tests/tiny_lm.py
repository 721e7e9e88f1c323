"""A tiny causal LM with a character tokenizer, built offline (no hub): for live-text tests.

Import it from a test folder with ``sys.path.insert(0, str(Path(__file__).parents[1]))``.
"""

from __future__ import annotations

import string
from typing import Any

import torch

CHARS = " " + string.ascii_lowercase + string.ascii_uppercase + ".,!?"
END = 63  # end / pad id: never produced by the tokenizer, so generation runs its full length


def char_tokenizer() -> Any:
    """One token per character (63 ids); unknown characters become ``<unk>``.

    >>> char_tokenizer()("ab c")["input_ids"]
    [2, 3, 1, 4]
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, **{c: i + 1 for i, c in enumerate(CHARS)}, "<end>": END}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", eos_token="<end>", pad_token="<end>"
    )


def char_gpt2(positions: int = 64, seed: int = 0) -> torch.nn.Module:
    """A random 2-layer, 4-head GPT-2 over the character vocabulary."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=64, n_positions=positions,
                        bos_token_id=END, eos_token_id=END, pad_token_id=END)  # fmt: skip
    model = GPT2LMHeadModel(config).eval()
    model.generation_config.pad_token_id = END
    model.generation_config.eos_token_id = None  # never stop early: steps are counted
    return model
