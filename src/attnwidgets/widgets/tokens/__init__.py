"""The tokenizer view: TokenizerView, compare_tokenizers, and the Tokens tab of run.show()."""

from .run_tab import tokens_tab
from .view import TokenizerView, compare_tokenizers

__all__ = ["TokenizerView", "compare_tokenizers", "tokens_tab"]
