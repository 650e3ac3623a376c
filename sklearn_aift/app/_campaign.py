"""A labeling campaign over a folder of images: the learner side of `sklearn-aift label`.

The web server only talks to :class:`LabelingCampaign`: scan the folder into a pool of
frame candidates, query an AIFT-ranked batch, record a label (committed before
the call returns), undo or skip, fine-tune in a background thread once the
batch is complete, report status and export the labels. Everything is kept in
the session folder, so the same command resumes after any crash.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..augment import FrameProtocol
from ..candidates import CandidateSet
from ..io import IMAGE_EXTENSIONS, UnreadableImageError, is_dicom, verify_image
from ..strategies import describe_strategy, entropy_diversity_quarter
from ._lock import SessionLock
from ._store import CampaignStore, utc_now

__all__ = ["LabelingCampaign"]

_logger = logging.getLogger(__name__)

_STORE_FILE = "campaign.sqlite"
_CHECKPOINTS = "checkpoints"
_MAX_ANNOTATOR = 64
# how candidate ids are made: the content key of each image (``CandidateSet.content_keys``);
# sessions without this mark used path, size and modification time, and are renamed on open
_IDS = "content-v1"


def list_folder_images(root: Path, extensions: Sequence[str] = IMAGE_EXTENSIONS,
                       ignored: list | None = None) -> list[Path]:
    """Image files under ``root`` (nested folders included, hidden ones skipped), sorted.

    DICOM files count whatever their extension (``DICM`` at byte 128) when
    ``.dcm`` is among the extensions; other files are appended to ``ignored``
    when given. Symbolic links that resolve outside ``root`` are left out with
    a warning: the server only ever serves files inside the folder it was given.
    """
    exts = tuple(e.lower() for e in extensions)
    inside = Path(root).resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_symlink() and not path.resolve().is_relative_to(inside):
                _logger.warning("skipping %s: a link to %s, outside %s", path, path.resolve(),
                                inside)
                continue
            if path.suffix.lower() in exts or (".dcm" in exts and is_dicom(path)):
                found.append(path)
            elif ignored is not None:
                ignored.append(path)
    return sorted(found)


class _StrategyView:
    """What a query strategy needs from a learner: the model and the labels held."""

    def __init__(self, estimator: Any, y_training: np.ndarray, classes: list[int]) -> None:
        self.estimator = estimator
        self.y_training = y_training
        self.classes = classes

    def predict_patch_proba(self, X: Any) -> np.ndarray:
        return self.estimator.predict_patch_proba(X)


class LabelingCampaign:
    """An AIFT labeling campaign over a folder of images, durable in a session folder.

    Parameters
    ----------
    images_dir : path-like
        Folder of images (nested folders allowed). Each image is a candidate
        whose patches come from ``protocol``. The folder is scanned again at
        every new round, so images added meanwhile join the pool.
    session : path-like
        Session folder: created when missing, resumed when it exists.
    estimator : estimator object
        The model (usually :class:`~sklearn_aift.net.AIFTNet`) with
        ``predict_patch_proba``, ``fit`` (continuing from the current weights),
        ``save_checkpoint`` and ``load_checkpoint``.
    classes : sequence of str, default=("negative", "positive")
        Class names, in the order of the keyboard digits 1, 2, ...
    batch_size : int, default=10
        Candidates per round.
    strategy : callable, default=entropy_diversity_quarter
        A query strategy of :mod:`sklearn_aift.strategies`.
    protocol : patch protocol, default=None
        A deterministic whole-image protocol; None means ``FrameProtocol()``.
    random_state : int, default=0
        Seeds the strategy (round ``t`` uses ``random_state + t``).
    labels : path-like, default=None
        A CSV file ``file,label`` imported (see :meth:`import_labels`) before
        the first query.
    labels_from_folders : bool, default=False
        Use top-level sub-folders named like classes as known labels (see
        :meth:`labels_from_folders`) before the first query.

    Raises
    ------
    ValueError
        If an argument is invalid, or the session was made with other classes
        or another folder.
    SessionInUseError
        If another campaign (in this process or another) has the session open.

    Notes
    -----
    A candidate is known by its content (the key of
    :meth:`~sklearn_aift.candidates.CandidateSet.content_keys`), so a file
    touched, copied or renamed keeps its labels, and files holding the same
    image are one candidate. Sessions written when candidates were known by
    path, size and modification time are converted when opened, by the file
    recorded with each row. An undecided image of the current batch whose file
    disappears or becomes unreadable is dropped from the batch (its events
    stay) and the strategy's next pick takes its place. The session folder is
    locked (``campaign.lock``) until :meth:`close` or the end of the process.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from sklearn_aift import AIFTNet, FrameProtocol
    >>> from sklearn_aift.app import LabelingCampaign
    >>> root = Path(tempfile.mkdtemp())
    >>> for i in range(6):
    ...     Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(root / f"{i}.png")
    >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
    ...               max_epochs_incremental=1, batch_size=4, random_state=0)
    >>> campaign = LabelingCampaign(root, root / "session", net, batch_size=2,
    ...                     protocol=FrameProtocol(n_patches=5, patch_size=32))
    >>> campaign.wait_idle()
    True
    >>> batch = campaign.batch()
    >>> len(batch)
    2
    >>> for candidate in batch:
    ...     _ = campaign.label(candidate["id"], "positive")
    >>> campaign.wait_idle() and campaign.status()["completed_rounds"]
    1
    >>> campaign.close()
    """

    def __init__(
        self,
        images_dir: str | os.PathLike,
        session: str | os.PathLike,
        estimator: Any,
        *,
        classes: Sequence[str] = ("negative", "positive"),
        batch_size: int = 10,
        strategy: Callable = entropy_diversity_quarter,
        protocol: Any = None,
        random_state: int = 0,
        labels: str | os.PathLike | None = None,
        labels_from_folders: bool = False,
    ) -> None:
        self.images_dir = Path(images_dir).resolve()
        if not self.images_dir.is_dir():
            raise ValueError(f"images_dir must be an existing folder; got {str(images_dir)!r}.")
        self.classes = _check_classes(classes)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or (
            batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        self.batch_size = int(batch_size)
        self.strategy = strategy
        self.protocol = FrameProtocol() if protocol is None else protocol
        if getattr(self.protocol, "uses_random_state", False):
            raise ValueError(
                f"protocol must be deterministic (its patches identify a candidate across "
                f"scans of a growing folder); got {self.protocol!r}."
            )
        self.random_state = int(random_state)
        self.estimator = estimator
        self.session = Path(session)
        self.session.mkdir(parents=True, exist_ok=True)
        # one process per session, before anything in it is read or written
        self._session_lock = SessionLock(self.session)
        try:
            self._open(labels, labels_from_folders)
        except BaseException:
            if hasattr(self, "_store"):
                self._store.close()
            self._session_lock.release()
            raise

    def _open(self, labels: Any, labels_from_folders: bool) -> None:
        (self.session / _CHECKPOINTS).mkdir(exist_ok=True)
        self._store = CampaignStore(self.session / _STORE_FILE)
        self._check_session()
        self._set_estimator_classes()
        self._lock = threading.RLock()
        self._files: dict[str, Path] = {}  # id -> its file (the latest scan's when present)
        self._present: set[str] = set()  # ids of the latest scan
        self._ids_by_file: dict[str, str] = {}  # relative file -> id (duplicates included)
        self._skipped: set[Path] = set()  # files skipped and said so
        self._recheck = True  # look for batch images that disappeared
        self._pool: Any = None
        self._pool_ids: np.ndarray = np.empty(0, dtype=object)
        self._phase = "starting"
        self._message = "starting"
        self._progress: float | None = None
        self._phase_started = time.monotonic()
        self._error: str | None = None
        self._worker: threading.Thread | None = None
        self._active = False  # a worker runs or is about to
        self._closed = False
        self._expected: float | None = None
        self._warmed = False
        rounds = self._store.rounds()
        self._round = rounds[-1]["round"] + 1 if rounds else 1
        self._checkpoint_to_load = rounds[-1]["checkpoint"] if rounds else None
        self._scan()
        self._rename_old_ids()
        if labels_from_folders:
            self.labels_from_folders()
        if labels is not None:
            self.import_labels(labels)
        self._start_worker()

    # -- set-up -----------------------------------------------------------------------
    def _check_session(self) -> None:
        stored_classes = self._store.get_meta("classes")
        stored_dir = self._store.get_meta("images_dir")
        if stored_classes is None:
            self._store.set_meta(
                candidate_ids=_IDS,
                classes=self.classes,
                images_dir=str(self.images_dir),
                created=utc_now(),
                strategy=describe_strategy(self.strategy).get("name", repr(self.strategy)),
            )
            return
        if stored_classes != self.classes:
            raise ValueError(
                f"classes={self.classes!r} but the session at {str(self.session)!r} labels "
                f"{stored_classes!r}; pass the session's classes or a new session folder."
            )
        if stored_dir != str(self.images_dir):
            raise ValueError(
                f"images_dir={str(self.images_dir)!r} but the session at {str(self.session)!r} "
                f"labels images of {stored_dir!r}; pass that folder or a new session folder."
            )

    def _set_estimator_classes(self) -> None:
        params = self.estimator.get_params() if hasattr(self.estimator, "get_params") else {}
        codes = list(range(len(self.classes)))
        if "classes" in params:
            if params["classes"] is None:
                self.estimator.set_params(classes=codes)
            elif list(params["classes"]) != codes:
                raise ValueError(
                    f"estimator has classes={params['classes']!r}; the campaign trains it on "
                    f"class codes {codes} (one per class name); leave the estimator's classes "
                    f"unset."
                )

    def _scan(self) -> None:
        """Scan the folder into a new pool; previously seen images stay servable.

        A candidate's id is its content key, so a file keeps its id when it is
        touched, copied or renamed. Files with identical content are one
        candidate (the first, in sorted order, is shown).
        """
        ignored: list[Path] = []
        paths, first, readable = [], {}, []
        for path in list_folder_images(self.images_dir, ignored=ignored):
            digest = self._digest(path)
            if digest is None:
                continue
            readable.append((path, digest))
            if digest in first:
                if path not in self._skipped:
                    _logger.warning("%s holds the same image as %s: labeled once, as %s",
                                    path, first[digest], first[digest])
                    self._skipped.add(path)
                continue
            first[digest] = path
            paths.append(path)
        for path in ignored:
            if path not in self._skipped:
                _logger.warning("skipping %s: not an image extension %s", path, IMAGE_EXTENSIONS)
                self._skipped.add(path)
        if not paths:
            raise ValueError(
                f"images_dir {str(self.images_dir)!r} holds no images with extensions "
                f"{IMAGE_EXTENSIONS}."
            )
        pool = CandidateSet([str(p) for p in paths], self.protocol, image_mode="RGB")
        ids = np.asarray(pool.content_keys(), dtype=object)
        id_of = {digest: key for digest, key in zip(first, ids.tolist())}
        by_file = {self._relative(path): id_of[digest] for path, digest in readable}
        with self._lock:
            self._pool, self._pool_ids = pool, ids
            self._files.update(zip(ids.tolist(), paths))
            self._present = set(ids.tolist())
            self._ids_by_file = by_file
        _logger.info("scanned %s: %d images", self.images_dir, len(paths))

    def _digest(self, path: Path, warn: bool = True) -> str | None:
        """The content digest (decoded once per path, size and mtime); None if unreadable."""
        try:
            return verify_image(path)
        except UnreadableImageError as exc:
            if warn and path not in self._skipped:
                _logger.warning("skipping %s", exc)
                self._skipped.add(path)
            return None

    def _rename_old_ids(self) -> None:
        """Give a session made with path-based ids the content ids, by each row's file."""
        if self._store.get_meta("candidate_ids") == _IDS:
            return
        changed = self._store.rename_candidates(self._ids_by_file, candidate_ids=_IDS)
        _logger.info("session %s: %d stored rows now identify their image by its content",
                     self.session, changed)

    def _available(self, candidate_id: str) -> bool:
        """Whether a candidate's image is in the folder and decodes (a stat when unchanged)."""
        path = self._files.get(candidate_id)
        return (candidate_id in self._present and path is not None
                and self._digest(path, warn=False) is not None)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.images_dir).as_posix()

    # -- background work --------------------------------------------------------------
    def _set_phase(self, phase: str, message: str, progress: float | None = None) -> None:
        with self._lock:
            self._phase, self._message, self._progress = phase, message, progress
            self._phase_started = time.monotonic()
        _logger.info("%s", message)

    def _start_worker(self) -> None:
        with self._lock:
            if self._active:
                return
            self._active = True
            self._worker = threading.Thread(target=self._run_worker, daemon=True,
                                            name="aift-campaign")
            self._worker.start()

    def _run_worker(self) -> None:
        try:
            if self._checkpoint_to_load is not None:
                self._set_phase("loading", "loading the model of the last completed round")
                self.estimator.load_checkpoint(str(self.session / self._checkpoint_to_load))
                self._checkpoint_to_load = None
            self._advance()
        except Exception as exc:  # reported on the page and in the log, not swallowed
            _logger.exception("the campaign's background work failed")
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
                self._phase, self._message = "error", self._error
        finally:
            with self._lock:
                if self._worker is threading.current_thread():  # not a successor's flag
                    self._active = False

    def _advance(self) -> None:
        """Train completed batches and query new ones until the expert has work to do."""
        while not self._closed:
            round_ = self._round
            if round_ == 1 and not self._store.rounds() and self._untrained_imports():
                self._train(0)
                continue
            batch = self._store.batch(round_)
            if not batch:
                self._scan()
                if not self._query(round_):
                    return
                continue
            with self._lock:
                recheck, self._recheck = self._recheck, False
            if recheck:
                self._replace_missing(round_)
                continue
            # deciding to wait and stopping are one step under the lock that labels
            # are recorded under: a label completing the batch meanwhile starts a worker
            with self._lock:
                if self._recheck:
                    continue
                if not self._batch_done(batch):
                    self._set_phase("labeling", f"round {round_}: waiting for labels")
                    self._active = False
                    return
            self._train(round_)

    def _untrained_imports(self) -> bool:
        return any(e["kind"] == "label" and e["round"] == 0 for e in self._store.current().values())

    def _batch_done(self, batch: list[dict[str, Any]]) -> bool:
        current = self._store.current()
        return all(current.get(c["id"], {}).get("kind") in ("label", "skip") for c in batch)

    def _labeled(self) -> tuple[list[str], list[int]]:
        current = self._store.current()
        ids = [c for c, e in current.items() if e["kind"] == "label"]
        return ids, [self.classes.index(current[c]["label"]) for c in ids]

    def _query(self, round_: int) -> bool:
        """Rank the pool and save the batch of ``round_``; False when nothing is left."""
        rows = self._rank(round_, self.batch_size, set())
        if rows is None:
            self._set_phase("done", "every image of the folder is labeled or skipped")
            return False
        self._store.save_batch(round_, rows)
        return True

    def _replace_missing(self, round_: int) -> None:
        """Drop undecided batch images that disappeared; add the strategy's next picks.

        The folder is scanned first, so a renamed or touched file is found
        again and stays. A dropped candidate keeps every event recorded for it.
        """
        batch = self._store.batch(round_)
        current = self._store.current()
        if all(self._available(c["id"]) or _decided(current, c["id"]) for c in batch) and (
                len(batch) >= self.batch_size or not self._store.dropped(round_)):
            return
        self._scan()
        gone = [c for c in batch if not _decided(current, c["id"]) and not
                self._available(c["id"])]
        if gone:
            for c in gone:
                _logger.warning("round %d: %s is no longer readable in %s; it leaves the batch "
                                "and the next candidate replaces it", round_, c["file"],
                                self.images_dir)
            self._store.drop(round_, [
                {"id": c["id"], "file": c["file"], "reason": "missing or unreadable"}
                for c in gone])
        live = self._store.batch(round_)
        need = self.batch_size - len(live)
        if need <= 0 or not self._store.dropped(round_):
            return
        taken = {c["id"] for c in live} | {c["id"] for c in self._store.dropped(round_)}
        rows = self._rank(round_, need, taken)
        if rows:
            self._store.save_batch(round_, rows)

    def _rank(self, round_: int, n: int, taken: set[str]) -> list[dict[str, Any]] | None:
        """The strategy's next ``n`` candidates, leaving out decided and ``taken`` ones.

        None when every candidate of the pool is decided or taken.
        """
        with self._lock:
            pool, ids = self._pool, self._pool_ids
        current = self._store.current()
        done = np.array([_decided(current, c) or c in taken for c in ids], dtype=bool)
        exclude = np.flatnonzero(done).astype(np.intp)
        if len(exclude) == len(ids):
            return None
        if not self._warmed:
            self._warm_up(pool)
        self._set_phase("ranking", f"round {round_}: ranking {len(ids) - len(exclude)} images")
        labeled_ids, codes = self._labeled()
        view = _StrategyView(self.estimator, np.asarray(codes, dtype=np.int64),
                             list(range(len(self.classes))))
        indices, scores = self.strategy(
            view, pool, n_instances=min(n, len(ids) - len(exclude)), exclude=exclude,
            random_state=self.random_state + round_,
        )
        indices = np.asarray(indices, dtype=np.intp)
        proba = self.estimator.predict_patch_proba(pool[indices])
        rows = []
        for i, score, P in zip(indices.tolist(), np.asarray(scores, float).tolist(), proba):
            rows.append({
                "id": ids[i],
                "file": self._relative(self._files[ids[i]]),
                "score": float(score),
                "predicted": self.classes[int(np.argmax(P.mean(axis=0)))],
                "patch_proba": np.round(P, 4).tolist(),
            })
        return rows

    def _warm_up(self, pool: Any, chunk: int = 64) -> None:
        """Fill the model's activation cache chunk by chunk, so the first pass shows progress.

        Only for estimators that cache frozen activations by candidate key: the
        strategy's pass over the whole pool then reads the cache.
        """
        self._warmed = True
        params = self.estimator.get_params() if hasattr(self.estimator, "get_params") else {}
        if params.get("activation_cache") in (None, False):
            return
        n = len(pool)
        for start in range(0, n, chunk):
            self._set_phase("ranking", f"computing the features of the pool: {start}/{n} images",
                            start / n)
            self.estimator.predict_patch_proba(pool[np.arange(start, min(n, start + chunk))])

    def _expected_training_time(self, n_labels: int) -> float | None:
        rounds = [r for r in self._store.rounds() if r["n_labels"] > 0]
        if not rounds:
            return None
        last = rounds[-1]
        return last["training_time"] * max(1.0, n_labels / last["n_labels"])

    def _train(self, round_: int) -> None:
        labeled_ids, codes = self._labeled()
        with self._lock:
            position = {c: i for i, c in enumerate(self._pool_ids.tolist())}
            pool = self._pool
        present = [(position[c], y) for c, y in zip(labeled_ids, codes) if c in position]
        if len(present) < len(labeled_ids):
            _logger.warning(
                "%d labeled image(s) are no longer in the folder; they keep their labels but "
                "are not trained on", len(labeled_ids) - len(present)
            )
        expected = self._expected_training_time(len(present))
        self._set_phase("fine-tuning", f"round {round_}: fine-tuning on {len(present)} labels",
                        0.0 if expected else None)
        with self._lock:
            self._expected = expected
        start = time.perf_counter()
        if present:
            idx = np.asarray([p for p, _ in present], dtype=np.intp)
            y = np.asarray([c for _, c in present], dtype=np.int64)
            self.estimator.fit(pool[idx], y)
        elapsed = time.perf_counter() - start
        name = f"{_CHECKPOINTS}/round_{round_:05d}.pt"
        if present:
            tmp = self.session / f"{name}.part"
            self.estimator.save_checkpoint(str(tmp))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.session / name)
        else:
            name = self._store.rounds()[-1]["checkpoint"] if self._store.rounds() else ""
        self._store.complete_round({
            "round": round_,
            "n_labels": len(present),
            "batch_accuracy": self._batch_accuracy(round_),
            "training_time": elapsed,
            "checkpoint": name,
            "time": utc_now(),
        })
        self._prune_checkpoints(keep=name)
        with self._lock:
            self._round = round_ + 1

    def _batch_accuracy(self, round_: int) -> float | None:
        current = self._store.current()
        hits = [
            c["predicted"] == current[c["id"]]["label"]
            for c in self._store.batch(round_)
            if current.get(c["id"], {}).get("kind") == "label"
        ]
        return float(np.mean(hits)) if hits else None

    def _prune_checkpoints(self, keep: str) -> None:
        for path in (self.session / _CHECKPOINTS).glob("round_*.pt*"):
            if f"{_CHECKPOINTS}/{path.name}" != keep:
                path.unlink(missing_ok=True)

    # -- public API -------------------------------------------------------------------
    def wait_idle(self, timeout: float | None = 600.0) -> bool:
        """Wait until the background work (ranking, fine-tuning) is over.

        Parameters
        ----------
        timeout : float or None, default=600.0
            Seconds to wait at most.

        Returns
        -------
        idle : bool
            True when nothing runs in the background any more.

        Examples
        --------
        See :class:`LabelingCampaign`.
        """
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return worker is None or not worker.is_alive()

    def batch(self) -> list[dict[str, Any]]:
        """The current round's candidates, most worth labeling first.

        Returns
        -------
        candidates : list of dict
            ``id``, ``file`` (relative to the folder), ``score`` (the
            strategy's), ``predicted`` (the current model's class),
            ``patch_proba`` (``m`` rows of class probabilities), ``label``
            (None, a class name, or ``"skip"`` when skipped). Empty while the
            batch is being ranked.

        Examples
        --------
        See :class:`LabelingCampaign`.
        """
        with self._lock:
            round_ = self._round
        current = self._store.current()
        rows = self._look_for_missing(self._store.batch(round_), current)
        selection = self._selection({c["id"] for c in rows}, current)
        out, seen = [], set()
        for c in rows:
            if c["id"] in seen:  # two files of one image in a session from before content ids
                continue
            seen.add(c["id"])
            if c["id"] in self._present:
                c["file"] = self._relative(self._files[c["id"]])
            event = current.get(c["id"], {})
            kind = event.get("kind")
            c["label"] = event["label"] if kind == "label" else ("skip" if kind == "skip" else None)
            c["round"] = round_
            c["selection"] = selection
            out.append(c)
        return out

    def _look_for_missing(self, rows: list[dict[str, Any]],
                          current: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` less the undecided ones whose image disappeared; those get replaced.

        A stat per file (the files were decoded when scanned); when one is
        missing or unreadable, the background worker drops it from the batch
        and adds the strategy's next pick.
        """
        missing = {c["id"] for c in rows
                   if not _decided(current, c["id"]) and not self._available(c["id"])}
        if not missing:
            return rows
        with self._lock:
            self._recheck = True
            start = not self._active and not self._closed
        if start:
            self._start_worker()
        return [c for c in rows if c["id"] not in missing]

    def _selection(self, batch_ids: set[str], current: dict[str, dict[str, Any]]) -> str:
        """How a batch was chosen: ``"random start"`` while the strategy's cold start ran.

        The strategy saw the labels given before the batch was drawn, i.e. every
        current label outside the batch.
        """
        per_class = getattr(self.strategy, "cold_start_per_class", 0)
        if getattr(self.strategy, "cold_start", None) is None or per_class < 1:
            return "ranked"
        held = {name: 0 for name in self.classes}
        for candidate, event in current.items():
            if event["kind"] == "label" and candidate not in batch_ids:
                held[event["label"]] += 1
        if min(held.values()) < per_class:
            return f"{self.strategy.cold_start} start"
        return "ranked"

    def recent(self, limit: int = 30) -> list[dict[str, Any]]:
        """The latest decisions (labels and skips), newest first, earlier rounds included.

        Parameters
        ----------
        limit : int, default=30
            How many decisions at most.

        Returns
        -------
        decisions : list of dict
            ``id``, ``file``, ``label`` (a class name or ``"skip"``), ``round``,
            ``time``, ``annotator`` of each candidate's current decision.

        Examples
        --------
        >>> # campaign.recent(10)  # see LabelingCampaign
        """
        decided = [(c, e) for c, e in self._store.current().items()
                   if e["kind"] in ("label", "skip")]
        return [
            {"id": c, "file": e["file"], "label": e["label"] if e["kind"] == "label" else "skip",
             "round": e["round"], "time": e["time"], "annotator": e["annotator"]}
            for c, e in reversed(decided[-limit:])
        ]

    def _check_candidate(self, candidate_id: Any) -> str:
        if not isinstance(candidate_id, str) or candidate_id not in self._files:
            raise KeyError(f"no candidate with id {candidate_id!r} in this campaign.")
        return candidate_id

    def _record(self, candidate_id: str, kind: str, label: str | None, annotator: str) -> None:
        if not isinstance(annotator, str) or not 0 < len(annotator) <= _MAX_ANNOTATOR:
            raise ValueError(
                f"annotator must be a non-empty string of at most {_MAX_ANNOTATOR} characters; "
                f"got {annotator!r}."
            )
        with self._lock:
            round_ = self._round
            self._store.add_events([{
                "candidate": candidate_id,
                "file": self._relative(self._files[candidate_id]),
                "kind": kind,
                "label": label,
                "round": round_,
                "time": utc_now(),
                "annotator": annotator,
            }])
            batch = self._store.batch(round_)
            start = (not self._active and candidate_id in {c["id"] for c in batch}
                     and self._batch_done(batch))
        if start:
            self._start_worker()

    def label(self, candidate_id: str, label: str, annotator: str = "expert") -> dict[str, Any]:
        """Label a candidate; committed to the session store before returning.

        Labeling a candidate again replaces its label (the earlier ones stay in
        its history). When this completes the current batch, fine-tuning
        starts in the background.

        Parameters
        ----------
        candidate_id : str
            The candidate's id (from :meth:`batch`).
        label : str
            One of ``classes``.
        annotator : str, default="expert"
            Who gave the label (kept with it).

        Returns
        -------
        status : dict
            :meth:`status` after the label.

        Raises
        ------
        KeyError
            If no candidate has this id.
        ValueError
            If ``label`` is not one of ``classes`` or ``annotator`` is invalid.

        Examples
        --------
        See :class:`LabelingCampaign`.
        """
        candidate_id = self._check_candidate(candidate_id)
        if not isinstance(label, str) or label not in self.classes:
            raise ValueError(f"label must be one of {self.classes}; got {label!r}.")
        self._record(candidate_id, "label", label, annotator)
        return self.status()

    def skip(self, candidate_id: str, annotator: str = "expert") -> dict[str, Any]:
        """Skip a candidate: it is not labeled and not proposed again.

        Parameters
        ----------
        candidate_id : str
            The candidate's id.
        annotator : str, default="expert"
            Who skipped it.

        Returns
        -------
        status : dict
            :meth:`status` after the skip.

        Raises
        ------
        KeyError
            If no candidate has this id.

        Examples
        --------
        >>> # campaign.skip(batch[0]["id"])  # see LabelingCampaign
        """
        self._record(self._check_candidate(candidate_id), "skip", None, annotator)
        return self.status()

    def undo(self, candidate_id: str, annotator: str = "expert") -> dict[str, Any]:
        """Withdraw a candidate's label or skip (kept in its history).

        Parameters
        ----------
        candidate_id : str
            The candidate's id.
        annotator : str, default="expert"
            Who withdrew it.

        Returns
        -------
        status : dict
            :meth:`status` after the undo.

        Raises
        ------
        KeyError
            If no candidate has this id or it has no label to withdraw.

        Examples
        --------
        >>> # campaign.undo(batch[0]["id"])  # see LabelingCampaign
        """
        candidate_id = self._check_candidate(candidate_id)
        if self._store.current().get(candidate_id, {}).get("kind") not in ("label", "skip"):
            raise KeyError(f"candidate {candidate_id!r} has no label to undo.")
        self._record(candidate_id, "undo", None, annotator)
        return self.status()

    def history(self, candidate_id: str) -> list[dict[str, Any]]:
        """Every label, skip and undo given to a candidate, oldest first.

        Parameters
        ----------
        candidate_id : str
            The candidate's id.

        Returns
        -------
        events : list of dict
            ``kind``, ``label``, ``round``, ``time``, ``annotator``.

        Raises
        ------
        KeyError
            If no candidate has this id.

        Examples
        --------
        >>> # campaign.history(batch[0]["id"])  # see LabelingCampaign
        """
        return self._store.history(self._check_candidate(candidate_id))

    def image_path(self, candidate_id: str) -> Path:
        """The image file of a candidate (ids only: no client path reaches the disk).

        Parameters
        ----------
        candidate_id : str
            The candidate's id.

        Returns
        -------
        path : Path

        Raises
        ------
        KeyError
            If no candidate has this id.

        Examples
        --------
        >>> # campaign.image_path(batch[0]["id"])  # see LabelingCampaign
        """
        return self._files[self._check_candidate(candidate_id)]

    def status(self) -> dict[str, Any]:
        """Where the campaign stands.

        Returns
        -------
        status : dict
            ``classes``; ``counts`` (labels per class); ``n_labeled``,
            ``n_skipped``, ``n_images``; ``round`` (the current one);
            ``completed_rounds``; ``rounds`` (per completed round: labels
            trained on, ``batch_accuracy``: the model's accuracy on that batch
            before it was trained on it, training time); ``batch_size``,
            ``batch_labeled``; ``phase`` (``starting``, ``loading``,
            ``ranking``, ``labeling``, ``fine-tuning``, ``done`` or
            ``error``), ``message``, ``progress`` (0-1 estimate or None),
            ``elapsed`` (seconds in this phase); ``session`` (the session
            folder's name), ``n_events`` (label, skip and undo events so far:
            it changes whenever any client records one), ``n_dropped``
            (batch images dropped because their file disappeared or became
            unreadable, each replaced by the strategy's next pick),
            ``cold_start_per_class``.

        Examples
        --------
        See :class:`LabelingCampaign`.
        """
        current = self._store.current()
        counts = {c: 0 for c in self.classes}
        n_skipped = 0
        for event in current.values():
            if event["kind"] == "label":
                counts[event["label"]] += 1
            elif event["kind"] == "skip":
                n_skipped += 1
        with self._lock:
            round_, phase, message = self._round, self._phase, self._message
            elapsed = time.monotonic() - self._phase_started
            n_images = len(self._pool_ids)
            progress = self._progress
            if phase == "fine-tuning" and progress is not None and self._expected:
                progress = min(0.95, elapsed / self._expected)
        batch = self._store.batch(round_)
        if phase == "labeling":
            batch = self._look_for_missing(batch, current)
        rounds = self._store.rounds()
        return {
            "session": self.session.resolve().name,
            "n_events": self._store.n_events(),
            "n_dropped": len(self._store.dropped()),
            "cold_start_per_class": getattr(self.strategy, "cold_start_per_class", 0),
            "classes": list(self.classes),
            "counts": counts,
            "n_labeled": sum(counts.values()),
            "n_skipped": n_skipped,
            "n_images": n_images,
            "round": round_,
            "completed_rounds": len([r for r in rounds if r["round"] > 0]),
            "rounds": [
                {k: r[k] for k in ("round", "n_labels", "batch_accuracy", "training_time")}
                for r in rounds
            ],
            "batch_size": self.batch_size,
            "batch_labeled": sum(
                current.get(c["id"], {}).get("kind") in ("label", "skip") for c in batch
            ),
            "phase": phase,
            "message": message,
            "progress": progress,
            "elapsed": round(elapsed, 2),
        }

    def labels_csv(self) -> str:
        """The current labels as CSV text: ``file,label,round,time``, sorted by file.

        Returns
        -------
        text : str

        Examples
        --------
        >>> # print(campaign.labels_csv())  # see LabelingCampaign
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["file", "label", "round", "time"])
        rows = []
        for candidate, e in self._store.current().items():
            if e["kind"] == "label":
                # where the image is now (renamed files included), else where it was labeled
                file = (self._relative(self._files[candidate]) if candidate in self._present
                        else e["file"])
                rows.append((file, e["label"], e["round"], e["time"]))
        writer.writerows(sorted(rows))
        return out.getvalue()

    def import_labels(self, csv_path: str | os.PathLike, annotator: str = "import") -> int:
        """Record labels from a CSV file ``file,label`` (a header row is optional).

        Files are relative to ``images_dir``. All rows are checked before any is
        recorded, then they are committed in one transaction. Labels equal to
        the current ones are not recorded again.

        Parameters
        ----------
        csv_path : path-like
            The CSV file.
        annotator : str, default="import"
            Recorded with each imported label.

        Returns
        -------
        n_recorded : int
            How many labels were recorded.

        Raises
        ------
        ValueError
            If the file is not UTF-8 CSV text, a row does not have two fields,
            names a file not in the folder, or a label outside ``classes``.

        Examples
        --------
        >>> # campaign.import_labels("labels.csv")  # see LabelingCampaign
        """
        try:
            with open(csv_path, newline="", encoding="utf-8") as fh:
                rows = [r for r in csv.reader(fh) if r]
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"labels file {str(csv_path)!r} is not a UTF-8 text CSV file (file,label): "
                f"byte {exc.start} cannot be decoded."
            ) from None
        except csv.Error as exc:
            raise ValueError(f"labels file {str(csv_path)!r} is not a CSV file: {exc}.") from None
        if rows and [v.strip().lower() for v in rows[0][:2]] == ["file", "label"]:
            rows = rows[1:]
        return self._record_imported(rows, f"labels file {str(csv_path)!r}", annotator)

    def labels_from_folders(self) -> int:
        """Label every image inside a top-level sub-folder named like a class with that class.

        ``images_dir/positive/a.png`` gets ``positive``; images elsewhere stay
        unlabeled. Labels equal to the current ones are not recorded again.

        Returns
        -------
        n_recorded : int
            How many labels were recorded (annotator ``"folder"``); when no
            sub-folder is named like a class, a warning says so.

        Examples
        --------
        >>> # campaign.labels_from_folders()  # see LabelingCampaign
        """
        rows = []
        for file in self._ids_by_file:
            parts = Path(file).parts
            if len(parts) > 1 and parts[0] in self.classes:
                rows.append([file, parts[0]])
        if not rows:
            _logger.warning(
                "no labels from folders: %s has no top-level sub-folder named like a class "
                "(%s) holding images", self.images_dir, ", ".join(self.classes))
        return self._record_imported(sorted(rows), "class folders", "folder")

    def _record_imported(self, rows: list[list[str]], source: str, annotator: str) -> int:
        by_file = self._ids_by_file
        current = self._store.current()
        events, problems = [], []
        round_ = 0 if not self._store.rounds() and self._round == 1 else self._round
        for line, row in enumerate(rows, start=1):
            if len(row) < 2:
                problems.append(f"row {line}: expected file,label; got {row!r}")
                continue
            file, label = row[0].strip(), row[1].strip()
            if file not in by_file:
                problems.append(f"row {line}: {file!r} is not an image of {self.images_dir}")
            elif label not in self.classes:
                problems.append(f"row {line}: label {label!r} is not one of {self.classes}")
            elif current.get(by_file[file], {}).get("label") != label:
                events.append({"candidate": by_file[file], "file": file, "kind": "label",
                               "label": label, "round": round_, "time": utc_now(),
                               "annotator": annotator})
        if problems:
            raise ValueError(
                f"{source} has {len(problems)} invalid row(s); nothing was imported: "
                + "; ".join(problems[:10])
            )
        if events:
            self._store.add_events(events)
        return len(events)

    def close(self) -> None:
        """Wait for the background work to finish and close the store.

        Examples
        --------
        See :class:`LabelingCampaign`.
        """
        self.wait_idle(None)
        self._closed = True
        self._store.close()
        self._session_lock.release()


def _decided(current: dict[str, dict[str, Any]], candidate_id: str) -> bool:
    """Whether a candidate's last event is a label or a skip."""
    return current.get(candidate_id, {}).get("kind") in ("label", "skip")


# states of a card on the page, never class names
_RESERVED_NAMES = ("skip", "unlabeled")


def _check_classes(classes: Iterable[str]) -> list[str]:
    if isinstance(classes, str):
        raise ValueError(f"classes must be a sequence of class names; got the string {classes!r}.")
    names = list(classes)
    if len(names) < 2 or len(names) > 9:
        raise ValueError(f"classes must hold 2 to 9 names (keys 1-9); got {names!r}.")
    for name in names:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(
                f"classes must be non-empty names without surrounding spaces; got {name!r}."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"classes must be distinct; got {names!r}.")
    reserved = [name for name in names if name.lower() in _RESERVED_NAMES]
    if reserved:
        raise ValueError(f"classes must not use the reserved names {_RESERVED_NAMES} (the page's "
                         f"skip and unlabeled states); got {reserved[0]!r}.")
    return names
