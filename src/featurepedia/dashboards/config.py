"""The configuration of a dashboards run (saved next to its output)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from featurepedia.corpus.contexts import ContextSpec


@dataclass
class RunConfig:
    """What to compute and how.

    Attributes:
        model: model id.
        source: source id, e.g. ``6-mlp``.
        sae_path: for SAE sources, a SAELens or sparsify folder or a hub spec (``saelens:RELEASE/SAE_ID``,
            ``sparsify:ORG/REPO[/HOOKPOINT]``); see docs/saes.md.
        contexts: how the corpus becomes contexts (corpus, ctx_len, seed, BOS).
        n_tokens: token budget (contexts = n_tokens // ctx_len).
        batch_size: contexts per forward pass.
        top_k: top examples per feature.
        quantile_bins / per_bin: activation-quantile groups and examples per group.
        n_negative: non-activating examples kept per feature (for scoring explanations).
        n_logits: top and bottom logit tokens.
        n_neighbours: nearest features by decoder cosine.
        hist_bins: histogram resolution (bins over [-H, H] or (0, H]).
        active_fraction: for signed sources (neurons), a token counts as active when its activation
            exceeds this fraction of the feature's max; non-negative sources (SAEs) use > 0.
        checkpoint_seconds: how often resumable state is saved.
    """

    model: str
    source: str
    sae_path: str | None = None
    contexts: ContextSpec = field(default_factory=ContextSpec)
    n_tokens: int = 200_000
    batch_size: int = 64
    top_k: int = 20
    quantile_bins: int = 10
    per_bin: int = 5
    n_negative: int = 10
    n_logits: int = 10
    n_neighbours: int = 10
    hist_bins: int = 256
    active_fraction: float = 0.1
    checkpoint_seconds: float = 60.0

    @property
    def n_contexts(self) -> int:
        return max(1, self.n_tokens // self.contexts.ctx_len)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        """A hash of everything that changes results (not checkpoint timing): a resume must match it."""
        data = self.to_dict()
        data.pop("checkpoint_seconds")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        data = dict(data)
        data["contexts"] = ContextSpec(**data.get("contexts", {}))
        return cls(**data)
