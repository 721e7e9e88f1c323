"""Sentence pairs (bertviz's ``sentence_b_start``): which query rows / key columns to show.

Sentence A is tokens ``[0, b)``, sentence B is ``[b, n)``. ``"A->B"`` shows the rows of A
(queries) against the columns of B (keys), as bertviz's "Sentence A -> Sentence B".
"""

from __future__ import annotations

SENTENCE_FILTERS = ("all", "A->A", "B->B", "A->B", "B->A")


def check_sentence_b_start(start: int, n_queries: int, n_keys: int) -> int:
    """``start`` when it splits the tokens into two non-empty sentences, else ValueError.

    Example:
        >>> check_sentence_b_start(3, 5, 5)
        3
    """
    if n_queries != n_keys:
        raise ValueError(
            f"sentence_b_start needs self-attention (as many queries as keys); this attention "
            f"has {n_queries} queries and {n_keys} keys"
        )
    if isinstance(start, bool) or not isinstance(start, int) or not 0 < start < n_queries:
        raise ValueError(
            f"sentence_b_start must be a token index in 1..{n_queries - 1} (where sentence B "
            f"begins), got {start!r}"
        )
    return start


def sentence_region(
    sentence_filter: str, start: int, n_queries: int, n_keys: int
) -> tuple[int, int, int, int] | None:
    """``(q0, q1, k0, k1)`` shown for a filter, or None for every token (``"all"``, or no split).

    Example:
        >>> sentence_region("A->B", 3, 5, 5), sentence_region("all", 3, 5, 5)
        ((0, 3, 3, 5), None)
    """
    if sentence_filter not in SENTENCE_FILTERS:
        raise ValueError(
            f"sentence_filter must be one of {SENTENCE_FILTERS}, not {sentence_filter!r}"
        )
    if sentence_filter == "all" or not 0 < start < min(n_queries, n_keys):
        return None
    spans = {"A": (0, start), "B": (start, n_queries)}
    (q0, q1), (k0, k1) = spans[sentence_filter[0]], spans[sentence_filter[-1]]
    return q0, q1, k0, k1
