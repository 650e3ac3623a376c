"""sklearn-aift: active incremental fine-tuning (AIFT) for biomedical image annotation.

AIFT (Zhou et al., CVPR 2017) lets a pretrained CNN choose the unlabeled
candidates most worth an expert's time, judging each candidate by how its
augmented patches disagree, and fine-tunes the CNN continuously as labels
arrive, starting from zero labels.
"""

from .candidates import check_candidates

__version__ = "0.1.0"

__all__ = [
    "check_candidates",
]
