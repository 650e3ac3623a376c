"""AIFTNet, the continuously fine-tuned CNN over candidates, and its activation cache.

Private modules, one job each: ``_estimator`` (the scikit-learn estimator),
``_building`` (M0: the backbone with its new last layer), ``_training`` (one
fit), ``_module`` (the network with input handling and freezing, and its
passes over candidates), ``_cache`` (frozen activations per candidate),
``_data`` (training batches), ``_schedule`` (Table 3's learning rates),
``_checkpoint`` (exact save and restore), ``_frozen`` (the frozen prefix for
callers that share its activations) and ``_mc_dropout`` (Monte Carlo dropout
passes).
"""

from ._cache import ActivationCache
from ._checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from ._estimator import AIFTNet
from ._frozen import cache_frozen_activations, frozen_fingerprint
from ._mc_dropout import mc_dropout_proba

__all__ = [
    "AIFTNet",
    "ActivationCache",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "cache_frozen_activations",
    "frozen_fingerprint",
    "mc_dropout_proba",
]
