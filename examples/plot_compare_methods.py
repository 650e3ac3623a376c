"""
===============================================
Comparing the eight methods of the paper
===============================================

The paper's evaluation (Figs. 3, 5 and 8): every method starts from zero
labels, queries a batch of candidates per round from a pool whose labels an
oracle knows, is fine-tuned, and is scored by its AUC on held-out candidates
after every round. The eight methods are the six AIFT variants, *IFT Random*
(the same continuous fine-tuning with random queries) and *Learning from
Scratch* (random initial weights, random queries); we add the plain
uncertainty of the mean prediction.

This example runs a deliberately small setting (one seed, three rounds of six
candidates, a pool of 60 synthetic frames) so that it finishes in about a
minute on a laptop CPU: the curves show how the pieces fit together, not which
method wins. The statistically meaningful comparison on real polyp data,
several seeds and hundreds of labels is on the :ref:`benchmarks` page, with
the command that produces it; ``sklearn-aift compare`` runs the same on your
data.
"""

# %%
# Data and model
# --------------
# 60 pool frames and 40 test frames. MobileNetV2 with ImageNet weights, all
# its feature blocks but the last frozen (the default ``freeze=-1``):
# :func:`~sklearn_aift.experiment.run_comparison`
# shares one activation cache across all the methods, so the frozen part is
# computed once per candidate (once more for Learning from Scratch, whose
# frozen part has random weights).
import matplotlib.pyplot as plt

from sklearn_aift import AIFTNet, make_colonoscopy_frames
from sklearn_aift.experiment import (
    METHODS,
    annotation_saving,
    format_metric_table,
    format_saving_table,
    run_comparison,
)
from sklearn_aift.plotting import plot_learning_curves, plot_selection_balance

X, y = make_colonoscopy_frames(100, return_X_y=True, random_state=1)
X_pool, y_pool, X_test, y_test = X[:60], y[:60], X[60:], y[60:]

net = AIFTNet(
    "mobilenet_v2",
    weights="IMAGENET1K_V1",
    classes=[0, 1],
    input_size=48,
    max_epochs=2,
    max_epochs_incremental=1,
    batch_size=128,
)

# %%
# Run every method
# ----------------
print("methods:", ", ".join(METHODS))
results = run_comparison(
    net,
    X_pool,
    y_pool,
    X_test,
    y_test,
    methods=METHODS,
    n_rounds=3,
    batch_size=6,
    seeds=[0],
    verbose=0,
)
print(format_metric_table(results))

# %%
# Learning curves
# ---------------
# AUC against the number of labels, one line per method (with several seeds
# a band shows the spread).
fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
plot_learning_curves(results, ax=ax, title="AUC vs labels (1 seed, small setting)")
plt.show()

# %%
# Positives and negatives among the queried candidates
# ----------------------------------------------------
# The paper's Fig. 9: a good strategy keeps the labeled set balanced.
fig = plot_selection_balance(results, seed=0)
plt.show()

# %%
# Annotation saving
# -----------------
# Labels each method needs to reach IFT Random's final AUC, and the saving
# relative to IFT Random. With one seed and three rounds this is noise; the
# benchmark reports it over several seeds.
print(format_saving_table(annotation_saving(results)))

# %%
# Pass ``out_dir=`` to keep the results (CSV, JSON) and make the run
# resumable: a killed run started again with the same arguments continues
# where it stopped.
