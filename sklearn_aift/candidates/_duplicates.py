"""Candidates with identical content: found once, reported once, one policy."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._identity import candidate_keys

__all__ = ["DuplicateReport", "find_duplicates"]

ON_CONFLICT = ("raise", "drop", "first")


class DuplicateReport:
    """Groups of candidates (or image files) with identical content.

    The policy: identical content is one candidate (the first of its group
    is kept, so an expert is never asked twice for the same pixels); a group
    whose members carry different known labels is a *conflict*, refused by
    default and otherwise resolved by an explicit ``on_conflict``.

    Parameters
    ----------
    digests : sequence of str
        The content digest of every item; equal digests mean identical content.
    labels : sequence or None, default=None
        The known label of every item (None: no labels, no conflicts).
    names : sequence of str or None, default=None
        What to call every item in the report (file paths); positions when None.

    Attributes
    ----------
    groups : list of ndarray of int
        Positions of the items of each group of identical content (2 or more,
        ascending: the first is the one kept).
    conflicts : list of ndarray of int
        The groups whose items carry different labels.
    n_items : int
        Items given.

    Examples
    --------
    >>> from sklearn_aift.candidates import DuplicateReport
    >>> report = DuplicateReport(["a", "b", "a", "c", "c"], labels=[0, 1, 0, 0, 1],
    ...                          names=["x.png", "y.png", "x2.png", "z.png", "z2.png"])
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    2 group(s) of identical content among 5 items (2 duplicate(s) beyond the first of
    each group); 1 group(s) with conflicting labels: conflict: [z.png (0), z2.png (1)];
    [x.png, x2.png] labeled 0
    >>> report.keep(on_conflict="drop").tolist(), report.keep(on_conflict="first").tolist()
    ([0, 1], [0, 1, 3])
    """

    def __init__(self, digests: Sequence[str], labels: Sequence | None = None,
                 names: Sequence[str] | None = None) -> None:
        digests = list(digests)
        self.n_items = len(digests)
        self.labels = None if labels is None else list(labels)
        self.names = [str(i) for i in range(self.n_items)] if names is None else \
            [str(n) for n in names]
        if self.labels is not None and len(self.labels) != self.n_items:
            raise ValueError(
                f"labels has {len(self.labels)} entries for {self.n_items} items; they must match."
            )
        if len(self.names) != self.n_items:
            raise ValueError(
                f"names has {len(self.names)} entries for {self.n_items} items; they must match."
            )
        members: dict[str, list[int]] = {}
        for position, digest in enumerate(digests):
            members.setdefault(digest, []).append(position)
        self.groups = [np.asarray(g, dtype=np.intp) for g in members.values() if len(g) > 1]
        self.conflicts = [g for g in self.groups if self._conflicting(g)]

    def _conflicting(self, group: np.ndarray) -> bool:
        if self.labels is None:
            return False
        first = self.labels[group[0]]
        return any(self.labels[i] != first for i in group[1:])

    def __bool__(self) -> bool:
        return bool(self.groups)

    @property
    def n_duplicates(self) -> int:
        """Items beyond the first of each group (those not kept as candidates)."""
        return sum(len(g) - 1 for g in self.groups)

    def _describe(self, group: np.ndarray, limit: int = 5) -> str:
        conflict = self._conflicting(group)
        shown = [
            f"{self.names[i]} ({self.labels[i]!r})" if conflict else self.names[i]
            for i in group[:limit]
        ]
        more = f", and {len(group) - limit} more" if len(group) > limit else ""
        text = f"[{', '.join(shown)}{more}]"
        if conflict:
            return f"conflict: {text}"
        if self.labels is not None:
            return f"{text} labeled {self.labels[group[0]]!r}"
        return text

    def __str__(self) -> str:
        if not self.groups:
            return f"no identical content among {self.n_items} items"
        head = (
            f"{len(self.groups)} group(s) of identical content among {self.n_items} items "
            f"({self.n_duplicates} duplicate(s) beyond the first of each group)"
        )
        if self.labels is not None:
            head += f"; {len(self.conflicts)} group(s) with conflicting labels"
        groups = sorted(self.groups, key=lambda g: (not self._conflicting(g), int(g[0])))
        shown = "; ".join(self._describe(g) for g in groups[:10])
        more = f"; and {len(groups) - 10} more group(s)" if len(groups) > 10 else ""
        return f"{head}: {shown}{more}"

    def __repr__(self) -> str:
        return (
            f"DuplicateReport(n_items={self.n_items}, groups={len(self.groups)}, "
            f"conflicts={len(self.conflicts)})"
        )

    def keep(self, on_conflict: str = "raise") -> np.ndarray:
        """Positions of the items to keep: one per content, conflicts by ``on_conflict``.

        Parameters
        ----------
        on_conflict : {"raise", "drop", "first"}, default="raise"
            What to do with a group of identical content carrying different
            labels: refuse (ValueError listing them), drop every item of the
            group, or keep the first item with its label.

        Returns
        -------
        positions : ndarray of int
            Ascending positions of the kept items.

        Raises
        ------
        ValueError
            If ``on_conflict`` is unknown, or is "raise" and there are conflicts.
        """
        if on_conflict not in ON_CONFLICT:
            raise ValueError(
                f"on_conflict must be one of {ON_CONFLICT}; got {on_conflict!r}."
            )
        if self.conflicts and on_conflict == "raise":
            listed = "; ".join(self._describe(g) for g in self.conflicts[:10])
            more = f"; and {len(self.conflicts) - 10} more" if len(self.conflicts) > 10 else ""
            raise ValueError(
                f"{len(self.conflicts)} group(s) of identical content carry different labels: "
                f"{listed}{more}. Correct the labels, or pass on_conflict='drop' (leave them "
                f"out) or on_conflict='first' (keep the first of each with its label)."
            )
        dropped = np.zeros(self.n_items, dtype=bool)
        for group in self.groups:
            if on_conflict == "drop" and self._conflicting(group):
                dropped[group] = True
            else:
                dropped[group[1:]] = True
        return np.flatnonzero(~dropped)


def find_duplicates(X: Any, y: Any = None, *, names: Sequence[str] | None = None
                    ) -> DuplicateReport:
    """Find the candidates of ``X`` with identical content.

    A :class:`CandidateSet` is compared by its sources' decoded content, its
    regions and protocol (no patches are made); other candidate arrays by
    their pixels.

    Parameters
    ----------
    X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or CandidateSet
        The candidates.
    y : array-like of shape (n,) or None, default=None
        Their known labels, to find conflicts.
    names : sequence of str or None, default=None
        What to call them in the report (file names).

    Returns
    -------
    report : DuplicateReport

    Raises
    ------
    UnreadableImageError
        If a source image of a :class:`CandidateSet` cannot be decoded.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import find_duplicates
    >>> X = np.zeros((3, 2, 1, 4, 4), dtype=np.uint8)
    >>> X[1] += 1
    >>> report = find_duplicates(X, [0, 1, 1])
    >>> [g.tolist() for g in report.groups], len(report.conflicts)
    ([[0, 2]], 1)
    """
    content = getattr(X, "content_keys", None)
    digests = content() if callable(content) else candidate_keys(X)
    labels = None if y is None else list(np.asarray(y, dtype=object))
    return DuplicateReport(digests, labels, names)
