"""Named hook points: the one interface to a model's internals.

Names follow TransformerLens:

- ``blocks.{L}.mlp.hook_post`` — the MLP's hidden activations ("neurons"): the input of the MLP's output
  projection (``down_proj`` in Llama-style models, i.e. ``silu(gate(x)) * up(x)``; ``c_proj`` in GPT-2, i.e.
  the activation function's output).
- ``blocks.{L}.hook_resid_post`` — the residual stream after block L.

Everything that reads or changes activations (recording, steering, ablation) goes through these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from featurepedia.errors import FeaturepediaError

_PATTERNS = {
    "mlp_post": re.compile(r"^blocks\.(\d+)\.mlp\.hook_post$"),
    "resid_post": re.compile(r"^blocks\.(\d+)\.hook_resid_post$"),
}


class HookPointError(FeaturepediaError, ValueError):
    """A hook point name is unknown or out of range for the model."""


@dataclass(frozen=True)
class HookPoint:
    """A parsed hook point: which layer, and which site in it."""

    layer: int
    site: str  # "mlp_post" | "resid_post"

    @property
    def name(self) -> str:
        if self.site == "mlp_post":
            return f"blocks.{self.layer}.mlp.hook_post"
        return f"blocks.{self.layer}.hook_resid_post"

    @property
    def depth(self) -> tuple[int, int]:
        """Where a forward pass reaches this point, for ordering: by layer, and in a layer the MLP's hidden
        activations before the block's output."""
        return self.layer, 0 if self.site == "mlp_post" else 1

    @classmethod
    def parse(cls, name: str) -> HookPoint:
        """Parse a TransformerLens-style name; raise :class:`HookPointError` listing valid forms."""
        for site, pattern in _PATTERNS.items():
            match = pattern.match(name)
            if match:
                return cls(layer=int(match.group(1)), site=site)
        raise HookPointError(
            f"unknown hook point {name!r}; use 'blocks.<layer>.mlp.hook_post' (MLP neurons) "
            "or 'blocks.<layer>.hook_resid_post' (residual stream after a block)"
        )


class StopForward(Exception):
    """Raised inside a hook to stop the forward pass once the wanted activation is recorded."""
