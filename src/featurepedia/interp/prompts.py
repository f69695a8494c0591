"""Prompt text shared by LLM explainers and scorers (OpenAI's token<TAB>activation format, Bills et al.)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from featurepedia.interp.records import ActivationRecord

EXPLAIN_SYSTEM = (
    "We're studying neurons in a neural network. Each neuron looks for some particular thing in a short "
    "document. Look at the parts of the document the neuron activates for and summarize in a single short "
    "phrase what the neuron is looking for. Don't list examples of words."
)
EXPLAIN_INSTRUCTION = (
    "The activation format is token<tab>activation. Activation values range from 0 to 10. A neuron finding "
    "what it's looking for is represented by a non-zero activation value. The higher the activation value, "
    "the stronger the match."
)
EXPLAIN_ANSWER_PREFIX = "the main thing this neuron does is find"


# One worked example (Bills et al. prompt with few-shot neurons): shows a small model the expected answer.
_SHOT_RECORDS = [
    ActivationRecord([" She", " fed", " the", " cat", " and", " the", " dog", "."], [0, 0, 0, 1.0, 0, 0, 0.8, 0]),
    ActivationRecord([" A", " horse", " ran", " past", " the", " farm", "."], [0, 0.9, 0, 0, 0, 0, 0]),
]
EXPLAIN_SHOTS: list[tuple[str, str]] = []  # filled below, once explain_user_prompt exists


def clean_token(tok: str) -> str:
    """A token as one safe line item (tabs and newlines would break the format)."""
    return tok.replace("\t", " ").replace("\r", "").replace("\n", "↵")


def scaled_values(records: Sequence[ActivationRecord], top: int = 10) -> list[list[int]]:
    """Values scaled to integers 0..top by the largest value over all records (negatives -> 0)."""
    peak = max((r.max_value for r in records), default=0.0)
    if peak <= 0:
        return [[0] * len(r.values) for r in records]
    return [[max(0, min(top, round(top * v / peak))) for v in r.values] for r in records]


def tab_format(records: Sequence[ActivationRecord], max_tokens: int = 64) -> str:
    """Records as <start>token<TAB>value ... <end> blocks, each cut to ``max_tokens`` around its peak."""
    blocks = []
    for record, values in zip(records, scaled_values(records), strict=True):
        lo = max(0, min(record.argmax - max_tokens // 2, len(record.tokens) - max_tokens))
        lines = [f"{clean_token(t)}\t{v}" for t, v in list(zip(record.tokens, values, strict=True))[lo: lo + max_tokens]]
        blocks.append("<start>\n" + "\n".join(lines) + "\n<end>")
    return "\n\n".join(blocks)


def explain_user_prompt(records: Sequence[ActivationRecord], max_records: int = 8, max_tokens: int = 32) -> str:
    """The user message asking for an explanation of the strongest records."""
    chosen = sorted((r for r in records if r.is_activating), key=lambda r: -r.max_value)[:max_records]
    return (f"{EXPLAIN_INSTRUCTION}\n\nNeuron 1\nActivations:\n{tab_format(chosen, max_tokens)}\n\n"
            f"Explanation of neuron 1 behavior: {EXPLAIN_ANSWER_PREFIX}")


def clean_explanation(raw: str, limit: int = 200) -> str:
    """First sentence of a model's answer, without the answer prefix, quotes or list markup."""
    text = raw.strip().split("\n")[0].strip()
    text = re.sub(rf"^(explanation of neuron \d+ behavior:\s*)?({EXPLAIN_ANSWER_PREFIX})?\s*", "", text,
                  flags=re.IGNORECASE)
    text = text.strip(" \"'*-:.").strip()
    return text[:limit].rstrip() or "no clear pattern"


EXPLAIN_SHOTS.append((explain_user_prompt(_SHOT_RECORDS), f"{EXPLAIN_ANSWER_PREFIX} names of animals."))
