"""Cost of an AIFT round against a plain torch reference measured in the same run.

An AIFT round is ``learner.query(X_pool, 10)`` (predict every patch of the
pool, score the candidates, pick the top 10) plus ``learner.teach`` (3 epochs
of SGD on the whole labeled set, Table 3's AIFT+ row). The reference does the
same arithmetic in plain torch on tensors it holds itself:

* head-only (``freeze`` = every block): the pooled features of the whole pool
  in one tensor; the head (dropout + linear layer) predicts them, the same
  NumPy scoring ranks the candidates, and an SGD loop trains the head;
* last block (``freeze=-1``): the cached outputs of the frozen blocks in one
  tensor; the last block, pooling and head run on them in chunks of 4096
  patches, and the SGD loop trains them.

Both start from the same network with the same labeled set (100 candidates
labeled by a random round) and run the same number of rounds; the script
prints the median seconds per round and their ratio (targets: head-only at
most 2x, last block at most 1.5x). ``--memory`` also streams a lazy pool of
``--memory-n`` candidates through a net whose activation cache lives on disk
and prints the resident memory after every 10% of it.

Usage::

    python benchmarks/bench_inference.py [--n 1435] [--patches 24] [--rounds 5]
        [--threads 1] [--memory --memory-n 100000 [--skip-rounds]]

It needs the offline ImageNet MobileNetV2 file (``make weights``).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import resource
import statistics
import tempfile
import time

import numpy as np
import torch
from torch import nn

from sklearn_aift import ActivationCache, ActiveLearner, AIFTNet, diversity_quarter, random_sampling
from sklearn_aift.candidates import candidate_keys
from sklearn_aift.scoring import candidate_scores


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1435, help="pool candidates (Kvasir's train pool)")
    p.add_argument("--patches", type=int, default=24)
    p.add_argument("--size", type=int, default=64, help="patch side = input size")
    p.add_argument("--labeled", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per variant")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--memory", action="store_true", help="also run the on-disk cache check")
    p.add_argument("--memory-n", type=int, default=100_000)
    p.add_argument("--skip-rounds", action="store_true", help="only the on-disk cache check")
    return p.parse_args(argv)


def make_pool(n, m, size, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, m, 3, size, size), dtype=np.uint8)
    y = (np.arange(n) % 5 == 0).astype(int)
    X[y == 1] //= 2  # a learnable difference
    return X, y


def make_net(freeze, cache, size):
    return AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=size, freeze=freeze,
                   activation_cache=cache, random_state=0, device="cpu")


# ------------------------------------------------------------------------------- ours
def time_ours(net, X, y, labeled, rounds):
    learner = ActiveLearner(net, query_strategy=random_sampling, classes=[0, 1], random_state=0)
    learner.run(y, X, budget=labeled, batch_size=labeled)
    learner.query_strategy = diversity_quarter
    times = []
    for r in range(rounds):
        start = time.perf_counter()
        idx, X_query = learner.query(X, n_instances=10)
        learner.teach(X_query, y[idx])
        times.append(time.perf_counter() - start)
    return times, learner


# ------------------------------------------------------------------------------- reference
class Tail(nn.Module):
    """The trainable rest of MobileNetV2 after its frozen blocks: blocks, pooling, head."""

    def __init__(self, backbone, n_frozen):
        super().__init__()
        self.blocks = copy.deepcopy(backbone.features[n_frozen:])
        self.head = copy.deepcopy(backbone.classifier)

    def forward(self, x):
        x = self.blocks(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return self.head(x)


def reference_rounds(tail, A, y, labeled, rounds, lr, head_lr, epochs=3, batch=64, seed=0):
    """Plain torch: predict the pool's cached activations ``A`` (n, m, ...), score, train."""
    n, m = A.shape[:2]
    flat = A.reshape(n * m, *A.shape[2:])
    head_params = list(tail.head.parameters())
    body_params = [p for p in tail.blocks.parameters()]
    groups = [{"params": head_params, "lr": head_lr}]
    if body_params:
        groups.append({"params": body_params, "lr": lr})
    optimizer = torch.optim.SGD(groups, lr=lr, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    labeled = list(labeled)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        tail.eval()
        with torch.inference_mode():
            logits = torch.cat([tail(flat[i : i + 4096]) for i in range(0, len(flat), 4096)])
        P = torch.softmax(logits.double(), -1).numpy().reshape(n, m, -1)
        scores = candidate_scores(P, 0.25, 0.0, 1.0)
        scores[labeled] = -np.inf
        labeled += np.argsort(-scores, kind="stable")[:10].tolist()
        rows = torch.as_tensor(labeled)
        X_train = A[rows].reshape(len(labeled) * m, *A.shape[2:])
        y_train = torch.as_tensor(np.repeat(y[labeled], m))
        tail.train()
        for _ in range(epochs):
            order = torch.randperm(len(X_train), generator=generator)
            for i in range(0, len(order), batch):
                b = order[i : i + batch]
                optimizer.zero_grad()
                nn.functional.cross_entropy(tail(X_train[b]), y_train[b]).backward()
                optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def compare(name, freeze, X, y, args, cache):
    net = make_net(freeze, cache, args.size)
    start = time.perf_counter()
    net.predict_patch_proba(X)  # fills the cache: the frozen blocks' outputs of every patch
    fill = time.perf_counter() - start
    ours, learner = time_ours(net, X, y, args.labeled, args.rounds)
    module = net.module_
    n_frozen = module.n_frozen
    A = cache.gather(module.fingerprint(torch.device("cpu")), list(candidate_keys(X)))
    if module.pools_cached_activations:
        A = A.flatten(2)[..., None, None]
    base_state = make_net(freeze, None, args.size)
    base_state.fit(X[:args.labeled], y[:args.labeled])  # the same kind of warm network
    tail = Tail(base_state.module_.backbone, n_frozen)
    labeled = learner.labeled_indices_[: args.labeled]
    ref = reference_rounds(tail, A, y, labeled, args.rounds, lr=1e-4, head_lr=1e-3)
    ratio = statistics.median(ours) / statistics.median(ref)
    print(f"{name} (freeze={freeze}, {n_frozen} frozen blocks; cache filled in {fill:.1f} s): "
          f"AIFTNet round {statistics.median(ours):.3f} s (median of {len(ours)}), plain "
          f"torch {statistics.median(ref):.3f} s, ratio {ratio:.2f}", flush=True)
    return ratio


# ------------------------------------------------------------------------------- memory
def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_check(n, size):
    from sklearn_aift import BoxProtocol, CandidateSet

    # a lazy pool: n boxes cut from 64 in-memory images, 8 patches each, never held whole
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 64, 64, 3), dtype=np.uint8)
    corners = rng.integers(0, 24, size=(n, 2)).astype(float)
    boxes = np.concatenate([corners, corners + 32], axis=1)
    X = CandidateSet(images, BoxProtocol(patch_size=32, shift=0, scales=(1.0,)), boxes,
                     image_index=np.arange(n) % 64, random_state=0)
    with tempfile.TemporaryDirectory() as folder:
        cache = ActivationCache(max_bytes=None, directory=folder)
        net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=32, freeze=19,
                      activation_cache=cache, random_state=0, device="cpu")
        start, readings = time.perf_counter(), []
        step = max(1, n // 10)
        for lo in range(0, n, step):
            net.predict_patch_proba(X[np.arange(lo, min(lo + step, n))])
            readings.append((min(lo + step, n), rss_mb(), cache.nbytes / 2**20))
        for done, rss, disk in readings:
            print(f"  {done:>7} candidates: RSS {rss:7.1f} MB, cache on disk {disk:8.1f} MB")
        print(f"  {n} candidates in {time.perf_counter() - start:.0f} s; RSS grew "
              f"{readings[-1][1] - readings[0][1]:+.1f} MB while the cache grew to "
              f"{readings[-1][2]:.0f} MB", flush=True)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {args.threads} thread(s); pool {args.n} x {args.patches} "
          f"patches of {args.size} px, {args.labeled} labeled, rounds of 10", flush=True)
    if not args.skip_rounds:
        X, y = make_pool(args.n, args.patches, args.size)
        cache = ActivationCache(max_bytes=None)
        head = compare("head-only round", 19, X, y, args, cache)
        last = compare("last-block round", -1, X, y, args, cache)
        print(f"targets: head-only <= 2x: {'met' if head <= 2 else 'missed'} ({head:.2f}x); "
              f"last block <= 1.5x: {'met' if last <= 1.5 else 'missed'} ({last:.2f}x)")
    if args.memory:
        memory_check(args.memory_n, args.size)


if __name__ == "__main__":
    main()
