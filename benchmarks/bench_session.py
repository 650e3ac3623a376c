"""Cost of recording labels one at a time in a session store.

``ActiveLearner.teach(X[[i]], y[[i]], fine_tune=False)`` with ``autosave``
commits one SQLite transaction (``synchronous=FULL``) per label, holding the
candidate's pixels (``np.save`` bytes, zlib level 1), so a session resumes
whatever pool is passed later. Measured in the same run, per label:

* ``in memory``: the same ``teach`` without a store (identity, validation,
  copying the pixels): the floor;
* ``store, no pixels``: the store's transaction for the same label with a
  one-byte placeholder instead of the pixels (what the store would cost if it
  kept no pixels);
* ``store``: the real ``teach`` with ``autosave``.

Candidates are the embedded synthetic colonoscopy frames (realistic, smooth
pixels rather than incompressible noise) at two patch sizes. Also reported:
the bytes the store holds per label.

Usage::

    python benchmarks/bench_session.py [--n 60] [--m 21] [--sizes 64 227]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from sklearn_aift.datasets import make_colonoscopy_frames
from sklearn_aift.learner import ActiveLearner, SessionStore


class NoTraining:
    """A stand-in model: labels are only recorded in this benchmark."""

    def get_params(self, deep=True):
        return {}

    def predict_patch_proba(self, X):
        return np.full((len(X), X.shape[1], 2), 0.5)

    def fit(self, X, y):
        return self

    def save_checkpoint(self, path):
        Path(path).write_text(json.dumps({}))

    def load_checkpoint(self, path):
        return self


def _per_label(learner, X, y):
    start = time.perf_counter()
    for i in range(len(X)):
        learner.teach(X[[i]], y[[i]], fine_tune=False, annotator="bench")
    return (time.perf_counter() - start) / len(X)


def _store_only(folder, X, y):
    store = SessionStore.create(folder, {})
    start = time.perf_counter()
    for i in range(len(X)):
        row = {"candidate_key": str(i), "digest": str(i), "label": int(y[i]),
               "annotator": "bench", "labeled_at": "2026-01-01T00:00:00+00:00",
               "pixels": np.zeros(1, dtype=np.uint8)}
        store.record_labels(1, [row], {"round": 1})
    return (time.perf_counter() - start) / len(X)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="labels per measurement")
    parser.add_argument("--m", type=int, default=21, help="patches per candidate (1, 5, 21, 85)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 227])
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"{args.n} labels, one teach(..., fine_tune=False) each, m = {args.m}")
    header = ("patch px", "MB/cand.", "in memory ms", "store, no pixels ms", "store ms",
              "store / no pixels", "stored MB/label")
    print(" | ".join(header))
    for size in args.sizes:
        X, y = make_colonoscopy_frames(args.n, n_patches=args.m, patch_size=size,
                                       frame_size=max(128, 2 * size), return_X_y=True,
                                       random_state=0)
        X = np.asarray(X)
        with tempfile.TemporaryDirectory() as tmp:
            memory = _per_label(ActiveLearner(NoTraining(), classes=[0, 1]), X, y)
            bare = _store_only(Path(tmp) / "bare", X, y)
            folder = Path(tmp) / "session"
            stored = _per_label(
                ActiveLearner(NoTraining(), classes=[0, 1], autosave=folder), X, y
            )
            db_bytes = (folder / "session.sqlite").stat().st_size
        print(f"{size} | {X[0].nbytes / 1e6:.2f} | {memory * 1e3:.2f} | {bare * 1e3:.2f} | "
              f"{stored * 1e3:.2f} | {stored / bare:.1f}x | {db_bytes / args.n / 1e6:.3f}")


if __name__ == "__main__":
    main()
