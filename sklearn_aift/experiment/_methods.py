"""The methods a comparison can run, their display names and their query strategies."""

from __future__ import annotations

from typing import Callable

from .. import peers, strategies


#: The six AIFT variants of the paper, in the order of its figures.
AIFT_METHODS: tuple[str, ...] = (
    "diversity_quarter",
    "diversity",
    "entropy_quarter",
    "entropy",
    "entropy_diversity_quarter",
    "entropy_diversity",
)

#: Every method :func:`run_comparison` knows: the six AIFT variants, IFT
#: Random (continuous fine-tuning with random queries), Learning from Scratch
#: (same architecture, random initial weights, random queries) and the entropy
#: of the candidate's mean prediction (the plain uncertainty baseline).
#: AIFT variants that rank by the paper's criterion from the very first round
#: (``cold_start=None``), to measure what the cold-start policy changes.
PAPER_COLD_START_METHODS: tuple[str, ...] = (
    "diversity_quarter_paper",
    "entropy_diversity_quarter_paper",
)

#: AIFT (Entropy+Diversity) 1/4 with a batch-aware selection
#: (:class:`~sklearn_aift.strategies.AIFTSampling`'s ``batch``): a k-center
#: batch among the top ``4 b`` (``_diverse``) or ``b`` drawn from them at
#: random (``_randomized``, ACFT's selection).
BATCH_AWARE_METHODS: tuple[str, ...] = (
    "entropy_diversity_quarter_diverse",
    "entropy_diversity_quarter_randomized",
)

#: AIFT (Entropy+Diversity) 1/4 with its scores weighted by typicality
#: (``density=1``): informative candidates of dense regions before outliers.
#: ``_switch``: after the cold start, part of each batch covers the pool until
#: the network agrees with its labeled neighbours (``switch="agreement"``).
#: ``_typical``: TypiClust's typical batches during the cold start
#: (``cold_start="typical"``), then the AIFT ranking; ``_typical_first``:
#: TypiClust's batch for the first round only, random picks for the rest of
#: the cold start (``cold_start="typical_first"``); ``_diverse`` after either:
#: with the diverse batch once the ranking takes over.
BUDGET_AWARE_METHODS: tuple[str, ...] = ("entropy_diversity_quarter_dense",
                                         "entropy_diversity_quarter_switch",
                                         "entropy_diversity_quarter_typical",
                                         "entropy_diversity_quarter_typical_diverse",
                                         "entropy_diversity_quarter_typical_first",
                                         "entropy_diversity_quarter_typical_first_diverse")

_VARIANTS = {
    "entropy_diversity_quarter_diverse": ("entropy_diversity_quarter", {"batch": "diverse"}),
    "entropy_diversity_quarter_randomized": ("entropy_diversity_quarter",
                                             {"batch": "randomized"}),
    "entropy_diversity_quarter_dense": ("entropy_diversity_quarter", {"density": 1.0}),
    "entropy_diversity_quarter_switch": ("entropy_diversity_quarter", {"switch": "agreement"}),
    "entropy_diversity_quarter_typical": ("entropy_diversity_quarter", {"cold_start": "typical"}),
    "entropy_diversity_quarter_typical_diverse": ("entropy_diversity_quarter",
                                                  {"cold_start": "typical", "batch": "diverse"}),
    "entropy_diversity_quarter_typical_first": ("entropy_diversity_quarter",
                                                {"cold_start": "typical_first"}),
    "entropy_diversity_quarter_typical_first_diverse": (
        "entropy_diversity_quarter", {"cold_start": "typical_first", "batch": "diverse"}),
}

#: The strategies of other libraries (:mod:`sklearn_aift.peers`), computed
#: from the same network as AIFT; ``compare --methods peers`` runs them all.
PEER_METHODS: tuple[str, ...] = tuple(peers.PEER_STRATEGIES)

#: Every method :func:`run_comparison` knows: the six AIFT variants (with the
#: representative cold start), two of them with the paper's pure criterion
#: from the first round, IFT Random (continuous fine-tuning with random
#: queries), Learning from Scratch (same architecture, random initial weights,
#: random queries) and the entropy of the candidate's mean prediction (the
#: plain uncertainty baseline), the batch-aware AIFT variants
#: (:data:`BATCH_AWARE_METHODS`), the density-weighted one
#: (:data:`BUDGET_AWARE_METHODS`) and the peers (:data:`PEER_METHODS`).

METHODS: tuple[str, ...] = (
    AIFT_METHODS + PAPER_COLD_START_METHODS + ("ift_random", "scratch", "mean_uncertainty")
    + BATCH_AWARE_METHODS + BUDGET_AWARE_METHODS + PEER_METHODS
)

_METHOD_LABELS = {
    "diversity_quarter": "AIFT Diversity 1/4",
    "diversity": "AIFT Diversity",
    "entropy_quarter": "AIFT Entropy 1/4",
    "entropy": "AIFT Entropy",
    "entropy_diversity_quarter": "AIFT (Entropy+Diversity) 1/4",
    "entropy_diversity": "AIFT (Entropy+Diversity)",
    "diversity_quarter_paper": "AIFT Diversity 1/4, no cold-start policy",
    "entropy_diversity_quarter_paper": "AIFT (Entropy+Diversity) 1/4, no cold-start policy",
    "ift_random": "IFT Random",
    "scratch": "Learning from Scratch",
    "mean_uncertainty": "Mean uncertainty",
    "entropy_diversity_quarter_diverse": "AIFT (Entropy+Diversity) 1/4, diverse batch",
    "entropy_diversity_quarter_randomized": "AIFT (Entropy+Diversity) 1/4, randomized batch",
    "entropy_diversity_quarter_dense": "AIFT (Entropy+Diversity) 1/4, typicality-weighted",
    "entropy_diversity_quarter_switch": "AIFT (Entropy+Diversity) 1/4, covering until agreement",
    "entropy_diversity_quarter_typical": "AIFT (Entropy+Diversity) 1/4, typical cold start",
    "entropy_diversity_quarter_typical_diverse": ("AIFT (Entropy+Diversity) 1/4, typical cold "
                                                  "start, diverse batch"),
    "entropy_diversity_quarter_typical_first": ("AIFT (Entropy+Diversity) 1/4, typical first "
                                                "batch"),
    "entropy_diversity_quarter_typical_first_diverse": ("AIFT (Entropy+Diversity) 1/4, typical "
                                                        "first batch, diverse batch"),
    "one_view_entropy": "Entropy, one view (scikit-activeml)",
    "one_view_margin": "Margin, one view (scikit-activeml)",
    "bald": "BALD, MC dropout (baal)",
    "coreset": "CoreSet (scikit-activeml)",
    "typiclust_margin": "TypiClust, then margin (scikit-activeml)",
    "badge": "BADGE (scikit-activeml)",
}


def method_label(method: str) -> str:
    """Return the paper's display name of a method.

    Parameters
    ----------
    method : str
        A name from :data:`METHODS` (other names are returned unchanged).

    Returns
    -------
    label : str
        The display name, e.g. ``"AIFT Diversity 1/4"`` for
        ``"diversity_quarter"``.

    Examples
    --------
    >>> from sklearn_aift.experiment import method_label
    >>> method_label("entropy_diversity_quarter")
    'AIFT (Entropy+Diversity) 1/4'
    >>> method_label("ift_random")
    'IFT Random'
    """
    return _METHOD_LABELS.get(method, method)


_STRATEGY_OF = {
    "ift_random": "random_sampling",
    "scratch": "random_sampling",
}


def _strategy_for(method: str) -> Callable:
    if method in PEER_METHODS:
        return peers.PEER_STRATEGIES[method]
    if method in _VARIANTS:
        base, params = _VARIANTS[method]
        return strategies.aift_sampling(**{**getattr(strategies, base).get_params(), **params})
    if method in PAPER_COLD_START_METHODS:
        params = strategies.get_strategy(method[: -len("_paper")]).get_params()
        return strategies.aift_sampling(**{**params, "cold_start": None})
    return strategies.get_strategy(_STRATEGY_OF.get(method, method))
