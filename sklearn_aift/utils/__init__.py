"""Checks and seeds shared by every package of sklearn-aift (internal, not public API).

Every layer may import from here, and only from here across package borders:
``_validation.py`` checks arguments (scalars, images) at the public edge, and
``_random.py`` turns ``random_state`` into seeds and generators.
"""

from ._random import as_generator, check_random_state, derive_seed, resolve_seed
from ._validation import check_image, check_int, check_window

__all__ = [
    "as_generator",
    "check_image",
    "check_int",
    "check_random_state",
    "check_window",
    "derive_seed",
    "resolve_seed",
]
