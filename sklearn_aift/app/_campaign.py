"""A labeling campaign over a folder of images: the learner side of `sklearn-aift label`.

The web server only talks to :class:`LabelingCampaign`: the folder's pool, the
current batch, the expert's decisions (committed before each call returns),
status and export. Underneath, one :class:`~sklearn_aift.learner.ActiveLearner`
with its session store queries, learns and fine-tunes in a background thread
(``_worker.py``); everything is kept in the session folder, so the same command
resumes after any crash.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..augment import FrameProtocol
from ..learner import ActiveLearner, SessionError, SessionLock, SessionStore
from ..strategies import entropy_diversity_quarter
from . import _migrate
from ._check import draw_check_set
from ._events import Decisions, decided
from ._folder import ImageFolder
from ._worker import BackgroundWork

__all__ = ["LabelingCampaign"]


class LabelingCampaign(Decisions, BackgroundWork):
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
        The learner's ``random_state``: seeds the strategy of each round.
    labels : path-like, default=None
        A CSV file ``file,label`` imported (see :meth:`import_labels`) before
        the first query.
    labels_from_folders : bool, default=False
        Use top-level sub-folders named like classes as known labels (see
        :meth:`labels_from_folders`) before the first query.
    check_set : int, default=None
        Draw this many images at random (seeded by ``random_state``) when the
        session starts: they are shown first, as a batch of their own, labeled
        once and never trained on or queried; after every round the model
        predicts them, and the round records their AUC, sensitivity and
        specificity (two classes: the second class is the positive one; more
        classes: macro one-vs-rest AUC and the recall of each class). None
        keeps the check set the session recorded, if any.

    Raises
    ------
    ValueError
        If an argument is invalid, ``check_set`` leaves fewer than two batches
        of images to learn from, or the session was made with other classes
        or another folder.
    SessionError
        If the session's store is damaged, or was made with another strategy,
        ``random_state``, estimator parameters or another ``check_set`` (a
        ``ValueError``).
    SessionInUseError
        If another campaign (in this process or another) has the session open.

    Notes
    -----
    The campaign drives one :class:`~sklearn_aift.learner.ActiveLearner`
    whose :class:`~sklearn_aift.learner.SessionStore` is the session folder:
    the learner queries each batch, learns every label as it is given
    (``teach(..., fine_tune=False)``) and fine-tunes once the batch is decided,
    writing checksummed weights; a resumed session must use the same
    strategy, ``random_state`` and estimator parameters. The store's decision
    tables keep what the page adds: every label, skip and undo with its
    annotator and time, each round's batch and the images dropped from it.
    For images the store keeps each candidate's key and file, not its pixels:
    resume with the same folder.

    A candidate is known by its content (the key of
    :meth:`~sklearn_aift.candidates.CandidateSet.content_keys`), so a file
    touched, copied or renamed keeps its labels, and files holding the same
    image are one candidate. An undecided image of the current batch whose
    file disappears or becomes unreadable is dropped from the batch (its
    decisions stay) and the strategy's next pick takes its place. Sessions
    written by earlier releases (``campaign.sqlite``) are converted when
    opened. The session folder is locked (``session.lock``) until
    :meth:`close` or the end of the process.

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

    Every decision can be withdrawn or changed; each is kept in the image's
    history, and the export holds the current labels:

    >>> first = batch[0]["id"]
    >>> campaign.image_path(first).name == batch[0]["file"]
    True
    >>> _ = campaign.undo(first)
    >>> _ = campaign.skip(first)
    >>> [event["kind"] for event in campaign.history(first)]
    ['label', 'undo', 'skip']
    >>> campaign.recent(1)[0]["label"]
    'skip'
    >>> len(campaign.labels_csv().splitlines())  # the header and the other label
    2
    >>> campaign.rounds_csv().splitlines()[0].split(",")[:3]
    ['round', 'kind', 'n_labels']
    >>> (root / "earlier.csv").write_text("5.png,negative\\n")
    15
    >>> campaign.import_labels(root / "earlier.csv")
    1
    >>> campaign.labels_from_folders()  # no sub-folder named like a class here
    0
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
        check_set: int | None = None,
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
        if check_set is not None and (isinstance(check_set, bool) or not isinstance(
                check_set, (int, np.integer)) or check_set < 1):
            raise ValueError(f"check_set must be a positive integer or None; got {check_set!r}.")
        self.check_set = None if check_set is None else int(check_set)
        self.estimator = estimator
        self.session = Path(session)
        self.session.mkdir(parents=True, exist_ok=True)
        # one process per session, before anything in it is read or written
        self._session_lock = SessionLock(self.session)
        try:
            self._open(labels, labels_from_folders)
        except BaseException:
            self._session_lock.release()
            raise

    def _open(self, labels: Any, labels_from_folders: bool) -> None:
        self._lock = threading.RLock()
        self._phase, self._message, self._progress = "starting", "starting", None
        self._phase_started = time.monotonic()
        self._worker: threading.Thread | None = None
        self._active = False  # a worker runs or is about to
        self._dirty = False  # a decision arrived since the worker last looked
        self._recheck = True  # look for batch images that disappeared
        self._closed = False
        self._expected: float | None = None
        self._warmed = False
        self._unreachable: set[str] = set()  # labeled keys whose image is gone, said so
        self._folder = ImageFolder(self.images_dir, self.protocol)
        pool = self._folder.scan()
        self._learner = self._open_learner(pool)
        self._store = SessionStore(self.session)
        self._store.open_decisions()
        if (self.session / _migrate.OLD_STORE).is_file():
            _migrate.copy_old_session(self.session, self._store, self._folder.ids_by_file)
        meta = self._store.read_meta()
        self._check_session(meta)
        rounds = self._store.read_batch_rounds()
        self._round = rounds[-1]["round"] + 1 if rounds else 1
        self._open_check_set(meta, pool)
        if meta.get("class_names") is None:
            self._store.update_meta(class_names=self.classes, images_dir=str(self.images_dir))
        if labels_from_folders:
            self.labels_from_folders()
        if labels is not None:
            self.import_labels(labels)
        self._start_worker()

    def _open_learner(self, pool: Any) -> ActiveLearner:
        """Resume the session's learner, or create it (from an old session's weights)."""
        codes = list(range(len(self.classes)))
        _migrate.discard_unfinished(self.session)
        if not SessionStore.exists(self.session):
            if (self.session / _migrate.OLD_STORE).is_file():
                _migrate.check_old_session(self.session, self.classes, self.images_dir)
                _migrate.load_old_weights(self.session, self.estimator)
        else:
            self._check_session(SessionStore.open(self.session).read_meta())
        return ActiveLearner.open(self.session, self.estimator, X_pool=pool, keep_pixels=False,
                                  query_strategy=self.strategy, classes=codes,
                                  random_state=self.random_state)

    def _open_check_set(self, meta: dict[str, Any], pool: Any) -> None:
        """Draw the check set of a new session, or take the one the session recorded."""
        recorded = meta.get("check_set")
        new = (meta.get("class_names") is None and self._store.n_decisions() == 0
               and self._round == 1)
        if recorded is None and self.check_set is not None and not new:
            raise SessionError(
                f"check_set={self.check_set} but the session at {str(self.session)!r} was "
                f"started without a check set (one is drawn before the first label); leave "
                f"check_set out or start a new session folder.")
        if recorded is not None and self.check_set not in (None, recorded["size"]):
            raise SessionError(
                f"check_set={self.check_set} but the session at {str(self.session)!r} holds a "
                f"check set of {recorded['size']} images; pass check_set={recorded['size']} "
                f"(or leave it out) or start a new session folder.")
        if recorded is None and self.check_set is not None:
            left = len(pool) - self.check_set
            if left < 2 * self.batch_size:
                raise ValueError(
                    f"check_set={self.check_set} leaves {left} of the folder's {len(pool)} "
                    f"images to learn from; at least two batches ({2 * self.batch_size}) are "
                    f"needed: choose a smaller check set or batch size.")
            keys = draw_check_set(pool.keys.tolist(), self.check_set, self.random_state)
            recorded = {"size": self.check_set, "round": self._round, "keys": keys}
            self._store.update_meta(check_set=recorded)
        if recorded is None:
            self._check_keys: frozenset[str] = frozenset()
            self._check_order: list[str] = []
            self._check_round: int | None = None
        else:
            self.check_set = recorded["size"]
            self._check_keys = frozenset(recorded["keys"])
            self._check_order = list(recorded["keys"])
            self._check_round = recorded["round"]

    def _check_session(self, meta: dict[str, Any]) -> None:
        """Refuse a session of other class names or another folder."""
        if meta.get("class_names") is None:
            return
        if meta["class_names"] != self.classes:
            raise ValueError(
                f"classes={self.classes!r} but the session at {str(self.session)!r} labels "
                f"{meta['class_names']!r}; pass the session's classes or a new session folder."
            )
        if meta.get("images_dir") != str(self.images_dir):
            raise ValueError(
                f"images_dir={str(self.images_dir)!r} but the session at {str(self.session)!r} "
                f"labels images of {meta['images_dir']!r}; pass that folder or a new session "
                f"folder."
            )

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
        current = self._store.current_decisions()
        rows = self._look_for_missing(self._store.read_batch(round_), current)
        selection = self._selection(round_, {c["id"] for c in rows}, current)
        out, seen = [], set()
        for c in rows:
            if c["id"] in seen:  # two files of one image in a converted session
                continue
            seen.add(c["id"])
            c["file"] = self._folder.file_of(c["id"], c["file"])
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
                   if not decided(current, c["id"]) and not self._folder.available(c["id"])}
        if not missing:
            return rows
        with self._lock:
            self._recheck = True
            start = not self._active and not self._closed
        if start:
            self._start_worker()
        return [c for c in rows if c["id"] not in missing]

    def _selection(self, round_: int, batch_ids: set[str],
                   current: dict[str, dict[str, Any]]) -> str:
        """How a batch was chosen: ``"check set"``, ``"random start"`` (or the start
        the strategy's cold-start policy names) while its cold start ran, else ``"ranked"``.

        The strategy saw the labels given before the batch was drawn, i.e. every
        current label outside the batch and the check set.
        """
        if round_ == self._check_round:
            return "check set"
        per_class = getattr(self.strategy, "cold_start_per_class", 0)
        if getattr(self.strategy, "cold_start", None) is None or per_class < 1:
            return "ranked"
        held = {name: 0 for name in self.classes}
        for candidate, event in current.items():
            if (event["kind"] == "label" and candidate not in batch_ids
                    and candidate not in self._check_keys):
                held[event["label"]] += 1
        if min(held.values()) >= per_class:
            return "ranked"
        start_policy = getattr(self.strategy, "start_policy", None)
        policy = (start_policy(sum(held.values())) if start_policy is not None
                  else self.strategy.cold_start)
        return f"{policy} start"

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
        """
        return self._folder.files[self._check_candidate(candidate_id)]

    def status(self) -> dict[str, Any]:
        """Where the campaign stands.

        Returns
        -------
        status : dict
            ``classes``; ``counts`` (labels per class); ``n_labeled``,
            ``n_skipped``, ``n_images``; ``round`` (the current one);
            ``completed_rounds``; ``rounds`` (per completed round: labels
            trained on, ``batch_accuracy``: the model's accuracy on that batch
            before it was trained on it, training time, ``kind``: ``"check
            set"``, ``"imported"`` or ``"fine-tuning"``, ``check``: the model's
            quality on the check set after the round, None without one:
            ``n`` labeled check images, ``auc``, ``recall`` per class and,
            with two classes, ``sensitivity`` and ``specificity``);
            ``check_set`` (None, or ``size``, ``round``: the round that
            showed it, ``n_labeled``, ``positive``: the positive class of a
            two-class campaign); ``batch_size``,
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
        current = self._store.current_decisions()
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
            n_images = len(self._folder.pool)
            progress = self._progress
            if phase == "fine-tuning" and progress is not None and self._expected:
                progress = min(0.95, elapsed / self._expected)
        batch = self._store.read_batch(round_)
        if phase == "labeling":
            batch = self._look_for_missing(batch, current)
        rounds = self._store.read_batch_rounds()
        return {
            "session": self.session.resolve().name,
            "n_events": self._store.n_decisions(),
            "n_dropped": len(self._store.read_drops()),
            "cold_start_per_class": getattr(self.strategy, "cold_start_per_class", 0),
            "classes": list(self.classes),
            "counts": counts,
            "n_labeled": sum(counts.values()),
            "n_skipped": n_skipped,
            "n_images": n_images,
            "round": round_,
            "completed_rounds": len([r for r in rounds if r["round"] > 0]),
            "rounds": [
                {**{k: r[k] for k in ("round", "n_labels", "batch_accuracy", "training_time")},
                 "kind": "check set" if r["round"] == self._check_round else (
                     "imported" if r["round"] == 0 else "fine-tuning"),
                 "check": r["check_metrics"]}
                for r in rounds
            ],
            "check_set": None if self._check_round is None else {
                "size": self.check_set,
                "round": self._check_round,
                "n_labeled": sum(current.get(k, {}).get("kind") == "label"
                                 for k in self._check_keys),
                "positive": self.classes[1] if len(self.classes) == 2 else None,
            },
            "batch_size": self.batch_size,
            "batch_labeled": sum(decided(current, c["id"]) for c in batch),
            "phase": phase,
            "message": message,
            "progress": progress,
            "elapsed": round(elapsed, 2),
        }

    def close(self) -> None:
        """Wait for the background work to finish and release the session.

        Examples
        --------
        See :class:`LabelingCampaign`.
        """
        self.wait_idle(None)
        self._closed = True
        self._session_lock.release()


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
