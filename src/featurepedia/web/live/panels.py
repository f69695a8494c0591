"""The live part of a feature page: test your own text, and steer with the feature (registered by
LiveConfig.ready)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from featurepedia.inference.limits import DEFAULT_LIMITS
from featurepedia.web.catalog.extensions import Panel, register_panel
from featurepedia.web.catalog.models import Feature

# A neuron's or SAE feature's decoder direction is unit length, so a strength a few times the feature's
# largest recorded activation is what visibly changes the text without drowning it.
STEER_STRENGTH_PER_MAX_ACT = 5.0


def steer_url(feature: Feature) -> str:
    """The steering page with this feature prefilled."""
    strength = round(STEER_STRENGTH_PER_MAX_ACT * feature.max_act, 2) or 10.0
    query = {"model": feature.source.model.slug, "features": f"{feature.source.slug}:{feature.index}:{strength:g}"}
    return f"{reverse('steer')}?{urlencode(query, safe=':,')}"


def feature_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    feature = page["feature"]
    return {"steer_url": steer_url(feature), "max_chars": DEFAULT_LIMITS.max_chars}


def register() -> None:
    register_panel("feature", Panel("live.test-text", "live/_feature_panel.html", feature_context, order=30))
