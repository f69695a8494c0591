"""Explanations of features, their automatic scores, and votes."""
