"""Sphinx configuration for the sklearn-aift documentation.

Build with ``make docs`` (warnings are errors, then the doctests run). The
gallery in ``examples/`` is executed at build time on the CPU.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import sklearn_aift  # noqa: E402
from api_reference import write_api_page  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "sklearn-aift"
author = "sklearn-aift developers"
copyright = "2025, sklearn-aift developers"
version = release = sklearn_aift.__version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "aift_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"

# The API reference lists every name of sklearn_aift.__all__; it is rewritten
# from the package at every build so that it cannot drift from the code.
write_api_page(HERE / "generated" / "api.rst")

autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc renders the types from the docstrings
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Intersphinx ---------------------------------------------------------------
# Links to the documentation of the libraries we build on. Sphinx reports an
# inventory it cannot download as a warning, which ``-W`` turns into an error,
# so a build without internet access (CI here, a laptop on a train) would fail
# for a reason that has nothing to do with our docs. We therefore decide per
# inventory whether its host is reachable:
#   SKLEARN_AIFT_INTERSPHINX=auto (default)  use the inventories whose host answers
#   SKLEARN_AIFT_INTERSPHINX=1               always use them (a failed download fails)
#   SKLEARN_AIFT_INTERSPHINX=0               never use them
# Without an inventory, references to that library render as plain code
# (not links); nothing else changes.

_INTERSPHINX_TARGETS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "torchvision": "https://docs.pytorch.org/vision/stable/",
    "matplotlib": "https://matplotlib.org/stable/",
}


def _reachable(url: str, timeout: float = 3.0) -> bool:
    host = urlsplit(url).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _intersphinx_mapping() -> dict[str, tuple[str, None]]:
    mode = os.environ.get("SKLEARN_AIFT_INTERSPHINX", "auto").strip().lower()
    if mode in {"0", "no", "off", "false"}:
        return {}
    if mode in {"1", "yes", "on", "true"}:
        return {name: (url, None) for name, url in _INTERSPHINX_TARGETS.items()}
    if mode != "auto":
        raise ValueError(
            f"SKLEARN_AIFT_INTERSPHINX must be auto, 1 or 0; got {mode!r}."
        )
    return {
        name: (url, None) for name, url in _INTERSPHINX_TARGETS.items() if _reachable(url)
    }


intersphinx_mapping = _intersphinx_mapping()
intersphinx_timeout = 10

# -- Math ----------------------------------------------------------------------
# The pages load MathJax from the build itself, never from a CDN, so equations
# render offline: sphinx-mathjax-offline (a docs dependency) ships MathJax 3,
# copies it to _static/mathjax and points mathjax_path at its tex-chtml.js.

# -- Doctest builder -----------------------------------------------------------
# The builder tests the ``.. doctest::`` blocks of these pages. The Examples
# sections of the docstrings (rendered on the API pages) are not run a second
# time here: ``make test`` runs them with ``pytest --doctest-modules``.
doctest_test_doctest_blocks = ""

doctest_global_setup = """
import numpy as np
np.set_printoptions(precision=4, suppress=True)
"""

# -- Matplotlib plot directive -------------------------------------------------

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": True}

# -- Gallery -------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_aift",),
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "within_subsection_order": "FileNameSortKey",
}

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-aift {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False


# -- Hooks ---------------------------------------------------------------------


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated ``set_<method>_request`` plumbing.

    scikit-learn adds these metadata-routing setters to every estimator class
    whose methods take extra arguments; their docstrings point into
    scikit-learn's own user guide, and they are not part of this library's API.
    """
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
