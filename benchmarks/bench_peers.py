"""AIFT against the strategies of other libraries, with the same network, loop and split.

For each development set (Kvasir-SEG balanced, Kvasir-SEG imbalanced with
hard negatives, Kvasir-SEG video-like, BreastMNIST, the synthetic sequence
pool; see ``_datasets.py``) every method starts from zero labels and queries
b = 10 candidates per round from the training pool, with the project's own
network (ImageNet MobileNetV2, 64 px, the rates of
``bench_label_efficiency.py``), over several seeds; after every round the
candidate-level AUC on the held-out test set is recorded. Only the query
strategy differs between methods:

* AIFT: the default (Entropy+Diversity 1/4), Diversity 1/4, and the default
  with a batch-aware selection (``_diverse``: k-center over ``embed``
  features among the top 4b; ``_randomized``: b drawn from the top 4b) or
  with typicality-weighted scores (``_dense``), with covering picks until
  the network agrees with its labeled neighbours (``_switch``), or with
  TypiClust's typical batches during the cold start (``_typical``, also with
  the diverse batch after it: ``_typical_diverse``);
* IFT Random (the reference of the savings);
* the peers of :mod:`sklearn_aift.peers` (scikit-activeml and baal on the
  same network): entropy and margin on one view, BALD over MC dropout,
  CoreSet, TypiClust then margin, BADGE; every model-based one with AIFT's
  cold start.

Per dataset the script prints the mean test AUC +- std at fixed budgets for
every method, the labels each needs to first reach IFT Random's mean AUC at
the full budget with the saving (1 - labels / full budget), the seconds per
round each spends scoring and fine-tuning, the issue's targets for the
default (a: >= best peer - 0.01 at every budget >= 30; b: saving >= 1/2 and
>= every peer's; c: >= IFT Random - 0.02 at every budget) and sentences
computed from these numbers. Plots go to ``--out``; ``--write`` also puts
them in ``benchmarks/results/`` and replaces the "Peer comparison" section
of ``benchmarks/RESULTS.md`` for the fine-tuning setting run (refused with
``--quick`` or a reduced pool: only a full run's numbers belong there).

No setting is chosen on the test candidates: they only measure. To choose a
default (strategy, batch mode, omega), run with ``--tuning``: the pool is
then split by group into a 70% pool and a 30% validation set
(``_datasets.tuning_split``) and the test set is not read at all. Results are
stored per run in ``--out`` (resumable). Torch runs on ``--threads`` threads
(1 by default: on shared cores more threads ran slower), and so does NumPy's BLAS.

Usage::

    python benchmarks/bench_peers.py --data-root ../shared/data --out /tmp/aift-peers
    python benchmarks/bench_peers.py --quick      # a few minutes: proves the pipeline
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
from threadpoolctl import threadpool_limits

import _datasets
import bench_label_efficiency as le
from sklearn_aift.experiment import BATCH_AWARE_METHODS, BUDGET_AWARE_METHODS

HERE = Path(__file__).resolve().parent
SECTION = "## Peer comparison, {setting} fine-tuning"
DATASETS = ("kvasir_balanced", "kvasir_imbalanced", "kvasir_video", "breastmnist",
            "synthetic_sequence")
DEFAULT = "entropy_diversity_quarter"
AIFT = (DEFAULT, "diversity_quarter") + BATCH_AWARE_METHODS + BUDGET_AWARE_METHODS
QUICK = dict(seeds=2, rounds=3, max_pool=120, max_test=80, setting="head-only")


def parse_args(argv=None):
    from sklearn_aift.experiment import PEER_METHODS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="/tmp/aift-peers", help="result stores (resumable)")
    p.add_argument("--data-root", default=str(_datasets.DATA), help="the shared data folder")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--methods", default=",".join(AIFT + ("ift_random",) + PEER_METHODS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=15, help="rounds (budget = rounds * b, "
                   "capped at half the pool)")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--setting", choices=tuple(le.SETTINGS), default="last-block")
    p.add_argument("--max-pool", type=int, default=None,
                   help="subsample the pool to about this many candidates (whole groups)")
    p.add_argument("--max-test", type=int, default=le.MAX_TEST)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tuning", action="store_true",
                   help="measure on a split of the training pool (for choosing defaults)")
    p.add_argument("--quick", action="store_true",
                   help="seeds 2, rounds 3, pool 120, test 80, head-only")
    p.add_argument("--write", action="store_true",
                   help="update RESULTS.md and benchmarks/results (full runs only)")
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.write and (args.quick or args.max_pool or args.tuning):
        p.error("--write records full test runs only; drop --quick / --max-pool / --tuning")
    return args


# ---------------------------------------------------------------------------- data
def subsample_pool(ds, max_pool, seed=0):
    """About ``max_pool`` pool candidates, whole groups (frames, scenes) at a time."""
    if not max_pool or len(ds.y_pool) <= max_pool:
        return ds
    rng = np.random.default_rng(seed)
    rows = []
    for g in rng.permutation(np.unique(ds.groups_pool)):
        rows.extend(np.flatnonzero(ds.groups_pool == g).tolist())
        if len(rows) >= max_pool:
            break
    rows = np.sort(np.asarray(rows))
    ds.X_pool, ds.y_pool, ds.groups_pool = ds.X_pool[rows], ds.y_pool[rows], ds.groups_pool[rows]
    return ds


def tuning_view(ds):
    """The dataset with a group-wise split of its training pool as pool and test set."""
    X_fit, y_fit, X_val, y_val = _datasets.tuning_split(ds)
    groups = np.unique(ds.groups_pool)
    rng = np.random.default_rng(123)  # the groups tuning_split held out
    held = np.isin(ds.groups_pool, rng.choice(groups, size=int(0.3 * len(groups)),
                                              replace=False))
    ds.groups_pool = ds.groups_pool[~held]
    ds.X_pool, ds.y_pool, ds.X_test, ds.y_test = X_fit, y_fit, X_val, y_val
    ds.name += "_tuning"
    ds.description += " (tuning: 70/30 group-wise split of the training pool; test set unused)"
    return ds


def run(ds, args):
    from sklearn_aift import ActivationCache, AIFTNet
    from sklearn_aift.experiment import run_comparison

    le.MAX_TEST = args.max_test
    X_test, y_test = le.test_subset(ds)
    net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=64,
                  freeze=le.SETTINGS[args.setting],
                  activation_cache=ActivationCache(max_bytes=None), device="cpu", **le.RATES)
    rounds = max(1, min(args.rounds, len(ds.y_pool) // (2 * args.batch_size)))
    computed = set()  # the (method, seed) runs this invocation computes (not read back)
    start = time.perf_counter()
    # fill the shared activation cache first, so that no method's timing pays for it
    net.predict_patch_proba(ds.X_pool)
    net.predict_patch_proba(X_test)
    if ds.X_pool.ndim == 5:  # the peers' one view (patch 0)
        net.predict_patch_proba(ds.X_pool[:, 0])
    results = run_comparison(net, ds.X_pool, ds.y_pool, X_test, y_test,
                             methods=args.methods.split(","), n_rounds=rounds,
                             batch_size=args.batch_size, seeds=args.seeds,
                             positive_label=ds.positive, patch_proba_rounds=(),
                             out_dir=Path(args.out) / ds.name / args.setting, verbose=0,
                             callback=lambda row: computed.add((row["method"], row["seed"])))
    ds.runs = (len(computed), len(results.methods) * len(results.seeds))
    return results, time.perf_counter() - start, len(y_test)


# ---------------------------------------------------------------------------- analysis
def mean_curve(results, method):
    labels, auc = results.curve(method)
    return labels, np.nanmean(auc, axis=0)


def seconds_per_round(results, method):
    rows = [r for r in results if r["method"] == method and r["round"] > 0]
    score = np.mean([r["score_time"] for r in rows]) if rows else float("nan")
    train = np.mean([r["train_time"] for r in rows]) if rows else float("nan")
    return float(score), float(train)


def distinct_groups(results, groups, method, first_round=3):
    """Mean number of distinct groups (frames, scenes) among a batch's candidates.

    Measures batch redundancy: on a video-like pool, a batch of near-copies
    of one scene holds few groups. Rounds from ``first_round`` on (after the
    cold start's random batches).
    """
    per = [len(set(groups[r["queried"]].tolist())) for r in results
           if r["method"] == method and r["round"] >= first_round]
    return float(np.mean(per)) if per else float("nan")


def targets(results, method, peers):
    """The issue's targets (a)-(c) for ``method``, from the table."""
    from sklearn_aift.experiment import annotation_saving

    savings = {d["method"]: d for d in annotation_saving(results, reference="ift_random")}
    labels, mine = mean_curve(results, method)
    _, ref = mean_curve(results, "ift_random")
    peer_curves = {p: mean_curve(results, p)[1] for p in peers}
    out = {"saving": savings[method]["saving"]}
    if peer_curves:
        best = np.max(np.vstack(list(peer_curves.values())), axis=0)
        at = labels >= 30
        gap = (mine - best)[at]
        i = int(np.argmin(gap)) if gap.size else 0
        out["a"] = (bool(gap.size == 0 or gap.min() >= -0.01),
                    int(labels[at][i]) if gap.size else None,
                    float(gap[i]) if gap.size else float("nan"))
        peer_savings = [np.nan_to_num(savings[p]["saving"], nan=-1.0) for p in peers]
        own = np.nan_to_num(out["saving"], nan=-1.0)
        out["b"] = (bool(own >= 0.5 and own >= max(peer_savings)), own >= 2 / 3)
    taught = labels > 0
    gap = (mine - ref)[taught]
    j = int(np.argmin(gap))
    out["c"] = (bool(gap.min() >= -0.02), int(labels[taught][j]), float(gap[j]))
    return out, savings


def budgets_of(results):
    labels = results.curve("ift_random")[0]
    if len(labels) <= 7:
        return [int(b) for b in labels if b > 0]
    wanted = [10, 30, 50, 100, 150, int(labels.max())]
    return [b for b in dict.fromkeys(wanted) if b in labels]


def _saving_text(value):
    return "never reaches it" if not math.isfinite(value) else f"saves {value:.0%}"


def describe(ds, results, wall, n_test, args):
    """Markdown for one dataset: tables, targets and sentences computed from the numbers."""
    from sklearn_aift.experiment import (
        PEER_METHODS,
        format_metric_table,
        format_saving_table,
        method_label,
    )

    methods = results.methods
    peers = [m for m in methods if m in PEER_METHODS]
    aift = [m for m in methods if m in AIFT]
    full = int(results.curve("ift_random")[0].max())
    per_method = {m: targets(results, m, peers) for m in aift}
    savings = next(iter(per_method.values()))[1] if per_method else \
        targets(results, "ift_random", [])[1]
    lines = [
        f"### {ds.name}", "",
        f"{ds.description}. Pool {len(ds.y_pool)} candidates "
        f"({np.mean(ds.y_pool == ds.positive):.0%} positive), test set {n_test}; "
        f"{len(results.seeds)} seeds, b = {args.batch_size}, {full} labels at most, "
        f"{args.setting}; this invocation {wall / 60:.1f} min, computing {ds.runs[0]} of the "
        f"{ds.runs[1]} (method, seed) runs" + (" (the others were read back from the store of "
                                               "an earlier invocation of the same command)"
                                               if ds.runs[0] < ds.runs[1] else "") + ".", "",
        "Mean test AUC +- std over the seeds:", "",
        format_metric_table(results, budgets_of(results), markdown=True), "",
        f"Labels needed to first reach IFT Random's mean AUC at {full} labels "
        f"({savings['ift_random']['target']:.3f}); saving = 1 - labels / {full}:", "",
        format_saving_table(list(savings.values()), markdown=True), "",
        "Seconds per round (mean over rounds and seeds) and batch redundancy (distinct "
        "frames or scenes among a batch's candidates from round 3 on):", "",
        "| method | scoring (s) | fine-tuning (s) | distinct groups per batch |",
        "|---|---|---|---|",
    ]
    for m in methods:
        score, train = seconds_per_round(results, m)
        groups = distinct_groups(results, ds.groups_pool, m)
        lines.append(f"| {method_label(m)} | {score:.2f} | {train:.2f} | {groups:.1f} |")
    lines.append("")

    def mark(ok):
        return "met" if ok else "**missed**"

    for m in aift:
        t = per_method[m][0]
        parts = []
        if "a" in t:
            ok, n, gap = t["a"]
            parts.append(f"(a) {mark(ok)}" + (f" (worst {gap:+.3f} vs the best peer at {n} "
                                               f"labels)" if n is not None else ""))
            parts.append(f"(b) {mark(t['b'][0])} (" + _saving_text(t["saving"]) + ")")
        ok, n, gap = t["c"]
        parts.append(f"(c) {mark(ok)} (worst {gap:+.3f} vs IFT Random at {n} labels)")
        lines.append(f"- {method_label(m)}: " + "; ".join(parts) + ".")
    lines += [""] + conclusions(results, savings, peers, aift, full) + [""]
    return lines


def conclusions(results, savings, peers, aift, full):
    """Sentences computed from the numbers (never fixed text)."""
    from sklearn_aift.experiment import method_label

    def saving(m):
        return np.nan_to_num(savings[m]["saving"], nan=-1.0)

    out = []
    top_saving = max(saving(m) for m in results.methods)
    leaders = [m for m in results.methods if saving(m) == top_saving]
    best = leaders[0]
    out.append(f"Largest saving ({_saving_text(savings[best]['saving'])} of {full} labels): "
               + ", ".join(method_label(m) for m in leaders) + ".")
    final = {m: mean_curve(results, m)[1][-1] for m in results.methods}
    top = max(final, key=final.get)
    out.append(f"Highest mean AUC at {full} labels: {method_label(top)} ({final[top]:.3f}; "
               f"IFT Random {final['ift_random']:.3f}, the default AIFT "
               f"{final.get(DEFAULT, float('nan')):.3f}).")
    if peers and aift:
        best_peer = max(peers, key=saving)
        best_aift = max(aift, key=saving)
        verdict = "ahead of" if saving(best_aift) > saving(best_peer) else (
            "level with" if saving(best_aift) == saving(best_peer) else "behind")
        out.append(f"The best AIFT variant by saving, {method_label(best_aift)}, is {verdict} "
                   f"the best peer, {method_label(best_peer)} "
                   f"({_saving_text(savings[best_aift]['saving'])} against "
                   f"{_saving_text(savings[best_peer]['saving'])}).")
    if len(results.seeds) < 3:
        out.append(f"Only {len(results.seeds)} seed(s): differences of this size are within "
                   f"the noise; this run proves the pipeline, not a ranking.")
    return [" ".join(out)]


def summary(per_set):
    """Markdown across the datasets: savings, worst gaps and the targets met everywhere."""
    from sklearn_aift.experiment import PEER_METHODS, method_label

    names = [name for name, _ in per_set]
    methods = list(dict.fromkeys(m for _, results in per_set for m in results.methods))
    aift = [m for m in methods if m in AIFT]
    peers = [m for m in methods if m in PEER_METHODS]
    judged = {m: {name: targets(results, m, [p for p in peers if p in results.methods])
                  for name, results in per_set if m in results.methods}
              for m in aift}
    savings = {name: targets(results, "ift_random", [])[1] for name, results in per_set}
    lines = ["### All development sets together", "",
             "Saving per set (labels for the mean curve to reach IFT Random's full-budget "
             "AUC):", "",
             "| method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for m in methods:
        cells = [_saving_text(savings[n][m]["saving"]).replace("saves ", "")
                 if m in savings[n] else "-" for n in names]
        lines.append(f"| {method_label(m)} | " + " | ".join(cells) + " |")
    lines += ["", "Worst mean-AUC gap of each AIFT variant at 30 labels or more, to the best "
              "peer at that budget (target (a): >= -0.01) and to IFT Random at any budget "
              "(target (c): >= -0.02), per set:", "",
              "| method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for m in aift:
        cells = []
        for n in names:
            t = judged[m].get(n, ({}, None))[0]
            a = f"{t['a'][2]:+.3f}" if "a" in t else "-"
            cells.append(f"{a} / {t['c'][2]:+.3f}" if t else "-")
        lines.append(f"| {method_label(m)} | " + " | ".join(cells) + " |")
    # the same target held to each peer against the others: how strict "the best peer" is
    # when it is a maximum over several noisy curves
    held = {p: {name: targets(results, p, _other_peers(results, p, peers))[0]
                for name, results in per_set if p in results.methods}
            for p in peers}
    if len(peers) > 1:
        lines += ["", "Target (a) held to each peer: its worst gap at 30 labels or more to the "
                  "best of the other peers (a peer that picks as it does, as margin and entropy "
                  "on two classes, left out), per set:", "",
                  "| method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for p in peers:
            cells = [f"{held[p][n]['a'][2]:+.3f}" if "a" in held[p].get(n, {}) else "-"
                     for n in names]
            lines.append(f"| {method_label(p)} | " + " | ".join(cells) + " |")
    lines.append("")

    def everywhere(m, key):
        return all(t[0][key][0] for t in judged[m].values() if key in t[0])

    sentences = []
    for key, what in (("a", "(a) within 0.01 of the best peer at every budget >= 30"),
                      ("b", "(b) a saving >= 1/2 and >= every peer's"),
                      ("c", "(c) never more than 0.02 below IFT Random")):
        met = [method_label(m) for m in aift if everywhere(m, key)]
        sentences.append(f"{what} on every set: " + (", ".join(met) if met else "no AIFT "
                                                     "variant") + ".")
    if len(peers) > 1:
        met = [method_label(p) for p in peers
               if all(t["a"][0] for t in held[p].values() if "a" in t)]
        sentences.append("(a) held to the peers, against each other, on every set: "
                         + (", ".join(met) if met else "no peer") + ".")
    if peers and aift:
        def worst(m):
            return min(t[0]["a"][2] for t in judged[m].values() if "a" in t[0])
        best = max(aift, key=worst)
        sentences.append(
            f"Smallest worst-case gap to the best peer: {method_label(best)} "
            f"({worst(best):+.3f}; the default {method_label(DEFAULT)} "
            f"{worst(DEFAULT):+.3f})." if DEFAULT in judged else "")
    return lines + [" ".join(s for s in sentences if s), ""]


def _other_peers(results, method, peers):
    """The peers other than ``method`` whose mean curve differs from its own."""
    own = mean_curve(results, method)[1]
    return [p for p in peers if p != method and p in results.methods
            and not np.allclose(mean_curve(results, p)[1], own, equal_nan=True)]


def plot(ds, results, path):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_aift.plotting import plot_learning_curves

    fig = plot_learning_curves(results)
    fig.suptitle(f"{ds.name}: AIFT and the peers")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    matplotlib.pyplot.close(fig)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    # NumPy's BLAS too: on a shared machine, more threads than cores slow k-means and PCA
    # (the peers' and AIFT's clustering) by an order of magnitude
    threadpool_limits(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    section = SECTION.format(setting=args.setting)
    lines = [section, "",
             "Written by `benchmarks/bench_peers.py` from the numbers of its run (the "
             "sentences are computed from them). Set-up: the script's docstring. Command:", "",
             "```", command, "```", ""]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    per_set = []
    for name in args.datasets.split(","):
        ds = _datasets.load(name, Path(args.data_root))
        if args.tuning:
            ds = tuning_view(ds)
        ds = subsample_pool(ds, args.max_pool)
        results, wall, n_test = run(ds, args)
        per_set.append((ds.name, results))
        block = describe(ds, results, wall, n_test, args)
        print("\n" + "\n".join(block), flush=True)
        lines += block
        png = out / f"peers_{ds.name}_{args.setting}.png"
        plot(ds, results, png)
        if args.write:
            le.FIGURES.mkdir(exist_ok=True)
            final = le.FIGURES / png.name
            final.write_bytes(png.read_bytes())
            lines += [f"![{ds.name}](results/{final.name})", ""]
    if len(per_set) > 1:
        block = summary(per_set)
        print("\n" + "\n".join(block), flush=True)
        lines += block
    (out / "peers.md").write_text("\n".join(lines) + "\n")
    if args.write:
        le.SECTION = section
        le.update_results_md(lines)


if __name__ == "__main__":
    main()
