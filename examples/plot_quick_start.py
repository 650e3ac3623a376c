"""
======================================
Quick start: AIFT from zero labels
======================================

The whole AIFT loop on the embedded synthetic colonoscopy frames: a network
pretrained on ImageNet picks the frames worth labeling, a simulated expert
labels them, and the network is fine-tuned continuously, starting with no
label at all.

It runs on a laptop CPU in well under a minute: ImageNet MobileNetV2 (its
weights come with the set-up, no download), small patches, and the default
``freeze=-1``: every feature block but the last frozen, so their output is
computed once per candidate and cached for every later round.
"""

# %%
# The data: frames and their patches
# ----------------------------------
# :func:`~sklearn_aift.datasets.make_colonoscopy_frames` generates frames of
# textured mucosa, part of them degraded by blur, bubbles, darkness or motion
# streaks; a frame is *informative* (1) when at least 75% of it is clear. Each
# frame is a candidate of 21 patches (the frame, its quadrants and 16 cells).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sklearn_aift import ActiveLearner, AIFTNet, diversity_quarter
from sklearn_aift.datasets import make_colonoscopy_frames

X, y = make_colonoscopy_frames(200, return_X_y=True, random_state=0)
X_pool, y_pool = X[:120], y[:120]  # unlabeled pool (y_pool plays the expert)
X_test, y_test = np.asarray(X[120:]), y[120:]  # held out, to watch progress
print("pool:", X_pool.shape, " test:", X_test.shape)

# %%
# The model and the learner
# -------------------------
# :class:`~sklearn_aift.AIFTNet` is a scikit-learn classifier over candidates.
# ``classes`` is given up front, so the first fit trains a two-class head even
# if the first batch happens to hold a single class.
net = AIFTNet(
    "mobilenet_v2",
    weights="IMAGENET1K_V1",
    classes=[0, 1],
    input_size=48,
    max_epochs=5,
    max_epochs_incremental=3,
    random_state=0,
)
learner = ActiveLearner(net, query_strategy=diversity_quarter, random_state=0)

# %%
# The loop: query, label, fine-tune
# ---------------------------------
# Before any label, the pretrained network already ranks the pool (the
# paper's cold start). Each round the learner queries 10 frames, the "expert"
# labels them, and ``teach`` fine-tunes the current network on every label so
# far.
n_labels, aucs = [0], [roc_auc_score(y_test, learner.predict_proba(X_test)[:, 1])]
for round_ in range(4):
    idx, X_query = learner.query(X_pool, n_instances=10)
    learner.teach(X_query, y_pool[idx])
    n_labels.append(len(learner.y_training))
    aucs.append(roc_auc_score(y_test, learner.predict_proba(X_test)[:, 1]))
    print(f"round {round_ + 1}: {n_labels[-1]} labels, test AUC {aucs[-1]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.plot(n_labels, aucs, "o-")
ax.set_xlabel("labels queried")
ax.set_ylabel("test AUC")
ax.set_title("AIFT Diversity 1/4 on synthetic frames")
plt.show()

# %%
# What the learner kept
# ---------------------
# ``history_`` records every round: how many labels, the scores of the
# queried candidates, the time spent scoring and fine-tuning.
for record in learner.history_:
    print(
        f"round {record['round']}: {record['n_labels']} labels, "
        f"best score {max(record['scores']):.3f}, "
        f"scoring {record['scoring_time']:.1f} s, training {record['training_time']:.1f} s"
    )

# %%
# In a real campaign, replace ``y_pool[idx]`` by the expert's answers, and
# pass ``autosave="campaign/"`` so that every label is on disk before the
# network is fine-tuned (see :ref:`sessions`). ``learner.run(oracle, X_pool,
# budget=..., batch_size=...)`` runs the whole loop in one call.
