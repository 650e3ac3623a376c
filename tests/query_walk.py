"""The files of the package that ``ActiveLearner.query`` runs code in, listed by tracing.

Run as a script to print the walk of one query (``python tests/query_walk.py``);
``test_architecture.py`` holds it to the limit documented in
``docs/architecture.rst``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_aift"


def traced_files(call) -> list[str]:
    """Package files (relative to ``sklearn_aift/``) whose functions ``call()`` runs, in order."""
    seen: dict[str, None] = {}
    root = str(PACKAGE)

    def profile(frame, event, arg):
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(root):
                seen.setdefault(str(Path(filename).relative_to(PACKAGE)), None)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return list(seen)


def query_walk(first: bool = False) -> list[str]:
    """The files one ``ActiveLearner.query(X_pool, n)`` crosses, past the cold start.

    An :class:`~sklearn_aift.AIFTNet` (frozen blocks, so the activation cache
    is used) fitted on 12 labels of two classes; the default strategy
    (``entropy_diversity_quarter``). ``first`` traces the first query on the
    pool (its candidates are identified then); otherwise a later query on the
    same pool.
    """
    import torch

    from sklearn_aift import ActiveLearner, AIFTNet

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 100, size=(24, 2, 3, 32, 32), dtype=np.uint8)
    y = np.arange(24) % 2
    X[y == 1] += 100
    net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
                  batch_size=8, random_state=0)
    learner = ActiveLearner(net, classes=[0, 1], random_state=0)
    learner.teach(X[:12], y[:12])
    X_pool = X[12:].copy()
    if not first:
        learner.query(X_pool, n_instances=2)
    return traced_files(lambda: learner.query(X_pool, n_instances=2))


if __name__ == "__main__":
    for label, first in (("first query on a pool", True), ("later query", False)):
        files = query_walk(first)
        print(f"{label}: {len(files)} files")
        for name in files:
            print(f"  {name}")
