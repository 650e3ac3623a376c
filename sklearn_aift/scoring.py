"""AIFT candidate scoring: entropy, diversity and majority selection.

Pure NumPy (float64) implementation of the selection criterion of active
incremental fine-tuning (Zhou et al., CVPR 2017, sections 3.2-3.3 and Alg. 1).
Every function works on patch probabilities ``P`` of shape ``(n, m, K)``:
``n`` candidates, ``m`` patches per candidate, ``K`` classes, rows summing to 1.

For one candidate with selected patches ``S`` (``k = |S|`` patches), AIFT builds
the ``k x k`` matrix ``R`` (Eq. 3) with ``lambda1 * e_j`` on the diagonal
(entropy, Eq. 1) and ``lambda2 * d(j, l)`` off it (symmetric Kullback-Leibler
divergence, Eq. 2), and ranks candidates by the sum of all entries of ``R``
(Alg. 1, line 11; ``R`` is symmetric, so every pair counts twice).

Conventions
-----------
Logarithms
    Natural logarithms of ``max(p, EPS)`` with ``EPS = 1e-12``; the linear
    factors use ``p`` itself. So a probability of 0 gives finite values, a
    one-hot patch has entropy exactly 0, ``d(j, l)`` stays non-negative
    (``log(max(p, EPS))`` is non-decreasing in ``p``) and two patches that
    differ only below ``EPS`` have a divergence of (almost) 0.
Closed form
    Summing Eq. 2 over all ordered pairs of the ``k`` selected patches gives,
    with ``L = log(max(p, EPS))``,

    ``sum_{j, l} d(j, l) = sum_c [2 k sum_j p_jc L_jc - 2 (sum_j p_jc) (sum_j L_jc)]``

    (expand ``(p_j - p_l)(L_j - L_l)`` and sum over ``j`` and ``l``), so a
    candidate's score costs O(k K) after the selection instead of the paper's
    O(k^2 K). The diagonal ``d(j, j) = 0`` drops out by itself. Mathematically
    the diversity sum is non-negative; rounding can leave values of order
    1e-13 below 0, which are set to 0.
Majority selection (Eq. 4, Alg. 1 lines 4-8)
    Each candidate keeps ``k = max(1, floor(alpha * m + 0.5))`` patches. With
    ``K = 2``: the ``k`` patches with the highest positive-class probability
    ``P[..., 1]`` when the candidate's mean positive-class probability is
    ``> 0.5``, else the ``k`` lowest. With ``K > 2``: the candidate's majority
    class is the argmax of its mean prediction (lowest class index on ties)
    and the ``k`` patches most confident in that class are kept. For
    ``K = 2`` this is the same rule (the majority class is 1 exactly when the
    mean positive probability is > 0.5, and the lowest ``P[..., 1]`` are the
    most confident in class 0). Ties between patches are broken in favour of
    the lower patch index.
Binary problems
    For ``K = 2`` the scores are computed from ``q = P[..., 1]`` and ``1 - q``;
    ``P[..., 0]`` is validated but not otherwise used. This is Eq. 1-4 applied
    to the distribution ``(1 - q, q)`` and agrees with using both columns
    whenever the rows sum to 1; it also makes the score of a candidate
    independent of how ties in ``q`` are broken.
Ragged pools
    Candidates with different numbers of patches are stored padded to a common
    ``m`` with a boolean ``patch_mask`` of shape ``(n, m)`` (True = real
    patch). Padded entries are never read for scoring or validation, and ``k``
    is computed per candidate from its own number of real patches.
Validation
    Probabilities must be finite, within [0, 1], and every row must sum to 1
    within ``ROW_SUM_TOL`` (absolute, 1e-5, loose enough for float32 softmax
    outputs converted to float64). The check is fused into the chunked scoring
    loop, so it reads each chunk while it is in cache and costs a fraction of
    the scoring itself.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .utils import check_int

__all__ = [
    "EPS",
    "ROW_SUM_TOL",
    "candidate_scores",
    "check_patch_proba",
    "majority_select",
    "pairwise_symmetric_kl",
    "patch_entropy",
]

#: Probabilities are floored at this value before taking logarithms.
EPS = 1e-12
#: Absolute tolerance on ``|sum_c P[i, j, c] - 1|``.
ROW_SUM_TOL = 1e-5
_DEFAULT_CHUNK = 1024


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return value


def _check_alpha(alpha: Any) -> float:
    alpha = _check_real(alpha, "alpha")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(
            f"alpha must lie in (0, 1] (the fraction of patches kept per candidate); "
            f"got {alpha!r}."
        )
    return alpha


def _check_lambdas(lambda1: Any, lambda2: Any) -> tuple[float, float]:
    lambda1 = _check_real(lambda1, "lambda1")
    lambda2 = _check_real(lambda2, "lambda2")
    for name, value in (("lambda1", lambda1), ("lambda2", lambda2)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0; got {value!r}.")
    if lambda1 == 0 and lambda2 == 0:
        raise ValueError(
            "lambda1 and lambda2 are both 0, which makes every score 0; set lambda1 > 0 "
            "(entropy) and/or lambda2 > 0 (diversity)."
        )
    return lambda1, lambda2


def _check_chunk_size(chunk_size: Any) -> int:
    return check_int(chunk_size, "chunk_size")


def _as_proba_array(P: Any, name: str = "P") -> np.ndarray:
    """Return ``P`` as an ndarray (no copy for arrays) with shape checks."""
    P = np.asarray(P)
    if P.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real probabilities; got dtype {P.dtype}.")
    if P.ndim != 3:
        raise ValueError(
            f"{name} must be 3-D with shape (n_candidates, n_patches, n_classes); got "
            f"{P.ndim}-D shape {P.shape}."
        )
    n, m, K = P.shape
    if n == 0:
        raise ValueError(f"{name} is an empty pool: it holds 0 candidates (shape {P.shape}).")
    if m == 0:
        raise ValueError(f"{name} has 0 patches per candidate (shape {P.shape}).")
    if K < 2:
        raise ValueError(
            f"{name} must have at least 2 classes in its last axis; got shape {P.shape}."
        )
    return P


def _check_mask(patch_mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    if patch_mask is None:
        return None
    mask = np.asarray(patch_mask)
    if mask.dtype != bool:
        raise ValueError(
            f"patch_mask must be a boolean array (True = real patch); got dtype {mask.dtype}."
        )
    if mask.shape != tuple(shape[:2]):
        raise ValueError(
            f"patch_mask must have shape (n_candidates, n_patches) = {tuple(shape[:2])}; got "
            f"{mask.shape}."
        )
    counts = mask.sum(axis=1)
    if (counts == 0).any():
        first = int(np.flatnonzero(counts == 0)[0])
        raise ValueError(
            f"patch_mask marks no real patch for candidate {first}; every candidate needs "
            f"at least one."
        )
    if counts.min() == shape[1]:
        return None  # nothing is padded: use the uniform code path
    return mask


def _first_bad(bad: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))


def _raise_value_error(block: np.ndarray, offset: int, name: str) -> None:
    """Describe why ``block`` failed the fast range check, then raise."""
    finite = np.isfinite(block)
    if not finite.all():
        where = _first_bad(~finite)
        problem = "NaN or infinite values"
    else:
        where = _first_bad((block < 0) | (block > 1))
        problem = "values outside [0, 1]"
    value = float(block[where])
    where = (where[0] + offset,) + where[1:]
    raise ValueError(
        f"{name} must hold probabilities in [0, 1]; it contains {problem} "
        f"({name}[{', '.join(map(str, where))}] = {value!r})."
    )


def _check_block(block: np.ndarray, offset: int, name: str, sums: np.ndarray | None = None) -> None:
    """Validate a float64 block ``(..., K)``: finite, in [0, 1], rows sum to 1.

    One fused pass: ``min``/``max`` (NaN propagates and fails the comparison)
    and a row sum. ``sums`` is an optional buffer for the row sums of a
    binary block.
    """
    low = block.min()
    high = block.max()
    if not (low >= 0.0 and high <= 1.0):
        _raise_value_error(block, offset, name)
    if block.shape[-1] == 2:
        if sums is None:
            sums = np.empty(block.shape[:-1])
        np.add(block[..., 0], block[..., 1], out=sums)
    else:
        sums = block.sum(axis=-1)
    if sums.max() > 1.0 + ROW_SUM_TOL or sums.min() < 1.0 - ROW_SUM_TOL:
        dev = np.abs(sums - 1.0)
        where = _first_bad(dev > ROW_SUM_TOL)
        value = float(sums[where])
        where = (where[0] + offset,) + where[1:]
        raise ValueError(
            f"{name} rows must sum to 1 over the class axis (tolerance {ROW_SUM_TOL:g}); "
            f"{name}[{', '.join(map(str, where))}] sums to {value!r}."
        )


def _masked_block(block: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Replace padded patches by the uniform distribution (valid, never used)."""
    return np.where(mask[..., None], block, 1.0 / block.shape[-1])


def check_patch_proba(
    P: Any, *, patch_mask: Any = None, chunk_size: int = _DEFAULT_CHUNK
) -> np.ndarray:
    """Validate patch probabilities of shape ``(n, m, K)``.

    Parameters
    ----------
    P : array-like of shape (n_candidates, n_patches, n_classes)
        Patch probabilities. Every row ``P[i, j]`` must be finite, within
        [0, 1] and sum to 1 within :data:`ROW_SUM_TOL`.
    patch_mask : array-like of bool of shape (n_candidates, n_patches), default=None
        True for real patches of a ragged pool; padded entries are not checked.
    chunk_size : int, default=1024
        Candidates checked at a time (bounds the working memory).

    Returns
    -------
    P : ndarray of shape (n_candidates, n_patches, n_classes)
        ``P`` as a float64 array (no copy when it already is one).

    Raises
    ------
    ValueError
        If ``P`` is not 3-D, empty, has fewer than 2 classes, holds NaN,
        infinite or out-of-range values, or rows that do not sum to 1; or if
        ``patch_mask`` has the wrong dtype or shape or leaves a candidate
        without patches.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.scoring import check_patch_proba
    >>> check_patch_proba([[[0.25, 0.75], [1.0, 0.0]]]).dtype
    dtype('float64')
    >>> check_patch_proba([[[0.5, 0.6]]])
    Traceback (most recent call last):
    ...
    ValueError: P rows must sum to 1 over the class axis (tolerance 1e-05); P[0, 0] sums to 1.1.
    """
    P = _as_proba_array(P)
    mask = _check_mask(patch_mask, P.shape)
    chunk_size = _check_chunk_size(chunk_size)
    for start in range(0, P.shape[0], chunk_size):
        block = np.asarray(P[start : start + chunk_size], dtype=np.float64)
        if mask is not None:
            block = _masked_block(block, mask[start : start + chunk_size])
        _check_block(block, start, "P")
    return np.asarray(P, dtype=np.float64)


def _check_rows(P: Any, name: str = "P") -> np.ndarray:
    """Validate probability rows of any shape ``(..., K)`` at once."""
    P = np.asarray(P)
    if P.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real probabilities; got dtype {P.dtype}.")
    if P.ndim < 1 or P.shape[-1] < 1:
        raise ValueError(f"{name} must have a class axis last; got shape {P.shape}.")
    P = np.asarray(P, dtype=np.float64)
    if P.size:
        _check_block(P, 0, name)
    return P


# --------------------------------------------------------------------------- #
# the paper's quantities
# --------------------------------------------------------------------------- #
def _safe_log(P: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(P, EPS))


def patch_entropy(P: Any) -> np.ndarray:
    """Entropy of each patch prediction (Eq. 1), in nats.

    ``e = -sum_c p_c log(max(p_c, EPS))``, so 0 and 1 give finite values and a
    one-hot prediction has entropy 0.

    Parameters
    ----------
    P : array-like of shape (..., n_classes)
        Probabilities, class axis last (e.g. ``(n, m, K)`` patch
        probabilities).

    Returns
    -------
    entropy : ndarray of shape (...)
        The entropy of every row.

    Raises
    ------
    ValueError
        If ``P`` holds NaN, infinite or out-of-range values or rows that do
        not sum to 1 within :data:`ROW_SUM_TOL`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.scoring import patch_entropy
    >>> patch_entropy([[0.5, 0.5], [1.0, 0.0]]).round(4)
    array([0.6931, 0.    ])
    """
    P = _check_rows(P)
    return 0.0 - np.einsum("...c,...c->...", P, _safe_log(P))  # 0.0 - x: no -0.0


def pairwise_symmetric_kl(P: Any) -> np.ndarray:
    """Symmetric Kullback-Leibler divergence between patches (Eq. 2).

    ``d(j, l) = sum_c (p_jc - p_lc) (log p_jc - log p_lc)`` for every pair of
    patches of a candidate, logs taken of ``max(p, EPS)``. The result is
    symmetric, non-negative and 0 on the diagonal.

    Parameters
    ----------
    P : array-like of shape (..., n_patches, n_classes)
        Patch probabilities of one candidate ``(m, K)`` or of several
        ``(n, m, K)``.

    Returns
    -------
    D : ndarray of shape (..., n_patches, n_patches)
        ``D[..., j, l] = d(j, l)``. Memory grows as ``m**2 K``: this is the
        literal matrix, for inspection; :func:`candidate_scores` never builds
        it.

    Raises
    ------
    ValueError
        If ``P`` has fewer than 2 dimensions or holds invalid probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.scoring import pairwise_symmetric_kl
    >>> pairwise_symmetric_kl([[0.5, 0.5], [0.5, 0.5], [0.8, 0.2]]).round(4)
    array([[0.    , 0.    , 0.4159],
           [0.    , 0.    , 0.4159],
           [0.4159, 0.4159, 0.    ]])
    """
    P = _check_rows(P)
    if P.ndim < 2:
        raise ValueError(
            f"P must have shape (..., n_patches, n_classes); got {P.ndim}-D shape {P.shape}."
        )
    L = _safe_log(P)
    diff_p = P[..., :, None, :] - P[..., None, :, :]
    diff_l = L[..., :, None, :] - L[..., None, :, :]
    return np.einsum("...c,...c->...", diff_p, diff_l)


def _n_selected(m: np.ndarray | int, alpha: float) -> np.ndarray | int:
    """``k = max(1, floor(alpha * m + 0.5))`` (Sec. 3.3)."""
    k = np.maximum(np.floor(alpha * np.asarray(m, dtype=np.float64) + 0.5), 1).astype(np.intp)
    return int(k) if k.ndim == 0 else k


def _select_block(block: np.ndarray, mask: np.ndarray | None, k: np.ndarray) -> np.ndarray:
    """Boolean selection ``(c, m)`` for a float64 block; ``k`` per candidate."""
    c, m, K = block.shape
    counts = np.full(c, m) if mask is None else mask.sum(axis=1)
    if K == 2:
        q = block[..., 1]
        mean = (q if mask is None else np.where(mask, q, 0.0)).sum(axis=1) / counts
        # ascending key: the most confident patches in the majority class first
        key = np.where((mean > 0.5)[:, None], -q, q)
    else:
        summed = block.sum(axis=1) if mask is None else (block * mask[..., None]).sum(axis=1)
        majority = np.argmax(summed / counts[:, None], axis=1)
        key = -np.take_along_axis(block, majority[:, None, None], axis=2)[..., 0]
    if mask is not None:
        key = np.where(mask, key, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    selected = np.zeros((c, m), dtype=bool)
    np.put_along_axis(selected, order, np.arange(m)[None, :] < k[:, None], axis=1)
    return selected


def majority_select(P: Any, alpha: float = 0.25, patch_mask: Any = None) -> np.ndarray:
    """Majority selection of patches (Eq. 4, Alg. 1 lines 4-8).

    Each candidate keeps ``k = max(1, floor(alpha * m_i + 0.5))`` of its
    ``m_i`` patches. With two classes: the ``k`` patches with the highest
    positive-class probability ``P[i, :, 1]`` when their mean is ``> 0.5``,
    else the ``k`` lowest. With ``K > 2`` classes (a generalisation): the ``k``
    patches most confident in the candidate's majority class, the argmax of its
    mean prediction (lowest class index on ties); for ``K = 2`` this is the
    same rule. Ties between patches go to the lower patch index.

    Parameters
    ----------
    P : array-like of shape (n_candidates, n_patches, n_classes)
        Patch probabilities, rows summing to 1.
    alpha : float, default=0.25
        Fraction of patches kept, in (0, 1].
    patch_mask : array-like of bool of shape (n_candidates, n_patches), default=None
        True for the real patches of a ragged pool; ``m_i`` is the number of
        True entries of row ``i`` and padded patches are never selected.

    Returns
    -------
    selected : ndarray of bool of shape (n_candidates, n_patches)
        True for the selected patches; row ``i`` has exactly ``k_i`` of them.

    Raises
    ------
    ValueError
        If ``P``, ``alpha`` or ``patch_mask`` is invalid (see
        :func:`candidate_scores`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.scoring import majority_select
    >>> q = np.array([[0.9, 0.2, 0.8, 0.7], [0.1, 0.6, 0.3, 0.2]])
    >>> P = np.stack([1 - q, q], axis=-1)
    >>> majority_select(P, alpha=0.5)
    array([[ True, False,  True, False],
           [ True, False, False,  True]])
    """
    P = _as_proba_array(P)
    alpha = _check_alpha(alpha)
    mask = _check_mask(patch_mask, P.shape)
    n, m, _ = P.shape
    selected = np.empty((n, m), dtype=bool)
    for start in range(0, n, _DEFAULT_CHUNK):
        stop = min(start + _DEFAULT_CHUNK, n)
        block = np.asarray(P[start:stop], dtype=np.float64)
        mblock = None if mask is None else mask[start:stop]
        _check_block(block if mblock is None else _masked_block(block, mblock), start, "P")
        counts = np.full(stop - start, m) if mblock is None else mblock.sum(axis=1)
        selected[start:stop] = _select_block(block, mblock, _n_selected(counts, alpha))
    return selected


# --------------------------------------------------------------------------- #
# fast scoring
# --------------------------------------------------------------------------- #
def _combine(
    k: np.ndarray | int,
    plogp: np.ndarray,
    cross: np.ndarray,
    lambda1: float,
    lambda2: float,
    out: np.ndarray,
) -> None:
    """``out = lambda1 * entropy_sum + lambda2 * diversity_sum``.

    ``plogp = sum_j sum_c p log p`` and ``cross = sum_c (sum_j p)(sum_j log p)``
    over the selected patches.
    """
    np.multiply(plogp, -lambda1, out=out)
    out += 0.0  # turns -0.0 into 0.0
    if lambda2:
        diversity = 2.0 * k * plogp - 2.0 * cross
        np.maximum(diversity, 0.0, out=diversity)
        out += lambda2 * diversity


def _binary_uniform(P, start, stop, alpha, lambda1, lambda2, work, out, validate):
    """Scores of ``P[start:stop]`` (K = 2, no padding) into ``out[start:stop]``.

    ``work`` is a pair of preallocated buffers, ``(chunk, m)`` and
    ``5 * chunk * k`` floats, reused across chunks.
    """
    block = np.asarray(P[start:stop], dtype=np.float64)
    c, m, _ = block.shape
    k = _n_selected(m, alpha)
    z = work[0][:c]
    if validate:
        _check_block(block, start, "P", sums=z)
    q = block[..., 1]
    b, a, la, lb, t = work[1][: 5 * c * k].reshape(5, c, k)
    if k < m:
        # The k lowest of q (negative majority) or of -q (positive majority):
        # one in-place value partition, no index arrays. Which of several
        # equal values is kept does not matter: equal q means equal patches.
        positive = q.sum(axis=1) / m > 0.5
        np.multiply(q, np.where(positive, -1.0, 1.0)[:, None], out=z)
        z.partition(k - 1, axis=1)
        np.abs(z[:, :k], out=a)
    else:  # alpha * m rounds to m: every patch is kept
        np.copyto(a, q)
    np.subtract(1.0, a, out=b)
    np.maximum(a, EPS, out=la)
    np.log(la, out=la)
    np.maximum(b, EPS, out=lb)
    np.log(lb, out=lb)
    np.multiply(a, la, out=t)
    np.multiply(b, lb, out=b)
    t += b
    # row sums of a, log a, log b and (a log a + b log b) in one matrix-vector product
    sums = work[1][c * k : 5 * c * k].reshape(4 * c, k) @ np.ones(k)
    sum_a, sum_la, sum_lb, plogp = sums.reshape(4, c)
    cross = sum_a * sum_la + (k - sum_a) * sum_lb
    _combine(k, plogp, cross, lambda1, lambda2, out[start:stop])


def _general_block(P, mask, start, stop, alpha, lambda1, lambda2, out, validate):
    """Scores of ``P[start:stop]`` for any K and optional padding, into ``out``."""
    block = np.asarray(P[start:stop], dtype=np.float64)
    c, m, K = block.shape
    mblock = None if mask is None else mask[start:stop]
    if mblock is not None:
        block = _masked_block(block, mblock)
    if validate:
        _check_block(block, start, "P")
    counts = np.full(c, m) if mblock is None else mblock.sum(axis=1)
    k = _n_selected(counts, alpha)
    if K == 2:
        # binary convention: q and 1 - q (see the module docstring)
        block = np.stack([1.0 - block[..., 1], block[..., 1]], axis=-1)
    weights = _select_block(block, mblock, k)[..., None]
    sel = np.where(weights, block, 0.0)
    logs = np.where(weights, _safe_log(block), 0.0)
    plogp = np.einsum("ijc,ijc->i", sel, logs)
    cross = np.einsum("ic,ic->i", sel.sum(axis=1), logs.sum(axis=1)) if lambda2 else None
    _combine(k, plogp, cross, lambda1, lambda2, out[start:stop])


def candidate_scores(
    P: Any,
    alpha: float = 0.25,
    lambda1: float = 1.0,
    lambda2: float = 1.0,
    patch_mask: Any = None,
    chunk_size: int = _DEFAULT_CHUNK,
    *,
    check_input: bool = True,
) -> np.ndarray:
    """AIFT score of every candidate: the sum of all entries of ``R_i`` (Eq. 3).

    For candidate ``i`` with its majority-selected patches ``S_i``
    (:func:`majority_select`, ``k_i = |S_i|``)::

        score_i = lambda1 * sum_{j in S_i} e_j
                + lambda2 * sum_{j != l in S_i} d(j, l)

    with ``e`` the patch entropy (Eq. 1) and ``d`` the symmetric KL divergence
    (Eq. 2); each unordered pair counts twice because ``R_i`` is symmetric.
    The double sum is evaluated in closed form (see the module docstring), so a
    candidate costs O(m) for the selection plus O(k_i K) for the sums. The pool
    is processed ``chunk_size`` candidates at a time: the working memory is a
    few arrays of ``chunk_size * m`` floats, whatever ``n``.

    Parameters
    ----------
    P : array-like of shape (n_candidates, n_patches, n_classes)
        Patch probabilities, rows summing to 1. Other real dtypes are
        converted to float64 chunk by chunk (no full copy).
    alpha : float, default=0.25
        Fraction of patches kept per candidate, in (0, 1]; the paper uses 1/4
        (its ``_quarter`` variants) and 1 (all patches).
    lambda1 : float, default=1.0
        Weight of the entropy term (diagonal of ``R``), >= 0.
    lambda2 : float, default=1.0
        Weight of the diversity term (off-diagonal of ``R``), >= 0. Not both
        weights may be 0.
    patch_mask : array-like of bool of shape (n_candidates, n_patches), default=None
        True for the real patches of a ragged pool (candidates with different
        numbers of patches, padded to a common ``m``). Padded entries are
        ignored, whatever they hold, and ``k_i`` follows each candidate's own
        patch count. None means every patch is real.
    chunk_size : int, default=1024
        Candidates processed at a time.
    check_input : bool, default=True
        Validate the probability values (finite, in [0, 1], rows summing to
        1). The check is fused into the scoring pass and costs about 10%
        of the run time; pass False only for probabilities known to be valid,
        e.g. a network's softmax output. Shapes and parameters are always
        checked.

    Returns
    -------
    scores : ndarray of shape (n_candidates,)
        Non-negative float64 scores; higher means more worth labelling.

    Raises
    ------
    TypeError
        If ``alpha``, ``lambda1`` or ``lambda2`` is not a real number.
    ValueError
        If ``P`` is not 3-D, holds no candidate, no patch or fewer than 2
        classes, has NaN, infinite or out-of-range values or rows that do not
        sum to 1 within :data:`ROW_SUM_TOL`; if ``alpha`` is outside (0, 1], a
        lambda is negative or both are 0; if ``patch_mask`` is not a boolean
        ``(n, m)`` array or leaves a candidate without patches; if
        ``chunk_size`` is not a positive integer.

    See Also
    --------
    majority_select : The patches each candidate keeps.
    patch_entropy, pairwise_symmetric_kl : The entries of ``R``.

    Examples
    --------
    Two candidates of four patches; the second disagrees with itself:

    >>> import numpy as np
    >>> from sklearn_aift.scoring import candidate_scores
    >>> q = np.array([[0.9, 0.9, 0.9, 0.9], [0.9, 0.2, 0.8, 0.6]])
    >>> P = np.stack([1 - q, q], axis=-1)
    >>> candidate_scores(P, alpha=1.0).round(4)
    array([ 1.3003, 13.4059])

    Entropy only (``lambda2=0``) on all patches is the sum of patch entropies:

    >>> candidate_scores(P, alpha=1.0, lambda2=0.0).round(4)
    array([1.3003, 1.9989])
    """
    P = _as_proba_array(P)
    alpha = _check_alpha(alpha)
    lambda1, lambda2 = _check_lambdas(lambda1, lambda2)
    mask = _check_mask(patch_mask, P.shape)
    chunk_size = _check_chunk_size(chunk_size)
    if not isinstance(check_input, (bool, np.bool_)):
        raise ValueError(f"check_input must be True or False; got {check_input!r}.")
    return _candidate_scores(P, alpha, lambda1, lambda2, mask, chunk_size, bool(check_input))


def _candidate_scores(
    P: np.ndarray,
    alpha: float,
    lambda1: float,
    lambda2: float,
    mask: np.ndarray | None = None,
    chunk_size: int = _DEFAULT_CHUNK,
    check_input: bool = True,
) -> np.ndarray:
    """:func:`candidate_scores` on checked arguments: what the strategies call.

    ``P`` is a 3-D array of at least one patch and two classes (its shape
    checked by the strategy context), ``alpha`` and the lambdas were checked
    when the strategy was built. The values of ``P`` are checked here, in
    the scoring pass, unless ``check_input`` is False.
    """
    n, m, K = P.shape
    out = np.empty(n, dtype=np.float64)
    if K == 2 and mask is None:
        c = min(chunk_size, n)
        work = (np.empty((c, m)), np.empty(5 * c * _n_selected(m, alpha)))
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            _binary_uniform(P, start, stop, alpha, lambda1, lambda2, work, out, check_input)
    else:
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            _general_block(P, mask, start, stop, alpha, lambda1, lambda2, out, check_input)
    return out
