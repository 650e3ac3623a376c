"""
=============================================
Resuming an interrupted labeling session
=============================================

A real annotation campaign lasts for days, and the process running it can
die at any moment: a reboot, an out-of-memory kill, a closed laptop. With
``autosave``, :class:`~sklearn_aift.ActiveLearner` commits every labeled
batch to a session store on disk *before* fine-tuning on it, and the weights
after every completed round. :meth:`~sklearn_aift.ActiveLearner.load` resumes
the campaign, and the resumed session ends exactly where an uninterrupted
one would have.
"""

# %%
# A campaign that stops after two rounds
# --------------------------------------
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_aift import ActivationCache, ActiveLearner, AIFTNet, make_colonoscopy_frames
from sklearn_aift import diversity_quarter

X_pool, y_pool = make_colonoscopy_frames(60, return_X_y=True, random_state=3)
X_pool = np.asarray(X_pool)
cache = ActivationCache()  # shared by the nets below: the frozen part is computed once


def make_net():
    return AIFTNet(
        "mobilenet_v2",
        weights="IMAGENET1K_V1",
        classes=[0, 1],
        input_size=48,
        max_epochs=2,
        max_epochs_incremental=1,
        batch_size=128,
        activation_cache=cache,
        random_state=0,
    )


workdir = Path(tempfile.mkdtemp())
session = workdir / "campaign"
learner = ActiveLearner(
    make_net(), query_strategy=diversity_quarter, autosave=session, random_state=0
)
learner.run(y_pool, X_pool, budget=10, batch_size=5)  # y_pool plays the expert
print("labeled before the interruption:", learner.labeled_indices_.tolist())
print("session store:", sorted(p.relative_to(session).as_posix() for p in session.rglob("*")
                                if p.is_file()))
del learner  # the process ends here

# %%
# The next day: resume
# --------------------
# Pass an estimator with the same parameters (``load`` refuses one that
# differs) and the pool (any pool: labeled candidates are recognised by their
# content); every label and the model of the last completed round come back.
resumed = ActiveLearner.load(session, estimator=make_net(), X_pool=X_pool)
print("restored:", resumed.labeled_indices_.tolist(), "after", resumed.n_iter_, "rounds")
resumed.run(y_pool, X_pool, budget=20, batch_size=5)

# %%
# The same result as an uninterrupted campaign
# --------------------------------------------
uninterrupted = ActiveLearner(make_net(), query_strategy=diversity_quarter, random_state=0)
uninterrupted.run(y_pool, X_pool, budget=20, batch_size=5)

print("resumed:       ", resumed.labeled_indices_.tolist())
print("uninterrupted: ", uninterrupted.labeled_indices_.tolist())
same_labels = np.array_equal(resumed.labeled_indices_, uninterrupted.labeled_indices_)
same_model = np.allclose(resumed.predict_proba(X_pool), uninterrupted.predict_proba(X_pool))
print("same queries:", same_labels, " same predictions:", same_model)

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for learner_, style, name in [(uninterrupted, "o-", "uninterrupted"), (resumed, "x--", "resumed")]:
    rounds = [r["round"] for r in learner_.history_]
    best = [max(r["scores"]) for r in learner_.history_]
    ax.plot(rounds, best, style, label=name)
ax.set_xlabel("round")
ax.set_ylabel("best query score")
ax.legend()
plt.show()

# %%
# The store is a folder with an SQLite database (labels, round history,
# parameters) and the weights of the last completed round; see
# :ref:`sessions` for its guarantees. In a real campaign, pass a callable
# ``oracle(indices) -> labels`` that asks the expert instead of ``y_pool``.
