"""Models, sources and features named in an address, or an error that says what exists."""

from __future__ import annotations

import re

from featurepedia.errors import NotFoundError, UsageError
from featurepedia.web.catalog.models import Feature, LanguageModel, Source

_SLUG = re.compile(r"[-\w.]{1,100}")  # what a model or source id can be (checked before it reaches the database)
_LISTED = 20  # names listed in a "no such ..." message


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED]) + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")
    return shown or "none yet"


def get_model(model: str) -> LanguageModel:
    found = LanguageModel.objects.filter(slug=model).first() if _SLUG.fullmatch(model) else None
    if found is None:
        names = list(LanguageModel.objects.values_list("slug", flat=True))
        raise NotFoundError(f"no model {model!r}; models here: {_names(names)} (GET /api/models lists them)")
    return found


def get_source(model: str, source: str) -> Source:
    lm = get_model(model)
    found = (Source.objects.select_related("model").filter(model=lm, slug=source).first()
             if _SLUG.fullmatch(source) else None)
    if found is None:
        names = list(lm.sources.values_list("slug", flat=True))
        raise NotFoundError(f"model {model!r} has no source {source!r}; its sources: {_names(names)} "
                            f"(GET /api/models/{model}/sources lists them)")
    return found


def check_index(src: Source, index: int) -> None:
    """Raise for an index no feature of ``src`` can have (before it reaches the database)."""
    last = src.n_features - 1
    span = f"features 0 to {last}" if last >= 0 else "no features yet"
    if index < 0:
        raise UsageError(f"feature index {index} is negative; {src.model.slug}/{src.slug} has {span}")
    if index > last:
        raise NotFoundError(f"no feature {index} in {src.model.slug}/{src.slug}; it has {span}")


def get_feature(model: str, source: str, index: int) -> Feature:
    src = get_source(model, source)
    check_index(src, index)
    feature = Feature.objects.select_related("source__model").filter(source=src, index=index).first()
    if feature is None:
        raise NotFoundError(f"feature {index} of {model}/{source} has no dashboard stored; the source's build may "
                            "be unfinished (featurepedia build resumes it)")
    return feature
