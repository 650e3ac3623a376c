"""Round time against labels for LQ (fine-tune on all of L) and HQ (new + misclassified).

On Kvasir-SEG balanced (the label-efficiency benchmark's pool and 400 test
candidates; ImageNet MobileNetV2 at 64 px, last block fine-tuned, its
learning rates), a learner queries 10 random candidates per round up to
``--labels`` labels, once with ``incremental_subset="all"`` (LQ, today's
schedule) and once with ``"hq"`` (ACFT's HQ), from the same seed. Random
queries keep the pool scoring out of the round, so the figure is the
fine-tuning time alone; the test AUC after every round is recorded too (one
seed per run: a sanity check, not a label-efficiency study).

The frozen activations are read from a comparison study's output folder
(``--activations``, e.g. ``bench_study.py``'s ``serial/activations``) when
there, else computed once.

Usage::

    python benchmarks/bench_rounds.py [--labels 300] [--seeds 0] [--threads 1]
        [--activations /tmp/aift-study/serial/activations] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

import _datasets
from bench_label_efficiency import RATES, test_subset


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", type=int, default=300)
    p.add_argument("--seeds", default="0")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--activations", default=None)
    p.add_argument("--data-dir", default=str(_datasets.DATA))
    return p.parse_args(argv)


def main(argv=None):
    from sklearn.metrics import roc_auc_score

    from sklearn_aift import ActiveLearner, AIFTNet, random_sampling
    from sklearn_aift.experiment._frozen import study_activations

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    ds = _datasets.load("kvasir_balanced", Path(args.data_dir))
    X_test, y_test = test_subset(ds)

    def net(subset, seed):
        return AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=64, freeze=-1,
                       device="cpu", incremental_subset=subset, random_state=seed, **RATES)

    frozen = study_activations(net("all", 0), ds.X_pool, X_test, args.activations)
    made = "read back" if frozen.seconds == 0 else f"{frozen.seconds:.0f} s"
    print(f"frozen activations: {made}", flush=True)
    budgets = list(range(10, args.labels + 1, 10))
    curves = {}
    for seed in map(int, args.seeds.split(",")):
        for subset in ("all", "hq"):
            est = net(subset, seed).set_params(activation_cache=frozen.cache())
            learner = ActiveLearner(est, query_strategy=random_sampling, classes=[0, 1],
                                    random_state=seed)
            times, aucs, sizes = [], [], []
            for budget in budgets:
                start = time.perf_counter()
                learner.run(lambda idx: ds.y_pool[idx], ds.X_pool, budget=budget,
                            batch_size=10)
                times.append(time.perf_counter() - start)
                sizes.append(est.n_trained_candidates_)
                proba = est.predict_proba(X_test)[:, 1]
                aucs.append(roc_auc_score(y_test == ds.positive, proba))
            curves[(seed, subset)] = (times, aucs, sizes)
            print(f"seed {seed}, {subset}: total fine-tuning {sum(times):.0f} s", flush=True)
    print("\nlabels | " + " | ".join(f"{s} {k} round s / trained / AUC" for s, k in curves))
    for i, budget in enumerate(budgets):
        if budget in (10, 20, 50, 100, 150, 200, 250, 300) or budget == budgets[-1]:
            print(f"{budget} | " + " | ".join(
                f"{t[i]:.2f} / {n[i]} / {a[i]:.3f}" for t, a, n in curves.values()))
    for seed in sorted({s for s, _ in curves}):
        lq, hq = curves[(seed, "all")], curves[(seed, "hq")]
        gap = np.asarray(hq[1]) - np.asarray(lq[1])
        late = slice(len(budgets) // 2, None)
        print(f"seed {seed}: HQ / LQ fine-tuning time over the run "
              f"{sum(hq[0]) / sum(lq[0]):.2f}; over the last half "
              f"{sum(hq[0][late]) / sum(lq[0][late]):.2f}; HQ AUC - LQ AUC: worst "
              f"{gap.min():+.3f} (at {budgets[int(gap.argmin())]} labels), mean {gap.mean():+.3f}")
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
