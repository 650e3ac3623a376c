"""Checks and seeds shared by every package of sklearn-aift (internal, not public API).

Every layer may import from here, and only from here across package borders:
``_validation.py`` checks arguments (scalars, counts, images) at the public
edge and marks the calls whose inputs were validated there
(:func:`validated_inputs`), ``_random.py`` turns ``random_state`` into seeds
and generators, and ``_version.py`` holds the package version.
"""

from ._random import as_generator, check_random_state, derive_seed, resolve_seed
from ._validation import (
    check_count,
    check_image,
    check_int,
    check_window,
    inputs_validated,
    validated_inputs,
)

__all__ = [
    "as_generator",
    "check_count",
    "check_image",
    "check_int",
    "check_random_state",
    "check_window",
    "derive_seed",
    "inputs_validated",
    "resolve_seed",
    "validated_inputs",
]
