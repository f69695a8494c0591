"""Catalog: language models, sources, features and their activation examples."""
