"""Label efficiency of AIFT on several datasets, from zero labels, with real fine-tuning.

For every dataset of ``_datasets.py`` (Kvasir-SEG balanced and imbalanced,
BreastMNIST, the synthetic default) every method starts from zero labels and
queries b = 10 candidates per round from the training pool (full budget at
most a third of it), over 3 seeds; after every round the candidate-level AUC
on the held-out test set is recorded (round 0 is M0, before any label).

Two fine-tuning settings run side by side, both with ImageNet MobileNetV2
(offline weights), 64 px input and one activation cache per run:

* ``last-block`` (the default, what the CLI uses): ``freeze=-1``, the last
  feature block and the classifier are fine-tuned continuously, the first 18
  blocks are frozen and cached;
* ``head-only``: ``freeze=19``, every block frozen (cached pooled features),
  only the classifier trains.

Methods: the default strategy (AIFT (Entropy+Diversity) 1/4 with the default
cold start: random picks until every class has 5 labels), AIFT Diversity 1/4
(same cold start), IFT Random and Learning from Scratch (``weights=None``:
random frozen blocks whose batch-norm statistics are estimated from the first
fit's patches, last block and classifier trained); head-only also runs AIFT
Diversity 1/4 with the paper's criterion from the first round (no cold-start
policy).

Learning rates: the classifier's (0.01 in the first fit, 0.01 with gamma 0.5
in later fits) were chosen by the earlier ``--tune`` run on a split of
Kvasir's training pool; the last block's are a tenth of them (Table 3's
ratio), not tuned. The cold-start policy was chosen with
``tune_cold_start.py`` on splits of the training pools. Test candidates are
never used to choose anything.

The script prints, per dataset and setting, the mean test AUC ± std at fixed
budgets, the labels each method needs to first reach IFT Random's mean AUC at
the full budget and the saving (1 - labels / full budget), the targets met or
missed, and wall times; with ``--write`` it replaces the "Label efficiency"
section of ``benchmarks/RESULTS.md`` and writes the plots to
``benchmarks/results/``. Results are stored per run in ``--out`` (resumable).

Usage::

    python benchmarks/bench_label_efficiency.py --out /tmp/aift-le [--datasets a,b]
        [--settings last-block,head-only] [--write]
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

import _datasets

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
FIGURES = HERE / "results"
SECTION = "## Label efficiency"

DEFAULT = "entropy_diversity_quarter"
# the paper's criterion without the cold-start policy runs head-only (cheap), as evidence
METHODS = {"last-block": (DEFAULT, "diversity_quarter", "ift_random", "scratch"),
           "head-only": (DEFAULT, "diversity_quarter", "diversity_quarter_paper", "ift_random")}
SETTINGS = {"last-block": -1, "head-only": 19}
RATES = dict(lr=1e-3, head_lr=1e-2, lr_incremental=1e-3, head_lr_incremental=1e-2,
             gamma_incremental=0.5)
MAX_TEST = 400


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="/tmp/aift-le", help="result stores (resumable)")
    p.add_argument("--datasets", default=",".join(_datasets.NAMES))
    p.add_argument("--settings", default=",".join(SETTINGS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--write", action="store_true", help="update RESULTS.md and the plots")
    return p.parse_args(argv)


def test_subset(ds, seed=0):
    """At most MAX_TEST test candidates, stratified, so that evaluating every round stays cheap."""
    if len(ds.y_test) <= MAX_TEST:
        return ds.X_test, ds.y_test
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(ds.y_test):
        rows = np.flatnonzero(ds.y_test == label)
        share = int(round(MAX_TEST * len(rows) / len(ds.y_test)))
        keep.append(rng.choice(rows, size=share, replace=False))
    keep = np.sort(np.concatenate(keep))
    return ds.X_test[keep], ds.y_test[keep]


def run(ds, setting, args):
    from sklearn_aift import ActivationCache, AIFTNet
    from sklearn_aift.experiment import run_comparison

    X_test, y_test = test_subset(ds)
    net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=64,
                  freeze=SETTINGS[setting], activation_cache=ActivationCache(max_bytes=None),
                  device="cpu", **RATES)
    methods = METHODS[setting]
    start = time.perf_counter()
    results = run_comparison(net, ds.X_pool, ds.y_pool, X_test, y_test, methods=list(methods),
                             n_rounds=args.rounds, batch_size=10, seeds=args.seeds,
                             positive_label=ds.positive, patch_proba_rounds=(1, 3),
                             out_dir=Path(args.out) / ds.name / setting, verbose=0)
    return results, time.perf_counter() - start, len(y_test)


# ---------------------------------------------------------------------------- analysis
def mean_curve(results, method):
    labels, auc = results.curve(method)
    return labels, np.nanmean(auc, axis=0), np.nanstd(auc, axis=0)


def check_targets(results):
    """Targets (a)-(c), computed from the table."""
    from sklearn_aift.experiment import annotation_saving

    labels, ref, _ = mean_curve(results, "ift_random")
    savings = {d["method"]: d for d in annotation_saving(results, reference="ift_random")}
    taught = labels > 0
    out = {"savings": savings, "full_budget": int(labels.max())}
    worst = {}
    for m in (DEFAULT, "diversity_quarter"):
        _, mean, _ = mean_curve(results, m)
        gap = (mean - ref)[taught]
        i = int(np.argmin(gap))
        worst[m] = (int(labels[taught][i]), float(gap[i]))
    out["a"] = {"worst": worst, "met": all(g >= -0.02 for _, g in worst.values())}
    best = max((DEFAULT, "diversity_quarter"),
               key=lambda m: np.nan_to_num(savings[m]["saving"], nan=-1.0))
    out["b"] = {"best": best, "saving": savings[best]["saving"],
                "met": bool(savings[best]["saving"] >= 0.5),
                "aim": bool(savings[best]["saving"] >= 2 / 3)}
    if "scratch" in results.methods:
        _, scratch, _ = mean_curve(results, "scratch")
        others = [m for m in results.methods if m != "scratch"]
        above = [int(n) for j, n in enumerate(labels) if n > 0
                 and not all(scratch[j] < mean_curve(results, m)[1][j] for m in others)]
        out["c"] = {"final": float(scratch[-1]), "not_below": above,
                    "met": bool(scratch[-1] >= 0.6 and not above)}
    return out


def budgets_of(results):
    labels = results.curve("ift_random")[0]
    wanted = [0, 10, 20, 30, 50, 100, int(labels.max())]
    return [b for b in dict.fromkeys(wanted) if b in labels]


def describe(ds, setting, results, targets, wall, n_test):
    """Markdown for one dataset and setting: tables, targets, computed sentences."""
    from sklearn_aift.experiment import format_metric_table, format_saving_table, method_label

    def mark(ok):
        return "**met**" if ok else "**missed**"

    s = targets["savings"]
    full = targets["full_budget"]
    ref_auc = s["ift_random"]["target"]
    compute = sum(float(r.get(k) or 0.0) for r in results
                  for k in ("score_time", "train_time", "eval_time"))
    lines = [
        f"#### {setting}", "",
        f"{len(results.seeds)} seeds, {full} labels at most, test set of {n_test} "
        f"candidates; {compute / 60:.1f} min spent scoring, fine-tuning and evaluating "
        f"(summed over the rows, so resuming a run does not change it; this invocation: "
        f"{wall / 60:.1f} min).", "",
        format_metric_table(results, budgets_of(results), markdown=True), "",
        f"Labels needed to first reach IFT Random's mean AUC at {full} labels "
        f"({ref_auc:.3f}); saving = 1 - labels / {full}:", "",
        format_saving_table(list(s.values()), markdown=True), "",
    ]
    a, b = targets["a"], targets["b"]
    lines.append(
        f"- (a) AUC at every budget >= IFT Random's - 0.02: {mark(a['met'])} ("
        + "; ".join(f"{method_label(m)}: worst {g:+.3f} at {n} labels"
                    for m, (n, g) in a["worst"].items()) + ")."
    )
    saving = b["saving"]
    lines.append(
        f"- (b) saving >= 1/2 for the better of the two: {mark(b['met'])} "
        f"({method_label(b['best'])}: "
        + ("never reaches the target" if not math.isfinite(saving) else f"{saving:.0%}")
        + f"; aim 2/3: {'met' if b['aim'] else 'missed'}); IFT Random itself first reaches "
        f"it at {s['ift_random']['labels_needed']:.0f} labels."
    )
    if "c" in targets:
        c = targets["c"]
        where = ("below every fine-tuning method at every budget" if not c["not_below"]
                 else "not below every other method at " + ", ".join(map(str, c["not_below"])))
        lines.append(f"- (c) Learning from Scratch works (AUC {c['final']:.3f} at {full} labels) "
                     f"and stays {where}: {mark(c['met'])}.")
    paper = s.get("diversity_quarter_paper")
    if paper is not None:
        _, mean_p, _ = mean_curve(results, "diversity_quarter_paper")
        labels, mean_c, _ = mean_curve(results, "diversity_quarter")
        first = int(np.flatnonzero(labels > 0)[0])
        lines.append(
            f"- Cold start: at {int(labels[first])} labels AIFT Diversity 1/4 has AUC "
            f"{mean_c[first]:.3f} with the cold-start policy and {mean_p[first]:.3f} without "
            f"(IFT Random {mean_curve(results, 'ift_random')[1][first]:.3f})."
        )
    lines.append("")
    return lines


def plot(ds, setting, results, path):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_aift.plotting import plot_learning_curves

    fig = plot_learning_curves(results)
    fig.suptitle(f"{ds.name}, {setting}")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    matplotlib.pyplot.close(fig)


def update_results_md(section_lines):
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    # the whole title line: one section's title may begin another's
    start = text.find(SECTION + "\n")
    if start >= 0:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + (text[nxt + 1:] if nxt >= 0 else "")
    RESULTS_MD.write_text(text.rstrip("\n") + "\n\n" + "\n".join(section_lines).rstrip() + "\n")


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    lines = [SECTION, "",
             "Written by `benchmarks/bench_label_efficiency.py` from the numbers of its run "
             "(the sentences under each table are computed from them). Set-up and choices: "
             "the script's docstring. Command:", "", "```", command, "```", ""]
    for name in args.datasets.split(","):
        ds = _datasets.load(name)
        lines += [f"### {ds.name}", "", f"{ds.description}. Pool {len(ds.y_pool)} candidates "
                  f"({np.mean(ds.y_pool == ds.positive):.0%} positive).", ""]
        for setting in args.settings.split(","):
            results, wall, n_test = run(ds, setting, args)
            targets = check_targets(results)
            block = describe(ds, setting, results, targets, wall, n_test)
            print(f"\n=== {ds.name}, {setting}\n" + "\n".join(block), flush=True)
            lines += block
            if args.write:
                FIGURES.mkdir(exist_ok=True)
                png = FIGURES / f"label_efficiency_{ds.name}_{setting}.png"
                plot(ds, setting, results, png)
                lines += [f"![{ds.name}, {setting}](results/{png.name})", ""]
    if args.write:
        update_results_md(lines)


if __name__ == "__main__":
    main()
