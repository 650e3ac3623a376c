"""Test doubles of the learner tests: a tiny network with AIFTNet's interface, a pool and
strategies whose picks are known in advance (used by test_learner, test_pool, test_session)."""

from __future__ import annotations

import json

import numpy as np

from sklearn_aift.candidates import iter_candidate_batches


class FakeNet:
    """P(class | patch) from the patch brightness and a threshold learned by warm fits."""

    def __init__(self, classes=None, random_state=0, verbose=0, scale=10.0):
        self.classes = classes
        self.random_state = random_state
        self.verbose = verbose
        self.scale = scale

    def get_params(self, deep=True):
        return {
            "classes": self.classes,
            "random_state": self.random_state,
            "verbose": self.verbose,
            "scale": self.scale,
        }

    def set_params(self, **params):
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self):
        return f"FakeNet(classes={self.classes!r})"

    @property
    def n_fits_(self):
        return len(getattr(self, "fit_log_", []))

    def _brightness(self, X):
        batches = iter_candidate_batches(X, 4)
        parts = [b.astype(float).mean(axis=(2, 3, 4)) / 255 for _, b in batches]
        return np.concatenate(parts)

    def predict_patch_proba(self, X):
        b = self._brightness(X)
        classes = self.classes if self.classes is not None else getattr(self, "classes_", [0, 1])
        k = len(classes)
        t = getattr(self, "threshold_", 0.5)
        centers = t + (np.arange(k) - (k - 1) / 2) * 0.2
        logits = -self.scale * (b[..., None] - centers) ** 2
        logits[..., -1] += self.scale * (b - t)  # brighter patches lean to the last class
        logits -= logits.max(axis=-1, keepdims=True)
        P = np.exp(logits)
        return P / P.sum(axis=-1, keepdims=True)

    def predict_proba(self, X):
        return self.predict_patch_proba(X).mean(axis=1)

    def predict(self, X):
        return np.asarray(self.classes_)[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.asarray(self.classes) if self.classes is not None else np.unique(y)
        b = self._brightness(X).mean(axis=1)
        pos, neg = b[y == self.classes_[-1]], b[y != self.classes_[-1]]
        target = (pos.mean() + neg.mean()) / 2 if len(pos) and len(neg) else b.mean()
        self.threshold_ = 0.5 * getattr(self, "threshold_", 0.5) + 0.5 * float(target)
        self.fit_log_ = getattr(self, "fit_log_", []) + [(int(len(y)), sorted(set(y.tolist())))]
        return self

    def save_checkpoint(self, path):
        state = {
            "threshold_": getattr(self, "threshold_", 0.5),
            "fit_log_": getattr(self, "fit_log_", []),
            "classes_": np.asarray(self.classes_).tolist() if hasattr(self, "classes_") else None,
        }
        with open(path, "w") as handle:
            json.dump(state, handle)

    def load_checkpoint(self, path):
        with open(path) as handle:
            state = json.load(handle)
        self.threshold_ = state["threshold_"]
        self.fit_log_ = [tuple(entry) for entry in state["fit_log_"]]
        if state["classes_"] is not None:
            self.classes_ = np.asarray(state["classes_"])
        return self


def brightest(learner, X_pool, n_instances=1, random_state=None, exclude=None):
    """Rank candidates by the mean patch probability of the last class."""
    p = learner.predict_patch_proba(X_pool)[..., -1].mean(axis=1)
    if exclude is not None and len(exclude):
        p[np.asarray(exclude, dtype=int)] = -np.inf
    order = np.argsort(-p, kind="stable")[:n_instances]
    order = order[np.isfinite(p[order])]
    return order, p[order]


def brightest_no_exclude(learner, X_pool, n_instances=1):
    """A modAL-style strategy that knows nothing of labeled candidates."""
    p = learner.predict_patch_proba(X_pool)[..., -1].mean(axis=1)
    order = np.argsort(-p, kind="stable")[:n_instances]
    return order, p[order]


def in_order(learner, X_pool, n_instances=1, random_state=None, exclude=None):
    """The lowest unlabeled indices first (each pair mixes both classes of make_pool)."""
    order = np.setdiff1d(np.arange(len(X_pool)), [] if exclude is None else exclude)
    order = order[:n_instances]
    return order, -order.astype(float)


def seeded_random(learner, X_pool, n_instances=1, random_state=None, exclude=None):
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(X_pool))
    if exclude is not None:
        order = order[~np.isin(order, exclude)]
    order = order[:n_instances]
    return order, rng.random(len(order))


def make_pool(n=12, m=3, size=6, seed=0):
    """n distinct uint8 candidates; odd ones are bright (label 1)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.integers(0, 60, size=(n, m, 3, size, size), dtype=np.uint8)
    X[y == 1] += np.uint8(120)
    X += (np.arange(n) * 3).astype(np.uint8)[:, None, None, None, None]
    return X, y
