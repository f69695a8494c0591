"""Fuzzing scorer (Delphi): are the highlighted tokens the ones the explanation describes?

Each activating record is shown twice, with its active tokens marked <<like this>> (correct) and with
as many other, inactive tokens marked (wrong); non-activating records are shown with random tokens marked
(wrong). A judge answers Yes/No; the score is the balanced accuracy of "P(Yes) > 0.5".
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from featurepedia.interp.base import ScoreResult
from featurepedia.interp.records import (
    ActivationRecord,
    records_hash,
    require_both_kinds,
    validate_explanation,
)
from featurepedia.interp.scorers.judge import YesNoJudge, judged_result

QUESTION = ("A feature of a language model responds to: {explanation}\n\nIn the text below, some tokens are "
            "highlighted <<like this>>.\n\nText: {{text}}\n\nAre the highlighted tokens what the feature responds to?")


class FuzzingScorer:
    """Balanced accuracy of a yes/no judge telling correct highlights from wrong ones."""

    name = "fuzzing"
    version = "1"
    uses_llm = True

    def __init__(self, backend: str = "local", active_frac: float = 0.5, max_marked: int = 3, **options: Any):
        """Args:
            backend: ``local`` (option ``model``) or ``openai`` (OpenAIChat options).
            active_frac: a token is active when its value >= this fraction of its record's max.
            max_marked: at most this many tokens are highlighted per text.
        """
        self.judge = YesNoJudge(backend, **options)
        self.active_frac, self.max_marked = active_frac, max_marked

    def score(self, explanation: str, records: Sequence[ActivationRecord]) -> ScoreResult:
        text = validate_explanation(explanation)
        require_both_kinds(records, self.name)
        start = time.perf_counter()
        texts, labels, owners = self.marked_texts(records)
        question = QUESTION.format(explanation=text.replace("{", "{{").replace("}", "}}"))
        p_yes, extra = self.judge.p_yes(question, texts)
        return judged_result(self, labels, p_yes, extra, start, owners=owners)

    def marked_texts(self, records: Sequence[ActivationRecord]) -> tuple[list[str], list[bool], list[int]]:
        """(highlighted texts, correctly highlighted?, record index of each text); seeded by the records."""
        rng = random.Random(records_hash(records))
        texts, labels, owners = [], [], []
        for i, record in enumerate(records):
            n = len(record.tokens)
            if not n:
                continue
            active = [j for j, v in enumerate(record.values) if record.is_activating and v >= self.active_frac
                      * record.max_value]
            active = sorted(sorted(active, key=lambda j: -record.values[j])[: self.max_marked])
            k = max(1, len(active))
            inactive = [j for j in range(n) if j not in set(active) and record.tokens[j].strip()]
            wrong = sorted(rng.sample(inactive, min(k, len(inactive))))
            if active:
                texts.append(_mark(record.tokens, active))
                labels.append(True)
                owners.append(i)
            if wrong:
                texts.append(_mark(record.tokens, wrong))
                labels.append(False)
                owners.append(i)
        return texts, labels, owners


def _mark(tokens: list[str], marked: list[int]) -> str:
    chosen = set(marked)
    out = []
    for j, tok in enumerate(tokens):
        if j in chosen:
            lead = tok[: len(tok) - len(tok.lstrip())]
            out.append(f"{lead}<<{tok.strip()}>>")
        else:
            out.append(tok)
    return "".join(out).strip()
