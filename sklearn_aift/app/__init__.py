"""`sklearn-aift label`: a labeling web page for an expert, ranked by AIFT.

:class:`LabelingCampaign` holds the page's side of one
:class:`~sklearn_aift.learner.ActiveLearner` session over a folder of images
(the folder's pool, AIFT-ranked batches, durable decisions, background
fine-tuning); :func:`create_app` serves it over HTTP with the page in
``static/``, and :func:`serve` runs that app.

The web framework (FastAPI, uvicorn) is the optional ``[app]`` extra and is
imported only when :func:`create_app` or :func:`serve` is first used, so that
``import sklearn_aift`` stays light.
"""

from importlib import import_module

from ..learner import SessionInUseError
from ._campaign import LabelingCampaign
from ._folder import list_folder_images
from ._serving import generate_token, is_loopback, serve

__all__ = [
    "LabelingCampaign",
    "SessionInUseError",
    "create_app",
    "generate_token",
    "is_loopback",
    "list_folder_images",
    "serve",
]

# the names defined next to the web framework, imported on first access
_SERVER_NAMES = ("create_app",)
_WEB_FRAMEWORK = ("fastapi", "starlette", "uvicorn")


def _import_web(name, package=None):
    """Import ``name``, saying how to install the ``[app]`` extra when it lacks."""
    try:
        return import_module(name, package)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in _WEB_FRAMEWORK:
            raise
        raise ImportError(
            f"the labeling page needs {missing!r}, which is not installed; install "
            "the page's dependencies with `pip install 'sklearn-aift[app]'`"
        ) from exc


def __getattr__(name):
    if name not in _SERVER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_web("._server", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
