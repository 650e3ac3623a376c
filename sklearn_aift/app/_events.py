"""An expert's decisions: label, skip and undo, their history, imports and the export.

Every decision is committed to the session store (see
:class:`~sklearn_aift.learner.SessionStore`'s decision tables) before the call
returns; the background thread then brings the learner up to date.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["Decisions", "decided", "utc_now"]

_logger = logging.getLogger("sklearn_aift.app")

_MAX_ANNOTATOR = 64


def utc_now() -> str:
    """The current UTC time as an ISO 8601 string with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def decided(current: dict[str, dict[str, Any]], candidate_id: str) -> bool:
    """Whether a candidate's last decision is a label or a skip."""
    return current.get(candidate_id, {}).get("kind") in ("label", "skip")


class Decisions:
    """Recording and reading decisions (mixed into :class:`LabelingCampaign`)."""

    def _check_candidate(self, candidate_id: Any) -> str:
        if not isinstance(candidate_id, str) or candidate_id not in self._folder.files:
            raise KeyError(f"no candidate with id {candidate_id!r} in this campaign.")
        return candidate_id

    def _record(self, candidate_id: str, kind: str, label: str | None, annotator: str) -> None:
        if not isinstance(annotator, str) or not 0 < len(annotator) <= _MAX_ANNOTATOR:
            raise ValueError(
                f"annotator must be a non-empty string of at most {_MAX_ANNOTATOR} characters; "
                f"got {annotator!r}."
            )
        with self._lock:
            self._store.add_decisions([{
                "candidate": candidate_id,
                "file": self._folder.relative(self._folder.files[candidate_id]),
                "kind": kind,
                "label": label,
                "round": self._round,
                "time": utc_now(),
                "annotator": annotator,
            }])
        self._start_worker()

    def label(self, candidate_id: str, label: str, annotator: str = "expert") -> dict[str, Any]:
        """Label a candidate; committed to the session store before returning.

        Labeling a candidate again replaces its label (the earlier ones stay in
        its history). The learner learns it in the background; when it
        completes the current batch, fine-tuning starts.

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
        """
        candidate_id = self._check_candidate(candidate_id)
        if not decided(self._store.current_decisions(), candidate_id):
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
        """
        return self._store.decision_history(self._check_candidate(candidate_id))

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
        """
        current = self._store.current_decisions()
        kept = [(c, e) for c, e in current.items() if decided(current, c)]
        return [
            {"id": c, "file": e["file"], "label": e["label"] if e["kind"] == "label" else "skip",
             "round": e["round"], "time": e["time"], "annotator": e["annotator"]}
            for c, e in reversed(kept[-limit:])
        ]

    def labels_csv(self) -> str:
        """The current labels as CSV text: ``file,label,round,time,check_set``, sorted by file.

        ``check_set`` is 1 for an image of the check set (a reference label,
        never trained on), else 0.

        Returns
        -------
        text : str
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["file", "label", "round", "time", "check_set"])
        # where the image is now (renamed files included), else where it was labeled
        writer.writerows(sorted(
            (self._folder.file_of(c, e["file"]), e["label"], e["round"], e["time"],
             int(c in self._check_keys))
            for c, e in self._store.current_decisions().items() if e["kind"] == "label"))
        return out.getvalue()

    def rounds_csv(self) -> str:
        """The completed rounds and the model's quality in each, as CSV text.

        Columns: ``round``, ``kind`` (``check set``, ``imported`` or
        ``fine-tuning``), ``n_labels`` (labels trained on), ``batch_accuracy``
        (the model's accuracy on the round's batch before training on it),
        ``training_time`` (seconds), ``time`` (when the round closed), then,
        measured on the check set after the round: ``check_n`` (labeled check
        images), ``check_auc``, ``check_sensitivity`` and
        ``check_specificity`` (two classes; the second is the positive one)
        and ``check_recall_<class>`` per class. Empty cells: not defined (no
        check set, or a class without check images).

        Returns
        -------
        text : str
        """
        recall = [f"check_recall_{name}" for name in self.classes]
        header = ["round", "kind", "n_labels", "batch_accuracy", "training_time", "time",
                  "check_n", "check_auc", "check_sensitivity", "check_specificity", *recall]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        times = {r["round"]: r["time"] for r in self._store.read_batch_rounds()}
        for r in self.status()["rounds"]:
            check = r["check"] or {}
            per_class = check.get("recall") or {}
            writer.writerow(["" if v is None else v for v in (
                r["round"], r["kind"], r["n_labels"], r["batch_accuracy"], r["training_time"],
                times[r["round"]], check.get("n"), check.get("auc"),
                check.get("sensitivity"), check.get("specificity"),
                *(per_class.get(name) for name in self.classes))])
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
        """
        rows = []
        for file in self._folder.ids_by_file:
            parts = Path(file).parts
            if len(parts) > 1 and parts[0] in self.classes:
                rows.append([file, parts[0]])
        if not rows:
            _logger.warning(
                "no labels from folders: %s has no top-level sub-folder named like a class "
                "(%s) holding images", self.images_dir, ", ".join(self.classes))
        return self._record_imported(sorted(rows), "class folders", "folder")

    def _record_imported(self, rows: list[list[str]], source: str, annotator: str) -> int:
        by_file = self._folder.ids_by_file
        current = self._store.current_decisions()
        events, problems = [], []
        round_ = 0 if not self._store.read_batch_rounds() and self._round == 1 else self._round
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
            self._store.add_decisions(events)
        return len(events)
