"""Principal components of a feature matrix (numpy only): the FeatureMap's projection.

The covariance ``[d, d]`` is formed once (``X.T @ X``, float64 accumulation over float32
rows) and diagonalised, so 50,000 x 384 features project in a fraction of a second. Rows
with NaN or inf are left out of the fit and get NaN coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Projection:
    """``coords [n, k]`` (NaN for rows left out), ``components [k, d]``, ``mean [d]``,
    ``explained`` (fraction of the variance of each component)."""

    coords: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    explained: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of new rows in these components."""
        centred = np.asarray(X, np.float32) - self.mean
        return np.asarray(centred @ self.components.T, np.float32)


def pca(X: np.ndarray, k: int = 2) -> Projection:
    """The first ``k`` principal components of ``X [n, d]``; signs fixed so that each
    component's largest loading is positive (the same data always gives the same picture).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(500, 3)) * [5.0, 1.0, 0.1]
        >>> p = pca(X, 2)
        >>> p.coords.shape, np.round(np.abs(p.components[0]), 2).tolist()
        ((500, 2), [1.0, 0.0, 0.0])
        >>> round(float(p.explained[0]), 2)
        0.96
    """
    data = np.asarray(X)
    if data.ndim != 2:
        raise ValueError(f"pca: X must be [n, d], got shape {list(data.shape)}")
    n, d = data.shape
    k = min(k, d)
    finite = np.isfinite(data).all(axis=1)
    rows = data[finite].astype(np.float32, copy=False)
    if len(rows) < 2:
        raise ValueError(f"pca: {len(rows)} finite rows of {n}; need at least 2")
    mean = rows.mean(axis=0, dtype=np.float64).astype(np.float32)
    centred = rows - mean
    if d <= len(rows):
        cov = (centred.T @ centred).astype(np.float64) / (len(rows) - 1)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1][:k]
        components, variances = vectors[:, order].T, values[order]
        total = float(np.trace(cov))
    else:
        _, s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
        components, variances = vt[:k], s[:k] ** 2 / (len(rows) - 1)
        total = float((s**2).sum() / (len(rows) - 1))
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components = (components * signs[:, None]).astype(np.float32)
    coords = np.full((n, k), np.nan, dtype=np.float32)
    coords[finite] = centred @ components.T
    explained = (variances / total if total > 0 else np.zeros(k)).astype(np.float32)
    return Projection(coords, components, mean, explained)
