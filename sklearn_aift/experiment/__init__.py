"""Simulated annotation: compare AIFT with its baselines against an oracle.

The paper's evaluation (Zhou et al., CVPR 2017, sec. 4, Figs. 3, 5 and 8)
starts every method from an empty labeled set, lets it query ``b`` candidates
per round from a training pool whose labels an oracle knows, fine-tunes, and
measures the candidate-level AUC on a held-out test set after every round.
:func:`run_comparison` does exactly that for any of the methods in
:data:`METHODS` over several seeds, storing every (method, seed, round) result
as soon as it is made so that an interrupted run continues where it stopped.
:class:`ResultsTable` holds the tidy results (one row per method, seed and
round) and :func:`annotation_saving` turns them into the paper's headline
figure: how many labels each method needs to reach a target AUC.

Private modules: ``_methods`` (names and strategies), ``_runner`` (the
study: checks, store, table), ``_simulation`` (one (method, seed) run),
``_frozen`` (the study's one frozen pass), ``_tasks`` (running the runs
in-process, on local processes or on Dask), ``_results`` (the table),
``_store`` (resuming) and ``_saving`` (labels needed, savings and text
tables).
"""

from ._methods import (
    AIFT_METHODS,
    BATCH_AWARE_METHODS,
    BUDGET_AWARE_METHODS,
    METHODS,
    PAPER_COLD_START_METHODS,
    PEER_METHODS,
    method_label,
)
from ._results import ResultsTable
from ._runner import run_comparison
from ._saving import annotation_saving, format_metric_table, format_saving_table

__all__ = [
    "METHODS",
    "AIFT_METHODS",
    "BATCH_AWARE_METHODS",
    "BUDGET_AWARE_METHODS",
    "PAPER_COLD_START_METHODS",
    "PEER_METHODS",
    "ResultsTable",
    "annotation_saving",
    "format_metric_table",
    "format_saving_table",
    "method_label",
    "run_comparison",
]
