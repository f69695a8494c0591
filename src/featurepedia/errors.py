"""The one family of user-facing errors.

Every error a user can cause or fix (a bad option, an unknown model, a corrupt file, a service that is down)
is a :class:`FeaturepediaError`. Its message says what was wrong and how to fix it; ``status`` is the HTTP
status the web layer answers with. The CLI catches the base class once and prints the message; the API
turns it into ``{"ok": false, "error": message, "status": status}`` in one handler. Each layer subclasses
it for its own errors (and also subclasses the built-in exception that fits, so ``except ValueError`` keeps
working for callers that use one).
"""

from __future__ import annotations


class FeaturepediaError(Exception):
    """Base of every user-facing error: a message that says what was wrong and how to fix it.

    Attributes:
        status: the HTTP status the web layer answers with (400 bad input, 404 not found, 503 unavailable).
    """

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFoundError(FeaturepediaError, LookupError):
    """Something asked for by name or id does not exist (a model, a source, a feature, a component)."""

    status = 404


class UnavailableError(FeaturepediaError, RuntimeError):
    """A model, endpoint or service needed for the request cannot be reached now; retrying may work."""

    status = 503


class UsageError(FeaturepediaError, ValueError):
    """Options that cannot work together or are out of range (e.g. a command line)."""
