"""Linear probes per layer (scikit-learn), with a majority baseline and a control task.

For each stored layer of a module: standardise, fit ``LogisticRegression`` in stratified
k-fold cross-validation, and report mean and spread of the held-out accuracy. Beside it, the
majority-class accuracy (``DummyClassifier``, same folds) and the accuracy of the same probe
on labels shuffled once (a control task: what the probe learns from features alone);
``selectivity`` = accuracy - control accuracy (Hewitt & Liang, 2019). Rows with NaN or inf
features are skipped, with a warning that says how many.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .store import FeatureStore


@dataclass
class LayerScore:
    """One layer's probe: accuracies over the folds, baseline, control and sizes."""

    layer: int | None
    accuracy: np.ndarray
    majority: float
    control: np.ndarray
    n: int
    skipped: int

    @property
    def selectivity(self) -> float:
        return float(self.accuracy.mean() - self.control.mean())


@dataclass
class ProbeResult:
    """``layers``: one ``LayerScore`` per layer, in order; ``.table()`` as plain rows;
    ``.widget()`` / display: the accuracy-per-layer plot (``ProbeView``)."""

    store: FeatureStore
    module: str
    label: str
    classes: list[Any]
    layers: list[LayerScore] = field(default_factory=list)
    folds: int = 5
    label_values: Any = None  # the labels given as values rather than a stored column

    def table(self) -> list[dict[str, Any]]:
        """One dict per layer: accuracy (mean, std), majority, control (mean), selectivity.

        Example:
            >>> result.table()[0]  # doctest: +SKIP
            {'layer': 0, 'accuracy': 0.91, 'std': 0.02, 'majority': 0.5, 'control': 0.52, ...}
        """
        return [
            {
                "layer": s.layer,
                "accuracy": round(float(s.accuracy.mean()), 4),
                "std": round(float(s.accuracy.std()), 4),
                "majority": round(s.majority, 4),
                "control": round(float(s.control.mean()), 4),
                "control_std": round(float(s.control.std()), 4),
                "selectivity": round(s.selectivity, 4),
                "n": s.n,
                "skipped": s.skipped,
            }
            for s in self.layers
        ]

    def best(self) -> LayerScore:
        """The layer with the highest mean accuracy."""
        return max(self.layers, key=lambda s: float(s.accuracy.mean()))

    def direction(self, layer: int | None, target: Any = None) -> np.ndarray:
        """A unit vector in feature space: the probe, refit on all rows of ``layer``, for class
        ``target`` (default: the last class; the positive one of a binary task). Feed it to
        ``aw.neuron_view(..., direction=...)`` to colour tokens by their projection on it."""
        label = self.label if self.label_values is None else self.label_values
        X, y = _rows(self.store, self.module, layer, label)[:2]
        model = _probe_model(max_iter=2000).fit(X, y)
        scaler, logistic = (
            model.named_steps["standardscaler"],
            model.named_steps["logisticregression"],
        )
        classes = list(logistic.classes_)
        row = (
            0 if len(classes) == 2 else classes.index(target if target is not None else classes[-1])
        )
        weights = logistic.coef_[row] / scaler.scale_
        if len(classes) == 2 and target is not None and target == classes[0]:
            weights = -weights
        return np.asarray(weights / np.linalg.norm(weights), np.float32)

    def widget(self) -> Any:
        from ..widgets.features.probe_view import ProbeView

        return ProbeView(self)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        rows = ", ".join(f"{r['layer']}: {r['accuracy']:.3f}" for r in self.table())
        return f"ProbeResult({self.module!r}, label={self.label!r}, accuracy by layer {{{rows}}})"


def _probe_model(max_iter: int = 1000, C: float = 1.0) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = LogisticRegression(max_iter=max_iter, C=C, tol=1e-3)  # 1e-3: a probe, not a fit
    return make_pipeline(StandardScaler(), probe)


def _rows(
    store: FeatureStore, module: str, layer: int | None, label: str | Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, int]:
    X, meta = store.load(module, layer)
    if isinstance(label, str):
        if label not in meta:
            raise KeyError(
                f"probe: label={label!r} is not a stored column; use 'label' or "
                "pass one label per stored input"
            )
        y = np.asarray(meta[label])
    else:
        y = np.asarray(label)
        if len(y) != len(X):
            raise ValueError(f"probe: {len(y)} labels for {len(X)} stored rows")
    keep = np.isfinite(X).all(axis=1) & ~_missing(y)
    return X[keep].astype(np.float32), y[keep], int((~keep).sum())


def _missing(y: np.ndarray) -> np.ndarray:
    if y.dtype == object:
        return np.array([v is None or v == "" for v in y], dtype=bool)
    return np.zeros(len(y), dtype=bool)


def probe(
    store: FeatureStore | str,
    module: str,
    label: str | Sequence[Any] = "label",
    *,
    layers: Sequence[int] | None = None,
    folds: int = 5,
    C: float = 1.0,
    max_iter: int = 1000,
    seed: int = 0,
) -> ProbeResult:
    """Cross-validated linear probes of ``label`` on every stored layer of ``module``.

    ``store``: a ``FeatureStore`` or its path; ``module``: a stored pattern
    (``"model.layers.*.mlp"``; a glob over several is not needed: the store's layers are
    probed in order); ``label``: the stored label column or one label per stored input.

    Example:
        >>> result = aw.probe(store, "encoder.layer.*.output")  # doctest: +SKIP
        >>> result.table()[-1]["accuracy"]                      # doctest: +SKIP
        0.93
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    chosen = list(layers) if layers is not None else store.layers(module)
    rng = np.random.default_rng(seed)
    result: ProbeResult | None = None
    for layer in chosen:
        X, y, skipped = _rows(store, module, layer, label)
        where = store.resolve(module, layer)
        if skipped:
            warnings.warn(
                f"probe: skipped {skipped} of {skipped + len(X)} rows of {where} with NaN or "
                "inf features (or no label)",
                stacklevel=2,
            )
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ValueError(
                f"probe: {where} has one class only ({classes.tolist()}); "
                "a probe needs at least two"
            )
        k = int(min(folds, counts.min()))
        if k < 2:
            raise ValueError(
                f"probe: the rarest class has {counts.min()} example(s); "
                "need at least 2 per class for cross-validation"
            )
        split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        model = _probe_model(max_iter, C)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(converge|max_iter).*")
            accuracy = cross_val_score(model, X, y, cv=split)
            shuffled = rng.permutation(y)
            control = cross_val_score(_probe_model(max_iter, C), X, shuffled, cv=split)
        majority = cross_val_score(DummyClassifier(strategy="most_frequent"), X, y, cv=split)
        if result is None:
            name = label if isinstance(label, str) else "labels"
            values = None if isinstance(label, str) else label
            result = ProbeResult(
                store, module, name, classes.tolist(), folds=k, label_values=values
            )
        result.layers.append(
            LayerScore(layer, accuracy, float(majority.mean()), control, len(X), skipped)
        )
    if result is None:
        raise ValueError(f"probe: no layers of {module!r} to probe")
    return result
