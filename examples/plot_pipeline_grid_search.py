"""
==============================================
AIFTNet in a Pipeline with GridSearchCV
==============================================

:class:`~sklearn_aift.AIFTNet` is an ordinary scikit-learn classifier whose
samples are candidates (bags of patches), so it composes with the rest of
scikit-learn: a :class:`~sklearn.pipeline.Pipeline` with a transformer in
front, a :class:`~sklearn.model_selection.GridSearchCV` over its learning
rates, :func:`~sklearn.model_selection.cross_val_score` with groups. A
typical use is choosing the fine-tuning parameters on the labels collected
so far, before the next rounds of a campaign.
"""

# %%
# Labeled candidates
# ------------------
# 60 synthetic colonoscopy frames, 21 patches each.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_aift import ActivationCache, AIFTNet, make_colonoscopy_frames

frames = make_colonoscopy_frames(60, random_state=2)
X, y = np.asarray(frames.data), frames.target
print(X.shape, "positives:", int(y.sum()))

# %%
# A pipeline
# ----------
# Transformers see the whole candidate array ``(n, m, C, H, W)``. Here a
# contrast stretch per candidate, written as a plain function. The net uses
# ImageNet MobileNetV2 with a frozen prefix; one
# :class:`~sklearn_aift.ActivationCache` is shared by all the clones that the
# grid search makes, so the frozen part is computed once per candidate.


def stretch_contrast(X):
    X = np.asarray(X, dtype=np.float32)
    low = X.min(axis=(1, 2, 3, 4), keepdims=True)
    high = X.max(axis=(1, 2, 3, 4), keepdims=True)
    return (X - low) / np.maximum(high - low, 1.0)  # floats in [0, 1]


pipe = Pipeline(
    [
        ("contrast", FunctionTransformer(stretch_contrast)),
        (
            "net",
            AIFTNet(
                "mobilenet_v2",
                weights="IMAGENET1K_V1",
                input_size=48,
                max_epochs=2,
                batch_size=128,
                activation_cache=ActivationCache(),
                random_state=0,
            ),
        ),
    ]
)

# %%
# Grid search over the learning rates
# -----------------------------------
# ``lr`` is the body's learning rate; the last layer's, ``head_lr``, is ten
# times larger unless set (the paper's Table 3). Any parameter of the net,
# including prefixed skorch settings such as ``optimizer__weight_decay``, can
# be searched the same way.
search = GridSearchCV(
    pipe,
    {"net__lr": [1e-3, 1e-2]},
    cv=StratifiedKFold(n_splits=2, shuffle=True, random_state=0),
    scoring="roc_auc",
)
search.fit(X, y)
for params, mean in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"{params}: AUC {mean:.3f}")
print("best:", search.best_params_)

fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
labels = [f"lr={p['net__lr']:g}" for p in search.cv_results_["params"]]
ax.bar(labels, search.cv_results_["mean_test_score"], color="tab:blue")
ax.set_ylim(0.5, 1)
ax.set_ylabel("cross-validated AUC")
plt.show()

# %%
# Cross-validation with groups
# ----------------------------
# Splits index candidates, so the patches of a candidate always stay
# together. When several candidates come from one image or patient, split by
# that too. Here we pretend that consecutive frames come from the same video.
videos = np.arange(len(y)) // 10
scores = cross_val_score(
    search.best_estimator_, X, y, groups=videos, cv=GroupKFold(n_splits=2), scoring="roc_auc"
)
print("AUC per held-out group of videos:", np.round(scores, 3))
