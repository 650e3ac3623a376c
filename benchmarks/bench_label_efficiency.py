"""Label efficiency of AIFT on Kvasir-SEG polyp candidates (the paper's sec. 4.2 claim).

The nine methods (six AIFT variants, IFT Random, Learning from Scratch, mean
uncertainty) each start from zero labels and query b = 10 candidates per round
for 30 rounds (300 labels) from the training pool, over several seeds; after
every round the candidate-level AUC is measured on the held-out test frames.
The run goes through :func:`sklearn_aift.experiment.run_comparison`, so it is
resumable: run the same command again after an interruption.

Set-up (chosen by reasoning and, for the learning rates, on the training pool
only with ``--tune``; never on the test candidates):

* candidates: :func:`sklearn_aift.datasets.load_kvasir_seg`, split by frame
  (70% train pool / 30% test, seed 0), one polyp box and one mucosa box per
  frame, the paper's box protocol without translations (3 scales x 8
  rotations/flips = 24 patches of 64 px per candidate);
* model: ImageNet MobileNetV2 (offline weights), input 64 px, its feature
  blocks frozen (``--freeze``, default all 19: the last layer is fine-tuned
  continuously) with one shared activation cache, so the frozen features of
  every patch are computed once per network;
* Learning from Scratch: the same network with ``weights=None`` (random frozen
  features, trained last layer).

It prints and writes to ``benchmarks/RESULTS.md`` (section "Label
efficiency"): the mean AUC (± std over seeds) per method at 50/100/150/200/300
labels, the three targets of the issue marked met/missed, the wall time of the
whole run and of one round with and without the activation cache, and the
plots (``benchmarks/results/label_efficiency_*.png``).

Usage::

    python benchmarks/bench_label_efficiency.py --out /tmp/aift-bench
    python benchmarks/bench_label_efficiency.py --tune --out /tmp/aift-bench
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "kvasir_seg_256"
BUDGETS = (50, 100, 150, 200, 300)
QUARTER = ("diversity_quarter", "entropy_quarter", "entropy_diversity_quarter")

# Learning rates of the last layer, the result of `--tune` (see RESULTS.md).
HEAD_LR = 0.01
HEAD_LR_INCREMENTAL = 0.01
GAMMA_INCREMENTAL = 0.5


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--out", default="/tmp/aift-bench", help="store and results (resumable)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--methods", default="all", help="comma-separated, or all")
    p.add_argument("--freeze", type=int, default=19)
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--patch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: the CPU is shared; 2 threads under contention were "
                   "measured 5x slower than 1)")
    p.add_argument("--tune", action="store_true",
                   help="only choose the learning rates on the training pool (frame-wise "
                   "split of it), with IFT Random, and print the table")
    p.add_argument("--skip-timing", action="store_true",
                   help="skip the one-round timing with and without the cache")
    p.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md / PNGs")
    return p.parse_args(argv)


def load(args):
    from sklearn_aift.augment import BoxProtocol
    from sklearn_aift.datasets import load_kvasir_seg

    protocol = BoxProtocol(patch_size=args.patch_size, shift=0)
    bunch = load_kvasir_seg(args.data_dir, protocol=protocol, test_size=0.3, random_state=0)
    return bunch


def make_net(args, cache, **overrides):
    from sklearn_aift import AIFTNet

    params = dict(
        weights="IMAGENET1K_V1",
        input_size=args.input_size,
        freeze=args.freeze,
        head_lr=HEAD_LR,
        head_lr_incremental=HEAD_LR_INCREMENTAL,
        gamma_incremental=GAMMA_INCREMENTAL,
        max_epochs=5,
        max_epochs_incremental=3,
        batch_size=64,
        activation_cache=cache,
        device="cpu",
    )
    params.update(overrides)
    return AIFTNet("mobilenet_v2", **params)


# ---------------------------------------------------------------------------
# --tune: learning rates on the training pool only
# ---------------------------------------------------------------------------

GRID = [
    # (head_lr, head_lr_incremental, gamma_incremental)
    (0.01, 0.001, 0.1),   # the paper's Table 3 (polyp detection) ratios
    (0.01, 0.01, 0.5),
    (0.05, 0.01, 0.5),
    (0.05, 0.05, 0.5),
]


def tune(args, bunch, cache):
    from sklearn_aift.experiment import run_comparison

    X, y, groups = bunch.data, np.asarray(bunch.target), np.asarray(bunch.groups)
    train = np.asarray(bunch.train_index)
    frames = np.unique(groups[train])
    rng = np.random.default_rng(123)
    val_frames = rng.choice(frames, size=int(0.3 * len(frames)), replace=False)
    is_val = np.isin(groups[train], val_frames)
    fit_idx, val_idx = train[~is_val], train[is_val]
    print(f"tuning on the training pool only: {len(fit_idx)} pool / {len(val_idx)} validation "
          f"candidates (frame-wise split of the training frames)")
    rows = []
    for head_lr, head_inc, gamma_inc in GRID:
        net = make_net(args, cache, head_lr=head_lr, head_lr_incremental=head_inc,
                       gamma_incremental=gamma_inc)
        start = time.perf_counter()
        res = run_comparison(net, X[fit_idx], y[fit_idx], X[val_idx], y[val_idx],
                             methods=["ift_random"], n_rounds=15, batch_size=10, seeds=2,
                             patch_proba_rounds=(), verbose=0)
        labels, auc = res.curve("ift_random")
        mean = auc.mean(axis=0)
        row = (head_lr, head_inc, gamma_inc, mean[labels == 50][0], mean[labels == 150][0],
               time.perf_counter() - start)
        rows.append(row)
        print("head_lr=%.3g head_lr_incremental=%.3g gamma_incremental=%.2g: validation AUC "
              "%.3f at 50 labels, %.3f at 150 labels (%.0f s)" % row, flush=True)
    return rows


# ---------------------------------------------------------------------------
# One round with and without the activation cache
# ---------------------------------------------------------------------------


def time_one_round(args, X_pool, y_pool, cache):
    """Seconds of one AIFT round (Diversity 1/4 scoring of the pool + fine-tuning).

    The learner first gets 10 random labels (one fine-tuning), then one timed
    round queries 10 more and fine-tunes on the 20. With the cache, the pool's
    frozen features are already in it (as in every round after the first);
    without it, every patch goes through the whole network.
    """
    from sklearn_aift import ActiveLearner, diversity_quarter, random_sampling

    out = {}
    make_net(args, cache, random_state=0).predict_patch_proba(X_pool)  # warm (no-op after a run)
    for name, net_cache in (("cached", cache), ("uncached", None)):
        net = make_net(args, net_cache, random_state=0)
        learner = ActiveLearner(net, query_strategy=random_sampling,
                                classes=np.unique(y_pool), random_state=0)
        learner.run(y_pool, X_pool, budget=10, batch_size=10)  # 10 random labels, one fit
        learner.query_strategy = diversity_quarter
        start = time.perf_counter()
        learner.run(y_pool, X_pool, budget=20, batch_size=10)
        wall = time.perf_counter() - start
        h = learner.history_[-1]
        out[name] = {"wall": wall, "scoring": h["scoring_time"], "training": h["training_time"]}
        print(f"one round {name}: {wall:.1f} s (scoring {h['scoring_time']:.1f} s, "
              f"training {h['training_time']:.1f} s)", flush=True)
    return out


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def mean_at(results, method, budget):
    labels, auc = results.curve(method)
    hit = np.flatnonzero(labels == budget)
    return float(np.nanmean(auc[:, hit[0]])) if hit.size else float("nan")


def targets(results):
    from sklearn_aift.experiment import annotation_saving

    out = {}
    methods = results.methods
    labels = results.curve("ift_random")[0]
    full = int(labels[-1])
    savings = {d["method"]: d for d in annotation_saving(results, reference="ift_random")}
    ref_auc = savings["ift_random"]["target"]
    quarter = [m for m in QUARTER if m in methods]
    best = min(quarter, key=lambda m: (np.nan_to_num(savings[m]["labels_needed"], nan=1e9), m))
    needed = savings[best]["labels_needed"]
    out["a"] = {
        "best": best, "needed": needed, "target_auc": ref_auc, "full": full,
        "met": bool(math.isfinite(needed) and needed <= full / 2),
        "aim": bool(math.isfinite(needed) and needed <= full / 3),
        "all": {m: savings[m]["labels_needed"] for m in quarter},
    }
    budgets = [int(b) for b in labels if b >= 100]
    gaps = {}
    for m in ("entropy_diversity_quarter", "diversity_quarter"):
        if m not in methods:
            continue
        worse = [(b, mean_at(results, m, b) - mean_at(results, "ift_random", b)) for b in budgets]
        gaps[m] = [(b, d) for b, d in worse if not d >= 0]
    out["b"] = {"met": all(not v for v in gaps.values()) and len(gaps) == 2, "violations": gaps,
                "budgets": (budgets[0], budgets[-1]) if budgets else None}
    if "scratch" in methods:
        others = [m for m in methods if m != "scratch"]
        fails = []
        for b in labels:
            s = mean_at(results, "scratch", int(b))
            below = [m for m in others if not s < mean_at(results, m, int(b))]
            if below:
                fails.append((int(b), below))
        out["c"] = {"met": not fails, "fails": fails}
    return out, savings


def observations(results, savings):
    """Data-driven remarks that put the targets in context."""
    from sklearn_aift.experiment import method_label

    out = ["Observations:", ""]
    full = results["full_data_auc"]
    full = full[np.isfinite(full)]
    labels, ref = results.curve("ift_random")
    if full.size:
        out.append(
            f"- The curves saturate near the AUC of fine-tuning on the whole pool "
            f"({full.mean():.3f}): IFT Random ends at {ref.mean(axis=0)[-1]:.3f}, so the "
            f"differences between methods are small in absolute AUC, and 'labels needed' "
            f"moves in steps of one round ({int(labels[1] - labels[0])} labels)."
        )
    for m in ("diversity", "entropy_diversity"):
        if m in savings and f"{m}_quarter" in savings:
            a, b = savings[m]["labels_needed"], savings[f"{m}_quarter"]["labels_needed"]
            out.append(
                f"- {method_label(m)} on all patches needs "
                f"{'never' if not math.isfinite(a) else int(a)} labels against "
                f"{'never' if not math.isfinite(b) else int(b)} for its 1/4 variant: majority "
                f"selection is what makes the diversity criterion work, as in the paper."
            )
    if "mean_uncertainty" in savings:
        mu = savings["mean_uncertainty"]
        out.append(
            f"- Mean uncertainty (entropy of the candidate's mean prediction, not one of the "
            f"paper's methods) needs "
            f"{'never' if not math.isfinite(mu['labels_needed']) else int(mu['labels_needed'])} "
            f"labels (the AIFT 1/4 variants: "
            + ", ".join(f"{savings[m]['labels_needed']:.0f}" for m in QUARTER if m in savings)
            + ")."
        )
    if "scratch" in results.methods:
        _, sc = results.curve("scratch")
        mean = sc.mean(axis=0)
        out.append(
            f"- Learning from Scratch stays at AUC {mean.min():.2f}-{mean.max():.2f}: a linear "
            f"layer on random frozen features learns almost nothing, so (c) holds by a wide "
            f"margin but says little about training a whole network from scratch."
        )
    out.append("")
    return out


def markdown_section(results, tgt, savings, timing, wall, command, args, n_pool, n_test,
                     tune_rows, figures):
    from sklearn_aift.experiment import format_metric_table, format_saving_table, method_label

    def mark(ok):
        return "**met**" if ok else "**missed**"

    lines = ["## Label efficiency", ""]
    lines += [
        f"Kvasir-SEG polyp candidates (`../shared/data/kvasir_seg_256`, frame-wise split, seed "
        f"0): a training pool of {n_pool} candidates and {n_test} test candidates, one polyp "
        f"box and one mucosa box per frame, 24 patches of {args.patch_size} px each (box "
        f"protocol: 3 scales x 8 rotations/flips, no translations). ImageNet MobileNetV2 "
        f"(offline weights), input {args.input_size} px, the first {args.freeze} feature "
        f"blocks frozen{' (all of them: the last layer is fine-tuned)' if args.freeze == 19 else ''} "
        f"with one activation cache shared by all nets. Head learning rate {HEAD_LR} in the "
        f"first fit (5 epochs, gamma 0.95) and {HEAD_LR_INCREMENTAL} in every later fit (3 "
        f"epochs, gamma {GAMMA_INCREMENTAL}), batch 64 patches; chosen on the training pool "
        f"only (below). b = {args.batch_size} candidates per round, {args.rounds} rounds, "
        f"{len(results.seeds)} seeds ({', '.join(map(str, results.seeds))}); CPU, "
        f"{args.threads} torch thread(s), on a 2-core machine shared with other jobs (timings "
        f"are slower than on an idle machine).",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        "Mean test AUC ± std over seeds against labels queried:",
        "",
        format_metric_table(results, [b for b in BUDGETS if b <= args.rounds * args.batch_size],
                            markdown=True),
        "",
    ]
    if "full_data_auc" in results.columns and np.isfinite(results["full_data_auc"]).any():
        full = np.unique(results["full_data_auc"][np.isfinite(results["full_data_auc"])])
        lines += [f"Fine-tuning on the whole labeled pool ({n_pool} candidates): AUC "
                  f"{full.mean():.3f} ± {full.std():.3f} over seeds.", ""]
    lines += [
        f"Labels needed to reach IFT Random's mean AUC at {tgt['a']['full']} labels "
        f"({tgt['a']['target_auc']:.3f}), from the mean curve; per seed mean ± std (seeds that "
        f"reached it); saving against IFT Random's own count:",
        "",
        format_saving_table(list(savings.values()), markdown=True),
        "",
        "Targets:",
        "",
    ]
    a = tgt["a"]
    needed = "never" if not math.isfinite(a["needed"]) else f"{a['needed']:.0f}"
    lines.append(
        f"- (a) best AIFT quarter variant reaches IFT Random's {a['full']}-label AUC with <= "
        f"{a['full'] // 2} labels: {mark(a['met'])} ({method_label(a['best'])}: {needed} labels; "
        f"aim <= {a['full'] // 3}: {'met' if a['aim'] else 'missed'}; all quarter variants: "
        + ", ".join(f"{method_label(m)} {'never' if not math.isfinite(v) else int(v)}"
                    for m, v in a["all"].items()) + ")."
    )
    b = tgt["b"]
    detail = "; ".join(
        f"{method_label(m)} below IFT Random at " + (", ".join(f"{n} ({d:+.3f})" for n, d in v)
                                                     if v else "no budget")
        for m, v in b["violations"].items()
    )
    lines.append(
        f"- (b) from 100 labels up, mean AUC of (Entropy+Diversity) 1/4 and Diversity 1/4 >= "
        f"IFT Random's at every budget (every round, {b['budgets'][0]}-{b['budgets'][1]} "
        f"labels): {mark(b['met'])} ({detail})."
    )
    if "c" in tgt:
        c = tgt["c"]
        fails = "; ".join(f"{n}: {', '.join(ms)}" for n, ms in c["fails"][:6])
        lines.append(
            f"- (c) Learning from Scratch below every fine-tuning method at every budget: "
            f"{mark(c['met'])}" + (f" (not below at {fails})" if fails else "") + "."
        )
    lines.append("")
    lines += observations(results, savings)
    lines += ["Time:", ""]
    lines.append(
        f"- the comparison (all methods, seeds and rounds, the whole-pool fits and every "
        f"frozen-feature pass): {wall['total'] / 60:.1f} min wall ({wall['note']}); target "
        f"<= 30 min: {'met' if wall['total'] <= 1800 else 'missed'}."
    )
    sums = {k: float(np.nansum(results[k])) for k in ("score_time", "train_time", "eval_time")}
    lines.append(
        f"- in the runs' rounds: scoring {sums['score_time'] / 60:.1f} min, fine-tuning "
        f"{sums['train_time'] / 60:.1f} min, test evaluation {sums['eval_time'] / 60:.1f} min "
        f"(the frozen features of the pool and the test set are computed in the first round "
        f"of the first method of each network). That is "
        f"{sum(sums.values()) / max(len(results), 1):.1f} s per round on average over "
        f"{len(results)} rounds. The time goes to the cached path's per-patch work (copying "
        f"the cached 1280x2x2 activations of 24 patches per candidate, pooling, and the "
        f"network set-up repeated for every batch of 64 patches, inference included) and to "
        f"a CPU shared with other jobs (load 3-7 during the run); an idle machine would be "
        f"faster (not measured end to end)."
    )
    if timing:
        c, u = timing["cached"], timing["uncached"]
        lines.append(
            f"- one round (Diversity 1/4: score the {n_pool}-candidate pool, fine-tune on 20 "
            f"labels): {c['wall']:.1f} s with the activation cache (scoring {c['scoring']:.1f} s, "
            f"training {c['training']:.1f} s) vs {u['wall']:.1f} s without it (scoring "
            f"{u['scoring']:.1f} s, training {u['training']:.1f} s): "
            f"{u['wall'] / c['wall']:.0f}x."
        )
    lines.append("")
    if tune_rows:
        lines += [
            "Learning-rate choice (`--tune`): IFT Random on a frame-wise 70/30 split of the "
            "training pool only (15 rounds of 10, 2 seeds), validation AUC:",
            "",
            "| head lr (first fit) | head lr (later fits) | gamma (later fits) | AUC at 50 | "
            "AUC at 150 |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} |" for r in tune_rows]
        lines.append("")
    lines += [
        "Design notes:",
        "",
        "- Why the whole feature extractor is frozen: on this CPU (shared, load 4-7 during the "
        "runs) one cached scoring pass over 200 candidates x 24 patches took 0.3 s with all 19 "
        "blocks frozen and 1.4 s with the last block (320->1280 1x1 conv) trainable, and "
        "fine-tuning 100 candidates for 3 epochs 2.8 s vs 6.8 s; with ~800 rounds the "
        "second setting would need several hours. Every method shares this choice, so the "
        "comparison stays fair; continuous fine-tuning here means the last layer only.",
        "- Learning from Scratch uses the same architecture and freeze with `weights=None`, "
        "so it trains the last layer on random (frozen) convolutional features; training "
        "every layer from random weights was out of reach on this CPU. Each seed has its own "
        "random network, so its frozen features are computed once per seed.",
        "- Patches: the box protocol without translations (24 per candidate) rather than 96, "
        "which would quadruple the frozen-feature pass and the cache (~1 GB per network at "
        "24 patches).",
        "- Nothing was tuned on the test candidates: the learning rates come from the "
        "`--tune` table above (training frames only), everything else was fixed beforehand.",
        "",
    ]
    lines += ["Plots: " + ", ".join(f"[{Path(f).name}](results/{Path(f).name})" for f in figures),
              ""]
    for f in figures:
        lines.append(f"![{Path(f).stem}](results/{Path(f).name})")
    lines.append("")
    return "\n".join(lines)


def write_section(section: str, path: Path = HERE / "RESULTS.md") -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## Label efficiency\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip() + "\n\n", text)
    else:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    path.write_text(text)


def main(argv=None):
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_aift import ActivationCache
    from sklearn_aift.experiment import (
        METHODS,
        format_metric_table,
        format_saving_table,
        run_comparison,
    )
    from sklearn_aift.plotting import (
        plot_learning_curves,
        plot_selected_candidates,
        plot_selection_balance,
    )

    # the command that produces everything (--skip-timing only reuses the stored timing)
    command = "python benchmarks/bench_label_efficiency.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
        if a != "--skip-timing")
    start = time.perf_counter()
    bunch = load(args)
    X, y = bunch.data, np.asarray(bunch.target)
    train, test = np.asarray(bunch.train_index), np.asarray(bunch.test_index)
    X_pool, y_pool, X_test, y_test = X[train], y[train], X[test], y[test]
    print(f"Kvasir-SEG: {len(X)} candidates of shape {X.shape[1:]}; pool {len(X_pool)} "
          f"({int(y_pool.sum())} polyps), test {len(X_test)} ({int(y_test.sum())} polyps); "
          f"{platform.processor() or platform.machine()}, torch threads {args.threads}",
          flush=True)
    cache = ActivationCache(max_bytes=None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tune_file = out / "tune.json"
    if args.tune:
        rows = tune(args, bunch, cache)
        tune_file.write_text(json.dumps(rows))
        return 0
    tune_rows = json.loads(tune_file.read_text()) if tune_file.exists() else None

    methods = list(METHODS) if args.methods == "all" else args.methods.split(",")
    net = make_net(args, cache)
    run_start = time.perf_counter()
    results = run_comparison(
        net, X_pool, y_pool, X_test, y_test, methods=methods, n_rounds=args.rounds,
        batch_size=args.batch_size, seeds=args.seeds, full_data=True, out_dir=out,
        patch_proba_rounds=(3,),
    )
    run_wall = time.perf_counter() - run_start
    # wall time over all invocations of this configuration (the run is resumable)
    wall_file = out / "wall_time.json"
    walls = json.loads(wall_file.read_text()) if wall_file.exists() else []
    walls.append(run_wall)
    wall_file.write_text(json.dumps(walls))
    busy = [w for w in walls if w >= 60]
    if len(walls) == 1:
        note = "one invocation"
    elif len(busy) <= 1:
        note = (f"one invocation computed every round; {len(walls) - 1} later one(s) read the "
                f"results back from the store")
    else:
        note = f"summed over {len(busy)} invocations of the resumable run"
    wall = {"total": float(sum(walls)), "note": note}

    timing_file = out / "timing.json"
    if args.skip_timing:
        timing = json.loads(timing_file.read_text()) if timing_file.exists() else None
    else:
        timing = time_one_round(args, X_pool, y_pool, cache)
        timing_file.write_text(json.dumps(timing))

    print()
    print(format_metric_table(results, [b for b in BUDGETS
                                        if b <= args.rounds * args.batch_size]))
    tgt, savings = targets(results)
    print()
    print(format_saving_table(list(savings.values())))
    print()
    print(json.dumps(tgt, default=str, indent=1))
    print(f"benchmark wall time {wall['total'] / 60:.1f} min ({note}); whole script "
          f"{(time.perf_counter() - start) / 60:.1f} min")
    if args.no_write:
        return 0
    res_dir = HERE / "results"
    figures = []
    fig = plot_learning_curves(results, title=f"Kvasir-SEG polyp candidates, "
                               f"{len(results.seeds)} seeds (band: ± std)",
                               path=res_dir / "label_efficiency_kvasir_curves.png")
    plt.close(fig)
    figures.append(res_dir / "label_efficiency_kvasir_curves.png")
    fig = plot_learning_curves(results, methods=[m for m in methods if m != "scratch"],
                               title="Kvasir-SEG, fine-tuning methods only (zoom)")
    ax = fig.axes[0]
    ax.set_ylim(0.9, 0.99)
    ax.set_xlim(40, args.rounds * args.batch_size + 5)
    ax.axhline(tgt["a"]["target_auc"], color="black", linewidth=0.8, alpha=0.5)
    fig.savefig(res_dir / "label_efficiency_kvasir_zoom.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    figures.append(res_dir / "label_efficiency_kvasir_zoom.png")
    fig = plot_selection_balance(results, path=res_dir / "label_efficiency_kvasir_balance.png")
    plt.close(fig)
    figures.append(res_dir / "label_efficiency_kvasir_balance.png")
    fig = plot_selected_candidates(
        results, X_pool, y_pool, round=3, seed=results.seeds[0],
        methods=[m for m in METHODS[:6] if m in methods], max_patches=9)
    fig.savefig(res_dir / "label_efficiency_kvasir_round3.png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    figures.append(res_dir / "label_efficiency_kvasir_round3.png")
    section = markdown_section(results, tgt, savings, timing, wall, command, args,
                               len(X_pool), len(X_test), tune_rows, figures)
    write_section(section)
    print(f"wrote {HERE / 'RESULTS.md'} and {len(figures)} figures in {res_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
