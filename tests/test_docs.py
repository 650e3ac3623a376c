"""The documentation covers the public API and the gallery (no Sphinx build here).

``make docs`` builds the site with warnings as errors and runs its doctests;
these checks are the cheap part that must never drift: every public name is in
the API reference, every gallery example has a title and is referenced from the
pages, and the pages agree with the examples they describe.
"""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

import sklearn_aift

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def api_reference():
    return _load("api_reference", DOCS / "_ext" / "api_reference.py")


@pytest.fixture(scope="module")
def api_page(api_reference):
    return api_reference.render_api_page("sklearn_aift")


def _autosummary_entries(text: str) -> dict[str, str]:
    """``name -> current module`` for every entry of every autosummary table."""
    entries, module, in_table = {}, None, False
    for line in text.splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::", 1)[1].strip()
            in_table = False
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and line.startswith("   ") and not line.strip().startswith(":"):
            if line.strip():
                entries[line.strip()] = module
        elif in_table and line.strip() and not line.startswith("   "):
            in_table = False
    return entries


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("plot_*.py"))


def test_every_public_name_is_in_the_api_reference(api_page):
    entries = _autosummary_entries(api_page)
    missing = sorted(set(sklearn_aift.__all__) - set(entries))
    assert not missing, f"names of sklearn_aift.__all__ missing from the API page: {missing}"
    assert set(entries) == set(sklearn_aift.__all__)


def test_api_entries_resolve_to_the_public_objects(api_page):
    for name, module in _autosummary_entries(api_page).items():
        documented = getattr(importlib.import_module(module), name)
        assert documented is getattr(sklearn_aift, name), f"{module}.{name}"


def test_api_sections_group_names_by_their_module(api_reference):
    sections = api_reference.api_entries("sklearn_aift")
    titles = [title for title, _, _ in sections]
    assert len(titles) == len(set(titles))
    by_title = {title: {name for _, name, _ in items} for title, _, items in sections}
    if "ActiveLearner" in sklearn_aift.__all__:
        assert "ActiveLearner" in by_title["Active learner"]
    if "candidate_scores" in sklearn_aift.__all__:
        assert "candidate_scores" in by_title["Scoring"]


def test_public_module_strips_private_submodules(api_reference):
    # make_colonoscopy_frames is defined in sklearn_aift.datasets._synthetic
    if "make_colonoscopy_frames" in sklearn_aift.__all__:
        assert api_reference.public_module("sklearn_aift", "make_colonoscopy_frames") == (
            "sklearn_aift.datasets"
        )


def test_api_page_is_linked_from_the_index():
    index = (DOCS / "index.rst").read_text()
    assert re.search(r"^\s+generated/api\s*$", index, re.M)


def test_gallery_is_not_empty():
    assert _examples(), "examples/plot_*.py: the gallery has no example"
    assert (EXAMPLES / "GALLERY_HEADER.rst").is_file()


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_example_has_a_title(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, f"{path.name} has no module docstring"
    lines = [line for line in docstring.splitlines() if line.strip()]
    # sphinx-gallery's title: a line underlined (and optionally overlined) with '='
    assert len(lines) >= 2, f"{path.name}: docstring has no title"
    title_at = 1 if set(lines[0].strip()) == {"="} else 0
    title, underline = lines[title_at], lines[title_at + 1]
    assert set(underline.strip()) == {"="} and len(underline.strip()) >= len(title.strip()), (
        f"{path.name}: the title must be underlined with '='"
    )
    assert len(lines) > title_at + 2, f"{path.name}: a paragraph must follow the title"


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_example_is_referenced_from_the_pages(path):
    label = f"sphx_glr_auto_examples_{path.stem}.py"
    pages = [p for p in DOCS.rglob("*.rst") if "_build" not in p.parts and "generated" not in p.parts
             and "auto_examples" not in p.parts]
    assert any(label in p.read_text() for p in pages), (
        f"no page of docs/ references the gallery example {path.name} (:ref:`{label}`)"
    )


def test_pages_in_toctrees_exist():
    for page in DOCS.rglob("*.rst"):
        if {"_build", "generated", "auto_examples", "_templates"} & set(page.parts):
            continue
        text = page.read_text()
        for block in re.findall(r"\.\. toctree::\n((?:   .*\n|\n)+)", text):
            for entry in block.splitlines():
                entry = entry.strip()
                if not entry or entry.startswith(":") or entry in {
                    "generated/api", "auto_examples/index"}:
                    continue
                target = (page.parent / entry).with_suffix(".rst")
                assert target.is_file(), f"{page.relative_to(DOCS)} lists missing page {entry}"


def test_prediction_patterns_of_the_docs_and_the_example_agree():
    docs_ext = _load("aift_docs", DOCS / "_ext" / "aift_docs.py")
    tree = ast.parse((EXAMPLES / "plot_prediction_patterns.py").read_text())
    patterns = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "PATTERNS" for t in node.targets)
    )
    assert patterns == docs_ext.PATTERNS


def test_prediction_patterns_table_reproduces_the_papers_preferences():
    """Sec. 4.4: Entropy and Entropy 1/4 favour A, Diversity C, Diversity 1/4 B."""
    docs_ext = _load("aift_docs", DOCS / "_ext" / "aift_docs.py")
    methods, scores = docs_ext.pattern_scores()
    names = list(docs_ext.PATTERNS)
    first = {m: names[int(docs_ext._ranks(scores[m]).argmin())] for m in methods}
    assert first["Entropy"] == "A"
    assert first["Entropy 1/4"] == "A"
    assert first["Diversity"] == "C"
    assert first["Diversity 1/4"] == "B"


def test_markdown_conversion_of_benchmark_results():
    docs_ext = _load("aift_docs", DOCS / "_ext" / "aift_docs.py")
    md = (
        "# Title\n\nText with `code`, **bold** and snake_case_.\n\n## Section\n\n"
        "```bash\nmake bench\n```\n\n| a | b |\n|---|--:|\n| 1 | `x` |\n\n"
        "![curves](results/curves.png)\n"
    )
    rst = "\n".join(docs_ext.markdown_to_rst(md, image_dir="../benchmarks"))
    assert "Title" not in rst  # the page has its own title
    assert "Section\n-------" in rst
    assert "``code``" in rst and "**bold**" in rst and r"snake\_case\_" in rst
    assert ".. code-block:: bash\n\n   make bench" in rst
    assert ".. list-table::" in rst and "     - ``x``" in rst
    assert ".. figure:: ../benchmarks/results/curves.png" in rst


def test_benchmark_figures_are_shown():
    """Every PNG under benchmarks/results/ appears on the benchmarks page."""
    pngs = sorted((ROOT / "benchmarks" / "results").glob("*.png"))
    results = ROOT / "benchmarks" / "RESULTS.md"
    shown = results.read_text() if results.is_file() else ""
    shown += (DOCS / "benchmarks.rst").read_text() if (DOCS / "benchmarks.rst").is_file() else ""
    missing = [p.name for p in pngs if p.name not in shown]
    assert not missing or "aift-benchmark-figures" in shown, missing


def _conf_assignments() -> dict[str, ast.expr]:
    """``name -> value`` of every top-level ``name = value`` in docs/conf.py."""
    tree = ast.parse((DOCS / "conf.py").read_text())
    return {
        target.id: node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_math_is_served_from_the_build_not_a_cdn():
    # MathJax from a CDN leaves raw LaTeX on pages read offline
    assigned = _conf_assignments()
    assert "sphinx-mathjax-offline" in ast.literal_eval(assigned["extensions"])
    assert "mathjax_path" not in assigned  # the extension points it at the local copy
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None:
        pytest.skip("sphinx-mathjax-offline is not installed (the docs extra installs it)")
    static = Path(spec.origin).parent / "static" / "mathjax"
    assert (static / "tex-chtml.js").is_file()
    assert (static / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"sphinx-mathjax-offline' in pyproject


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


@pytest.mark.slow
def test_readme_first_snippet_runs_offline_as_written(monkeypatch):
    import socket

    import torch

    weights = Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth"
    if not weights.is_file():
        pytest.skip(f"{weights} is missing; `make weights` installs it")

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    snippet = _python_blocks((ROOT / "README.md").read_text())[0]
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    learner = namespace["learner"]
    assert learner.estimator.n_fits_ == 1 and len(learner.y_training) == 20


def test_readme_docs_and_pyproject_agree_on_the_python_version():
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = re.search(r'requires-python = ">=3\.(\d+)"', pyproject).group(1)
    for page in (ROOT / "README.md", DOCS / "getting_started.rst"):
        claims = re.findall(r"Python (3\.\d+)( or later)?", page.read_text())
        assert claims and set(claims) == {(f"3.{minimum}", " or later")}, (page, claims)


def test_sources_parse_as_the_oldest_supported_python():
    # the syntax half of the requires-python promise (its stdlib half is not checked here)
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = int(re.search(r'requires-python = ">=3\.(\d+)"', pyproject).group(1))
    for path in sorted((ROOT / "sklearn_aift").rglob("*.py")):
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, minimum))


def test_architecture_page_names_every_module():
    text = (DOCS / "architecture.rst").read_text()
    assert "   architecture\n" in (DOCS / "index.rst").read_text()
    package = ROOT / "sklearn_aift"
    stems = sorted(
        p.stem if p.is_file() else p.name
        for p in package.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").is_file()
    )
    missing = [
        stem for stem in stems
        if not any(f"``{form}``" in text for form in (f"{stem}.py", f"{stem}/", f"_{stem}.py"))
    ]
    assert not missing, f"docs/architecture.rst does not describe {missing}"
