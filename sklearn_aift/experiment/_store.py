"""The resumable store of a comparison: one JSON-lines file per configuration."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..candidates import iter_candidate_batches
from ._results import _atomic_write, _json_safe

logger = logging.getLogger(__name__)

# 2: rows of round 0 (M0 before any label) were added
# 3: the methods left the key; a "method" record describes each method's strategy
_STORE_VERSION = 3

# ---------------------------------------------------------------------------
# The resumable result store
# ---------------------------------------------------------------------------


class _ResultStore:
    """Append-only JSON-lines file of the records of one run configuration.

    The first line is a header with the format version and the configuration
    key; every later line is a record: ``{"type": "round", ...}`` (one result
    row), ``{"type": "done", "method", "seed", "n_rounds"}`` (a (method, seed)
    finished), ``{"type": "method", "method", "strategy"}`` (the strategy the
    method's records were computed with) or ``{"type": "full_data", "seed",
    "auc", ...}``. Each record is
    flushed and fsynced when written, so a killed run loses at most the line
    being written, which is dropped on the next load.
    """

    def __init__(self, path: Path, key: str, config: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.key = key
        self.config = dict(config)

    def load(self) -> list[dict[str, Any]]:
        """Read the records (creating the file with its header when missing)."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = {"type": "header", "version": _STORE_VERSION, "key": self.key,
                      "config": self.config}
            _atomic_write(self.path, lambda fh: fh.write(json.dumps(_json_safe(header)) + "\n"))
            return []
        with open(self.path, "rb") as fh:
            raw = fh.read()
        lines = raw.split(b"\n")
        records: list[dict[str, Any]] = []
        good_bytes = 0
        for i, line in enumerate(lines):
            if not line.strip():
                good_bytes += len(line) + 1
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if i == len(lines) - 1 or all(not rest.strip() for rest in lines[i + 1:]):
                    logger.warning("dropping a partly written last record of %s", self.path)
                    break
                raise ValueError(
                    f"the result store {self.path} is corrupt at line {i + 1}; delete it to "
                    f"start this run afresh."
                ) from None
            good_bytes += len(line) + 1
            records.append(record)
        if not records or records[0].get("type") != "header":
            raise ValueError(f"the result store {self.path} has no header line; delete it.")
        header = records.pop(0)
        if header.get("version", 0) > _STORE_VERSION:
            raise ValueError(
                f"the result store {self.path} was written by a newer version of sklearn-aift "
                f"(format {header.get('version')}; this one reads up to {_STORE_VERSION})."
            )
        if header.get("key") != self.key:
            raise ValueError(
                f"the result store {self.path} belongs to another configuration "
                f"(key {header.get('key')!r}, expected {self.key!r})."
            )
        if good_bytes < len(raw):
            with open(self.path, "r+b") as fh:
                fh.truncate(min(good_bytes, len(raw)))
        return records

    def load_for(self, strategies: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Read the records, keeping only those computed with ``strategies``.

        ``strategies`` maps each method of the run to its strategy's
        description. A method first seen gets a ``"method"`` record; the
        records of a method whose strategy has changed since are dropped (the
        method runs again), with a log line saying so. Methods of earlier runs
        that this run does not name are kept as they are.
        """
        records = self.load()
        described = {r["method"]: r["strategy"] for r in records if r.get("type") == "method"}
        changed = {m for m, d in strategies.items()
                   if m in described and json.loads(json.dumps(_json_safe(d))) != described[m]}
        if changed:
            logger.info("the strategies of %s changed since %s was written: running them again",
                        sorted(changed), self.path)
            records = [r for r in records if r.get("method") not in changed]
            self.rewrite(records)
        for method, description in strategies.items():
            if method not in described or method in changed:
                record = {"type": "method", "method": method, "strategy": description}
                self.append(record)
                records.append(_json_safe(record))
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(_json_safe(dict(record))) + "\n"
        with open(self.path, "a") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def rewrite(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Replace the records (atomically), keeping the header."""
        header = {"type": "header", "version": _STORE_VERSION, "key": self.key,
                  "config": self.config}
        lines = [json.dumps(_json_safe(header))] + [json.dumps(_json_safe(dict(r))) for r in records]
        _atomic_write(self.path, lambda fh: fh.write("\n".join(lines) + "\n"))


def _stable_repr(value: Any) -> Any:
    """A JSON-able description of a parameter value without memory addresses."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return _stable_repr(value.item())
    if isinstance(value, (list, tuple)):
        return [_stable_repr(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _stable_repr(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, np.ndarray):
        return {"ndarray": hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if hasattr(value, "get_params"):
        try:
            return {kind: _stable_repr(value.get_params(deep=False))}
        except Exception:  # noqa: BLE001 - fall back to the type name
            return kind
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return kind


# Parameters that change speed or logging, never the results.
_IGNORED_PARAMS = {"activation_cache", "verbose"}


def _estimator_signature(estimator: Any) -> dict[str, Any]:
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return {
        "class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "params": {k: _stable_repr(v) for k, v in sorted(params.items())
                   if k not in _IGNORED_PARAMS},
    }


def _data_fingerprint(X: Any, y: Any) -> str:
    """SHA-256 of a candidate set's content (stable keys for lazy sets) and labels."""
    h = hashlib.sha256()
    h.update(repr(tuple(int(s) for s in X.shape)).encode())
    keys = getattr(X, "candidate_keys", None)
    if callable(keys):
        h.update(b"keys")
        for key in keys():
            h.update(str(key).encode())
            h.update(b"\0")
    elif isinstance(X, np.ndarray):
        h.update(str(X.dtype).encode())
        flat = np.ascontiguousarray(X).reshape(len(X), -1) if len(X) else X
        for start in range(0, len(X), 256):
            h.update(memoryview(np.ascontiguousarray(flat[start:start + 256])).cast("B"))
    else:
        for _, batch in iter_candidate_batches(X, 64):
            h.update(str(batch.dtype).encode())
            h.update(memoryview(np.ascontiguousarray(batch)).cast("B"))
    h.update(json.dumps(_json_safe(np.asarray(y).tolist())).encode())
    return h.hexdigest()


