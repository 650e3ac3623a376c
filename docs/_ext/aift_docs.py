"""Local Sphinx extension for the sklearn-aift docs.

Provides the ``aift-prediction-patterns`` directive: the seven prediction
patterns of the paper's Table 1, scored at build time by the library's own
query strategies and rendered as a table with each method's first and second
choice highlighted, as in the paper. ``plot_prediction_patterns`` draws their
histograms for the plot directive.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import numpy as np
from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

#: Eleven patch probabilities (of the positive class) for each of the seven
#: prediction patterns of Table 1 (Sec. 3.4). The paper prints its own
#: numbers as a figure; these follow its description of each pattern. The
#: gallery example ``plot_prediction_patterns.py`` uses the same values
#: (``tests/test_docs.py`` checks that they agree).
PATTERNS = {
    "A": [0.40, 0.42, 0.45, 0.47, 0.49, 0.50, 0.51, 0.53, 0.55, 0.58, 0.60],
    "B": [0.02, 0.12, 0.21, 0.31, 0.40, 0.50, 0.60, 0.69, 0.79, 0.88, 0.98],
    "C": [0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.92, 0.94, 0.95, 0.97, 0.98],
    "D": [0.01, 0.02, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10],
    "E": [0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.98, 0.99],
    "F": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10, 0.45, 0.85],
    "G": [0.15, 0.55, 0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99],
}

#: One-line reading of each pattern (paper, Sec. 3.4).
DESCRIPTIONS = {
    "A": "at 0.5",
    "B": "spread 0 to 1",
    "C": "at both ends",
    "D": "at 0",
    "E": "at 1",
    "F": "near 0, outliers",
    "G": "near 1, outliers",
}


def patch_probabilities() -> np.ndarray:
    """The patterns as patch probabilities ``P`` of shape (7, 11, 2)."""
    q = np.array(list(PATTERNS.values()), dtype=np.float64)
    return np.stack([1.0 - q, q], axis=-1)


def pattern_scores() -> tuple[list[str], dict[str, np.ndarray]]:
    """Score the patterns with the six AIFT strategies.

    Returns
    -------
    methods : list of str
        Column titles, in the paper's order.
    scores : dict of str to ndarray of shape (7,)
        Each method's score of every pattern.
    """
    from sklearn_aift import scoring

    # (title, alpha, lambda1, lambda2): the paper's six methods (Sec. 4).
    methods = [
        ("Entropy", 1.0, 1.0, 0.0),
        ("Entropy 1/4", 0.25, 1.0, 0.0),
        ("Diversity", 1.0, 0.0, 1.0),
        ("Diversity 1/4", 0.25, 0.0, 1.0),
        ("(Entropy+Diversity)", 1.0, 1.0, 1.0),
        ("(Entropy+Diversity) 1/4", 0.25, 1.0, 1.0),
    ]
    P = patch_probabilities()
    scores = {
        title: scoring.candidate_scores(P, alpha=alpha, lambda1=l1, lambda2=l2)
        for title, alpha, l1, l2 in methods
    }
    return [m[0] for m in methods], scores


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank 0 for the highest value; ties go to the lower index (as the strategies)."""
    order = np.lexsort((np.arange(len(values)), -values))
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(len(values))
    return ranks


def _entry(text: str, classes: tuple[str, ...] = ()) -> nodes.entry:
    entry = nodes.entry(classes=list(classes))
    entry += nodes.paragraph(text=text)
    return entry


class PredictionPatternsTable(Directive):
    """Render Table 1: seven prediction patterns scored by the six AIFT methods."""

    has_content = False

    def run(self):
        methods, scores = pattern_scores()
        ranks = {m: _ranks(scores[m]) for m in methods}
        short = {
            "(Entropy+Diversity)": "Ent.+Div.",
            "(Entropy+Diversity) 1/4": "Ent.+Div. 1/4",
        }
        headers = ["", "Histogram"] + [short.get(m, m) for m in methods]
        table = nodes.table(classes=["aift-numbers", "aift-patterns"])
        group = nodes.tgroup(cols=len(headers))
        table += group
        for width in [3, 14] + [10] * len(methods):
            group += nodes.colspec(colwidth=width)
        thead = nodes.thead()
        row = nodes.row()
        for header in headers:
            row += _entry(header)
        thead += row
        group += thead
        tbody = nodes.tbody()
        for i, (name, values) in enumerate(PATTERNS.items()):
            row = nodes.row()
            row += _entry(name)
            row += _entry(DESCRIPTIONS[name])
            for method in methods:
                rank = ranks[method][i]
                cls = ("aift-first",) if rank == 0 else ("aift-second",) if rank == 1 else ()
                row += _entry(f"{scores[method][i]:.3f}", cls)
            tbody += row
        group += tbody
        title = nodes.title(
            text="Scores of the seven patterns by the six AIFT methods"
        )
        table.insert(0, title)
        return [table]


def plot_prediction_patterns(axes=None):
    """Histogram of the patch probabilities of each pattern (Table 1, column 1)."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 7, figsize=(12, 1.9), sharey=True)
    bins = np.linspace(0, 1, 11)
    for ax, (name, values) in zip(axes, PATTERNS.items()):
        ax.hist(values, bins=bins, color="tab:blue", edgecolor="white")
        ax.set_title(f"Pattern {name}")
        ax.set_xticks([0, 0.5, 1])
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("patches")
    return axes


# --------------------------------------------------------------------------- #
# benchmarks/RESULTS.md
# --------------------------------------------------------------------------- #
_INLINE = re.compile(
    r"(?P<code>`+)(?P<codetext>.+?)(?P=code)"
    r"|!\[(?P<imgalt>[^\]]*)\]\((?P<imgsrc>[^)\s]+)\)"
    r"|\[(?P<linktext>[^\]]+)\]\((?P<linkurl>[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|(?<![\w*])[*_](?P<em>[^*_\s][^*_]*?)[*_](?![\w*])"
)
_RST_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")


def _escape(text: str) -> str:
    return _RST_SPECIAL.sub(r"\\\1", text)


def md_inline(text: str) -> str:
    """Translate Markdown inline markup (code, links, bold, emphasis) to reST."""
    out, pos = [], 0

    def markup(token: str) -> None:
        # reST inline markup must not touch a word character on either side
        if out and out[-1] and out[-1][-1].isalnum():
            out.append("\\ ")
        out.append(token)

    for match in _INLINE.finditer(text):
        plain = _escape(text[pos : match.start()])
        if plain and plain[0].isalnum() and out and not out[-1].endswith(" "):
            out.append("\\ ")
        out.append(plain)
        if match.group("code"):
            code = match.group("codetext").strip()
            markup(f":code:`{_escape(code)}`" if "`" in code else f"``{code}``")
        elif match.group("imgsrc") is not None:
            out.append(_escape(match.group("imgalt")))
        elif match.group("linkurl"):
            url = match.group("linkurl")
            label = match.group("linktext").replace("`", "")
            if "://" in url:
                markup(f"`{_escape(label)} <{url}>`__")
            else:  # a file of the repository: show its name, no dead link
                out.append(_escape(label))
                markup(f" (``{url}``)")
        elif match.group("bold"):
            markup(f"**{_escape(match.group('bold'))}**")
        else:
            markup(f"*{_escape(match.group('em'))}*")
        pos = match.end()
    tail = _escape(text[pos:])
    if tail and tail[0].isalnum() and out:
        out.append("\\ ")
    out.append(tail)
    return "".join(out)


def _table_cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def markdown_to_rst(text: str, *, image_dir: str, top_level: int = 2) -> list[str]:
    """Convert the Markdown subset used by ``benchmarks/RESULTS.md`` to reST lines.

    Headings (``#`` levels from ``top_level`` on become sections; the title
    line above is dropped), paragraphs, bullet and numbered lists, pipe
    tables, fenced code blocks and images. Images are resolved against
    ``image_dir`` (a path relative to the including document).
    """
    underline = {0: "-", 1: "~", 2: "^", 3: '"'}
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = re.match(r"^(```+|~~~+)\s*([\w+-]*)", stripped)
        if fence:
            language = fence.group(2) or "text"
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence.group(1)):
                body.append(lines[i])
                i += 1
            i += 1
            language = {"sh": "bash", "shell": "bash", "console": "console"}.get(language, language)
            out += [f".. code-block:: {language}", ""]
            out += ["   " + b if b.strip() else "" for b in body]
            out.append("")
            continue
        if line.startswith(("    ", "\t")) and (not out or not out[-1].strip()):
            # an indented code block (after a blank line, outside lists)
            body = []
            while i < len(lines) and (lines[i].startswith(("    ", "\t")) or not lines[i].strip()):
                body.append(lines[i].expandtabs(4)[4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            language = "bash" if body and body[0].lstrip().startswith((".venv", "make", "python", "sklearn-aift", "pip")) else "text"
            out += [f".. code-block:: {language}", ""]
            out += ["   " + b if b.strip() else "" for b in body]
            out.append("")
            continue
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", stripped)
        if heading:
            level = len(heading.group(1))
            i += 1
            if level < top_level:
                continue
            title = md_inline(heading.group(2))
            char = underline[min(level - top_level, 3)]
            out += ["", title, char * max(len(title), 4), ""]
            continue
        image = re.match(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)\s*$", stripped)
        if image:
            src = image.group("src")
            out += [f".. figure:: {image_dir}/{src}", "   :width: 100%", ""]
            alt = image.group("alt").strip()
            if alt:
                out += ["   " + md_inline(alt), ""]
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < len(lines) and re.match(
            r"^\|?\s*:?-{3,}", lines[i + 1].strip()
        ):
            header = _table_cells(stripped)
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_table_cells(lines[i]))
                i += 1
            out += [".. list-table::", "   :header-rows: 1", "   :class: aift-numbers", ""]
            for row in [header] + rows:
                row = (row + [""] * len(header))[: len(header)]
                out.append("   * - " + (md_inline(row[0]) or r"\ "))
                for cell in row[1:]:
                    out.append("     - " + (md_inline(cell) or r"\ "))
            out.append("")
            continue
        item = re.match(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$", line)
        if item:
            indent = len(item.group(1).expandtabs(4))
            marker = "-" if item.group(2)[0] in "-*+" else "#."
            nest = "  " * (indent // 2)
            text_lines = [item.group(3)]
            i += 1
            while i < len(lines) and lines[i].strip() and not re.match(
                r"^\s*([-*+]|\d+[.)])\s+", lines[i]
            ) and not lines[i].strip().startswith(("|", "#", "```")):
                text_lines.append(lines[i].strip())
                i += 1
            pad = " " * (len(marker) + 1)
            out.append(f"{nest}{marker} {md_inline(text_lines[0])}")
            out += [f"{nest}{pad}{md_inline(t)}" for t in text_lines[1:]]
            out.append("")  # reST needs blank lines around nested lists
            continue
        if not stripped:
            out.append("")
            i += 1
            continue
        para = [stripped]
        i += 1
        while i < len(lines) and lines[i].strip() and not re.match(
            r"^(#{1,6}\s|```|~~~|\||!\[|\s*([-*+]|\d+[.)])\s)", lines[i]
        ):
            para.append(lines[i].strip())
            i += 1
        out += [md_inline(" ".join(para)), ""]
    out.append("")
    return out


class IncludeMarkdown(Directive):
    """Include a Markdown file (the benchmark results) as reStructuredText.

    The argument is a path relative to the document. ``:start-level:`` gives
    the Markdown heading level that becomes this document's subsections
    (default 2: ``##``); higher levels are dropped.
    """

    required_arguments = 1
    option_spec = {"start-level": int}

    def run(self):
        env = self.state.document.settings.env
        rel, path = env.relfn2path(self.arguments[0])
        env.note_dependency(rel)
        if not Path(path).is_file():
            raise self.error(f"aift-include-markdown: file not found: {path}")
        text = Path(path).read_text(encoding="utf-8")
        image_dir = posixpath.dirname(self.arguments[0])
        lines = markdown_to_rst(
            text, image_dir=image_dir, top_level=self.options.get("start-level", 2)
        )
        self.state_machine.insert_input(StringList(lines, source=path), path)
        return []


class BenchmarkFigures(Directive):
    """Show every PNG of a folder that a Markdown file does not already show.

    Usage: ``.. aift-benchmark-figures:: ../benchmarks/results`` with the
    option ``:skip-referenced-in: ../benchmarks/RESULTS.md``. Figures appear
    in file-name order, captioned with their file name, so a new benchmark
    plot is on the page without editing it.
    """

    required_arguments = 1
    option_spec = {"skip-referenced-in": str}

    def run(self):
        env = self.state.document.settings.env
        _, folder = env.relfn2path(self.arguments[0])
        env.note_dependency(folder)
        skip_text = ""
        if "skip-referenced-in" in self.options:
            rel, md = env.relfn2path(self.options["skip-referenced-in"])
            env.note_dependency(rel)
            if Path(md).is_file():
                skip_text = Path(md).read_text(encoding="utf-8")
        pngs = sorted(p for p in Path(folder).glob("*.png") if p.name not in skip_text)
        if not pngs:
            return []
        lines = [".. rubric:: Further figures in benchmarks/results", ""]
        for png in pngs:
            lines += [
                f".. figure:: {self.arguments[0]}/{png.name}",
                "   :width: 100%",
                "",
                f"   ``benchmarks/results/{png.name}``",
                "",
            ]
        self.state_machine.insert_input(StringList(lines, source=folder), folder)
        return []


def setup(app):
    app.add_directive("aift-prediction-patterns", PredictionPatternsTable)
    app.add_directive("aift-include-markdown", IncludeMarkdown)
    app.add_directive("aift-benchmark-figures", BenchmarkFigures)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
