"""Argument types shared by the ``sklearn-aift`` sub-commands (one-line errors)."""

from __future__ import annotations

import argparse
from typing import Any, Callable


class UsageError(Exception):
    """A command-line or data problem, reported as one line with exit status 2."""


def number_type(convert: Callable[[str], Any], accept: Callable[[Any], bool],
                expected: str) -> Callable[[str], Any]:
    """An argparse ``type`` converting with ``convert`` and checking with ``accept``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


positive_int = number_type(int, lambda v: v >= 1, "a positive integer")
any_int = number_type(int, lambda v: True, "an integer")
fraction = number_type(float, lambda v: 0 < v < 1, "a number in (0, 1)")
positive_float = number_type(float, lambda v: v > 0, "a positive number")
#: A patch or input side: 8 to 2048 pixels (larger ones exhaust memory long before use).
image_side = number_type(int, lambda v: 8 <= v <= 2048, "a side of 8 to 2048 pixels")
