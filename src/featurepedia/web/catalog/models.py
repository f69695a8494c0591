"""Catalog models: what a dashboards run writes and every page reads."""

from __future__ import annotations

from functools import cached_property

from django.db import models

from featurepedia.errors import UnavailableError
from featurepedia.web.catalog.describe import SAEDetails, feature_noun, kind_label, sae_details, site_words


class SourceDataError(UnavailableError):
    """A stored source lacks what its run should have stored (it is still building, or was made by hand)."""


class LanguageModel(models.Model):
    """A model whose features are catalogued, known by its slug (e.g. ``smollm2-135m``)."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True)
    info = models.JSONField(default=dict, blank=True)
    n_layers = models.PositiveIntegerField(default=0, help_text="number of blocks")
    d_model = models.PositiveIntegerField(default=0, help_text="width of the residual stream")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Source(models.Model):
    """A basis of features at a hook point of a model (``6-mlp``, ``6-res-sae``)."""

    class Status(models.TextChoices):
        BUILDING = "building"
        READY = "ready"

    model = models.ForeignKey(LanguageModel, on_delete=models.CASCADE, related_name="sources")
    slug = models.SlugField(max_length=100)
    kind = models.CharField(max_length=32)
    hook_name = models.CharField(max_length=200)
    n_features = models.PositiveIntegerField(default=0)
    config = models.JSONField(default=dict, blank=True, help_text="the exact run config and versions")
    corpus = models.CharField(max_length=500, blank=True)
    n_tokens = models.BigIntegerField(default=0)
    n_contexts = models.BigIntegerField(default=0)
    density_threshold = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model__slug", "slug"]
        constraints = [models.UniqueConstraint(fields=["model", "slug"], name="unique_source_per_model")]

    def __str__(self) -> str:
        return f"{self.model.slug}/{self.slug}"

    @property
    def is_sae(self) -> bool:
        return self.kind == "sae"

    @property
    def feature_noun(self) -> str:
        """What one of its features is called on pages: "neuron", "SAE feature" (or "feature")."""
        return feature_noun(self.kind)

    @property
    def feature_noun_plural(self) -> str:
        return feature_noun(self.kind, plural=True)

    @property
    def kind_label(self) -> str:
        """Its kind as players read it: "MLP neurons" or "SAE features"."""
        return kind_label(self.kind)

    @property
    def site_words(self) -> str:
        """Where its hook point is, in words: "the residual stream after layer 6", "the MLP of layer 6"."""
        return site_words(self.hook_name)

    @cached_property
    def sae(self) -> SAEDetails | None:
        """An SAE source's architecture, width, k and evaluation, as its build stored them; None for neurons
        and while it is still building."""
        return sae_details(self.kind, self.config)

    @property
    def first_shown(self) -> int:
        """Position of the first token worth showing: 1 when contexts start with a BOS token (an attention
        sink, never counted and meaningless to a reader), else 0."""
        return 1 if self.config.get("config", {}).get("contexts", {}).get("prepend_bos", True) else 0

    @property
    def nonnegative(self) -> bool:
        """The source's non-negative flag as its run stored it (activations >= 0 and 0 means off, as in SAEs)."""
        flag = self.config.get("source", {}).get("nonnegative")
        if flag is None:
            raise SourceDataError(f"source {self} stores no run description (no non-negative flag), so its "
                                  "density rule is unknown; finish its build or import its bundle again")
        return bool(flag)

    @property
    def active_fraction(self) -> float:
        """The fraction of a feature's max above which a signed source's feature counts as active."""
        fraction = self.config.get("config", {}).get("active_fraction")
        if fraction is None:
            raise SourceDataError(f"source {self} stores no run config (no active_fraction); finish its build "
                                  "or import its bundle again")
        return float(fraction)


class Feature(models.Model):
    """One feature (neuron or SAE latent) with its corpus statistics and weight-based effects."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="features")
    index = models.PositiveIntegerField()
    max_act = models.FloatField(default=0.0)
    min_act = models.FloatField(default=0.0)
    density = models.FloatField(default=0.0, help_text="fraction of tokens where it is active")
    hist_counts = models.JSONField(default=list, blank=True)
    hist_lo = models.FloatField(default=0.0)
    hist_hi = models.FloatField(default=0.0)
    top_logits = models.JSONField(default=list, blank=True, help_text="[[token, value], ...]")
    bottom_logits = models.JSONField(default=list, blank=True)
    neighbours = models.JSONField(default=list, blank=True, help_text="[[index, cosine], ...]")

    class Meta:
        ordering = ["source", "index"]
        constraints = [models.UniqueConstraint(fields=["source", "index"], name="unique_feature_index")]

    def __str__(self) -> str:
        return f"{self.source}/{self.index}"


class ActivationExample(models.Model):
    """A context shown for a feature, with the feature's activation at every token."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="examples")
    bin = models.CharField(max_length=16, help_text="top, q0..q9 (activation quantile groups) or negative")
    rank = models.PositiveIntegerField(default=0)
    token_ids = models.JSONField(default=list)
    tokens = models.JSONField(default=list)
    notes = models.JSONField(default=dict, blank=True, help_text="hover notes by token position")
    special = models.JSONField(default=list, blank=True, help_text="positions of the tokenizer's special tokens")
    values = models.JSONField(default=list)
    max_value = models.FloatField(default=0.0)
    max_index = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["feature", "bin", "rank"]
        indexes = [models.Index(fields=["feature", "bin", "rank"], name="example_feature_bin")]

    def __str__(self) -> str:
        return f"{self.feature} {self.bin}#{self.rank}"


class SourceMap(models.Model):
    """A source's 2-D map: coordinates in [0, 1] per feature index (featurepedia/maps.py)."""

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="feature_map")
    x = models.JSONField(help_text="x per feature index")
    y = models.JSONField(help_text="y per feature index")
    params = models.JSONField(default=dict, help_text="how it was computed (method, neighbours, min_dist, seed)")
    created = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"map of {self.source}"
