"""Choose the cold-start policy on the training pools only (never the test candidates).

For each dataset, the training pool is split by frame (70% sub-pool, 30%
validation); AIFT Diversity 1/4 runs from zero labels with each cold-start
policy (none: the paper's criterion from the first round; random picks, or a
representative k-means batch, until every class has ``k`` labels) next to IFT
Random, head-only (every block frozen, cached pooled features: the cheapest
setting, so that many variants fit), for 10 rounds of 10 and 3 seeds. The
script prints the validation AUC at 10-100 labels and each policy's worst
deficit against IFT Random over those budgets.

Usage::

    python benchmarks/tune_cold_start.py [--datasets synthetic,kvasir_imbalanced,...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import _datasets
from sklearn_aift import ActivationCache, AIFTNet, aift_sampling, random_sampling
from sklearn_aift.experiment import run_comparison

POLICIES = {
    "paper (no cold-start policy)": dict(cold_start=None),
    "random until 2 per class": dict(cold_start="random", cold_start_per_class=2),
    "random until 5 per class": dict(cold_start="random", cold_start_per_class=5),
    "representative until 2 per class": dict(cold_start="representative",
                                             cold_start_per_class=2),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(_datasets.NAMES))
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.datasets.split(","):
        start = time.perf_counter()
        ds = _datasets.load(name)
        X_fit, y_fit, X_val, y_val = _datasets.tuning_split(ds)
        methods = {"ift_random": random_sampling}
        methods.update({label: aift_sampling(0.25, 0.0, 1.0, **kw) for label, kw in POLICIES.items()})
        net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=64, freeze=19,
                      activation_cache=ActivationCache(max_bytes=None), device="cpu")
        res = run_comparison(net, X_fit, y_fit, X_val, y_val, methods=methods,
                             n_rounds=args.rounds, batch_size=10, seeds=args.seeds,
                             positive_label=ds.positive, patch_proba_rounds=(), verbose=0)
        labels, ref = res.curve("ift_random")
        ref_mean = ref.mean(axis=0)
        print(f"\n{name}: sub-pool {len(y_fit)} ({np.mean(y_fit == ds.positive):.0%} positive), "
              f"validation {len(y_val)}, {time.perf_counter() - start:.0f} s")
        shown = [i for i, n in enumerate(labels) if n in (0, 10, 20, 30, 50, 100)]
        print("  " + "method".ljust(36) + "".join(f"{labels[i]:>8}" for i in shown)
              + "   worst vs random")
        for method in res.methods:
            _, auc = res.curve(method)
            mean = auc.mean(axis=0)
            worst = np.min((mean - ref_mean)[1:])
            print("  " + method.ljust(36) + "".join(f"{mean[i]:8.3f}" for i in shown)
                  + f"   {worst:+.3f}", flush=True)


if __name__ == "__main__":
    main()
