"""Our catalog routes: models, a model's sources, a source's features (paged)."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest
from django.urls import reverse
from ninja import Query, Router

from featurepedia.web.api.lookup import get_model, get_source
from featurepedia.web.api.paging import Page, Paging, page
from featurepedia.web.api.schemas import FeatureRow, ModelOut, SourceOut
from featurepedia.web.catalog.models import Feature, LanguageModel, Source
from featurepedia.web.explanations.services import best_explanations

router = Router(tags=["Catalog"])


@router.get("/models", response=Page[ModelOut], summary="List models")
def list_models(request: HttpRequest, paging: Query[Paging]) -> dict[str, object]:
    rows = LanguageModel.objects.annotate(n_sources=Count("sources")).order_by("slug")
    return page(rows, paging, lambda models: [
        {"id": m.slug, "name": m.name or m.slug, "n_layers": m.n_layers, "d_model": m.d_model,
         "n_sources": m.n_sources} for m in models])


@router.get("/models/{model}/sources", response=Page[SourceOut], summary="List a model's sources")
def list_sources(request: HttpRequest, model: str, paging: Query[Paging]) -> dict[str, object]:
    rows = Source.objects.filter(model=get_model(model)).select_related("model").order_by("slug")
    return page(rows, paging, lambda sources: [source_out(s) for s in sources])


def source_out(s: Source) -> dict[str, object]:
    return {"id": s.slug, "model": s.model.slug, "kind": s.kind, "hook_name": s.hook_name,
            "n_features": s.n_features, "status": s.status, "corpus": s.corpus, "n_tokens": s.n_tokens,
            "density_threshold": s.density_threshold}


@router.get("/models/{model}/sources/{source}/features", response=Page[FeatureRow],
            summary="List a source's features",
            description="Features by index, with their strongest activation, density and best explanation "
                        "(as their pages rank them: most upvoted, then best scored).")
def list_features(request: HttpRequest, model: str, source: str, paging: Query[Paging]) -> dict[str, object]:
    src = get_source(model, source)
    rows = (Feature.objects.filter(source=src).order_by("index")
            .only("id", "index", "max_act", "min_act", "density", "source_id"))
    return page(rows, paging, lambda features: _feature_rows(src, features))


def _feature_rows(src: Source, features: list[Feature]) -> list[dict[str, object]]:
    best = best_explanations([f.pk for f in features])
    rows = []
    for f in features:
        e = best.get(f.pk)
        rows.append({
            "index": f.index, "max_act": f.max_act, "min_act": f.min_act, "density": f.density,
            "best_explanation": None if e is None else {
                "id": e.pk, "text": e.text, "score": getattr(e, "best_score", None), "ups": getattr(e, "ups", 0)},
            "url": reverse("feature", args=[src.model.slug, src.slug, f.index]),
        })
    return rows
