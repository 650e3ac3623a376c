"""Build the API reference page from ``sklearn_aift.__all__``.

The page is generated at every build (``conf.py`` calls :func:`write_api_page`
before Sphinx reads the sources), so a public name cannot be missing from the
reference: every entry of ``__all__`` is listed under the public module it is
importable from, in an ``autosummary`` table that autosummary turns into one
page per object. ``tests/test_docs.py`` checks the rendering without running
Sphinx.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

#: Sections of the reference, in reading order: public module, title, summary.
#: Names whose module is not listed here go to a final "Other" section.
SECTIONS = [
    (
        "sklearn_aift.learner",
        "Active learner",
        "The AIFT loop (Alg. 1): query, teach, fine-tune continuously, save and resume.",
    ),
    (
        "sklearn_aift.net",
        "Estimator",
        "A pretrained torchvision CNN wrapped with skorch as a scikit-learn classifier "
        "over candidates.",
    ),
    (
        "sklearn_aift.strategies",
        "Query strategies",
        "modAL-style callables ``strategy(learner, X_pool, n_instances) -> (indices, scores)``.",
    ),
    (
        "sklearn_aift.peers",
        "Peer strategies",
        "The strategies of scikit-activeml and baal, computed from the same network as AIFT.",
    ),
    (
        "sklearn_aift.scoring",
        "Scoring",
        "The math of AIFT on patch probabilities: majority selection, entropy, diversity "
        "and the candidate score (Eqs. 1-4).",
    ),
    (
        "sklearn_aift.parallel",
        "Parallel scoring",
        "Pool scoring in chunks through joblib, on local processes or a Dask cluster.",
    ),
    (
        "sklearn_aift.candidates",
        "Candidates",
        "Lazy candidate sets and the input validation every module uses.",
    ),
    (
        "sklearn_aift.io",
        "Reading images",
        "One image reader for the package: PNG, JPEG, TIFF (16-bit and float too) and "
        "DICOM to the network's 8-bit pixels, keeping the full depth and window for display.",
    ),
    (
        "sklearn_aift.augment",
        "Patch generation",
        "The paper's augmentation protocols that turn a candidate into patches.",
    ),
    (
        "sklearn_aift.backbones",
        "Backbones",
        "torchvision backbones, head replacement and offline weight resolution.",
    ),
    (
        "sklearn_aift.datasets",
        "Datasets",
        "The embedded synthetic colonoscopy frames and loaders for real data.",
    ),
    (
        "sklearn_aift.experiment",
        "Experiments",
        "Simulated annotation against an oracle: the eight-method comparison.",
    ),
    (
        "sklearn_aift.app",
        "Labeling app",
        "``sklearn-aift label``: an AIFT labeling campaign over an image folder and its "
        "web application.",
    ),
    (
        "sklearn_aift.plotting",
        "Plotting",
        "Learning curves, selected-label balance and prediction patterns.",
    ),
]

OTHER = ("sklearn_aift", "Other", "Further public names.")


def public_module(package: str, name: str) -> str:
    """Return the shortest public module path that exports ``name``.

    The object's defining module is shortened to its leading public
    components (``sklearn_aift.datasets._kvasir`` -> ``sklearn_aift.datasets``)
    and the deepest such module that has the attribute wins; the package
    itself is the fallback.
    """
    pkg = importlib.import_module(package)
    obj = getattr(pkg, name)
    module = getattr(obj, "__module__", None) or package
    if not (module == package or module.startswith(package + ".")):
        return package
    parts = module.split(".")
    public = []
    for part in parts:
        if part.startswith("_"):
            break
        public.append(part)
    while len(public) > 1:
        candidate = ".".join(public)
        try:
            if hasattr(importlib.import_module(candidate), name):
                return candidate
        except ImportError:
            pass
        public.pop()
    return package


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "object"


_KIND_ORDER = {"class": 0, "function": 1, "object": 2}
TEMPLATES = {
    "class": "autosummary/class.rst",
    "function": "autosummary/function.rst",
    "object": "autosummary/object.rst",
}


def api_entries(package: str = "sklearn_aift") -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """Group ``package.__all__`` into the sections of the reference.

    Returns
    -------
    sections : list of (title, summary, [(module, name, kind), ...])
        Only sections with at least one name, in :data:`SECTIONS` order, then
        "Other". Within a section: classes, then functions, then other
        objects, each in ``__all__`` order. ``module`` is the public module
        the name is documented under.
    """
    pkg = importlib.import_module(package)
    known = {module for module, _, _ in SECTIONS}
    grouped: dict[str, list[tuple[str, str, str]]] = {}
    for name in pkg.__all__:
        module = public_module(package, name)
        key = module if module in known else OTHER[0]
        grouped.setdefault(key, []).append((module, name, _kind(getattr(pkg, name))))
    result = []
    for module, title, summary in SECTIONS + [OTHER]:
        items = sorted(grouped.get(module, []), key=lambda item: _KIND_ORDER[item[2]])
        if items:
            result.append((title, summary, items))
    return result


def render_api_page(package: str = "sklearn_aift") -> str:
    """Return the reStructuredText of the API reference page."""
    lines = [
        ".. This page is generated by docs/_ext/api_reference.py at every build.",
        "",
        ".. _api:",
        "",
        "=============",
        "API reference",
        "=============",
        "",
        f"Every public name of ``{package}`` (its ``__all__``), by module. Each can also be "
        f"imported from the package itself, e.g. ``from {package} import ActiveLearner``.",
        "",
    ]
    for title, summary, items in api_entries(package):
        lines += [title, "-" * len(title), "", summary, ""]
        # one autosummary table per (module, kind), in order of appearance
        blocks: dict[tuple[str, str], list[str]] = {}
        for module, name, kind in items:
            blocks.setdefault((module, kind), []).append(name)
        for (module, kind), names in blocks.items():
            lines += [
                f".. currentmodule:: {module}",
                "",
                ".. autosummary::",
                "   :nosignatures:",
                "   :toctree: .",
                f"   :template: {TEMPLATES[kind]}",
                "",
            ]
            lines += [f"   {name}" for name in names]
            lines.append("")
    return "\n".join(lines)


def write_api_page(path: str | Path, package: str = "sklearn_aift") -> Path:
    """Write the API page to ``path`` (only when its content changed)."""
    path = Path(path)
    text = render_api_page(package)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path
