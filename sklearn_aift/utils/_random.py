"""Seeds and random generators from ``random_state`` arguments.

``random_state`` is None, an int, a :class:`numpy.random.Generator` or a
:class:`numpy.random.RandomState` everywhere in the package.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

_EXPECTED = "None, an int, a numpy Generator or a RandomState"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def resolve_seed(random_state: Any) -> int:
    """One int seed from ``random_state`` (a fresh one for None).

    Parameters
    ----------
    random_state : None, int, Generator or RandomState
        A non-negative int is returned as is; a generator draws the seed.

    Returns
    -------
    seed : int
        In ``[0, 2**63)``.

    Raises
    ------
    TypeError
        If ``random_state`` is of another type (bool included).
    ValueError
        If it is a negative int.

    Examples
    --------
    >>> from sklearn_aift.utils import resolve_seed
    >>> resolve_seed(7)
    7
    """
    if _is_int(random_state):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int; got {random_state}.")
        return int(random_state)
    if random_state is None:
        return int(np.random.default_rng().integers(2**63))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(f"random_state must be {_EXPECTED}; got {random_state!r}.")


def as_generator(random_state: Any) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``random_state``.

    Parameters
    ----------
    random_state : None, int, Generator or RandomState
        A Generator is returned as is; a RandomState seeds a new one.

    Returns
    -------
    rng : numpy.random.Generator

    Raises
    ------
    TypeError
        If ``random_state`` is of another type (bool included).

    Examples
    --------
    >>> from sklearn_aift.utils import as_generator
    >>> float(as_generator(0).random()) == float(as_generator(0).random())
    True
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or _is_int(random_state):
        return np.random.default_rng(random_state)
    raise TypeError(f"random_state must be {_EXPECTED}; got {random_state!r}.")


def check_random_state(random_state: Any) -> np.random.Generator | np.random.RandomState:
    """The generator ``random_state`` names, as :func:`sklearn.utils.check_random_state`.

    Unlike scikit-learn's, a :class:`numpy.random.Generator` is accepted and
    returned as is; None and ints give a new RandomState, so a seed draws the
    same numbers as scikit-learn's would.

    Parameters
    ----------
    random_state : None, int, Generator or RandomState

    Returns
    -------
    rng : numpy.random.Generator or numpy.random.RandomState

    Raises
    ------
    ValueError
        If ``random_state`` is of another type (bool included).

    Examples
    --------
    >>> from sklearn_aift.utils import check_random_state
    >>> type(check_random_state(0)).__name__
    'RandomState'
    """
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if random_state is None or _is_int(random_state):
        return np.random.RandomState(random_state)
    raise ValueError(
        f"random_state must be None, an int, a numpy RandomState or Generator; got "
        f"{random_state!r}."
    )


def derive_seed(*keys: int) -> int:
    """A seed derived from integer ``keys`` (a base seed, a fit number, ...).

    Equal keys give equal seeds, different keys independent ones
    (:class:`numpy.random.SeedSequence`).

    Parameters
    ----------
    *keys : int
        Non-negative integers.

    Returns
    -------
    seed : int
        In ``[0, 2**32)``.

    Examples
    --------
    >>> from sklearn_aift.utils import derive_seed
    >>> derive_seed(3, 1) == derive_seed(3, 1) != derive_seed(3, 2)
    True
    """
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])
