"""The `sklearn-aift label` sub-command: arguments, default model, serving."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from ..augment import FrameProtocol
from ._argtypes import UsageError, image_side
from ._argtypes import positive_int as _positive_int
from ._model_args import add_model_arguments, check_model, make_estimator

__all__ = ["add_label_parser", "run_label"]


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port in 1-65535, got {text!r}")
    return value


def _classes(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if len(names) < 2 or any(not n for n in names):
        raise argparse.ArgumentTypeError(
            f"expected at least two comma-separated class names, got {text!r}"
        )
    return names


def add_label_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``label`` sub-command to an ``add_subparsers`` object.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``sklearn-aift`` sub-parsers.

    Returns
    -------
    parser : argparse.ArgumentParser
        The ``label`` parser.

    Examples
    --------
    >>> from sklearn_aift.cli import build_parser
    >>> args = build_parser().parse_args(["label", "images", "--session", "s"])
    >>> args.command, args.batch_size, args.host, args.port
    ('label', 10, '127.0.0.1', 8765)
    """
    label = sub.add_parser(
        "label",
        help="label a folder of images in the browser, AIFT choosing what to label next",
        description="Serve a labeling page for IMAGES_DIR: each round shows the images AIFT "
        "ranks most worth labeling; every label is saved at once in the session folder, the "
        "model fine-tunes in the background when a batch is complete, and the same command "
        "resumes the session after any interruption.",
    )
    label.add_argument("images_dir", metavar="IMAGES_DIR",
                       help="folder of images (nested folders allowed)")
    label.add_argument("--session", required=True, metavar="PATH",
                       help="session folder: created when missing, resumed when it exists")
    label.add_argument("--classes", type=_classes, default=["negative", "positive"],
                       help="comma-separated class names, keys 1, 2, ... (default: "
                       "negative,positive)")
    label.add_argument("--labels", metavar="CSV",
                       help="import labels (CSV: file,label; files relative to IMAGES_DIR) "
                       "before the first query")
    label.add_argument("--labels-from-folders", action="store_true",
                       help="images in a top-level sub-folder named like a class get that "
                       "class as a known label before the first query")
    label.add_argument("--batch-size", type=_positive_int, default=10,
                       help="images per round (default: 10)")
    label.add_argument("--check-set", type=_positive_int, default=None, metavar="N",
                       help="N images drawn at random when the session starts, labeled first "
                       "and never trained on: after every round the model's AUC, sensitivity "
                       "and specificity on them are shown and exported (positive class: the "
                       "second of --classes); a resumed session keeps its check set")
    label.add_argument("--strategy", default="entropy_diversity_quarter",
                       help="query strategy of sklearn_aift.strategies (default: %(default)s)")
    add_model_arguments(label, backbone=None,
                        backbone_help="torchvision model (default: alexnet when its ImageNet "
                        "weights are available, else the offline mobilenet_v2)",
                        weights=None,
                        weights_help="torchvision weights name or state-dict file (default: "
                        "the backbone's ImageNet weights)")
    label.add_argument("--patch-size", type=image_side, default=64,
                       help="side of the patches cut from each image (default: 64)")
    label.add_argument("--n-patches", type=_positive_int, default=21,
                       help="patches per image: 1, 5, 21, ... (default: 21)")
    label.add_argument("--threads", type=_positive_int, default=None,
                       help="CPU threads for torch (default: torch's own choice, usually "
                       "every core; use 1 on a machine busy with other jobs, where more "
                       "threads run slower)")
    label.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only; any "
                       "other address requires a token)")
    label.add_argument("--port", type=_port, default=8765, help="port (default: 8765)")
    label.add_argument("--token", default=None,
                       help="access token (generated and printed when another host than "
                       "127.0.0.1 is given without one)")
    label.add_argument("--open", action="store_true",
                       help="open the page in the default web browser once the server listens")
    return label


def _alexnet_weights_cached() -> bool:
    """Whether torchvision's AlexNet ImageNet file is in the hub cache (no download tried)."""
    import torch.hub
    from torchvision.models import AlexNet_Weights

    name = os.path.basename(AlexNet_Weights.IMAGENET1K_V1.url)
    return os.path.isfile(os.path.join(torch.hub.get_dir(), "checkpoints", name))


def default_estimator(args: argparse.Namespace) -> tuple[Any, str]:
    """The model the command starts from, and a sentence saying which it is."""
    common = dict(input_size=args.input_size, device=args.device, random_state=0,
                  max_epochs=5, max_epochs_incremental=3)
    if args.backbone is not None:
        weights = "DEFAULT" if args.weights is None else args.weights
        weights = None if str(weights).lower() == "none" else weights
        note = f"model: {args.backbone} with weights {weights!r}"
        return make_estimator(args.backbone, weights, **common), note
    if args.weights is None and _alexnet_weights_cached():
        return make_estimator("alexnet", "DEFAULT", **common), "model: AlexNet, ImageNet weights"
    if args.weights is not None:
        return make_estimator("alexnet", args.weights, **common), (
            f"model: AlexNet with weights {args.weights!r}")
    note = ("AlexNet's ImageNet weights are not available here (not in torch hub's cache), so "
            "the session starts from the offline ImageNet MobileNetV2 (frozen feature blocks, "
            "cached activations)")
    return make_estimator("mobilenet_v2", "IMAGENET1K_V1", **common), note


def _check_model_on_folder(estimator: Any, protocol: Any, images_dir: str) -> None:
    """Predict the folder's first readable image once: bad model arguments fail before serving."""
    from ..app import list_folder_images
    from ..candidates import CandidateSet
    from ..io import UnreadableImageError, verify_image

    if not os.path.isdir(images_dir):
        raise UsageError(f"IMAGES_DIR {images_dir}: not a folder")
    for path in list_folder_images(Path(images_dir)):
        try:
            verify_image(path)
        except UnreadableImageError:
            continue
        check_model(estimator, CandidateSet([str(path)], protocol, image_mode="RGB"))
        return
    # no readable image: the campaign says so, naming the extensions


def _check_check_set(args: argparse.Namespace) -> None:
    """One line when ``--check-set`` leaves fewer than two batches of images to learn from."""
    from ..app import list_folder_images

    if args.check_set is None or not os.path.isdir(args.images_dir):
        return
    n_images = len(list_folder_images(Path(args.images_dir)))
    left = n_images - args.check_set
    if left < 2 * args.batch_size:
        raise UsageError(f"--check-set {args.check_set}: leaves {max(left, 0)} of the "
                         f"{n_images} images to learn from; at least two batches "
                         f"(2 x --batch-size = {2 * args.batch_size}) are needed")


def _check_host(host: str, token: str | None) -> str | None:
    """The token to use: none needed on a loopback address, else the one given or a new one."""
    from ..app import generate_token, is_loopback

    if is_loopback(host):
        return token
    return token if token is not None else generate_token()


def _check_listen(host: str, port: int) -> None:
    """Bind ``host:port`` once as uvicorn will, so a bad address or a busy port fails first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's choice
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except (socket.gaierror, UnicodeError) as exc:
            raise UsageError(f"--host {host}: not an address or host name that resolves "
                             f"({exc})") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"--port {port}: already in use on {host} (another server, "
                                 f"perhaps another session?); choose another with "
                                 f"--port") from None
            raise UsageError(f"--host {host}: cannot listen there "
                             f"({exc.strerror or exc})") from None


def _check_session_free(session: str) -> None:
    """One line, before any set-up, when another server holds the session folder."""
    from ..learner import SessionInUseError, check_session_free

    try:
        check_session_free(session)
    except SessionInUseError as exc:
        raise UsageError(str(exc)) from None


def _check_paths(args: argparse.Namespace) -> None:
    """One-line errors for a session that is a file and a labels file that is not text."""
    session = args.session
    if os.path.exists(session) and not os.path.isdir(session):
        raise UsageError(f"--session {session}: exists and is not a folder (a session is a "
                         f"folder; give a new or an existing session folder)")
    if args.labels is not None:
        if not os.path.isfile(args.labels):
            raise UsageError(f"--labels {args.labels}: no such file")
        try:
            with open(args.labels, encoding="utf-8") as fh:
                fh.read()
        except UnicodeDecodeError as exc:
            raise UsageError(f"--labels {args.labels}: not a UTF-8 text CSV file (file,label); "
                             f"byte {exc.start} cannot be decoded") from None
        except OSError as exc:
            raise UsageError(f"--labels {args.labels}: cannot read it ({exc.strerror})") from None


def run_label(args: argparse.Namespace) -> int:
    """Run ``sklearn-aift label`` with parsed arguments (serves until interrupted).

    Parameters
    ----------
    args : argparse.Namespace
        From the ``label`` parser.

    Returns
    -------
    status : int
        0 when the server stops normally.

    Raises
    ------
    UsageError
        Before anything is served or printed, if the session is a file, is in
        use by another process or was made with another strategy, other
        model options or another check set, ``--check-set`` leaves fewer than
        two batches of images to learn from, the labels file is not text, the host is not an address
        of this machine or the port is busy.
    ValueError
        If the folder, classes, strategy or session do not fit.

    Examples
    --------
    ``run_label(args)`` serves until interrupted; ``args`` come from the parser:

    >>> from sklearn_aift.cli import build_parser
    >>> args = build_parser().parse_args(["label", "images", "--session", "s"])
    >>> args.strategy, args.batch_size
    ('entropy_diversity_quarter', 10)
    """
    import torch

    from .. import strategies
    from ..app import LabelingCampaign, SessionInUseError, serve
    from ..learner import SessionError

    _check_paths(args)
    _check_check_set(args)
    _check_listen(args.host, args.port)
    _check_session_free(args.session)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.strategy not in strategies.STRATEGY_NAMES:
        raise ValueError(f"--strategy must name a query strategy of sklearn_aift.strategies "
                         f"({', '.join(strategies.STRATEGY_NAMES)}); got {args.strategy!r}.")
    strategy = strategies.get_strategy(args.strategy)
    token = _check_host(args.host, args.token)
    estimator, note = default_estimator(args)
    protocol = FrameProtocol(n_patches=args.n_patches, patch_size=args.patch_size)
    _check_model_on_folder(estimator, protocol, args.images_dir)
    print(note, file=sys.stderr, flush=True)
    try:
        campaign = LabelingCampaign(
            args.images_dir, args.session, estimator, classes=args.classes,
            batch_size=args.batch_size, strategy=strategy, protocol=protocol,
            labels=args.labels, labels_from_folders=args.labels_from_folders,
            check_set=args.check_set)
    except SessionInUseError as exc:  # another server took it since the first check
        raise UsageError(str(exc)) from None
    except SessionError as exc:  # made with another strategy, model options or check set
        raise UsageError(f"--session {args.session}: {exc}") from None
    shown = "[::1]" if args.host == "::1" else args.host
    url = f"http://{shown}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"open {url}", file=sys.stderr, flush=True)
    serve(campaign, host=args.host, port=args.port, token=token,
          open_url=url if args.open else None)
    return 0
