"""Errors of the autointerp layer; messages say what was wrong and how to fix it."""

from __future__ import annotations

from featurepedia.errors import FeaturepediaError, NotFoundError, UnavailableError


class InterpError(FeaturepediaError):
    """Base class of every autointerp error."""


class InvalidExplanation(InterpError, ValueError):
    """An explanation text cannot be scored (not a string, empty or too long)."""


class RecordError(InterpError, ValueError):
    """Activation records are malformed or the wrong mix (e.g. no non-activating examples)."""


class UnknownComponentError(InterpError, NotFoundError):
    """No explainer or scorer is registered under a name."""


class ScorerUnavailable(InterpError, UnavailableError):
    """A model or endpoint an explainer or scorer needs cannot be reached (down, timed out, refused)."""
