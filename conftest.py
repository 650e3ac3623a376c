"""Test-session settings shared by the test suite and the docstring examples."""

import os
import re

import pytest

# One thread per test process: pytest-xdist runs one worker per core, and torch
# with its default thread count would oversubscribe the cores many times over.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# Plots in doctests and tests never need a display.
os.environ.setdefault("MPLBACKEND", "Agg")

_REAL_NETWORK = re.compile(
    r"\b(AIFTNet|build_backbone|feature_blocks|LabelingCampaign|run_comparison)\("
)


def pytest_collection_modifyitems(config, items):
    """Mark the docstring examples that build a real network ``slow``, as the tests that do are."""
    for item in items:
        examples = getattr(getattr(item, "dtest", None), "examples", ())
        if any(_REAL_NETWORK.search(example.source) for example in examples):
            item.add_marker(pytest.mark.slow)
