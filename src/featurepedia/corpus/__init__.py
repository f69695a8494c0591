"""Corpora: text sources -> deterministic fixed-length token contexts."""

from featurepedia.corpus.contexts import ContextSpec, context_batches, iter_contexts, shuffled_documents
from featurepedia.corpus.readers import CorpusError, default_corpus_path, iter_documents

__all__ = ["ContextSpec", "CorpusError", "context_batches", "default_corpus_path", "iter_contexts",
           "iter_documents", "shuffled_documents"]
