"""The labeled set ``L`` held in memory: candidates, labels, rounds and who gave them."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

__all__ = ["LabeledSet"]


class LabeledSet:
    """The labeled candidates, in the order they were first taught.

    Each entry holds the candidate's key (its identity, see
    :func:`~sklearn_aift.candidates.candidate_keys`), the digest of its pixels,
    its pixels (None when the session reads them from the pool), its current
    label, the round of its latest label, who gave it and when. A candidate
    appears once; relabeling replaces its label.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.digests: list[str] = []
        self.labels: list[Any] = []
        self.rounds: list[int] = []
        self.annotators: list[str | None] = []
        self.times: list[str] = []
        self.pixels: list[np.ndarray] = []
        self._position: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, key: str, digest: str | None = None) -> int | None:
        """Position of the candidate known by ``key`` (or whose pixels have ``digest``)."""
        position = self._position.get(key)
        if position is None and digest is not None:
            position = self._position.get(digest)
        return position

    def alias(self, key: str, position: int) -> None:
        """Know ``key`` (another candidate with identical pixels) as the one at ``position``."""
        self._position.setdefault(key, position)

    def known(self) -> set[str]:
        """Every key and pixel digest of a labeled candidate."""
        return set(self._position)

    def add(
        self, key: str, digest: str, label: Any, round_: int, annotator: str | None, at: str,
        pixels: np.ndarray,
    ) -> None:
        """Append a new labeled candidate."""
        position = len(self.keys)
        self._position[key] = position
        self._position.setdefault(digest, position)
        self.keys.append(key)
        self.digests.append(digest)
        self.labels.append(label)
        self.rounds.append(int(round_))
        self.annotators.append(annotator)
        self.times.append(at)
        self.pixels.append(pixels)

    def relabel(
        self, position: int, label: Any, round_: int, annotator: str | None, at: str
    ) -> None:
        """Give the candidate at ``position`` a new label (in round ``round_``)."""
        self.labels[position] = label
        self.rounds[position] = int(round_)
        self.annotators[position] = annotator
        self.times[position] = at

    def remove(self, position: int) -> None:
        """Forget the candidate at ``position`` (its label was withdrawn)."""
        for column in (self.keys, self.digests, self.labels, self.rounds, self.annotators,
                       self.times, self.pixels):
            del column[position]
        self._position = {key: p - (p > position) for key, p in self._position.items()
                          if p != position}

    def check_like(self, pixels: np.ndarray) -> None:
        """Raise a ValueError unless ``pixels`` are candidates like the labeled ones."""
        first = next((p for p in self.pixels if p is not None), None)
        if first is None:
            return
        if pixels.dtype != first.dtype or pixels.shape[1:] != first.shape:
            raise ValueError(
                f"X holds candidates of shape {pixels.shape[1:]} and dtype {pixels.dtype}, but "
                f"the labeled set holds {first.shape} {first.dtype}; teach candidates like "
                f"those of the pool."
            )

    def changes(self, keys: list[str], labels: list[Any], *, strict: bool) -> list[int]:
        """Rows of a taught batch that add or change a label (repeats are dropped).

        Raises a ValueError when the batch gives one candidate two labels, or,
        with ``strict``, when it relabels a labeled candidate.
        """
        changes: list[int] = []
        in_batch: dict[str, int] = {}
        for j, (key, label) in enumerate(zip(keys, labels)):
            if key in in_batch:
                if labels[in_batch[key]] != label:
                    raise ValueError(
                        f"X holds candidate {key} twice, labeled {labels[in_batch[key]]!r} "
                        f"and {label!r}; give each candidate one label."
                    )
                continue
            in_batch[key] = j
            position = self.find(key)
            if position is not None and self.labels[position] == label:
                continue
            if position is not None and strict:
                raise ValueError(
                    f"candidate {key} is already labeled {self.labels[position]!r}; with "
                    f"strict=True it cannot be relabeled {label!r}."
                )
            changes.append(j)
        return changes

    def positions_after(self, round_: int) -> list[int]:
        """Positions of the candidates whose latest label came after round ``round_``."""
        return [p for p, r in enumerate(self.rounds) if r > round_]

    def stack(self, positions: Iterable[int]) -> np.ndarray:
        """The pixels of the candidates at ``positions``, stacked."""
        parts = [self.pixels[p] for p in positions]
        if any(part is None for part in parts):
            raise ValueError(
                "the session keeps no pixels of candidates read from files (keep_pixels=False); "
                "their pixels come from the pool passed to query()."
            )
        dtypes = {part.dtype for part in parts}
        if len(dtypes) > 1:
            raise ValueError(
                f"the labeled candidates mix pixel dtypes {sorted(map(str, dtypes))}; teach "
                f"candidates with the same dtype as the pool (uint8 or float)."
            )
        return np.stack(parts)

    def records(self) -> list[dict[str, Any]]:
        """One dict per labeled candidate (see ``ActiveLearner.labels_``)."""
        return [
            {"candidate_key": k, "label": y, "round": r, "annotator": a, "labeled_at": t}
            for k, y, r, a, t in zip(
                self.keys, self.labels, self.rounds, self.annotators, self.times
            )
        ]
