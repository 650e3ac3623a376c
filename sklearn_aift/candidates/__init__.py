"""Candidate arrays: validation and batched materialisation.

A *candidate* is a bag of ``m`` patches of one image region. Every module that
takes candidates accepts either a NumPy array of shape ``(n, m, C, H, W)``
(``(n, C, H, W)`` meaning one patch per candidate) or a lazy array-like object
with ``.shape``, ``len()`` and integer-array indexing that returns the same
kind of object (such as :class:`CandidateSet`).

Private modules: ``_validation`` (checks and materialisation), ``_identity``
(candidate keys and pixel digests), ``_sources`` (images, regions and the
patch cache behind a candidate set), ``_duplicates`` (identical content) and
``_candidate_set``.
"""

from ._candidate_set import CandidateSet, concatenate_candidates
from ._duplicates import ON_CONFLICT, DuplicateReport, find_duplicates
from ._identity import KeyedCandidates, candidate_keys, pixel_digest
from ._validation import (
    check_candidate_labels,
    check_class_list,
    check_label_kinds,
    check_candidates,
    check_pixel_values,
    iter_candidate_batches,
    materialize,
)

__all__ = [
    "ON_CONFLICT",
    "CandidateSet",
    "DuplicateReport",
    "find_duplicates",
    "KeyedCandidates",
    "candidate_keys",
    "concatenate_candidates",
    "pixel_digest",
    "check_candidates",
    "check_candidate_labels",
    "check_class_list",
    "check_label_kinds",
    "check_pixel_values",
    "iter_candidate_batches",
    "materialize",
]
