"""Durable labeling sessions (kept for existing imports; see :mod:`sklearn_aift.learner`)."""

from .learner import FORMAT_VERSION, SessionError, SessionStore

__all__ = ["FORMAT_VERSION", "SessionError", "SessionStore"]
