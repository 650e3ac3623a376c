"""Which files and functions of the package one ``ActiveLearner.query`` runs, by tracing.

``python tests/query_walk.py`` prints the walk of a query with an
:class:`~sklearn_aift.AIFTNet`; ``test_architecture.py`` holds it to the
limit that ``docs/architecture.rst`` documents. A file counts when code of it
runs during the call (``sys.setprofile`` sees a Python function of it called);
files imported earlier but not run do not count, nor do other packages.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_aift"


def traced_calls(call: Callable[[], Any]) -> Counter:
    """``(file, function) -> number of calls`` of the package's Python code during ``call()``.

    Files are relative to ``sklearn_aift/``, in the order first entered.
    """
    calls: Counter = Counter()
    root = str(PACKAGE)

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(root):
            name = Path(frame.f_code.co_filename).relative_to(PACKAGE).as_posix()
            calls[name, frame.f_code.co_name] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(previous)
    return calls


def files_of(calls: Counter) -> list[str]:
    """The files of ``traced_calls``, each once, in the order first entered."""
    return list(dict.fromkeys(name for name, _ in calls))


def make_pool(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """``n`` candidates of 2 patches, 3 x 32 x 32, the positives brighter."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 100, size=(n, 2, 3, 32, 32), dtype=np.uint8)
    y = np.arange(n) % 2
    X[y == 1] += 100
    return X, y


def query_walk(first: bool = False) -> Counter:
    """The calls of one ``ActiveLearner.query(X_pool, n)`` past the cold start.

    An :class:`~sklearn_aift.AIFTNet` with its default frozen blocks (so the
    activation cache is used), fitted on 12 labels of two classes, and the
    default strategy (``entropy_diversity_quarter``). ``first`` traces the
    first query on the pool (its candidates are keyed then); otherwise a
    later query on the same pool.
    """
    import torch

    from sklearn_aift import ActiveLearner, AIFTNet

    torch.set_num_threads(1)
    X, y = make_pool()
    net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
                  batch_size=8, random_state=0)
    learner = ActiveLearner(net, classes=[0, 1], random_state=0)
    learner.teach(X[:12], y[:12])
    X_pool = X[12:].copy()
    if not first:
        learner.query(X_pool, n_instances=2)
    return traced_calls(lambda: learner.query(X_pool, n_instances=2))


if __name__ == "__main__":
    for label, first in (("first query on a pool", True), ("later query", False)):
        calls = query_walk(first)
        files = files_of(calls)
        print(f"{label}: {len(files)} files")
        for name in files:
            functions = ", ".join(f"{f} x{c}" if c > 1 else f
                                  for (n, f), c in calls.items() if n == name)
            print(f"  {name}: {functions}")
