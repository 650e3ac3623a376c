"""The error raised for a session store that cannot be used."""

__all__ = ["SessionError"]


class SessionError(ValueError):
    """A session store that cannot be used: corrupt, truncated, too new or mismatched.

    Examples
    --------
    >>> from sklearn_aift.learner import SessionError
    >>> issubclass(SessionError, ValueError)
    True
    """
