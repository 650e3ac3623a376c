"""Benchmark: scoring a lazy pool in-process vs on a Dask LocalCluster.

A pool of ``--n`` synthetic box candidates (default 100,000) on generated PNG
source images written to a temporary folder, as a CandidateSet of file paths:
nothing but the pool's description (paths, boxes, protocol) is held in memory,
and the workers read the images themselves. One scoring round
(Entropy+Diversity 1/4 through :func:`sklearn_aift.parallel.pool_scores`) is
timed

1. in-process, torch with 1 thread and with 2 threads (the baselines);
2. on a LocalCluster of ``--workers`` worker processes (1 thread each), after a
   warm-up round that is reported separately (worker start, torch import,
   first unpickling of the network);

and the client's resident memory (RSS, sampled every 20 ms during the round,
minus the RSS before it) is recorded at several pool sizes. Then the per-task
overhead of the cluster is measured with a network that does no work, and the
bytes our tasks put on the wire per round are counted (pickled sizes of the
network, the pool description, a task's positions and score function, its
result). A projection for a 32-worker cluster is printed from those measured
numbers and the stated assumptions.

Usage::

    python benchmarks/bench_distributed.py --n 100000
    python benchmarks/bench_distributed.py --n 20000 --workers 2   # a shared machine
"""

from __future__ import annotations

import argparse
import functools
import os
import pickle
import tempfile
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import psutil
import torch
from PIL import Image

from sklearn_aift import AIFTNet, BoxProtocol, CandidateSet, candidate_scores
from sklearn_aift.parallel import pool_scores


class _IdleNet:
    """Constant patch probabilities without reading a pixel: the cost of a task itself."""

    def predict_patch_proba(self, X):
        return np.full((len(X), 2, 2), 0.5)


def make_pool(folder: Path, n: int, n_images: int, seed: int = 0) -> CandidateSet:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n_images):
        path = folder / f"source_{i:04d}.png"
        Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    x0 = rng.integers(0, 96, n)
    y0 = rng.integers(0, 96, n)
    side = rng.integers(12, 32, n)
    boxes = np.stack([x0, y0, x0 + side, y0 + side], axis=1)
    image_index = np.sort(rng.integers(0, n_images, n))  # tiles grouped by source image
    protocol = BoxProtocol(patch_size=32, scales=(1.0,), shift=0.0, dihedral=2)
    return CandidateSet(paths, protocol, boxes, image_index=image_index)


class PeakRSS:
    """Peak resident memory of this process while the block runs, sampled."""

    def __enter__(self):
        self._proc = psutil.Process()
        self.before = self._proc.memory_info().rss
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / 2**20


def timed_round(net, X, score, chunk_size, n_jobs=1):
    with PeakRSS() as rss:
        start = time.perf_counter()
        scores = pool_scores(net, X, score, n_jobs=n_jobs, chunk_size=chunk_size)
        wall = time.perf_counter() - start
    return scores, wall, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="pool size (default 100000)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--images", type=int, default=500, help="source PNG images")
    parser.add_argument("--chunk-size", type=int, default=1024, help="candidates per task")
    parser.add_argument("--overhead-tasks", type=int, default=400)
    parser.add_argument("--inprocess-threads", type=int, nargs="+", default=[1, 2],
                        help="torch thread counts of the in-process baselines")
    parser.add_argument("--project-workers", type=int, default=32)
    parser.add_argument("--project-n", type=int, default=1_000_000)
    parser.add_argument("--bandwidth-gbit", type=float, default=10.0,
                        help="assumed cluster network bandwidth for the projection")
    args = parser.parse_args()

    import distributed

    net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, batch_size=128,
                  random_state=0, device="cpu")
    score = functools.partial(candidate_scores, alpha=0.25, lambda1=1.0, lambda2=1.0)
    sizes = sorted({max(args.chunk_size, args.n // 4), max(args.chunk_size, args.n // 2), args.n})
    print(f"pool: {args.n} candidates x 2 patches of 32 px (BoxProtocol, dihedral=2), "
          f"{args.images} PNG sources; mobilenet_v3_small, weights=None, input 32 px; "
          f"chunks of {args.chunk_size}; {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f} at start")

    with tempfile.TemporaryDirectory() as tmp:
        pool = make_pool(Path(tmp), args.n, args.images)
        net.predict_patch_proba(pool[:1])  # build the network once, outside the timings

        # ---------------------------------------------------------------- in-process
        results, in_process_wall = {}, {}
        for threads in args.inprocess_threads:
            torch.set_num_threads(threads)
            scores, wall, rss = timed_round(net, pool, score, args.chunk_size)
            results[threads], in_process_wall[threads] = scores, wall
            print(f"in-process, torch {threads} thread(s): {wall:7.1f} s  "
                  f"{args.n / wall:8.0f} candidates/s  client RSS +{rss.growth_mb:.0f} MB")
        torch.set_num_threads(1)
        baseline = results[min(results)]

        # ---------------------------------------------------------------- Dask
        start = time.perf_counter()
        with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client, \
                joblib.parallel_config(backend="dask", client=client):
            print(f"LocalCluster of {args.workers} workers up in "
                  f"{time.perf_counter() - start:.1f} s")
            warm = pool[: args.chunk_size * args.workers]
            _, wall, _ = timed_round(net, warm, score, args.chunk_size)
            print(f"warm-up round on {len(warm)} candidates: {wall:.1f} s")
            dask_wall = {}
            for n in sizes:
                X = pool[:n]
                scores, wall, rss = timed_round(net, X, score, args.chunk_size)
                dask_wall[n] = wall
                if n == args.n:
                    for threads, base in in_process_wall.items():
                        print(f"throughput ratio, Dask / in-process with {threads} thread(s): "
                              f"{base / wall:.2f}")
                same = np.array_equal(scores, baseline[:n])
                print(f"Dask, {args.workers} workers, n={n:7d}: {wall:7.1f} s  "
                      f"{n / wall:8.0f} candidates/s  client RSS +{rss.growth_mb:.0f} MB  "
                      f"(peak {rss.peak / 2**20:.0f} MB)  scores identical: {same}")

            # per-task overhead: tasks that do no work
            idle = _IdleNet()
            n_tasks = args.overhead_tasks
            start = time.perf_counter()
            pool_scores(idle, pool[:n_tasks], lambda P: P[:, 0, 0], chunk_size=1)
            idle_wall = time.perf_counter() - start
            per_task = idle_wall * args.workers / n_tasks
            print(f"per-task overhead: {n_tasks} empty tasks in {idle_wall:.2f} s = "
                  f"{1e3 * per_task:.1f} ms of a worker per task ({1e3 * idle_wall / n_tasks:.1f} "
                  f"ms wall per task with {args.workers} workers)")

        # ---------------------------------------------------------------- bytes
        net_bytes = len(pickle.dumps(net))
        # a subset pickles the description of its whole pool: measure the full one
        pool_bytes = {args.n: len(pickle.dumps(pool))}
        per_pool_candidate = pool_bytes[args.n] / args.n
        task_bytes = len(pickle.dumps((slice(0, args.chunk_size), score)))
        result_bytes = len(pickle.dumps(np.zeros(args.chunk_size)))
        n_chunks = -(-args.n // args.chunk_size)
        round_bytes = (args.workers * (net_bytes + pool_bytes[args.n])
                       + n_chunks * (task_bytes + result_bytes))
        patches_bytes = args.n * int(np.prod(pool.shape[1:]))
        print(f"bytes per round (pickled payloads): network {net_bytes / 2**20:.2f} MB and "
              f"pool description {pool_bytes[args.n] / 2**20:.2f} MB "
              f"({per_pool_candidate:.0f} B per candidate) to each of {args.workers} workers; "
              f"per task {task_bytes} B out, {result_bytes} B back; total "
              f"{round_bytes / 2**20:.1f} MB, vs {patches_bytes / 2**20:.0f} MB of patches and "
              f"{args.n * 2 * 2 * 8 / 2**20:.1f} MB of patch probabilities not moved")

        # ---------------------------------------------------------------- projection
        n = sizes[-1]
        worker_rate = n / dask_wall[n] / args.workers  # candidates/s per worker process
        w, big = args.project_workers, args.project_n
        bw = args.bandwidth_gbit * 1e9 / 8
        broadcast = w * (net_bytes + per_pool_candidate * big) / bw
        compute = big / (worker_rate * w)
        tasks = -(-big // args.chunk_size)
        overhead = tasks * per_task / w
        print(f"projection, {w} workers (1 thread each, as fast as one worker here: "
              f"{worker_rate:.0f} candidates/s), n={big}, chunks of {args.chunk_size}: "
              f"compute {compute:.0f} s + task overhead {overhead:.1f} s + broadcast "
              f"{broadcast:.1f} s at {args.bandwidth_gbit:g} Gbit/s = "
              f"{compute + overhead + broadcast:.0f} s per round; in-process at this "
              f"machine's best measured rate: {big * min(in_process_wall.values()) / args.n:.0f} s")


if __name__ == "__main__":
    main()
