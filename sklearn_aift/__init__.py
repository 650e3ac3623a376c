"""sklearn-aift: active incremental fine-tuning (AIFT) for biomedical image annotation.

AIFT (Zhou et al., CVPR 2017) lets a pretrained CNN choose the unlabeled
candidates most worth an expert's time, judging each candidate by how its
augmented patches disagree, and fine-tunes the CNN continuously as labels
arrive, starting from zero labels.
"""

from .candidates import check_candidates
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

__version__ = "0.1.0"

__all__ = [
    "check_candidates",
    "candidate_scores",
    "majority_select",
    "pairwise_symmetric_kl",
    "patch_entropy",
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
]
