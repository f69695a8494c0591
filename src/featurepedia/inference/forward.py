"""One forward pass that records several hook points and stops after the deepest of them."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from featurepedia.lm.hooks import StopForward
from featurepedia.lm.model import HookFn, LanguageModel


def capture(
    model: LanguageModel,
    hook_names: Sequence[str],
    *,
    input_ids: Tensor | None = None,
    inputs_embeds: Tensor | None = None,
    attention_mask: Tensor | None = None,
) -> dict[str, Tensor]:
    """Run the model until every hook point in ``hook_names`` has been recorded.

    Layers after the deepest hook are never computed (a hook raises once the last activation is in), so
    asking for sources at layers 3 and 6 costs one pass to layer 6. Not decorated with inference mode:
    the gradient attribution runs through it with autograd on.

    Args:
        input_ids: [batch, pos] token ids, or ``inputs_embeds``: [batch, pos, d_model] input embeddings.
        attention_mask: [batch, pos], 1 for real tokens (right padding); None means all real.
    Returns:
        Each hook name's activation, [batch, pos, d_hook].
    """
    names = list(dict.fromkeys(hook_names))
    captured: dict[str, Tensor] = {}

    def recorder(name: str) -> HookFn:
        def record(act: Tensor) -> None:
            captured[name] = act
            if len(captured) == len(names):
                raise StopForward

        return record

    with model.hooks([(name, recorder(name)) for name in names]):
        try:
            model.hf(input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                     use_cache=False)
        except StopForward:
            pass
    missing = [n for n in names if n not in captured]
    if missing:
        raise RuntimeError(f"hook point(s) {', '.join(missing)} were never reached in {model.model_id}")
    return captured
