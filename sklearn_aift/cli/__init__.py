"""The ``sklearn-aift`` command: the demo, the method comparison and the labeling page.

``sklearn-aift demo`` runs a short AIFT-vs-random comparison on the embedded
synthetic colonoscopy frames; ``sklearn-aift compare`` runs any of the nine
methods on the synthetic set, Kvasir-SEG, a MedMNIST ``.npz`` file or a folder
of class sub-folders. Both print a table of AUC against labels and the
annotation saving, and write the results and figures to an output folder.
Running the same command again after an interruption continues where it
stopped. ``sklearn-aift label`` (``_label.py``) serves the labeling page of
:mod:`sklearn_aift.app` for a folder of images.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from ._argtypes import fraction as _fraction
from ._argtypes import positive_int as _positive_int
from ._argtypes import UsageError
from ._model_args import (
    add_device_argument,
    add_model_arguments,
    add_training_arguments,
    check_model,
    make_estimator,
    training_params,
)
from ._label import add_label_parser, run_label

__all__ = ["build_parser", "main"]

PROG = "sklearn-aift"

DATASETS = ("synthetic", "kvasir", "medmnist", "folder")
ON_CONFLICT = ("raise", "drop", "first")  # sklearn_aift.candidates.DuplicateReport.keep


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block, no traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# ---------------------------------------------------------------------------
# The settings of the demo (the default of `make demo`) and of --quick
# ---------------------------------------------------------------------------

# The demo: the default strategy against IFT Random on the realistic synthetic pool
# (mostly negatives, some hard), 100 labels per method, last block fine-tuned.
DEMO = {
    "n_pool": 150,
    "n_test": 60,
    "methods": ["entropy_diversity_quarter", "ift_random"],
    "rounds": 10,
    "batch_size": 10,
    "seeds": 2,
    "input_size": 48,
    "freeze": -1,
    "epochs": 5,
    "epochs_incremental": 3,
}
QUICK = {
    "n_pool": 40,
    "n_test": 40,
    "methods": ["diversity_quarter", "ift_random"],
    "rounds": 2,
    "batch_size": 4,
    "seeds": 1,
    "input_size": 48,
    "freeze": -1,
    "epochs": 2,
    "epochs_incremental": 1,
}


def _methods_arg(values: Sequence[str]) -> list[str]:
    from ..experiment import METHODS, PEER_METHODS

    methods: list[str] = []
    for value in values:
        for name in value.replace(",", " ").split():
            if name in ("all", "peers"):
                group = METHODS if name == "all" else PEER_METHODS
                methods.extend(m for m in group if m not in methods)
            elif name not in METHODS:
                raise UsageError(
                    f"unknown method {name!r}; choose from {', '.join(METHODS)}, peers or all")
            elif name not in methods:
                methods.append(name)
    if not methods:
        raise UsageError("--methods is empty")
    return methods


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``sklearn-aift``.

    Returns
    -------
    parser : argparse.ArgumentParser
        With the sub-commands ``demo``, ``compare`` and ``label``; its ``error`` raises
        instead of printing a usage block, so :func:`main` reports one line.

    Examples
    --------
    >>> from sklearn_aift.cli import build_parser
    >>> args = build_parser().parse_args(["compare", "--dataset", "synthetic", "--rounds", "3"])
    >>> args.command, args.dataset, args.rounds
    ('compare', 'synthetic', 3)
    """
    parser = _Parser(
        prog=PROG,
        description="Active incremental fine-tuning (AIFT): compare AIFT with random "
        "selection and learning from scratch by simulated annotation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{demo,compare,label}",
                                parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="a short AIFT-vs-random comparison on the embedded synthetic colonoscopy frames",
        description="Compare AIFT (Entropy+Diversity 1/4, Diversity 1/4) with IFT Random on "
        "synthetic colonoscopy frames, fine-tuning ImageNet MobileNetV2 on the CPU.",
    )
    demo.add_argument("--quick", action="store_true",
                      help="a much smaller setting (for tests; seconds, not minutes)")
    demo.add_argument("--out", default="aift-demo-results", metavar="DIR",
                      help="output folder (default: %(default)s)")
    add_device_argument(demo)
    demo.add_argument("--threads", type=_positive_int, default=min(2, os.cpu_count() or 1),
                      help="CPU threads for torch (default: 2, or 1 on a one-core machine; use "
                      "1 on a machine busy with other jobs, where more threads run slower)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    cmp = sub.add_parser(
        "compare",
        help="run the method comparison on a dataset",
        description="Simulate annotation with several methods and seeds: each method starts "
        "from zero labels, queries --batch-size candidates per round for --rounds rounds, and "
        "is evaluated (candidate-level AUC) on a held-out test set after every round. Running "
        "the same command again continues an interrupted run.",
    )
    cmp.add_argument("--dataset", required=True, choices=DATASETS,
                     help="synthetic (embedded), kvasir (Kvasir-SEG folder), medmnist (.npz "
                     "file), folder (one sub-folder of images per class)")
    cmp.add_argument("--data-dir", metavar="PATH",
                     help="the data: Kvasir-SEG folder, MedMNIST .npz file or image folder")
    cmp.add_argument("--methods", nargs="+", default=["entropy_diversity_quarter",
                     "diversity_quarter", "ift_random"], metavar="METHOD",
                     help="methods (space or comma separated; 'peers' for every peer strategy, "
                     "'all' for every method); default: %(default)s")
    cmp.add_argument("--rounds", type=_positive_int, default=10, help="rounds (default: 10)")
    cmp.add_argument("--batch-size", type=_positive_int, default=10,
                     help="candidates queried per round (default: 10)")
    cmp.add_argument("--seeds", type=_positive_int, default=3,
                     help="number of seeds (0, 1, ...; default: 3)")
    add_model_arguments(cmp, backbone="mobilenet_v2",
                        backbone_help="torchvision model name (default: mobilenet_v2)",
                        weights="IMAGENET1K_V1",
                        weights_help="torchvision weights name, a state-dict file, or 'none' "
                        "for random initialisation (default: IMAGENET1K_V1)")
    add_training_arguments(cmp)
    cmp.add_argument("--patch-size", type=_positive_int, default=64,
                     help="side of the patches cut from the images (default: 64)")
    cmp.add_argument("--shifts", action="store_true",
                     help="kvasir: add the paper's four 10%% translations to the box protocol "
                     "(96 patches per candidate instead of 24)")
    cmp.add_argument("--n-candidates", type=_positive_int, default=400,
                     help="synthetic dataset: frames generated (60%% pool, 40%% test; "
                     "default: 400)")
    cmp.add_argument("--test-size", type=_fraction, default=0.3,
                     help="kvasir/folder: share of the images held out for testing "
                     "(default: 0.3)")
    cmp.add_argument("--positive", metavar="CLASS",
                     help="folder: the class sub-folder that is the positive class of the AUC "
                     "and the plots (default: the later of the two names in sorted order)")
    cmp.add_argument("--on-conflict", choices=ON_CONFLICT, default="raise",
                     help="identical images with different labels (e.g. in two class "
                     "folders): raise lists them and stops, drop leaves them out, first keeps "
                     "the first with its label (default: %(default)s); identical images with "
                     "one label are always one candidate")
    cmp.add_argument("--full-data", action="store_true",
                     help="also fine-tune once per seed on the whole labeled pool")
    cmp.add_argument("--out", default="aift-results", metavar="DIR",
                     help="output folder (default: %(default)s)")
    cmp.add_argument("--threads", type=_positive_int, default=None,
                     help="CPU threads for torch (default: torch's own choice)")
    cmp.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                     help="run the (method, seed) runs on N local processes, each with its "
                     "share of the --threads (default: 1, one after the other)")
    cmp.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_cluster_arguments(cmp, "run the (method, seed) runs")
    _add_cluster_arguments(add_label_parser(sub))
    return parser


def _add_cluster_arguments(command: argparse.ArgumentParser,
                           what: str = "score the pool") -> None:
    """``--scheduler`` / ``--workers``: ``what`` on a Dask cluster."""
    group = command.add_mutually_exclusive_group()
    group.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help=f"{what} on the Dask cluster of this scheduler, e.g. "
                       "tcp://10.0.0.5:8786 (needs the dask extra)")
    group.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                       help=f"{what} on a local Dask cluster of N worker processes "
                       "(default: in-process)")


def _cluster(args: argparse.Namespace):
    """The Dask context of ``--scheduler``/``--workers``; in-process without them."""
    from ..parallel import dask_backend

    return dask_backend(args.scheduler, args.workers)


@contextlib.contextmanager
def _cluster_or_usage_error(args: argparse.Namespace,
                            doing: str = "Scoring the pool on a Dask cluster"):
    """Enter :func:`_cluster`, reporting a cluster that cannot be used as one line."""
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(_cluster(args))
        except (ValueError, ImportError, OSError) as exc:
            raise UsageError(f"cannot use the Dask cluster: {_one_line(exc)}") from None
        if client is not None:
            print(f"{doing}: {client}", flush=True)
        yield client


# ---------------------------------------------------------------------------
# Checks that must fail fast, with one line
# ---------------------------------------------------------------------------


def _check_out_dir(out: str) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"--out {out}: cannot write there ({reason})") from None
    return path


def _check_data_dir(args: argparse.Namespace) -> Path | None:
    if args.dataset == "synthetic":
        if args.data_dir is not None:
            raise UsageError("--data-dir is not used with --dataset synthetic (the data is "
                             "generated); leave it out")
        return None
    if args.data_dir is None:
        raise UsageError(f"--data-dir is required with --dataset {args.dataset}")
    path = Path(args.data_dir)
    if not path.exists():
        raise UsageError(f"--data-dir {args.data_dir}: no such file or folder")
    if args.dataset == "medmnist":
        if path.is_dir():
            npz = sorted(path.glob("*.npz"))
            if len(npz) != 1:
                raise UsageError(
                    f"--data-dir {args.data_dir}: give the MedMNIST .npz file itself (the folder "
                    f"holds {len(npz)} .npz files)"
                )
            path = npz[0]
        elif path.suffix != ".npz":
            raise UsageError(f"--data-dir {args.data_dir}: expected a MedMNIST .npz file")
    elif not path.is_dir():
        raise UsageError(f"--data-dir {args.data_dir}: expected a folder")
    return path


# ---------------------------------------------------------------------------
# Data, model and the run
# ---------------------------------------------------------------------------


def _load_data(args: argparse.Namespace, data_path: Path | None):
    """Return (X_pool, y_pool, X_test, y_test, description, duplicates).

    ``duplicates`` is the folder's or Kvasir frames' DuplicateReport (identical files
    are already one candidate), else None.
    """
    import numpy as np

    from .. import datasets

    if args.dataset == "synthetic":
        n = args.n_candidates
        n_test = max(2, int(round(0.4 * n)))
        pool = datasets.make_colonoscopy_frames(n_frames=n - n_test, random_state=0)
        test = datasets.make_colonoscopy_frames(n_frames=n_test, random_state=1)
        return (pool.data, pool.target, test.data, test.target, "synthetic colonoscopy frames",
                None)
    if args.dataset == "kvasir":
        from ..augment import BoxProtocol

        # the paper's box protocol without the translations: 3 scales x 8 orientations = 24
        # patches per candidate (pass --shifts to add the four 10% translations: 96)
        protocol = BoxProtocol(patch_size=args.patch_size, shift=0.1 if args.shifts else 0)
        with warnings.catch_warnings():  # the duplicate report is printed once, at start
            warnings.filterwarnings("ignore", message=".*identical content", category=UserWarning)
            bunch = datasets.load_kvasir_seg(data_path, protocol=protocol,
                                             test_size=args.test_size, random_state=0,
                                             on_conflict=args.on_conflict)
        X, y = bunch.data, np.asarray(bunch.target)
        train, test = np.asarray(bunch.train_index), np.asarray(bunch.test_index)
        return (X[train], y[train], X[test], y[test], f"Kvasir-SEG at {data_path}",
                bunch.duplicates)
    if args.dataset == "medmnist":
        train = datasets.load_medmnist(data_path, split="train")
        test = datasets.load_medmnist(data_path, split="test")
        return (train.data, train.target, test.data, test.target, f"MedMNIST {data_path.name}",
                None)
    from sklearn.model_selection import train_test_split

    from ..augment import FrameProtocol

    with warnings.catch_warnings():  # the duplicate report is printed once, at start
        warnings.filterwarnings("ignore", message=".*identical content", category=UserWarning)
        bunch = datasets.load_image_folder(data_path, protocol=FrameProtocol(
            patch_size=args.patch_size), positive_class=args.positive, random_state=0,
            on_conflict=args.on_conflict)
    if len(bunch.target_names) < 2:
        raise UsageError(f"--data-dir {data_path}: the folder has a single class "
                         f"({str(bunch.target_names[0])!r}); compare needs two class sub-folders "
                         f"with images")
    y = np.asarray(bunch.target)
    try:
        idx_pool, idx_test = train_test_split(
            np.arange(len(y)), test_size=args.test_size, stratify=y, random_state=0
        )
    except ValueError as exc:
        raise UsageError(f"--data-dir {data_path}: cannot split {len(y)} images into pool and "
                         f"test sets ({_one_line(exc)})") from None
    X = bunch.data
    return (X[idx_pool], y[idx_pool], X[idx_test], y[idx_test], f"image folder {data_path}",
            bunch.duplicates)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _run(args: argparse.Namespace, *, settings: dict[str, Any], dataset_note: str,
         X_pool: Any, y_pool: Any, X_test: Any, y_test: Any, estimator: Any,
         out_dir: Path, title: str, duplicates: str | None = None) -> int:
    import numpy as np

    from ..experiment import (
        annotation_saving,
        format_metric_table,
        format_saving_table,
        run_comparison,
    )

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    budget = settings["rounds"] * settings["batch_size"]
    if budget > len(X_pool):
        raise UsageError(
            f"the budget --rounds x --batch-size = {settings['rounds']} x "
            f"{settings['batch_size']} = {budget} exceeds the pool of {len(X_pool)} candidates"
        )
    if len(np.unique(y_pool)) < 2:
        raise UsageError(f"the training pool of {dataset_note} holds a single class")
    from ..plotting import warn_small_test_set

    warn_small_test_set(len(X_test))
    check_model(estimator, X_pool)

    print(f"{title}")
    print(
        f"  data: {dataset_note}: pool of {len(X_pool)} candidates, test set of {len(X_test)} "
        f"(patches per candidate: {X_pool.shape[1] if len(X_pool.shape) == 5 else 1})"
    )
    if duplicates:
        print(f"  duplicates: {duplicates}; each content is one candidate")
    print(
        f"  model: {estimator.backbone} ({estimator.weights or 'random init'}), input "
        f"{estimator.input_size} px, {_describe_freeze(estimator.freeze)}, epochs "
        f"{estimator.max_epochs}/{estimator.max_epochs_incremental}"
    )
    print(
        f"  methods: {', '.join(settings['methods'])}; {settings['rounds']} rounds of "
        f"{settings['batch_size']}, {settings['seeds']} seed(s)",
        flush=True,
    )
    if estimator.freeze != 0:
        shared = "every method" if estimator.weights is None else "every method and seed"
        print(f"  frozen pass: the frozen blocks' activations of pool and test are computed "
              f"once and shared by {shared} (kept in {out_dir / 'activations'})"
              + (", except Learning from Scratch, whose random frozen blocks differ per seed"
                 if "scratch" in settings["methods"] and estimator.weights is not None
                 else ""), flush=True)
    start = time.perf_counter()
    results = run_comparison(
        estimator,
        X_pool,
        y_pool,
        X_test,
        y_test,
        methods=settings["methods"],
        n_rounds=settings["rounds"],
        batch_size=settings["batch_size"],
        seeds=settings["seeds"],
        full_data=settings.get("full_data", False),
        out_dir=out_dir,
        n_jobs=getattr(args, "jobs", None),
        verbose=0 if args.quiet else 1,
    )
    elapsed = time.perf_counter() - start

    labels = results.curve(results.methods[0])[0].tolist()
    step = -(-len(labels) // 6)  # at most six columns, ending at the full budget
    budgets = labels[::-1][::step][::-1]
    print()
    print("Test AUC (mean ± std over seeds) against labels queried:")
    print(format_metric_table(results, budgets))
    figures = _write_figures(results, X_pool, y_pool, out_dir)
    if "ift_random" in results.methods:
        savings = annotation_saving(results)
        print()
        print(
            "Labels needed to reach IFT Random's AUC at its full budget, and the annotation "
            "saving:"
        )
        print(format_saving_table(savings))
        if any(m != "ift_random" for m in results.methods):  # else nothing to compare
            print()
            print(_conclusion(results, savings))
    print()
    print(f"Finished in {elapsed:.0f} s. Results and figures in {out_dir}/:")
    for name in ["results.csv", "results.json"] + figures:
        print(f"  {out_dir / name}")
    return 0


def _describe_freeze(freeze: int) -> str:
    if freeze < 0:
        return f"all feature blocks but the last {-freeze} frozen (and cached)"
    if freeze == 0:
        return "every layer fine-tuned"
    return f"the first {freeze} feature blocks frozen (and cached)"


def _conclusion(results: Any, savings: list) -> str:
    """One sentence read off the numbers: the first method against IFT Random."""
    import numpy as np

    from ..experiment import method_label

    by_method = {s["method"]: s for s in savings}
    method = next(m for m in results.methods if m != "ift_random")
    labels, ref = results.curve("ift_random")
    _, auc = results.curve(method)
    mine, theirs = auc.mean(axis=0), ref.mean(axis=0)
    taught = labels > 0
    gap = (mine - theirs)[taught]
    worst = int(np.argmin(gap))
    mine_s = by_method[method]
    reached = (f"reaches IFT Random's final AUC ({mine_s['target']:.3f}) with "
               f"{mine_s['labels_needed']:.0f} of {mine_s['full_budget']:.0f} labels (saving "
               f"{mine_s['saving']:.0%})" if np.isfinite(mine_s["labels_needed"])
               else f"does not reach IFT Random's final AUC ({mine_s['target']:.3f})")
    return (f"{method_label(method)} {reached}; at {int(labels[-1])} labels its AUC is "
            f"{mine[-1]:.3f} against IFT Random's {theirs[-1]:.3f}, and its largest deficit is "
            f"{gap[worst]:+.3f} at {int(labels[taught][worst])} labels.")


def _write_figures(results: Any, X_pool: Any, y_pool: Any, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import plot_learning_curves, plot_selected_candidates, plot_selection_balance

    written = []
    fig = plot_learning_curves(results, path=out_dir / "learning_curves.png")
    plt.close(fig)
    written.append("learning_curves.png")
    fig = plot_selection_balance(results, path=out_dir / "selection_balance.png")
    plt.close(fig)
    written.append("selection_balance.png")
    if any(r.get("patch_proba") for r in results):
        rounds = sorted({r["round"] for r in results if r.get("patch_proba")})
        fig = plot_selected_candidates(results, X_pool, y_pool, round=rounds[-1],
                                       path=out_dir / "selected_candidates.png")
        plt.close(fig)
        written.append("selected_candidates.png")
    return written


def _cmd_demo(args: argparse.Namespace) -> int:
    from .. import datasets

    settings = dict(QUICK if args.quick else DEMO)
    out_dir = _check_out_dir(args.out)
    pool = datasets.make_colonoscopy_frames(n_frames=settings["n_pool"], random_state=0)
    test = datasets.make_colonoscopy_frames(n_frames=settings["n_test"], random_state=1)
    estimator = make_estimator(
        "mobilenet_v2",
        "IMAGENET1K_V1",
        input_size=settings["input_size"],
        freeze=settings["freeze"],
        max_epochs=settings["epochs"],
        max_epochs_incremental=settings["epochs_incremental"],
        device=args.device,
    )
    title = "sklearn-aift demo" + (" (quick)" if args.quick else "") + (
        ": AIFT vs IFT Random on synthetic colonoscopy frames, ImageNet MobileNetV2"
    )
    return _run(args, settings=settings, dataset_note="synthetic colonoscopy frames",
                X_pool=pool.data, y_pool=pool.target, X_test=test.data, y_test=test.target,
                estimator=estimator, out_dir=out_dir, title=title)


def _cmd_compare(args: argparse.Namespace) -> int:
    methods = _methods_arg(args.methods)
    data_path = _check_data_dir(args)
    if args.positive is not None and args.dataset != "folder":
        raise UsageError(f"--positive is only used with --dataset folder (the positive class "
                         f"of {args.dataset} is fixed); leave it out")
    out_dir = _check_out_dir(args.out)
    from ..candidates import find_duplicates

    try:
        X_pool, y_pool, X_test, y_test, note, duplicates = _load_data(args, data_path)
        if duplicates is None:  # array pools: identical candidates by their pixels
            duplicates = find_duplicates(X_pool, y_pool)
            keep = duplicates.keep(on_conflict=args.on_conflict)
            if len(keep) < len(X_pool):
                X_pool, y_pool = X_pool[keep], y_pool[keep]
    except (ValueError, TypeError, OSError) as exc:
        option = "--positive" if "positive_class=" in str(exc) else None
        message = _one_line(exc).replace("positive_class=", "")
        message = re.sub(r"on_conflict='(\w+)'", r"--on-conflict \1", message)
        raise UsageError(f"{option} {message}" if option else message) from None
    estimator = make_estimator(args.backbone, args.weights, input_size=args.input_size,
                               device=args.device, **training_params(args))
    settings = {
        "methods": methods,
        "rounds": args.rounds,
        "batch_size": args.batch_size,
        "seeds": args.seeds,
        "full_data": args.full_data,
    }
    n_runs = len(methods) * args.seeds
    doing = ("Scoring the pool on a Dask cluster" if n_runs == 1
             else f"Running the {n_runs} (method, seed) runs on a Dask cluster")
    with _cluster_or_usage_error(args, doing):
        return _run(args, settings=settings, dataset_note=note, X_pool=X_pool, y_pool=y_pool,
                    X_test=X_test, y_test=y_test, estimator=estimator, out_dir=out_dir,
                    title=f"sklearn-aift compare on {note}",
                    duplicates=str(duplicates) if duplicates else None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sklearn-aift`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    status : int
        0 on success, 2 for a command-line or data problem (reported as one
        line on stderr), 1 for a failure during the run, 130 when interrupted
        (run the same command again to continue).

    Examples
    --------
    >>> from sklearn_aift.cli import main
    >>> main(["compare", "--dataset", "nope"])
    2
    """
    parser = build_parser()
    prog = PROG
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        prog = f"{PROG} {args.command}"
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "label":
            with _cluster_or_usage_error(args):
                return run_label(args)
        return _cmd_compare(args)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; run the same command again to continue where it "
              f"stopped", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the command reports failures as one line
        if os.environ.get("SKLEARN_AIFT_DEBUG"):
            raise
        print(f"{prog}: error: {type(exc).__name__}: {_one_line(exc)} (set "
              f"SKLEARN_AIFT_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1

