"""Tests for sklearn_aift.scoring against a literal reading of Eq. 1-4 and Alg. 1."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_aift.scoring import (
    EPS,
    ROW_SUM_TOL,
    candidate_scores,
    check_patch_proba,
    majority_select,
    pairwise_symmetric_kl,
    patch_entropy,
)

HYPO = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------- #
# the literal algorithm: Python loops over candidates, patches and classes
# --------------------------------------------------------------------------- #
def _log(p):
    return math.log(max(p, EPS))


def literal_selection(patches, alpha):
    """Indices of the patches kept for one candidate (Eq. 4, Alg. 1 lines 4-8)."""
    m, K = len(patches), len(patches[0])
    k = max(1, math.floor(alpha * m + 0.5))
    if K == 2:
        mean = np.mean([p[1] for p in patches])
        if mean > 0.5:  # top alpha of the patches by positive-class probability
            order = sorted(range(m), key=lambda j: (-patches[j][1], j))
        else:  # bottom alpha
            order = sorted(range(m), key=lambda j: (patches[j][1], j))
    else:
        mean = np.mean(np.asarray(patches), axis=0)
        c = int(np.argmax(mean))
        order = sorted(range(m), key=lambda j: (-patches[j][c], j))
    return order[:k]


def literal_score(patches, alpha, lambda1, lambda2):
    """Sum of all entries of R (Eq. 3) built entry by entry from Eq. 1 and Eq. 2."""
    selected = [patches[j] for j in literal_selection(patches, alpha)]
    K = len(patches[0])
    total = 0.0
    for j, pj in enumerate(selected):
        for l, pl in enumerate(selected):
            if j == l:
                total += lambda1 * -sum(pj[c] * _log(pj[c]) for c in range(K))
            else:
                total += lambda2 * sum(
                    (pj[c] - pl[c]) * (_log(pj[c]) - _log(pl[c])) for c in range(K)
                )
    return total


def literal_scores(P, alpha=0.25, lambda1=1.0, lambda2=1.0, patch_mask=None):
    P = np.asarray(P, dtype=np.float64)
    out = []
    for i in range(P.shape[0]):
        rows = P[i] if patch_mask is None else P[i][patch_mask[i]]
        out.append(literal_score([list(r) for r in rows], alpha, lambda1, lambda2))
    return np.array(out)


def binary(q):
    """(n, m, 2) probabilities from positive-class probabilities q, rows (1 - q, q)."""
    q = np.asarray(q, dtype=np.float64)
    return np.stack([1.0 - q, q], axis=-1)


# --------------------------------------------------------------------------- #
# hypothesis strategies
# --------------------------------------------------------------------------- #
unit = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)
alphas = st.one_of(st.sampled_from([0.25, 0.5, 1.0, 0.1]), st.floats(0.01, 1.0))
lambdas = st.tuples(st.floats(0.0, 3.0), st.floats(0.0, 3.0)).filter(lambda t: t[0] + t[1] > 0)


@st.composite
def binary_pools(draw, max_n=6, max_m=12):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    return binary(draw(arrays(np.float64, (n, m), elements=unit)))


@st.composite
def multiclass_pools(draw, max_n=5, max_m=10):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    K = draw(st.integers(3, 5))
    w = draw(arrays(np.float64, (n, m, K), elements=st.floats(0.0, 1.0)))
    w[..., 0] += 1e-3  # no all-zero row
    return w / w.sum(axis=-1, keepdims=True)


def _close(a, b):
    scale = 1.0 + np.abs(b).max()
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10 * scale)


# --------------------------------------------------------------------------- #
# hand-computed cases
# --------------------------------------------------------------------------- #
def test_two_patches_by_hand():
    # e(0.2) = e(0.8) = -(0.2 ln 0.2 + 0.8 ln 0.8); d = 2 * 0.6 * ln 4 for both orders
    e = -(0.2 * math.log(0.2) + 0.8 * math.log(0.8))
    d = 2 * 0.6 * math.log(4.0)
    P = binary([[0.2, 0.8]])
    assert candidate_scores(P, alpha=1.0)[0] == pytest.approx(2 * e + 2 * d, rel=1e-12)
    assert candidate_scores(P, alpha=1.0, lambda1=2.0, lambda2=0.5)[0] == pytest.approx(
        2 * 2 * e + 0.5 * 2 * d, rel=1e-12
    )
    np.testing.assert_allclose(patch_entropy(P[0]), [e, e], rtol=1e-12)
    np.testing.assert_allclose(pairwise_symmetric_kl(P[0]), [[0, d], [d, 0]], rtol=1e-12)


def test_quarter_keeps_the_most_confident_majority_patch():
    # mean 0.6 > 0.5 -> top patch 0.9; k = floor(4/4 + 0.5) = 1, so no diversity
    P = binary([[0.6, 0.7, 0.9, 0.2], [0.6, 0.3, 0.05, 0.4]])
    expected = [-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)),
                -(0.05 * math.log(0.05) + 0.95 * math.log(0.95))]
    np.testing.assert_allclose(candidate_scores(P), expected, rtol=1e-12)
    np.testing.assert_array_equal(
        majority_select(P), [[False, False, True, False], [False, False, True, False]]
    )


def test_selected_pair_by_hand():
    # m = 8, alpha = 1/4 -> k = 2; mean < 0.5 -> the two lowest: 0.1 and 0.3
    P = binary([[0.1, 0.9, 0.3, 0.4, 0.35, 0.5, 0.45, 0.4]])
    e = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))  # noqa: E731
    d = (0.3 - 0.1) * math.log(0.3 / 0.1) + (0.7 - 0.9) * math.log(0.7 / 0.9)
    assert candidate_scores(P)[0] == pytest.approx(e(0.1) + e(0.3) + 2 * d, rel=1e-12)
    assert majority_select(P)[0].nonzero()[0].tolist() == [0, 2]


def test_one_hot_patches_are_finite_and_use_eps():
    P = binary([[0.0, 1.0]])
    assert candidate_scores(P, alpha=1.0, lambda2=0.0)[0] == 0.0  # entropy of one-hot is 0
    # d = (0 - 1)(log eps - log 1) + (1 - 0)(log 1 - log eps), counted twice
    expected = 2 * 2 * -math.log(EPS)
    assert candidate_scores(P, alpha=1.0)[0] == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(pairwise_symmetric_kl(P[0])).all()
    np.testing.assert_array_equal(patch_entropy(P[0]), [0.0, 0.0])


@pytest.mark.parametrize(
    "m, expected_k",
    [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 2), (7, 2), (8, 2), (9, 2), (10, 3), (96, 24)],
)
def test_number_of_selected_patches(m, expected_k):
    P = binary(np.linspace(0.1, 0.9, m)[None])
    assert majority_select(P, alpha=0.25).sum() == expected_k
    assert majority_select(P, alpha=1.0).sum() == m


def test_mean_of_exactly_half_takes_the_bottom_patches():
    P = binary([[0.25, 0.75]])
    np.testing.assert_array_equal(majority_select(P, alpha=0.5), [[True, False]])


def test_ties_go_to_the_lower_patch_index():
    P = binary([[0.9, 0.1, 0.9, 0.9], [0.2, 0.2, 0.6, 0.2]])
    np.testing.assert_array_equal(
        majority_select(P, alpha=0.5), [[True, False, True, False], [True, True, False, False]]
    )


def test_multiclass_selection_by_hand():
    # class means (0.45, 0.15, 0.40) -> majority class 0; its two most confident patches
    P = np.array([[[0.7, 0.1, 0.2], [0.1, 0.1, 0.8], [0.5, 0.3, 0.2], [0.5, 0.1, 0.4]]])
    np.testing.assert_array_equal(majority_select(P, alpha=0.5), [[True, False, True, False]])


def test_doubling_every_entry_of_r_counts_pairs_twice():
    P = binary([[0.3, 0.6, 0.8]])
    D = pairwise_symmetric_kl(P[0])
    assert candidate_scores(P, alpha=1.0, lambda1=0.0)[0] == pytest.approx(D.sum(), rel=1e-12)
    assert D.sum() == pytest.approx(2 * (D[0, 1] + D[0, 2] + D[1, 2]), rel=1e-12)


# --------------------------------------------------------------------------- #
# equality with the literal algorithm
# --------------------------------------------------------------------------- #
@HYPO
@given(P=binary_pools(), alpha=alphas, lam=lambdas, chunk=st.integers(1, 4))
def test_binary_scores_equal_the_literal_loop(P, alpha, lam, chunk):
    got = candidate_scores(P, alpha, *lam, chunk_size=chunk)
    _close(got, literal_scores(P, alpha, *lam))


@HYPO
@given(P=multiclass_pools(), alpha=alphas, lam=lambdas)
def test_multiclass_scores_equal_the_literal_loop(P, alpha, lam):
    _close(candidate_scores(P, alpha, *lam, chunk_size=2), literal_scores(P, alpha, *lam))


@HYPO
@given(P=st.one_of(binary_pools(), multiclass_pools()), alpha=alphas)
def test_majority_select_equals_the_literal_rule(P, alpha):
    expected = np.zeros(P.shape[:2], dtype=bool)
    for i in range(P.shape[0]):
        expected[i, literal_selection([list(r) for r in P[i]], alpha)] = True
    np.testing.assert_array_equal(majority_select(P, alpha), expected)


@HYPO
@given(P=st.one_of(binary_pools(), multiclass_pools()), alpha=alphas, lam=lambdas)
def test_scores_equal_r_built_from_the_selected_patches(P, alpha, lam):
    selected = majority_select(P, alpha)
    expected = []
    for i in range(P.shape[0]):
        S = P[i][selected[i]]
        if S.shape[1] == 2:
            S = binary(S[:, 1])
        D = pairwise_symmetric_kl(S)
        expected.append(lam[0] * patch_entropy(S).sum() + lam[1] * D.sum())
    _close(candidate_scores(P, alpha, *lam), np.array(expected))


@HYPO
@given(grid=arrays(np.int64, (4, 9), elements=st.integers(0, 2**20), unique=True), alpha=alphas)
def test_multiclass_rule_reduces_to_the_binary_rule(grid, alpha):
    # (1 - q, q, 0) is the same problem with a third, empty class; q on a grid
    # so that 1 - q is exact and distinct q stay distinct
    q = grid / 2**20
    assume(not np.isclose(q.mean(axis=1), 0.5).any())
    P2 = binary(q)
    P3 = np.concatenate([P2, np.zeros(q.shape + (1,))], axis=-1)
    np.testing.assert_array_equal(majority_select(P3, alpha), majority_select(P2, alpha))
    _close(candidate_scores(P3, alpha), candidate_scores(P2, alpha))


# --------------------------------------------------------------------------- #
# properties
# --------------------------------------------------------------------------- #
@HYPO
@given(P=st.one_of(binary_pools(), multiclass_pools()), alpha=alphas, lam=lambdas)
def test_scores_are_non_negative(P, alpha, lam):
    scores = candidate_scores(P, alpha, *lam)
    assert scores.shape == (P.shape[0],) and scores.dtype == np.float64
    assert (scores >= 0).all()


@HYPO
@given(P=st.one_of(binary_pools(max_m=6), multiclass_pools(max_m=6)))
def test_symmetric_kl_is_symmetric_non_negative_and_zero_on_the_diagonal(P):
    D = pairwise_symmetric_kl(P)
    assert D.shape == P.shape[:2] + (P.shape[1],)
    np.testing.assert_array_equal(D, np.swapaxes(D, -1, -2))
    assert (D >= 0).all()
    np.testing.assert_array_equal(np.diagonal(D, axis1=-2, axis2=-1), 0.0)


@HYPO
@given(
    row=st.one_of(
        arrays(np.float64, 1, elements=unit).map(lambda q: binary(q)[0]),
        multiclass_pools(1, 1).map(lambda P: P[0, 0]),
    ),
    m=st.integers(1, 12),
    alpha=alphas,
)
def test_identical_patches_have_zero_diversity(row, m, alpha):
    P = np.broadcast_to(row, (1, m, row.size))
    assert candidate_scores(P, alpha, lambda1=0.0)[0] == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_array_equal(pairwise_symmetric_kl(P[0]), 0.0)


@HYPO
@given(P=binary_pools(), alpha=alphas, lam=lambdas, seed=st.integers(0, 2**32 - 1))
def test_invariant_to_the_order_of_patches(P, alpha, lam, seed):
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random(P.shape[:2]), axis=1)  # a different order per candidate
    shuffled = np.take_along_axis(P, perm[..., None], axis=1)
    _close(candidate_scores(shuffled, alpha, *lam), candidate_scores(P, alpha, *lam))


def test_multiclass_invariant_to_the_order_of_patches():
    P = np.random.default_rng(3).dirichlet([0.5, 0.5, 0.5], size=(50, 16))
    perm = np.random.default_rng(4).permutation(16)
    _close(candidate_scores(P[:, perm]), candidate_scores(P))


@HYPO
@given(P=st.one_of(binary_pools(), multiclass_pools()), alpha=alphas, lam=lambdas)
def test_lambda_switches(P, alpha, lam):
    entropy = candidate_scores(P, alpha, 1.0, 0.0)
    diversity = candidate_scores(P, alpha, 0.0, 1.0)
    _close(candidate_scores(P, alpha, *lam), lam[0] * entropy + lam[1] * diversity)


@HYPO
@given(P=st.one_of(binary_pools(), multiclass_pools()))
def test_all_patches_entropy_only_is_the_sum_of_patch_entropies(P):
    _close(candidate_scores(P, alpha=1.0, lambda2=0.0), patch_entropy(P).sum(axis=1))
    _close(
        candidate_scores(P, alpha=1.0, lambda1=0.0), pairwise_symmetric_kl(P).sum(axis=(1, 2))
    )


@HYPO
@given(
    data=st.data(),
    n=st.integers(1, 6),
    m=st.integers(2, 10),
    K=st.integers(2, 4),
    alpha=alphas,
    lam=lambdas,
)
def test_ragged_mask_equals_scoring_each_candidate_alone(data, n, m, K, alpha, lam):
    # values on a dyadic grid: means are exact, so no rounding decides mean > 0.5
    grid = data.draw(arrays(np.int64, (n, m, K), elements=st.integers(0, 8)))
    grid[..., 0] += 1
    P = grid / grid.sum(axis=-1, keepdims=True)
    if K == 2:
        P = binary(data.draw(arrays(np.int64, (n, m), elements=st.integers(0, 64))) / 64)
    counts = data.draw(arrays(np.int64, n, elements=st.integers(1, m)))
    mask = np.zeros((n, m), dtype=bool)
    for i, c in enumerate(counts):
        mask[i, data.draw(st.permutations(range(m)))[:c]] = True
    padded = np.where(mask[..., None], P, np.nan)  # padding is never read
    got = candidate_scores(padded, alpha, *lam, patch_mask=mask, chunk_size=2)
    alone = [candidate_scores(P[i][mask[i]][None], alpha, *lam)[0] for i in range(n)]
    _close(got, np.array(alone))
    _close(got, literal_scores(P, alpha, *lam, patch_mask=mask))
    selected = majority_select(padded, alpha, patch_mask=mask)
    assert not (selected & ~mask).any()
    expected_k = np.maximum(np.floor(alpha * counts + 0.5), 1)
    np.testing.assert_array_equal(selected.sum(axis=1), expected_k)


def test_full_mask_equals_no_mask():
    P = binary(np.random.default_rng(0).random((20, 8)))
    mask = np.ones((20, 8), dtype=bool)
    np.testing.assert_array_equal(
        candidate_scores(P, patch_mask=mask), candidate_scores(P)
    )


def test_chunking_dtype_and_unchecked_input_give_the_same_scores():
    rng = np.random.default_rng(1)
    P = binary(rng.beta(0.5, 0.5, size=(300, 96)))
    ref = candidate_scores(P)
    for chunk in (1, 7, 64, 10_000):
        np.testing.assert_allclose(candidate_scores(P, chunk_size=chunk), ref, rtol=1e-12)
    np.testing.assert_array_equal(candidate_scores(P, check_input=False), ref)
    P32 = P.astype(np.float32)
    np.testing.assert_allclose(
        candidate_scores(P32), candidate_scores(P32.astype(np.float64)), rtol=1e-12
    )
    for alpha in (0.25, 1.0):
        _close(candidate_scores(P[:4], alpha), literal_scores(P[:4], alpha))


def test_binary_scores_use_the_positive_column():
    # within the row-sum tolerance, P[..., 0] is validated but 1 - P[..., 1] is used
    q = np.array([[0.2, 0.7, 0.9]])
    P = binary(q)
    off = P.copy()
    off[..., 0] += ROW_SUM_TOL / 2
    np.testing.assert_array_equal(candidate_scores(off, alpha=1.0), candidate_scores(P, alpha=1.0))


def test_check_patch_proba_returns_float64():
    P = check_patch_proba(np.array([[[0.25, 0.75]]], dtype=np.float32))
    assert P.dtype == np.float64 and P.shape == (1, 1, 2)
    P64 = binary([[0.5]])
    assert check_patch_proba(P64) is P64


# --------------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------------- #
GOOD = binary([[0.2, 0.8, 0.5], [0.1, 0.3, 0.9]])


def _with(i, j, c, value):
    P = GOOD.copy()
    P[i, j, c] = value
    return P


@pytest.mark.parametrize(
    "P, match",
    [
        (GOOD[0], r"P must be 3-D .* 2-D"),
        (GOOD[None], r"P must be 3-D .* 4-D"),
        (np.zeros((0, 3, 2)), "empty pool"),
        (np.zeros((2, 0, 2)), "0 patches"),
        (np.ones((2, 3, 1)), "at least 2 classes"),
        (np.array([[["a", "b"]]]), "real probabilities"),
        (GOOD.astype(complex), "real probabilities"),
        (_with(1, 2, 0, np.nan), r"NaN or infinite .*P\[1, 2, 0\]"),
        (_with(0, 1, 1, np.inf), r"NaN or infinite .*P\[0, 1, 1\]"),
        (_with(0, 1, 1, -np.inf), r"NaN or infinite"),
        (_with(1, 0, 0, -0.1), r"outside \[0, 1\] .*P\[1, 0, 0\] = -0.1"),
        (_with(1, 0, 0, 1.5), r"outside \[0, 1\] .*P\[1, 0, 0\] = 1.5"),
        (_with(1, 1, 1, 0.5), r"rows must sum to 1 .*P\[1, 1\] sums to 1.2"),
        (_with(0, 2, 1, 0.5 - 3 * ROW_SUM_TOL), r"rows must sum to 1"),
    ],
)
def test_bad_probabilities(P, match):
    for fn in (candidate_scores, majority_select, check_patch_proba):
        with pytest.raises(ValueError, match=match):
            fn(P)
    if P.ndim == 3 and P.dtype.kind == "f" and P.size:
        with pytest.raises(ValueError, match=match):
            candidate_scores(P, chunk_size=1)  # located across chunks too


def test_row_sum_tolerance_is_accepted():
    P = _with(0, 0, 0, GOOD[0, 0, 0] + ROW_SUM_TOL / 2)
    assert np.isfinite(candidate_scores(P)).all()


def test_bad_values_in_unchecked_mode_do_not_raise_but_shapes_do():
    candidate_scores(_with(1, 1, 1, 0.5), check_input=False)  # values not checked
    with pytest.raises(ValueError, match="empty pool"):
        candidate_scores(np.zeros((0, 3, 2)), check_input=False)


@pytest.mark.parametrize("alpha", [0, -0.25, 1.5, np.nan, np.inf])
def test_bad_alpha(alpha):
    for fn in (candidate_scores, majority_select):
        with pytest.raises(ValueError, match="alpha"):
            fn(GOOD, alpha=alpha)


@pytest.mark.parametrize("alpha", ["0.25", None, True])
def test_alpha_of_the_wrong_type(alpha):
    with pytest.raises(TypeError, match="alpha"):
        candidate_scores(GOOD, alpha=alpha)


@pytest.mark.parametrize(
    "lambdas, match",
    [
        ((-1.0, 1.0), "lambda1 must be >= 0"),
        ((1.0, -0.5), "lambda2 must be >= 0"),
        ((0.0, 0.0), "both 0"),
        ((np.nan, 1.0), "lambda1 must be finite"),
        ((1.0, np.inf), "lambda2 must be finite"),
    ],
)
def test_bad_lambdas(lambdas, match):
    with pytest.raises(ValueError, match=match):
        candidate_scores(GOOD, 0.25, *lambdas)


def test_lambda_of_the_wrong_type():
    with pytest.raises(TypeError, match="lambda2"):
        candidate_scores(GOOD, lambda2="1")


@pytest.mark.parametrize(
    "mask, match",
    [
        (np.ones((2, 3), dtype=int), "boolean"),
        (np.ones((3, 2), dtype=bool), r"shape \(n_candidates, n_patches\) = \(2, 3\)"),
        (np.array([[True, True, True], [False, False, False]]), "candidate 1"),
    ],
)
def test_bad_patch_mask(mask, match):
    for fn in (candidate_scores, majority_select, check_patch_proba):
        with pytest.raises(ValueError, match="patch_mask"):
            fn(GOOD, patch_mask=mask)
        with pytest.raises(ValueError, match=match):
            fn(GOOD, patch_mask=mask)


def test_invalid_values_in_real_patches_of_a_ragged_pool():
    mask = np.array([[True, True, False], [True, False, False]])
    with pytest.raises(ValueError, match=r"P\[1, 0, 1\]"):
        candidate_scores(_with(1, 0, 1, 2.0), patch_mask=mask)


@pytest.mark.parametrize("chunk_size", [0, -3, 1.5, True])
def test_bad_chunk_size(chunk_size):
    with pytest.raises(ValueError, match="chunk_size"):
        candidate_scores(GOOD, chunk_size=chunk_size)


def test_bad_check_input():
    with pytest.raises(ValueError, match="check_input"):
        candidate_scores(GOOD, check_input="no")


def test_entropy_and_kl_reject_bad_rows():
    with pytest.raises(ValueError, match="sums to 0.5"):
        patch_entropy([[0.25, 0.25]])
    with pytest.raises(ValueError, match="NaN"):
        pairwise_symmetric_kl([[np.nan, 1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="n_patches, n_classes"):
        pairwise_symmetric_kl([0.5, 0.5])
