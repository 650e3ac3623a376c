"""Reading a session store's labels, label history, rounds and pixels."""

from __future__ import annotations

import io
import json
import zlib
from typing import Any

import numpy as np

__all__ = ["SessionReads", "array_to_blob"]


def array_to_blob(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return zlib.compress(buffer.getvalue(), 1)


def _blob_to_array(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(zlib.decompress(blob)), allow_pickle=False)


class SessionReads:
    """The read methods of :class:`SessionStore` (mixed into it)."""

    def read_labels(self) -> list[dict[str, Any]]:
        """Return the current label of every labeled candidate, in the order first taught.

        Returns
        -------
        rows : list of dict
            Keys ``seq``, ``candidate_key``, ``digest``, ``label`` (decoded
            JSON), ``round`` (the round of its latest label), ``annotator``
            and ``labeled_at`` (of its latest label).

        Raises
        ------
        SessionError
            If a stored label is not valid JSON.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).read_labels()
        []
        """
        columns = ("seq", "candidate_key", "digest", "label", "round", "annotator", "labeled_at")
        return self._read_rows("labels", columns, json_columns=("label",))

    def read_label_history(self) -> list[dict[str, Any]]:
        """Return every label ever given, in the order given (the audit trail).

        Returns
        -------
        events : list of dict
            Keys ``seq``, ``candidate_key``, ``label``, ``previous`` (the label
            it replaced, None for a first label), ``round``, ``annotator``
            (who or what gave it, e.g. ``"oracle"``, a user name, ``"import"``;
            None when not given) and ``labeled_at`` (UTC ISO 8601 time).

        Raises
        ------
        SessionError
            If a stored label is not valid JSON.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).read_label_history()
        []
        """
        columns = (
            "seq", "candidate_key", "label", "previous", "round", "annotator", "labeled_at"
        )
        return self._read_rows("label_events", columns, json_columns=("label", "previous"))

    def _read_rows(
        self, table: str, columns: tuple[str, ...], *, json_columns: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        def decode(rows: list[tuple]) -> list[dict[str, Any]]:
            out = [dict(zip(columns, row)) for row in rows]
            for row in out:
                for name in json_columns:
                    row[name] = None if row[name] is None else json.loads(row[name])
            return out

        return self._read(
            f"SELECT {', '.join(columns)} FROM {table} ORDER BY seq", decode, "an invalid label"
        )

    def read_rounds(self) -> list[dict[str, Any]]:
        """Return every round's status, ``only_new`` flag and history record.

        Returns
        -------
        rounds : list of dict
            Keys ``round``, ``status`` (``'open'``, ``'labeled'``,
            ``'trained'`` or ``'waiting'``), ``only_new`` (bool) and
            ``record``, ordered by round.

        Raises
        ------
        SessionError
            If a record is not valid JSON.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).read_rounds()
        []
        """
        return self._read(
            "SELECT round, status, only_new, record FROM rounds ORDER BY round",
            lambda rows: [
                {"round": r, "status": s, "only_new": bool(o), "record": json.loads(rec)}
                for r, s, o, rec in rows
            ],
            "an invalid round",
        )

    def read_pixels(self) -> dict[str, np.ndarray]:
        """Return the stored pixels of every labeled candidate.

        Returns
        -------
        pixels : dict of str to ndarray
            By candidate key.

        Raises
        ------
        SessionError
            If a stored array cannot be decoded.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).read_pixels()
        {}
        """
        return self._read(
            "SELECT candidate_key, pixels FROM pixels",
            lambda rows: {key: _blob_to_array(blob) for key, blob in rows},
            "unreadable candidate pixels",
            errors=(ValueError, OSError, zlib.error),
        )
