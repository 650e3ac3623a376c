"""The AIFT loop (Alg. 1 of Zhou et al., CVPR 2017) with durable labeling sessions.

:class:`ActiveLearner` offers modAL's public API (``query``, ``teach``,
``fit``, ``predict``, ``predict_proba``, ``score``, ``X_training``,
``y_training``, ``estimator``), done right for AIFT: it starts from zero
labels, fine-tunes the current model continuously, knows candidates by their
content so that any pool works on any call, and records every label durably
in a :class:`SessionStore`.
"""

from ._active_learner import ActiveLearner
from ._errors import SessionError
from ._lock import SessionInUseError, SessionLock, check_session_free
from ._session import FORMAT_VERSION, SessionStore

__all__ = [
    "ActiveLearner",
    "FORMAT_VERSION",
    "SessionError",
    "SessionInUseError",
    "SessionLock",
    "SessionStore",
    "check_session_free",
]
