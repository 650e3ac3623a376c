"""AIFTNet, the continuously fine-tuned CNN over candidates, and its activation cache.

Private modules, one job each: ``_estimator`` (the scikit-learn estimator),
``_module`` (the network with input handling and freezing), ``_cache`` (frozen
activations per candidate), ``_inference`` (running the network over pools),
``_data`` (training batches), ``_schedule`` (Table 3's learning rates) and
``_checkpoint`` (exact save and restore).
"""

from ._cache import ActivationCache
from ._checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from ._estimator import AIFTNet

__all__ = ["AIFTNet", "ActivationCache", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION"]
