"""What a stored source is, in words for players and figures for researchers: MLP neurons, or the
features of a sparse autoencoder (SAE) with its architecture, width, k and evaluation.

Everything comes from what the build stored in ``Source.config`` (the source's own config, with an SAE's
cfg.json, eval.json and training.json): pages never read the SAE's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HEADLINE = ("fve", "l0", "ce_loss_recovered")
ARCHITECTURES = {"topk": "TopK", "jumprelu": "JumpReLU", "standard": "ReLU (standard)"}
_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
# The hook point sites featurepedia.lm.hooks defines, in words.
_SITES = {"mlp.hook_post": "the MLP of layer {layer}",
          "hook_resid_post": "the residual stream after layer {layer}"}


@dataclass(frozen=True)
class Figure:
    """One figure shown for a source: its label (and a shorter one), its value as shown, what it means."""

    key: str
    label: str
    short: str
    value: str
    meaning: str


@dataclass(frozen=True)
class SAEDetails:
    """An SAE source's description.

    Attributes:
        architecture: its name as shown (``TopK``); width: number of features (d_sae); d_in: the hook
        point's width; k: active features per token for TopK SAEs, else None.
        evaluation: eval.json's figures (empty when the folder had none); eval_tokens: the tokens they were
        measured on; trained_tokens: training tokens from training.json (None when unknown).
    """

    architecture: str
    width: int
    d_in: int
    k: int | None
    evaluation: list[Figure] = field(default_factory=list)
    eval_tokens: int | None = None
    trained_tokens: int | None = None
    trained_corpus: str = ""

    @property
    def headline(self) -> list[Figure]:
        """The figures a one-line listing shows: FVE, L0 and CE loss recovered, those that are known."""
        return [f for f in self.evaluation if f.key in HEADLINE]

    @property
    def summary(self) -> str:
        """One line, e.g. ``TopK SAE (4,608 features, k = 32)``."""
        k = f", k = {self.k}" if self.k is not None else ""
        return f"{self.architecture} SAE ({self.width:,} features{k})"


def site_words(hook_name: str) -> str:
    """Where a hook point is, in words (``blocks.6.hook_resid_post``: "the residual stream after layer 6");
    the name itself for a site without words here."""
    match = _BLOCK.match(hook_name)
    words = _SITES.get(match.group(2)) if match else None
    return words.format(layer=match.group(1)) if match and words else hook_name


def feature_noun(kind: str, plural: bool = False) -> str:
    """What one feature of a source of this kind is called on pages: neuron, SAE feature, or feature."""
    noun = {"neurons": "neuron", "sae": "SAE feature"}.get(kind, "feature")
    return noun + "s" if plural else noun


def kind_label(kind: str) -> str:
    """The kind of a source as players read it: "MLP neurons", "SAE features", else the kind's own name."""
    return {"neurons": "MLP neurons", "sae": "SAE features"}.get(kind, kind)


def sae_details(kind: str, config: Mapping[str, Any]) -> SAEDetails | None:
    """The description of an SAE source from its stored run config; None for other kinds, or while the
    build that stores the config has not finished."""
    source = config.get("source") or {}
    cfg = source.get("sae_cfg")
    if kind != "sae" or not isinstance(cfg, Mapping):
        return None
    name = str(source.get("architecture") or cfg.get("architecture") or "standard")
    k = cfg.get("k") if name == "topk" else None
    evaluation = source.get("evaluation") or {}
    training = source.get("training") or {}
    trained = training.get("tokens")
    return SAEDetails(
        architecture=ARCHITECTURES.get(name, name), width=int(cfg.get("d_sae", source.get("n_features", 0))),
        d_in=int(cfg.get("d_in", source.get("d_in", 0))), k=int(k) if isinstance(k, int) else None,
        evaluation=evaluation_figures(evaluation), eval_tokens=_int(evaluation.get("n_tokens")),
        trained_tokens=_int(trained), trained_corpus=str(training.get("corpus") or ""))


def evaluation_figures(evaluation: Mapping[str, Any]) -> list[Figure]:
    """eval.json's figures in the order a researcher reads them; missing or non-numeric ones are left out."""
    rows = [
        ("fve", "Variance explained (FVE)", "FVE", _percent,
         "share of the variance of the hook point's activations that the SAE's reconstruction explains, "
         "on held-out text (100% = perfect)"),
        ("l0", "L0", "L0", lambda v: f"{v:,.1f}", "active SAE features per token, on average"),
        ("ce_loss_recovered", "CE loss recovered", "CE recovered", _percent,
         "how close the model's next-token loss with the reconstruction spliced in comes to its own loss, "
         "measured from the loss with the hook point zeroed (100% = as good as the model itself)"),
        ("kl_div", "KL divergence", "KL", lambda v: f"{v:.4f}",
         "mean KL(model || model with the reconstruction spliced in) per token, in nats (0 = no change)"),
        ("dead_frac", "Dead features", "dead", _percent, "features never active on the evaluation tokens"),
        ("dense_frac", "Dense features", "dense", _percent,
         "features active on more than 10% of the evaluation tokens"),
    ]
    figures = []
    for key, label, short, shown, meaning in rows:
        value = evaluation.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            figures.append(Figure(key, label, short, shown(float(value)), meaning))
    return figures


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
