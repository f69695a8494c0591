"""Explanation search without Django: a vector index over sentence embeddings, and full-text query parsing."""

from featurepedia.search.vectors import EMBEDDING_DIMS, Hit, VectorIndex

__all__ = ["EMBEDDING_DIMS", "Hit", "VectorIndex"]
