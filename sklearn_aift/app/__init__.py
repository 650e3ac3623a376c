"""`sklearn-aift label`: a labeling web page for an expert, ranked by AIFT.

:class:`LabelingCampaign` holds the learner side (the pool of a folder, AIFT-ranked
batches, durable labels, background fine-tuning); :func:`create_app` serves
it over HTTP with the page in ``static/``.
"""

from ._campaign import LabelingCampaign
from ._server import create_app, generate_token

__all__ = ["LabelingCampaign", "create_app", "generate_token"]
