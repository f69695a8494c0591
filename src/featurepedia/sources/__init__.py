"""Sources: a basis of features at a hook point (MLP neurons; SAEs in SAELens or sparsify format)."""

from featurepedia.sources.base import Source, SourceError, build_source, register_source_kind, source_kinds
from featurepedia.sources.resolve import parse_source_id, source_for

__all__ = ["Source", "SourceError", "build_source", "parse_source_id", "register_source_kind",
           "source_for", "source_kinds"]
