"""
====================================================
The seven prediction patterns of the paper's Table 1
====================================================

AIFT judges a candidate by the histogram of its patches' predictions, which
the paper calls its *prediction pattern* (Sec. 3.4). This example builds the
seven typical patterns, 11 patches each as in the paper's Table 1, and asks
the six AIFT query strategies which candidate they would send to the expert
first.

No network is needed: a strategy only sees patch probabilities, so a tiny
stand-in "model" that returns fixed probabilities is enough. This is also how
to try a strategy on probabilities from any other source.
"""

# %%
# Seven candidates, one per pattern
# ---------------------------------
# Each row holds the positive-class probabilities of a candidate's 11 patches.
import matplotlib.pyplot as plt
import numpy as np

PATTERNS = {
    "A": [0.40, 0.42, 0.45, 0.47, 0.49, 0.50, 0.51, 0.53, 0.55, 0.58, 0.60],
    "B": [0.02, 0.12, 0.21, 0.31, 0.40, 0.50, 0.60, 0.69, 0.79, 0.88, 0.98],
    "C": [0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.92, 0.94, 0.95, 0.97, 0.98],
    "D": [0.01, 0.02, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10],
    "E": [0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.98, 0.99],
    "F": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10, 0.45, 0.85],
    "G": [0.15, 0.55, 0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99],
}
names = list(PATTERNS)
q = np.array(list(PATTERNS.values()))
P = np.stack([1 - q, q], axis=-1)  # patch probabilities, shape (7, 11, 2)

fig, axes = plt.subplots(1, 7, figsize=(12, 2), sharey=True, layout="constrained")
for ax, name, values in zip(axes, names, q):
    ax.hist(values, bins=np.linspace(0, 1, 11), color="tab:blue", edgecolor="white")
    ax.set_title(f"Pattern {name}")
    ax.set_xlim(0, 1)
axes[0].set_ylabel("patches")
fig.suptitle("Histograms of the patch predictions of seven candidates")
plt.show()

# %%
# Ask the six strategies
# ----------------------
# A strategy calls ``learner.predict_patch_proba(X_pool)``; any object with
# that method will do. ``X_pool`` only needs a length and indexing, so the
# pattern names stand in for the candidates' images.
from sklearn_aift.strategies import (
    diversity,
    diversity_quarter,
    entropy,
    entropy_diversity,
    entropy_diversity_quarter,
    entropy_quarter,
)


class FixedPredictions:
    """Returns the patch probabilities of the candidates it is asked about."""

    def __init__(self, P):
        self.P = P

    def predict_patch_proba(self, X):
        return self.P[[names.index(name) for name in X]]


model = FixedPredictions(P)
X_pool = np.array(names)
strategies = {
    "Entropy": entropy,
    "Entropy 1/4": entropy_quarter,
    "Diversity": diversity,
    "Diversity 1/4": diversity_quarter,
    "(Entropy+Diversity)": entropy_diversity,
    "(Entropy+Diversity) 1/4": entropy_diversity_quarter,
}
print(f"{'method':<25} ranking (best first)    top score")
for title, strategy in strategies.items():
    indices, scores = strategy(model, X_pool, n_instances=len(X_pool))
    ranking = " ".join(X_pool[indices])
    print(f"{title:<25} {ranking:<22} {scores[0]:9.3f}")

# %%
# The rankings reproduce the paper's observations (Sec. 4.4): Entropy and
# Entropy 1/4 favour pattern A (uncertain patches); Diversity favours C, a
# candidate whose patches disagree completely, most likely because some of
# them inherited a label that does not fit them; Diversity 1/4 favours B,
# because the majority selection keeps only the three patches that agree with
# the candidate's majority, which removes the disagreement of C. The confident
# patterns D and E come last, or nearly last, with every method.
#
# The scores themselves
# ---------------------
# :func:`sklearn_aift.scoring.candidate_scores` gives every candidate's score
# directly; here the effect of majority selection on pattern C:
from sklearn_aift.scoring import candidate_scores, majority_select

c = names.index("C")
all_patches = candidate_scores(P, alpha=1.0, lambda1=0.0, lambda2=1.0)
quarter = candidate_scores(P, alpha=0.25, lambda1=0.0, lambda2=1.0)
kept = q[c][majority_select(P, alpha=0.25)[c]]
print(f"diversity of C, all 11 patches:      {all_patches[c]:8.3f}")
print(f"diversity of C, majority 3 patches:  {quarter[c]:8.3f}  (kept: {kept})")

# %%
# Try your own pattern: append a row to ``PATTERNS`` and run the example
# again, or score probabilities from your own network with
# :func:`~sklearn_aift.scoring.candidate_scores`.
