"""Which keys each query may see, as a rule instead of a ``[query, key]`` matrix (numpy only).

A Q/K record (``qk_records``) keeps no mask: at 32,768 tokens a boolean mask alone is 1 GiB.
Every mask transformers and sdpa build for one sequence is a combination of four rules, so
``MaskRule`` keeps those and answers for any block of cells:

- ``causal``: key ``k`` is seen by query ``q`` only when ``k <= q`` (sdpa's upper-left
  alignment; queries and keys are the same positions);
- ``window``: ``(lo, hi)``, the ``k - q`` offsets a sliding window lets through
  (``(-4095, 0)``: a causal window of 4,096 keys, itself included);
- ``key_valid``: ``[keys]`` bool, False for padding keys, which no query sees;
- ``prefix``: the first ``prefix`` tokens see each other both ways (a prefix LM), whatever
  ``causal`` and ``window`` say.

A query row that sees no key at all (a left-padding position) gets uniform probabilities
``1 / keys``, as eager attention and the dense capture give it.

>>> import numpy as np
>>> rule = MaskRule(causal=True, window=(-1, 0), key_valid=np.array([False, True, True, True]))
>>> rule.cells(0, 4, 0, 4).astype(int).tolist()
[[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
>>> rule.empty_rows(4, 4).tolist(), rule.describe()
([True, False, False, False], 'causal, window of 2 keys, 1 padding key')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
_FAR = 1 << 62  # "no limit" for an offset bound


@dataclass(frozen=True, eq=False)
class MaskRule:
    """The keys each query sees (see the module docstring). ``cells`` gives a block as bool
    (True: seen), ``span`` the keys a block of queries may see at all, ``edges`` the columns
    where the band cuts a block (elsewhere a row sees all or none of the span)."""

    causal: bool = False
    window: tuple[int, int] | None = None
    key_valid: BoolArray | None = None
    prefix: int = 0
    _empty: dict[tuple[int, int], BoolArray] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.window is not None and self.window[0] > self.window[1]:
            raise ValueError(f"a window is (lowest, highest) key - query offset, got {self.window}")
        if self.key_valid is not None:
            valid = np.ascontiguousarray(self.key_valid, dtype=bool)
            if valid.ndim != 1:
                raise ValueError(f"key_valid must be [keys], got shape {valid.shape}")
            object.__setattr__(self, "key_valid", None if valid.all() else valid)
        if self.prefix < 0:
            raise ValueError(f"prefix must be >= 0, got {self.prefix}")

    @property
    def lo(self) -> int:
        """Lowest ``k - q`` offset seen (a very negative number without a window)."""
        return self.window[0] if self.window is not None else -_FAR

    @property
    def hi(self) -> int:
        """Highest ``k - q`` offset seen: 0 when causal, the window's top, else very large."""
        top = self.window[1] if self.window is not None else _FAR
        return min(top, 0) if self.causal else top

    @property
    def is_full(self) -> bool:
        """True when every query sees every key."""
        return self.key_valid is None and self.window is None and not self.causal

    def span(self, q0: int, q1: int, n_keys: int) -> tuple[int, int]:
        """``[k0, k1)``: the keys some query in ``[q0, q1)`` may see (padding ignored).

        Example:
            >>> MaskRule(causal=True).span(4, 8, 100), MaskRule(window=(-2, 2)).span(4, 8, 100)
            ((0, 8), (2, 10))
        """
        k0 = max(0, q0 + self.lo) if self.lo > -_FAR else 0
        k1 = min(n_keys, q1 - 1 + self.hi + 1) if self.hi < _FAR else n_keys
        if self.prefix and q0 < self.prefix:
            k0, k1 = 0, max(k1, min(self.prefix, n_keys))
        return k0, max(k0, k1)

    def edges(self, q0: int, q1: int, k0: int, k1: int) -> list[tuple[int, int]]:
        """Column ranges within ``[k0, k1)`` where some rows of ``[q0, q1)`` see a key and
        others do not (the band's two edges, a whole block under a prefix); elsewhere every
        row of the block sees the span's keys (padding aside).

        Example:
            >>> MaskRule(causal=True).edges(8, 12, 0, 12)
            [(9, 12)]
        """
        if self.prefix and q0 < self.prefix:
            return [(k0, k1)] if k1 > k0 else []
        found: list[tuple[int, int]] = []
        for low, high in (
            (q0 + self.lo, q1 - 1 + self.lo),  # the lower edge: row q sees k >= q + lo
            (q0 + self.hi + 1, q1 + self.hi),  # the upper edge: row q sees k <= q + hi
        ):
            if abs(low) >= _FAR // 2:
                continue
            low, high = max(low, k0), min(high, k1)
            if high > low:
                found.append((low, high))
        found.sort()
        merged: list[tuple[int, int]] = []
        for low, high in found:
            if merged and low <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
            else:
                merged.append((low, high))
        return merged

    def band(self, q0: int, q1: int, k0: int, k1: int) -> BoolArray:
        """``[q1 - q0, k1 - k0]`` bool: seen by the band and the prefix (padding ignored)."""
        offsets = np.arange(k0, k1)[None, :] - np.arange(q0, q1)[:, None]
        seen: BoolArray = (offsets >= max(self.lo, -(1 << 40))) & (offsets <= min(self.hi, 1 << 40))
        if self.prefix and q0 < self.prefix and k0 < self.prefix:
            seen[: self.prefix - q0, : self.prefix - k0] = True
        return seen

    def valid_columns(self, k0: int, k1: int) -> BoolArray | None:
        """``[k1 - k0]`` bool (False: padding), or None when every key there is valid."""
        if self.key_valid is None:
            return None
        part = self.key_valid[k0:k1]
        return None if bool(part.all()) else part

    def cells(self, q0: int, q1: int, k0: int, k1: int) -> BoolArray:
        """``[q1 - q0, k1 - k0]`` bool: True where the query sees the key."""
        seen = self.band(q0, q1, k0, k1)
        valid = self.valid_columns(k0, k1)
        if valid is not None:
            seen &= valid[None, :]
        return seen

    def row(self, q: int, n_keys: int) -> BoolArray:
        """``[n_keys]`` bool: the keys query ``q`` sees."""
        found: BoolArray = self.cells(q, q + 1, 0, n_keys)[0]
        return found

    def column(self, k: int, n_queries: int) -> BoolArray:
        """``[n_queries]`` bool: the queries that see key ``k``."""
        return self.cells(0, n_queries, k, k + 1)[:, 0]

    def empty_rows(self, n_queries: int, n_keys: int) -> BoolArray:
        """``[n_queries]`` bool: rows that see no key (they get uniform probabilities).

        Example:
            >>> MaskRule(causal=True, key_valid=np.array([0, 0, 1, 1], bool)).empty_rows(4, 4)
            array([ True,  True, False, False])
        """
        key = (n_queries, n_keys)
        found = self._empty.get(key)
        if found is None:
            valid = np.ones(n_keys, bool) if self.key_valid is None else self.key_valid
            count = np.concatenate([[0], np.cumsum(valid[:n_keys], dtype=np.int64)])
            rows = np.arange(n_queries, dtype=np.int64)
            low = np.clip(rows + max(self.lo, -(1 << 40)), 0, n_keys)
            high = np.clip(rows + min(self.hi, 1 << 40) + 1, 0, n_keys)
            seen = count[np.maximum(high, low)] - count[low]
            if self.prefix:
                inside = rows < self.prefix
                seen[inside] += count[min(self.prefix, n_keys)]
            found = seen == 0
            self._empty[key] = found
        return found

    def hidden(self, n_queries: int, n_keys: int) -> BoolArray:
        """The whole ``[n_queries, n_keys]`` mask, True where hidden (short inputs, tests)."""
        return ~self.cells(0, n_queries, 0, n_keys)

    def cut(self, start: int, stop: int) -> MaskRule:
        """The rule of positions ``[start, stop)`` alone (padding cut off a batch example).

        Example:
            >>> MaskRule(causal=True, key_valid=np.array([0, 1, 1], bool)).cut(1, 3).describe()
            'causal'
        """
        valid = None if self.key_valid is None else self.key_valid[start:stop]
        prefix = max(0, min(self.prefix, stop) - start)
        return MaskRule(self.causal, self.window, valid, prefix)

    def describe(self) -> str:
        """A few words: ``causal, window of 4096 keys, 3 padding keys, prefix of 12``."""
        parts = []
        if self.causal:
            parts.append("causal")
        if self.window is not None:
            low, high = self.window
            width = (min(high, 0) if self.causal else high) - low + 1
            parts.append(f"window of {width} keys")
        if self.key_valid is not None:
            padding = int((~self.key_valid).sum())
            parts.append(f"{padding} padding key{'s' if padding != 1 else ''}")
        if self.prefix:
            parts.append(f"prefix of {self.prefix}")
        return ", ".join(parts) or "every key"
