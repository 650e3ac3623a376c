"""The learning-rate plan of the supplement's Table 3 and the callback that applies it."""

from __future__ import annotations

from skorch.callbacks import Callback

# Parameter-group roles; every bias learns at twice its weights' rate.
ROLES = ("body_weight", "body_bias", "head_weight", "head_bias")


def learning_rate_plan(net, fit_index: int) -> tuple[dict, float, int]:
    """Base learning rate per group role, gamma and epochs of fit number ``fit_index``.

    ``net`` is an :class:`~sklearn_aift.net.AIFTNet`; fit 0 follows Table 3's
    AIFT1 row, every later fit its AIFT+ row.
    """
    if fit_index == 0:
        body = float(net.lr)
        head = float(net.head_lr) if net.head_lr is not None else 10.0 * body
        gamma, epochs = float(net.gamma), int(net.max_epochs)
    else:
        body = float(net.lr_incremental) if net.lr_incremental is not None else net.lr / 10.0
        head = (
            float(net.head_lr_incremental)
            if net.head_lr_incremental is not None
            else 10.0 * body
        )
        gamma, epochs = float(net.gamma_incremental), int(net.max_epochs_incremental)
    base = {
        "body_weight": body,
        "body_bias": 2.0 * body,
        "head_weight": head,
        "head_bias": 2.0 * head,
    }
    return base, gamma, epochs


def parameter_groups(head_name: str, base: dict) -> list:
    """skorch ``optimizer__param_groups`` for the head and the body (first match wins)."""
    head = f"backbone.{head_name}"
    return [
        (f"{head}.bias", {"role": "head_bias", "lr": base["head_bias"]}),
        (f"{head}.*", {"role": "head_weight", "lr": base["head_weight"]}),
        ("*.bias", {"role": "body_bias", "lr": base["body_bias"]}),
    ]


class LRSchedule(Callback):
    """Sets every parameter group's learning rate at the start of each epoch.

    ``base`` maps a group role (``body_weight``, ``body_bias``, ``head_weight``,
    ``head_bias``) to its learning rate in the fit's first epoch; epoch ``e``
    (0-based, counted within the fit) uses ``base * gamma ** e``. Unlike
    skorch's ``LRScheduler``, the count restarts at every fit.
    """

    def __init__(self, base: dict, gamma: float):
        self.base = base
        self.gamma = gamma

    def initialize(self):
        self.epoch_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        factor = self.gamma**self.epoch_
        for group in net.optimizer_.param_groups:
            group["lr"] = self.base[group.get("role", "body_weight")] * factor
        self.epoch_ += 1
