"""How text becomes tokens: spans, step-by-step algorithms, side-by-side alignment, vocabulary.

numpy and the standard library only; a tokenizer is whatever object the user passes in (a
``tokenizers.Tokenizer`` or a transformers tokenizer, fast or slow).
"""

from .align import Alignment, align_tokenizations
from .data import TokenizerData, read_tokenizer
from .readable import PieceScheme
from .spans import TokenCounts, TokenSpans, tokenize_with_spans
from .step_records import (
    MatchStep,
    MergeStep,
    PreTokenSteps,
    Segmentation,
    Step,
    ViterbiStep,
    WordSteps,
)
from .steps import model_steps, word_steps
from .vocab import Neighbours, VocabEntry, nearest_tokens, search_vocab

__all__ = [
    "Alignment",
    "MatchStep",
    "MergeStep",
    "Neighbours",
    "PieceScheme",
    "PreTokenSteps",
    "Segmentation",
    "Step",
    "TokenCounts",
    "TokenSpans",
    "TokenizerData",
    "ViterbiStep",
    "VocabEntry",
    "WordSteps",
    "align_tokenizations",
    "model_steps",
    "nearest_tokens",
    "read_tokenizer",
    "search_vocab",
    "tokenize_with_spans",
    "word_steps",
]
