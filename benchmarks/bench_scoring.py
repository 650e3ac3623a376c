"""Speed of the AIFT scoring core (sklearn_aift.scoring.candidate_scores).

Scores a pool of n candidates x m patches x 2 classes at alpha = 1/4 and
alpha = 1 and compares, in the same run:

* one plain pass over the probabilities (``P.sum()``), the floor for anything
  that reads them;
* the literal algorithm (Eq. 1-4, Alg. 1: a Python loop over candidates and
  over pairs of selected patches), timed on a subsample and scaled to n;
* the paper's per-candidate O(alpha^2 m^2) computation with NumPy inside each
  candidate (build R_i by broadcasting, sum it), timed on a subsample.

Timings are the best of ``--repeats`` runs. The literal results are checked
against ``candidate_scores`` on the subsample.

Usage::

    python benchmarks/bench_scoring.py [--n 100000] [--m 96] [--repeats 7]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np

from sklearn_aift.scoring import EPS, candidate_scores


def make_pool(n: int, m: int, seed: int = 0) -> np.ndarray:
    """Patch probabilities with the paper's patterns: each candidate has its own
    typical prediction and spread, patches scatter around it."""
    rng = np.random.default_rng(seed)
    centre = rng.beta(0.7, 0.7, size=(n, 1))
    concentration = rng.choice([2.0, 10.0, 50.0], size=(n, 1))
    q = rng.beta(centre * concentration + 0.05, (1 - centre) * concentration + 0.05, size=(n, m))
    return np.stack([1.0 - q, q], axis=-1)


def best_of(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _log(p: float) -> float:
    return math.log(max(p, EPS))


def literal_scores(P: np.ndarray, alpha: float, lambda1: float = 1.0, lambda2: float = 1.0):
    """Alg. 1 as written: per candidate, majority selection, then R_i entry by entry."""
    out = []
    for patches in P.tolist():
        m, K = len(patches), len(patches[0])
        k = max(1, math.floor(alpha * m + 0.5))
        top = sum(p[1] for p in patches) / m > 0.5
        order = sorted(range(m), key=lambda j: (-patches[j][1] if top else patches[j][1], j))
        sel = [patches[j] for j in order[:k]]
        total = 0.0
        for j in range(k):
            for l in range(k):
                if j == l:
                    total += lambda1 * -sum(sel[j][c] * _log(sel[j][c]) for c in range(K))
                else:
                    total += lambda2 * sum(
                        (sel[j][c] - sel[l][c]) * (_log(sel[j][c]) - _log(sel[l][c]))
                        for c in range(K)
                    )
        out.append(total)
    return np.array(out)


def per_candidate_numpy(P: np.ndarray, alpha: float, lambda1: float = 1.0, lambda2: float = 1.0):
    """The paper's O(alpha^2 m^2) per-candidate computation, NumPy inside each candidate."""
    n, m, _ = P.shape
    k = max(1, math.floor(alpha * m + 0.5))
    out = np.empty(n)
    for i in range(n):
        q = P[i, :, 1]
        order = np.argsort(-q if q.mean() > 0.5 else q, kind="stable")[:k]
        S = P[i, order]
        L = np.log(np.maximum(S, EPS))
        D = ((S[:, None] - S[None]) * (L[:, None] - L[None])).sum(-1)
        R = lambda2 * D
        R[np.diag_indices(k)] = lambda1 * -(S * L).sum(-1)
        out[i] = R.sum()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="candidates")
    parser.add_argument("--m", type=int, default=96, help="patches per candidate")
    parser.add_argument("--repeats", type=int, default=7, help="best of this many runs")
    parser.add_argument(
        "--literal-n", type=int, default=200, help="literal-loop subsample (alpha=1/4)"
    )
    parser.add_argument("--numpy-n", type=int, default=2000, help="per-candidate NumPy subsample")
    args = parser.parse_args()

    P = make_pool(args.n, args.m)
    print(
        f"pool: n={args.n:,} candidates x m={args.m} patches x K=2, float64 "
        f"({P.nbytes / 2**20:.0f} MiB); numpy {np.__version__}; {os.cpu_count()} CPUs; "
        f"{platform.processor() or platform.machine()}"
    )
    candidate_scores(P[:1000])  # warm up
    t_sum = best_of(lambda: P.sum(), args.repeats)
    print(f"one plain pass, P.sum():           {t_sum * 1e3:8.1f} ms")
    targets = {0.25: 0.25, 1.0: 0.5}
    for alpha, label in ((0.25, "1/4"), (1.0, "1")):
        t = best_of(lambda: candidate_scores(P, alpha), args.repeats)
        t_unchecked = best_of(lambda: candidate_scores(P, alpha, check_input=False), args.repeats)

        n_lit = args.literal_n if alpha < 1 else max(1, args.literal_n // 10)
        sub = P[:n_lit]
        start = time.perf_counter()
        literal = literal_scores(sub, alpha)
        t_lit = (time.perf_counter() - start) / n_lit * args.n
        np.testing.assert_allclose(candidate_scores(sub, alpha), literal, rtol=1e-9, atol=1e-9)

        n_np = args.numpy_n
        sub = P[:n_np]
        start = time.perf_counter()
        loop = per_candidate_numpy(sub, alpha)
        t_np = (time.perf_counter() - start) / n_np * args.n
        np.testing.assert_allclose(candidate_scores(sub, alpha), loop, rtol=1e-9, atol=1e-9)

        target = targets[alpha] * args.n / 100_000 * args.m / 96
        print(f"\nalpha = {label} (k = {max(1, math.floor(alpha * args.m + 0.5))} patches kept)")
        print(
            f"  candidate_scores:                {t * 1e3:8.1f} ms  "
            f"{args.n / t:12,.0f} candidates/s  (target <= {target * 1e3:.0f} ms: "
            f"{'met' if t <= target else 'MISSED'})"
        )
        print(
            f"  candidate_scores, check_input=False: {t_unchecked * 1e3:4.1f} ms  "
            f"(validation costs {(t - t_unchecked) / t:.0%})"
        )
        print(f"  ratio to one plain pass (P.sum): {t / t_sum:8.1f} x")
        print(
            f"  literal loop ({n_lit} candidates, scaled): {t_lit:8.1f} s  "
            f"-> speed-up {t_lit / t:,.0f} x (target >= 100 x: "
            f"{'met' if t_lit / t >= 100 else 'MISSED'})"
        )
        print(
            f"  per-candidate NumPy R_i ({n_np} candidates, scaled): {t_np:6.2f} s  "
            f"-> speed-up {t_np / t:,.0f} x"
        )


if __name__ == "__main__":
    main()
