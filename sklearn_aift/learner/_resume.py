"""Session bookkeeping: what a store records about a learner, and resuming from it."""

from __future__ import annotations

import importlib
import json
from numbers import Integral
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..utils._version import __version__
from ..strategies import STRATEGY_NAMES, aift_sampling, describe_strategy, get_strategy
from ._errors import SessionError
from ._rounds import PendingRound
from ._session import SessionStore
from ._validation import is_fitted

__all__ = [
    "compare_params",
    "label_rows",
    "resolve_estimator",
    "resolve_strategy",
    "restore",
    "session_meta",
    "write_snapshot",
]

# Estimator parameters that do not change what a session computes and may
# differ when a session is resumed (e.g. on another machine).
_RUNTIME_PARAMS = frozenset({"verbose", "device"})


def _json_exact(value: Any) -> tuple[bool, Any]:
    """Return (exact, value) where value is a JSON form equal to ``value`` when exact."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return True, value
    if isinstance(value, Integral):
        return True, int(value)
    if isinstance(value, float):
        return bool(np.isfinite(value)), value
    if isinstance(value, (list, tuple)):
        items = [_json_exact(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: _json_exact(v) for k, v in value.items()}
        return all(ok for ok, _ in items.values()), {k: v for k, (_, v) in items.items()}
    return False, None


def _split_params(estimator: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Split ``get_params(deep=False)`` into JSON-exact values and reprs of the others."""
    if not hasattr(estimator, "get_params"):
        return {}, {}
    exact, reprs = {}, {}
    for key, value in sorted(estimator.get_params(deep=False).items()):
        ok, converted = _json_exact(value)
        if ok:
            exact[key] = converted
        else:
            reprs[key] = repr(value)
    return exact, reprs


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def session_meta(learner: Any) -> dict[str, Any]:
    """The metadata a new store records about ``learner``."""
    exact, reprs = _split_params(learner.estimator)
    return {
        "library_version": __version__,
        "strategy": describe_strategy(learner.query_strategy),
        "estimator_class": _class_path(learner.estimator),
        "estimator_params": exact,
        "estimator_params_repr": reprs,
        "classes": learner._classes_list,
        "random_state": None if learner.random_state is None else int(learner.random_state),
        "keep_pixels": bool(learner._keep_pixels),
    }


def resolve_strategy(meta: dict[str, Any], strategy: Callable | None, path: Path) -> Callable:
    """The given strategy if it matches the stored one, else the stored one rebuilt."""
    stored = meta.get("strategy")
    if strategy is not None:
        given = describe_strategy(strategy)
        if not _describes(strategy, stored):
            raise SessionError(
                f"query_strategy {given} does not match the strategy of session {path}: "
                f"{stored}. Pass the session's strategy (or None to use it)."
            )
        return strategy
    rebuilt = _strategy_from_description(stored)
    if rebuilt is None:
        raise SessionError(
            f"session {path} used the strategy {stored}, which cannot be rebuilt "
            f"automatically; pass it as query_strategy=."
        )
    return rebuilt


def _strategy_from_description(description: Any) -> Callable | None:
    """The strategy ``description`` names or its factory rebuilds, else None."""
    if not isinstance(description, dict):
        return None
    name = description.get("name")
    if name in STRATEGY_NAMES and _describes(get_strategy(name), description):
        return get_strategy(name)
    params = description.get("params")
    if description.get("factory") == "aift_sampling" and isinstance(params, dict):
        try:
            rebuilt = aift_sampling(**params)
        except (TypeError, ValueError):  # parameters this version does not accept
            return None
        if _describes(rebuilt, description):
            return rebuilt
    return None


def _describes(strategy: Callable, description: Any) -> bool:
    # through JSON, as the store keeps it: tuples become lists
    return json.loads(json.dumps(describe_strategy(strategy))) == description


def resolve_estimator(meta: dict[str, Any], estimator: Any, path: Path) -> Any:
    """The given estimator, or one rebuilt from the stored class and parameters."""
    if estimator is not None:
        return estimator
    class_path = str(meta.get("estimator_class", ""))
    module_name, _, qualname = class_path.rpartition(".")
    if not module_name.startswith("sklearn_aift") or meta.get("estimator_params_repr"):
        raise SessionError(
            f"session {path} used the estimator {class_path} with parameters that cannot be "
            f"rebuilt from the store; pass estimator= (a new estimator with the same "
            f"parameters)."
        )
    try:
        cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError) as exc:
        raise SessionError(
            f"cannot rebuild the estimator {class_path} of session {path}: {exc}"
        ) from exc
    return cls(**meta.get("estimator_params", {}))


def compare_params(meta: dict[str, Any], estimator: Any, path: Path) -> None:
    """Raise a SessionError unless ``estimator`` matches the stored class and parameters."""
    class_path = _class_path(estimator)
    if class_path != meta.get("estimator_class"):
        raise SessionError(
            f"the estimator is a {class_path}, but session {path} used a "
            f"{meta.get('estimator_class')}."
        )
    stored = meta.get("estimator_params", {})
    exact, _ = _split_params(estimator)
    differing = {
        key: (stored[key], exact[key])
        for key in sorted(set(stored) & set(exact) - _RUNTIME_PARAMS)
        if stored[key] != exact[key]
    }
    if differing:
        details = "; ".join(
            f"{key}: session {old!r}, given {new!r}" for key, (old, new) in differing.items()
        )
        raise SessionError(
            f"the estimator's parameters do not match those of session {path} ({details}). "
            f"Pass an estimator built with the session's parameters."
        )


def restore(learner: Any, store: SessionStore) -> None:
    """Fill a freshly reset ``learner`` with the labels, rounds and history of ``store``."""
    rounds = store.read_rounds()
    pixels = store.read_pixels()
    recorded = {r["round"] for r in rounds}
    for row in store.read_labels():
        key = row["candidate_key"]
        if key not in pixels and learner._keep_pixels:
            raise SessionError(f"the session store {store.path} lacks the pixels of {key}.")
        if row["round"] not in recorded:
            raise SessionError(
                f"the session store {store.path} holds label {key} of round "
                f"{row['round']}, which is not recorded."
            )
        learner._labeled.add(
            key, row["digest"], row["label"], row["round"], row["annotator"],
            row["labeled_at"], pixels.get(key),
        )
    last_trained, history, pending = 0, [], None
    for position, info in enumerate(rounds):
        if info["status"] in ("open", "labeled") and position != len(rounds) - 1:
            raise SessionError(
                f"the session store {store.path} has an unfinished round {info['round']} "
                f"before later rounds; it is inconsistent."
            )
        if info["status"] == "labeled":
            pending = PendingRound(info["round"], info["record"], info["only_new"])
        elif info["status"] != "open":
            history.append(info["record"])
            if info["status"] == "trained":
                last_trained = info["round"]
    closed = [r["round"] for r in rounds if r["status"] != "open"]
    learner._take_rounds(history, closed[-1] if closed else 0, last_trained, pending)
    checkpoint_round = store.read_meta().get("checkpoint_round")
    if last_trained and checkpoint_round != last_trained:
        raise SessionError(
            f"the session store {store.path} records round {last_trained} as trained but "
            f"holds the weights of round {checkpoint_round}; it is inconsistent."
        )


def label_rows(labeled: Any, positions: Any, *, with_pixels: bool) -> list[dict[str, Any]]:
    """The store rows (see ``SessionStore.record_labels``) of labeled candidates."""
    return [
        {
            "candidate_key": labeled.keys[p],
            "digest": labeled.digests[p],
            "label": labeled.labels[p],
            "annotator": labeled.annotators[p],
            "labeled_at": labeled.times[p],
            "pixels": labeled.pixels[p] if with_pixels else None,
        }
        for p in positions
    ]


def write_snapshot(learner: Any, store: SessionStore) -> None:
    """Write the learner's current labels, rounds and weights into an empty store."""
    labeled = learner._labeled
    open_round = learner.n_iter_ + 1
    records = [(r, "done") for r in learner.history_]
    if learner._pending is not None:
        records.append((learner._pending.record, "labeled"))
    if open_round in labeled.rounds:
        records.append((learner._round_record(open_round, False), "open"))
    for record, state in records:
        round_ = record["round"]
        positions = [p for p, r in enumerate(labeled.rounds) if r == round_]
        store.record_labels(
            round_, label_rows(labeled, positions, with_pixels=True), record,
            status="open" if state == "open" else "labeled", only_new=record["only_new"],
        )
        if state == "done":
            store.complete_round(
                round_, record, status="trained" if record["trained"] else "waiting"
            )
    last_trained = max((r["round"] for r in learner.history_ if r["trained"]), default=0)
    if learner._has_trained or is_fitted(learner.estimator):
        store.update_meta(**store.write_checkpoint(last_trained, learner.estimator.save_checkpoint))
