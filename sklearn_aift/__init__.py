"""sklearn-aift: active incremental fine-tuning (AIFT) for biomedical image annotation.

AIFT (Zhou et al., CVPR 2017) lets a pretrained CNN choose the unlabeled
candidates most worth an expert's time, judging each candidate by how its
augmented patches disagree, and fine-tunes the CNN continuously as labels
arrive, starting from zero labels.
"""

from . import app as _app
from .utils._version import __version__
from .app import LabelingCampaign, generate_token
from .augment import AxisProtocol, BoxProtocol, FrameProtocol, axis_patches, box_patches, frame_patches
from .backbones import WeightsUnavailableError, build_backbone, list_backbones
from .candidates import (
    CandidateSet,
    DuplicateReport,
    check_candidates,
    concatenate_candidates,
    find_duplicates,
)
from .datasets import (
    load_image_folder,
    load_kvasir_seg,
    load_kvasir_seg_video,
    load_medmnist,
    make_colonoscopy_frames,
)
from .experiment import ResultsTable, annotation_saving, run_comparison
from .io import ImageData, UnreadableImageError, read_image, verify_image
from .learner import ActiveLearner, SessionError, SessionStore
from .net import ActivationCache, AIFTNet
from .parallel import dask_backend, pool_scores
from .peers import (
    BADGESampling,
    BALDSampling,
    CoreSetSampling,
    OneViewUncertainty,
    TypiClustMargin,
    badge,
    bald,
    coreset,
    one_view_entropy,
    one_view_margin,
    typiclust_margin,
)
from .plotting import (
    plot_learning_curves,
    plot_prediction_patterns,
    plot_selected_candidates,
    plot_selection_balance,
    warn_small_test_set,
)
from .scoring import candidate_scores, majority_select, pairwise_symmetric_kl, patch_entropy
from .strategies import (
    aift_sampling,
    describe_strategy,
    diversity,
    diversity_quarter,
    entropy,
    entropy_diversity,
    entropy_diversity_quarter,
    entropy_quarter,
    mean_uncertainty,
    random_sampling,
)

__all__ = [
    "ActiveLearner",
    "LabelingCampaign",
    "create_app",
    "generate_token",
    "SessionStore",
    "SessionError",
    "AIFTNet",
    "ActivationCache",
    "WeightsUnavailableError",
    "build_backbone",
    "list_backbones",
    "check_candidates",
    "CandidateSet",
    "concatenate_candidates",
    "DuplicateReport",
    "find_duplicates",
    "read_image",
    "verify_image",
    "ImageData",
    "UnreadableImageError",
    "BoxProtocol",
    "FrameProtocol",
    "AxisProtocol",
    "box_patches",
    "frame_patches",
    "axis_patches",
    "make_colonoscopy_frames",
    "load_kvasir_seg",
    "load_kvasir_seg_video",
    "load_medmnist",
    "load_image_folder",
    "candidate_scores",
    "majority_select",
    "pairwise_symmetric_kl",
    "patch_entropy",
    "pool_scores",
    "dask_backend",
    "aift_sampling",
    "describe_strategy",
    "diversity",
    "diversity_quarter",
    "entropy",
    "entropy_diversity",
    "entropy_diversity_quarter",
    "entropy_quarter",
    "mean_uncertainty",
    "random_sampling",
    "OneViewUncertainty",
    "BALDSampling",
    "CoreSetSampling",
    "TypiClustMargin",
    "BADGESampling",
    "one_view_entropy",
    "one_view_margin",
    "bald",
    "coreset",
    "typiclust_margin",
    "badge",
    "run_comparison",
    "ResultsTable",
    "annotation_saving",
    "plot_learning_curves",
    "plot_selection_balance",
    "plot_selected_candidates",
    "plot_prediction_patterns",
    "warn_small_test_set",
]


def __getattr__(name):
    # create_app needs the web framework (the ``[app]`` extra): import it on
    # first use, never with the package
    if name in _app._SERVER_NAMES:
        value = getattr(_app, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
