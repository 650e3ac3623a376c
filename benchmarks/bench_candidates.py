"""Benchmark: patch generation speed and the memory of streaming lazy candidate pools.

1. Candidates per second generated with the box protocol at the paper's m
   (BoxProtocol(): 3 scales x 4 translations x 8 orientations = 96 patches of
   64 x 64 px) on Kvasir-SEG polyp candidates, against a naive per-patch PIL
   loop measured in the same run (pad the frame, crop-resize, transpose, one
   patch at a time), with the ratio; also through a CandidateSet reading the
   JPEG files lazily.
2. Peak memory of streaming 1,000 / 10,000 / 100,000-candidate lazy pools
   through ``AIFTNet.predict_patch_proba`` (each size in a fresh process):
   peak RSS during inference and tracemalloc's peak of Python/NumPy
   allocations, next to what materialising the pool would take.

Usage::

    python benchmarks/bench_candidates.py --data-dir ../shared/data/kvasir_seg_256
    python benchmarks/bench_candidates.py --skip-memory      # part 1 only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sklearn_aift.augment import BoxProtocol
from sklearn_aift.candidates import CandidateSet

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- part 1
def naive_box_patches(image: np.ndarray, box, protocol: BoxProtocol) -> np.ndarray:
    """The straightforward way: one crop, resize and transpose per patch, in PIL."""
    size = protocol.patch_size
    turn = [None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270]
    out = []
    for crop in protocol.crop_boxes(box):
        for mirror, turns in protocol.patch_transforms():
            margin = (
                int(
                    np.ceil(
                        max(
                            0,
                            -crop[0],
                            -crop[1],
                            crop[2] - image.shape[1],
                            crop[3] - image.shape[0],
                        )
                    )
                )
                + 1
            )
            padded = np.pad(image, ((margin, margin), (margin, margin), (0, 0)), mode="reflect")
            im = Image.fromarray(padded)
            im = im.resize(
                (size, size), Image.Resampling.BILINEAR, box=tuple(float(c) + margin for c in crop)
            )
            if mirror:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if turn[turns] is not None:
                im = im.transpose(turn[turns])
            out.append(np.asarray(im).transpose(2, 0, 1))
    return np.stack(out)


def load_candidates(data_dir: Path | None, n: int):
    """(images, boxes, paths, frame index) of ``n`` polyp candidates, or synthetic ones."""
    if data_dir is not None and (data_dir / "images").is_dir():
        from sklearn_aift.datasets import load_kvasir_seg

        bunch = load_kvasir_seg(data_dir, random_state=0)
        idx = np.arange(min(n, len(bunch.target)))
        frames = np.unique(bunch.groups[idx])
        images = {g: np.asarray(Image.open(bunch.image_paths[g]).convert("RGB")) for g in frames}
        source = f"Kvasir-SEG ({data_dir}), first {len(idx)} candidates (polyps and mucosa)"
        return images, bunch.boxes[idx], bunch.groups[idx], bunch.data[idx], source
    rng = np.random.default_rng(0)
    images = {g: rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for g in range(n // 2 + 1)}
    xy = rng.uniform(0, 180, (n, 2))
    side = rng.uniform(30, 120, (n, 1))
    boxes = np.hstack([xy, xy + side])
    groups = np.arange(n) // 2
    stack = np.stack([images[g] for g in range(len(images))])
    X = CandidateSet(stack, BoxProtocol(), boxes, image_index=groups)
    return images, boxes, groups, X, f"random 256 x 256 images, {n} boxes of 30-120 px"


def bench_generation(data_dir: Path | None, n: int, n_baseline: int) -> dict:
    protocol = BoxProtocol()
    images, boxes, groups, lazy, source = load_candidates(data_dir, n)
    n = len(boxes)

    t0 = time.perf_counter()
    ours = [protocol.generate(images[g], b) for g, b in zip(groups, boxes)]
    t_ours = time.perf_counter() - t0

    nb = min(n_baseline, n)
    t0 = time.perf_counter()
    naive = [naive_box_patches(images[g], b, protocol) for g, b in zip(groups[:nb], boxes[:nb])]
    t_naive = time.perf_counter() - t0
    diff = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(ours[:nb], naive))

    t0 = time.perf_counter()
    for _ in lazy.iter_batches(32):
        pass
    t_lazy = time.perf_counter() - t0
    return {
        "source": source,
        "m": protocol.n_patches,
        "patch_size": protocol.patch_size,
        "n": n,
        "ours_cand_per_s": n / t_ours,
        "naive_cand_per_s": nb / t_naive,
        "ratio": (n / t_ours) / (nb / t_naive),
        "lazy_files_cand_per_s": n / t_lazy,
        "max_abs_diff_vs_naive": diff,
        "n_baseline": nb,
    }


# --------------------------------------------------------------------------- part 2
def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def stream_once(n: int) -> dict:
    """Run in a fresh process: stream an n-candidate lazy pool through predict_patch_proba."""
    import tracemalloc

    import torch

    from sklearn_aift.net import AIFTNet

    torch.set_num_threads(1)  # one thread: steadier on a shared 2-core machine
    rng = np.random.default_rng(0)
    n_images = 100
    images = rng.integers(0, 256, size=(n_images, 96, 96, 3), dtype=np.uint8)
    xy = rng.uniform(0, 60, (n, 2))
    boxes = np.hstack([xy, xy + rng.uniform(12, 36, (n, 1))])
    protocol = BoxProtocol(patch_size=32, scales=(1.0,), shift=0, dihedral=4)
    X = CandidateSet(images, protocol, boxes, image_index=rng.integers(0, n_images, n))
    net = AIFTNet(
        "squeezenet1_1",
        weights=None,
        input_size=32,
        batch_size=256,
        activation_cache=None,
        random_state=0,
    )
    net.predict_patch_proba(X[:64])  # build the network outside the measurement

    peak = [_rss_bytes()]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.005)

    rss_before = _rss_bytes()
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    tracemalloc.start()
    t0 = time.perf_counter()
    P = net.predict_patch_proba(X)
    elapsed = time.perf_counter() - t0
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stop.set()
    watcher.join()
    m, c, p = X.shape[1], X.shape[2], X.shape[3]
    return {
        "n": n,
        "m": m,
        "seconds": elapsed,
        "rss_before_mb": rss_before / 2**20,
        "rss_peak_mb": peak[0] / 2**20,
        "rss_increase_mb": (peak[0] - rss_before) / 2**20,
        "tracemalloc_peak_mb": traced_peak / 2**20,
        "output_P_mb": P.nbytes / 2**20,
        "pool_uint8_mb": n * m * c * p * p / 2**20,
        "pool_float32_mb": 4 * n * m * c * p * p / 2**20,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10,
    }


def bench_memory(sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--stream-once", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  streamed {n:>7,} candidates: {json.dumps(rows[-1])}", flush=True)
    return rows


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=HERE.parent / ".." / "shared" / "data" / "kvasir_seg_256"
    )
    parser.add_argument("--n", type=int, default=300, help="candidates for the speed test")
    parser.add_argument("--n-baseline", type=int, default=60, help="candidates for the naive loop")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--stream-once", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_once:
        print(json.dumps(stream_once(args.stream_once)))
        return
    import torch

    torch.set_num_threads(2)
    print(f"CPU threads: {torch.get_num_threads()}, cores: {os.cpu_count()}")
    g = bench_generation(args.data_dir.resolve(), args.n, args.n_baseline)
    print(f"\nBox protocol, m = {g['m']} patches of {g['patch_size']} px, {g['source']}:")
    print(
        f"  BoxProtocol.generate (in-memory frames): {g['ours_cand_per_s']:8.1f} candidates/s "
        f"({g['ours_cand_per_s'] * g['m']:,.0f} patches/s)"
    )
    print(
        f"  naive per-patch PIL loop ({g['n_baseline']} cand.):  "
        f"{g['naive_cand_per_s']:8.1f} candidates/s"
    )
    print(
        f"  ratio: {g['ratio']:.1f}x  (max |difference| of the patches: "
        f"{g['max_abs_diff_vs_naive']} grey levels)"
    )
    print(
        f"  CandidateSet.iter_batches from JPEG files: "
        f"{g['lazy_files_cand_per_s']:8.1f} candidates/s"
    )
    if not args.skip_memory:
        print(
            "\nStreaming lazy pools through AIFTNet.predict_patch_proba "
            "(squeezenet1_1, random init, input 32 px, batch 256 patches, "
            "4 patches/candidate, 1 thread):"
        )
        rows = bench_memory(args.sizes)
        print(
            f"\n{'candidates':>11} {'seconds':>8} {'RSS peak+':>10} {'tracemalloc':>12} "
            f"{'P out':>7} {'pool uint8':>11} {'pool f32':>9}"
        )
        for r in rows:
            print(
                f"{r['n']:>11,} {r['seconds']:>8.1f} {r['rss_increase_mb']:>8.1f}MB "
                f"{r['tracemalloc_peak_mb']:>10.1f}MB {r['output_P_mb']:>5.1f}MB "
                f"{r['pool_uint8_mb']:>9.0f}MB {r['pool_float32_mb']:>7.0f}MB"
            )


if __name__ == "__main__":
    main()
