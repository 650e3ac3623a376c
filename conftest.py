"""Test-session settings shared by the test suite and the docstring examples."""

import os

# One thread per test process: pytest-xdist runs one worker per core, and torch
# with its default thread count would oversubscribe the cores many times over.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# Plots in doctests and tests never need a display.
os.environ.setdefault("MPLBACKEND", "Agg")
