"""Wall time of a comparison study, serial and on local processes, against its arithmetic.

The study is the label-efficiency benchmark's Kvasir-SEG balanced study
(``bench_label_efficiency.py``, last block: ImageNet MobileNetV2 at 64 px,
``freeze=-1``, its learning rates; 4 methods x 3 seeds x 10 rounds of 10
labels; 400 test candidates). It runs twice from an empty output folder:
serially (``n_jobs=None``) and with ``n_jobs=--jobs``; both tables must be
equal. Every process runs torch on ``--threads`` threads (1 by default: on
two shared cores more threads run slower).

The arithmetic, measured in the same run: one frozen pass over pool + test
(the serial run's own, read from its log), plus a plain-torch estimate of the
rounds: per run, round 0 evaluates the test set, and every round ``r`` runs
the trainable tail (last block, pooling, classifier) over the pool and the
test set and trains it for 5 (first fit) or 3 epochs over the ``24 * 10 r``
labeled patches in batches of 64, timed on the study's cached activations.
Learning from Scratch's own frozen passes (random frozen blocks, per seed)
are not in the arithmetic.

``--dask N`` also runs a reduced study (2 methods x 2 seeds x 3 rounds) on a
local Dask cluster of ``N`` workers and serially, and checks the tables are
equal.

Usage::

    python benchmarks/bench_study.py [--seeds 3] [--rounds 10] [--jobs 2] [--dask 2]
        [--out /tmp/aift-study] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

import _datasets
from bench_inference import Tail
from bench_label_efficiency import METHODS, RATES, test_subset

COLUMNS = ("method", "seed", "round", "n_labels", "n_positive", "auc", "accuracy", "queried")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="/tmp/aift-study")
    p.add_argument("--dataset", default="kvasir_balanced", choices=_datasets.NAMES)
    p.add_argument("--data-dir", default=str(_datasets.DATA), help="the shared data folder")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--methods", default=",".join(METHODS["last-block"]))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--dask", type=int, default=0, help="workers of the Dask check (0: none)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--skip-serial", action="store_true")
    return p.parse_args(argv)


class FrozenLog(logging.Handler):
    """Keeps the seconds of the frozen passes the runner logs."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.seconds = []

    def emit(self, record):
        found = re.match(r"frozen pass over (\d+) candidates: ([\d.]+) s", record.getMessage())
        if found:
            self.seconds.append(float(found.group(2)))


def make_net():
    from sklearn_aift import AIFTNet

    return AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=64, freeze=-1,
                   device="cpu", **RATES)


def study(ds, X_test, y_test, out, methods, args, **kwargs):
    from sklearn_aift.experiment import run_comparison

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    results = run_comparison(make_net(), ds.X_pool, ds.y_pool, X_test, y_test, methods=methods,
                             n_rounds=args.rounds, batch_size=10, seeds=args.seeds,
                             positive_label=ds.positive, out_dir=out, verbose=0, **kwargs)
    return results, time.perf_counter() - start


def table(results):
    return [tuple(str(r[c]) for c in COLUMNS) for r in results]


def arithmetic(out, n_pool, n_test, args, n_runs):
    """Plain-torch seconds of the rounds of ``n_runs`` runs, on the study's cached activations."""
    values = [p for p in (Path(out) / "activations").glob("*.npy")
              if not p.name.endswith(".keys.npy")]
    A = torch.from_numpy(np.load(values[0]))
    m = A.shape[1]
    flat = A.reshape(-1, *A.shape[2:])
    net = make_net()
    net.predict_proba(np.zeros((1, 1, 3, 64, 64), dtype=np.uint8))
    module = net.module_ if hasattr(net, "net_") else net._inference_module(torch.device("cpu"))
    tail = Tail(module.backbone, module.n_frozen)
    tail.eval()

    def forward(rows):
        with torch.inference_mode():
            for i in range(0, rows, 4096):
                tail(flat[i: min(i + 4096, rows)])

    def timed(fn, repeat=3):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    t_pool_test = timed(lambda: forward(min(len(flat), (n_pool + n_test) * m)))
    t_test = timed(lambda: forward(n_test * m))
    optimizer = torch.optim.SGD(tail.parameters(), lr=1e-4, momentum=0.9)
    y = torch.zeros(64, dtype=torch.int64)
    tail.train()

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(tail(flat[:64]), y).backward()
        optimizer.step()

    t_step = timed(step, repeat=21)
    per_run = t_test
    for r in range(1, args.rounds + 1):
        epochs = 5 if r == 1 else 3
        per_run += t_pool_test + epochs * math.ceil(m * 10 * r / 64) * t_step
    return n_runs * per_run, dict(t_pool_test=t_pool_test, t_test=t_test, t_step=t_step)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    log = FrozenLog()
    logging.getLogger("sklearn_aift.experiment").addHandler(log)
    logging.getLogger("sklearn_aift.experiment").setLevel(logging.INFO)
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    ds = _datasets.load(args.dataset, Path(args.data_dir))
    X_test, y_test = test_subset(ds)
    methods = args.methods.split(",")
    n_runs = len(methods) * args.seeds
    print(f"{ds.name}: pool {len(ds.y_pool)}, test {len(y_test)}, {len(methods)} "
          f"methods x {args.seeds} seeds x {args.rounds} rounds, torch threads "
          f"{args.threads}", flush=True)
    out = Path(args.out)
    serial = None
    if not args.skip_serial:
        serial, wall = study(ds, X_test, y_test, out / "serial", methods, args)
        frozen = log.seconds[0] if log.seconds else float("nan")
        sums = {k: float(np.sum(serial[k])) for k in ("score_time", "train_time", "eval_time")}
        rounds, parts = arithmetic(out / "serial", len(ds.y_pool), len(y_test), args, n_runs)
        estimate = frozen + rounds
        print(f"serial: {wall:.0f} s ({wall / 60:.1f} min); frozen pass {frozen:.0f} s; summed "
              f"score {sums['score_time']:.0f} s, train {sums['train_time']:.0f} s, eval "
              f"{sums['eval_time']:.0f} s", flush=True)
        print(f"arithmetic: frozen pass {frozen:.0f} s + plain-torch rounds {rounds:.0f} s = "
              f"{estimate:.0f} s (tail over pool+test {parts['t_pool_test']:.2f} s, over test "
              f"{parts['t_test']:.2f} s, a training step {parts['t_step'] * 1e3:.1f} ms); "
              f"serial / arithmetic = {wall / estimate:.2f}", flush=True)
    if args.jobs > 1:
        log.seconds.clear()
        parallel, wall_jobs = study(ds, X_test, y_test, out / "jobs", methods, args,
                                    n_jobs=args.jobs)
        print(f"n_jobs={args.jobs}: {wall_jobs:.0f} s ({wall_jobs / 60:.1f} min)"
              + ("" if serial is None else f"; serial / jobs = {wall / wall_jobs:.2f}; "
                 f"tables equal: {table(parallel) == table(serial)}"), flush=True)
    if args.dask:
        from sklearn_aift.parallel import dask_backend

        small = argparse.Namespace(**{**vars(args), "seeds": 2, "rounds": 3})
        reduced = methods[:2]
        ref, wall_ref = study(ds, X_test, y_test, out / "dask-serial", reduced, small)
        with dask_backend(n_workers=args.dask, dashboard_address=None):
            on_dask, wall_dask = study(ds, X_test, y_test, out / "dask", reduced, small)
        print(f"Dask LocalCluster ({args.dask} workers), {len(reduced)} methods x 2 seeds x 3 "
              f"rounds: {wall_dask:.0f} s against {wall_ref:.0f} s serial; tables equal: "
              f"{table(on_dask) == table(ref)}", flush=True)
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
