"""Inference and AIFT-round speed of AIFTNet, against baselines measured in the same run.

1. Patches per second of ``AIFTNet.predict_patch_proba`` against a plain torch
   loop over the same network, batch size and input size (uint8 batches
   converted, normalised, run under ``torch.inference_mode`` and soft-maxed).
   Target: ratio >= 0.9.
2. The second AIFT round on the same pool (``predict_patch_proba`` on the
   whole pool, then ``fit`` on the grown labeled set) with a frozen prefix,
   with the activation cache against without it. Reported as a speed-up.

Usage::

    python benchmarks/bench_inference.py [--backbone mobilenet_v2] [--weights IMAGENET1K_V1]
        [--n-candidates 128] [--patches 8] [--size 64] [--batch-size 64]
        [--freeze 14] [--threads 1] [--repeats 5] [--device auto]

It needs the offline ImageNet MobileNetV2 file (``make weights``) for the
default weights; pass ``--weights none`` for random weights.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from sklearn_aift import AIFTNet


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="mobilenet_v2")
    p.add_argument("--weights", default="IMAGENET1K_V1", help="weights name, file, or 'none'")
    p.add_argument("--n-candidates", type=int, default=128)
    p.add_argument("--patches", type=int, default=8)
    p.add_argument("--size", type=int, default=64, help="raw patch side = input_size")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--freeze", type=int, default=14, help="frozen blocks for the AIFT-round part")
    p.add_argument("--labeled", type=int, default=40, help="labeled candidates after round 2")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is steadiest on a shared machine)"
    )
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="auto")
    return p.parse_args(argv)


def make_pool(n, m, size, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, m, 3, size, size), dtype=np.uint8)
    y = np.arange(n) % 2
    X[y == 1] //= 2  # a learnable difference
    return X, y


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times)


def plain_loop(model, X, batch_size, device, mean, std):
    """What a user would write by hand: one pass over all patches."""
    flat = X.reshape(-1, *X.shape[2:])
    out = np.empty((len(flat), 2), dtype=np.float64)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(flat), batch_size):
            x = torch.from_numpy(flat[start : start + batch_size]).to(device)
            x = (x.float() / 255.0 - mean) / std
            out[start : start + batch_size] = torch.softmax(model(x).double(), -1).cpu().numpy()
    return out.reshape(X.shape[0], X.shape[1], 2)


def bench_throughput(args, X, weights, device):
    net = AIFTNet(
        args.backbone,
        weights,
        input_size=args.size,
        batch_size=args.batch_size,
        random_state=0,
        device=args.device,
    )
    head = X[: max(1, args.batch_size // X.shape[1])]
    net.predict_patch_proba(head)  # builds the network once, warms up
    module = net._inference_module(device)  # the very network AIFTNet runs

    def plain():
        return plain_loop(module.backbone, X, args.batch_size, device, module.mean, module.std)

    plain_loop(module.backbone, head, args.batch_size, device, module.mean, module.std)
    n_patches = X.shape[0] * X.shape[1]
    t_net, t_plain = [], []
    for _ in range(args.repeats):  # interleaved, so load changes hit both alike
        t_net.append(best_time(lambda: net.predict_patch_proba(X), 1))
        t_plain.append(best_time(plain, 1))
    max_diff = float(np.abs(net.predict_patch_proba(X) - plain()).max())
    rates = {
        "best": (n_patches / min(t_net), n_patches / min(t_plain)),
        "median": (n_patches / np.median(t_net), n_patches / np.median(t_plain)),
    }
    return rates, max_diff


def aift_round_times(args, X, y, weights, cache):
    """Times of round 2 (predict on the pool + fit on the grown labeled set)."""
    net = AIFTNet(
        args.backbone,
        weights,
        input_size=args.size,
        batch_size=args.batch_size,
        freeze=args.freeze,
        activation_cache=cache,
        max_epochs=2,
        max_epochs_incremental=2,
        random_state=0,
        device=args.device,
    )
    rng = np.random.default_rng(1)
    order = rng.permutation(len(X))
    first, second = order[: args.labeled // 2], order[: args.labeled]
    # round 1: cold-start predictions, then the first fine-tuning
    net.predict_patch_proba(X)
    net.fit(X[first], y[first])
    # round 2, timed
    t0 = time.perf_counter()
    net.predict_patch_proba(X)
    t_predict = time.perf_counter() - t0
    net.fit(X[second], y[second])
    t_total = time.perf_counter() - t0
    return t_predict, t_total, net.predict_patch_proba(X[:8])


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    weights = None if args.weights.lower() == "none" else args.weights
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    X, y = make_pool(args.n_candidates, args.patches, args.size)
    if device.type == "cuda":
        hw = torch.cuda.get_device_name(device)
    else:
        hw = platform.processor() or platform.machine()
    print(f"device: {device} ({hw}), torch threads: {torch.get_num_threads()}")
    print(f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} at start")
    print(
        f"backbone {args.backbone} ({weights}), pool {args.n_candidates} x {args.patches} patches "
        f"of 3x{args.size}x{args.size} uint8, batch {args.batch_size}"
    )

    rates, diff = bench_throughput(args, X, weights, device)
    print(f"\n[1] inference throughput ({args.repeats} interleaved passes each)")
    for kind, (net_rate, plain_rate) in rates.items():
        print(f"  {kind:6s} AIFTNet.predict_patch_proba : {net_rate:9.1f} patches/s")
        print(f"  {kind:6s} plain torch loop            : {plain_rate:9.1f} patches/s")
        print(f"  {kind:6s} ratio                       : {net_rate / plain_rate:9.3f}  (target >= 0.9)")
    print(f"  max |P_net - P_plain| : {diff:.2e}")

    print(f"\n[2] second AIFT round, freeze={args.freeze}, {args.labeled} labeled candidates")
    p_off, t_off, probe_off = aift_round_times(args, X, y, weights, None)
    p_on, t_on, probe_on = aift_round_times(args, X, y, weights, "auto")
    print(f"  without cache : predict {p_off:7.2f} s, predict + fit {t_off:7.2f} s")
    print(f"  with cache    : predict {p_on:7.2f} s, predict + fit {t_on:7.2f} s")
    print(f"  speed-up      : predict {p_off / p_on:7.2f} x, round {t_off / t_on:7.2f} x")
    diff = float(np.abs(probe_on - probe_off).max())
    print(f"  max |P_cached - P_uncached| after the round: {diff:.2e}")


if __name__ == "__main__":
    main()
