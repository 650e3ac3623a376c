"""The checks and seeds every package shares (sklearn_aift.utils)."""

import numpy as np
import pytest

from sklearn_aift.utils import (
    as_generator,
    check_image,
    check_int,
    check_random_state,
    derive_seed,
    resolve_seed,
)


@pytest.mark.parametrize("value", [3, np.int64(3)])
def test_check_int_returns_a_python_int(value):
    assert check_int(value, "n") == 3 and type(check_int(value, "n")) is int


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (0, {}, "n must be a positive integer; got 0."),
        (True, {}, "n must be a positive integer; got True."),
        (1.0, {}, "n must be a positive integer; got 1.0."),
        (-1, {"min_value": 0}, "n must be a non-negative integer; got -1."),
        (31, {"min_value": 32}, "n must be an integer >= 32; got 31."),
        ("2", {"allow_none": True}, "n must be a positive integer or None; got '2'."),
    ],
)
def test_check_int_names_argument_value_and_expectation(value, kwargs, message):
    with pytest.raises(ValueError) as info:
        check_int(value, "n", **kwargs)
    assert str(info.value) == message


def test_check_int_none_only_when_allowed():
    assert check_int(None, "n", allow_none=True) is None
    with pytest.raises(ValueError, match="got None"):
        check_int(None, "n")


def test_check_image_adds_the_channel_axis_and_refuses_floats():
    assert check_image(np.zeros((2, 3), np.uint8)).shape == (2, 3, 1)
    with pytest.raises(TypeError, match="uint8"):
        check_image(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        check_image(np.zeros((2, 3, 4), np.uint8))


def test_resolve_seed():
    assert resolve_seed(5) == 5
    assert resolve_seed(np.random.default_rng(0)) == resolve_seed(np.random.default_rng(0))
    assert 0 <= resolve_seed(None) < 2**63
    with pytest.raises(ValueError, match="non-negative"):
        resolve_seed(-1)
    for bad in (True, 1.5, "0"):
        with pytest.raises(TypeError, match="random_state must be"):
            resolve_seed(bad)


def test_generators():
    assert as_generator(0).random() == as_generator(0).random()
    rng = np.random.default_rng(0)
    assert as_generator(rng) is rng and check_random_state(rng) is rng
    # ints give scikit-learn's RandomState stream
    assert check_random_state(3).random() == np.random.RandomState(3).random()
    with pytest.raises(TypeError):
        as_generator("0")
    with pytest.raises(ValueError, match="random_state must be"):
        check_random_state(1.5)


def test_derive_seed_is_stable_and_separates_keys():
    assert derive_seed(1, 2) == derive_seed(1, 2)
    assert len({derive_seed(1, 0), derive_seed(1, 1), derive_seed(2, 0)}) == 3
