"""Featurepedia: the Wikipedia for neurons."""

__version__ = "0.1.0"
