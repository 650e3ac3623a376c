"""The layout holds: private names stay in their package, a query crosses few files, checks run once."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from query_walk import PACKAGE, files_of, make_pool, query_walk, traced_calls

from sklearn_aift import ActiveLearner
from sklearn_aift.strategies import aift_sampling

# Private names allowed to cross packages: none (the `label` command and the page
# use public names); nothing may be added here.
KNOWN: set[tuple[str, str]] = set()
MAX_QUERY_FILES = 12  # documented in docs/architecture.rst ("From query to the indices")


def _package_of(parts) -> str:
    """``sklearn_aift.<sub>`` for a module of a sub-package, else ``sklearn_aift``."""
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return "sklearn_aift"


def _imports(path: Path):
    """``(module parts, imported name or None)`` of every import of the package in ``path``."""
    base = ["sklearn_aift", *path.relative_to(PACKAGE).parent.parts]  # where "." points
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                module = base[: len(base) - node.level + 1] + (node.module or "").split(".")
                module = [p for p in module if p]
            else:
                module = (node.module or "").split(".")
            if module[0] == "sklearn_aift":
                for alias in node.names:
                    yield tuple(module), alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sklearn_aift":
                    yield tuple(alias.name.split(".")), None


def _private_crossings():
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _package_of(["sklearn_aift", *path.relative_to(PACKAGE).parts])
        for module, name in _imports(path):
            full = [*module, *([name] if name else [])]
            if not any(p.startswith("_") and not p.startswith("__") for p in full[1:]):
                continue
            owner = _package_of(list(module))
            if owner in (importer, "sklearn_aift.utils"):
                continue
            found.add((path.relative_to(PACKAGE).as_posix(), ".".join(full)))
    return found


def test_the_import_parser_sees_relative_and_absolute_imports():
    found = set(_imports(PACKAGE / "learner" / "_resume.py"))
    assert (("sklearn_aift", "utils", "_version"), "__version__") in found
    assert (("sklearn_aift", "strategies"), "get_strategy") in found
    found = set(_imports(PACKAGE / "net" / "__init__.py"))
    assert (("sklearn_aift", "net", "_estimator"), "AIFTNet") in found


def test_no_private_name_crosses_packages_except_from_utils():
    crossings = _private_crossings()
    assert crossings - KNOWN == set(), (
        "private names imported from another package (give the owner a public name, or "
        f"move the shared helper to utils/): {sorted(crossings - KNOWN)}"
    )


class _Brightness:
    """A stand-in model: P(positive) grows with a patch's brightness."""

    classes = [0, 1]

    def predict_patch_proba(self, X):
        p = np.asarray(X, dtype=float).mean(axis=(-3, -2, -1)) / 255
        return np.stack([1 - p, p], axis=-1)

    def fit(self, X, y):
        return self


def _learner_after_labels(model):
    X, y = make_pool()
    learner = ActiveLearner(model, query_strategy=aift_sampling(cold_start=None), classes=[0, 1])
    learner.teach(X[:12], y[:12])
    return learner, X[12:].copy()


def test_query_checks_pool_and_arguments_once_on_the_learner_side():
    learner, X_pool = _learner_after_labels(_Brightness())
    calls = traced_calls(lambda: learner.query(X_pool, n_instances=2))
    assert calls["candidates/_validation.py", "check_candidates"] == 1
    assert calls["utils/_validation.py", "check_count"] == 1  # n_instances
    assert calls["_strategy_context.py", "_remaining"] == 0  # exclude: checked by the learner
    assert calls["scoring.py", "_check_alpha"] == 0  # checked when the strategy was built
    files = files_of(calls)
    assert files[0] == "learner/_active_learner.py"
    assert len(files) <= 8, files


def test_a_strategy_called_directly_checks_its_arguments():
    learner, X_pool = _learner_after_labels(_Brightness())
    calls = traced_calls(lambda: learner.query_strategy(learner, X_pool, n_instances=2))
    assert calls["utils/_validation.py", "check_count"] == 1
    assert calls["_strategy_context.py", "_remaining"] == 1
    with pytest.raises(TypeError, match="n_instances"):
        learner.query_strategy(learner, X_pool, n_instances=2.0)


@pytest.mark.slow
def test_query_with_aiftnet_crosses_at_most_twelve_files_and_checks_once():
    for first in (True, False):
        calls = query_walk(first)
        files = files_of(calls)
        assert len(files) <= MAX_QUERY_FILES, files
        assert calls["candidates/_validation.py", "check_candidates"] == 1
        assert calls["net/_estimator.py", "_check_all_params"] == 0  # checked by fit
        assert calls["net/_estimator.py", "predict_patch_proba"] == 1
