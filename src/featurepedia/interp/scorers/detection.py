"""Detection scorer (Delphi): can a judge LM tell, from the explanation, which texts activate the feature?

Each record's text is shown with the explanation; the judge answers Yes/No. The score is the balanced
accuracy of "P(Yes) > 0.5" against activating (any value > 0) vs non-activating records.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from featurepedia.interp.base import ScoreResult
from featurepedia.interp.records import ActivationRecord, require_both_kinds, validate_explanation
from featurepedia.interp.scorers.judge import YesNoJudge, judged_result

QUESTION = ("A feature of a language model responds to: {explanation}\n\nText: {{text}}\n\n"
            "Does this text contain something the feature responds to?")


class DetectionScorer:
    """Balanced accuracy of a yes/no judge sorting activating from non-activating texts."""

    name = "detection"
    version = "1"
    uses_llm = True

    def __init__(self, backend: str = "local", **options: Any):
        """Args:
            backend: ``local`` (option ``model``: LanguageModel or id) or ``openai`` (OpenAIChat options).
        """
        self.judge = YesNoJudge(backend, **options)

    def score(self, explanation: str, records: Sequence[ActivationRecord]) -> ScoreResult:
        text = validate_explanation(explanation)
        pos, _ = require_both_kinds(records, self.name)
        start = time.perf_counter()
        question = QUESTION.format(explanation=text.replace("{", "{{").replace("}", "}}"))
        p_yes, extra = self.judge.p_yes(question, [r.text.strip() for r in records])
        labels = [i in set(pos) for i in range(len(records))]
        return judged_result(self, labels, p_yes, extra, start)
