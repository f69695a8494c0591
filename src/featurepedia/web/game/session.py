"""Per-browser game state in the session: the puzzle in progress, the way back, what was answered."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from featurepedia.web.game.models import Campaign

HISTORY = 50


class PlayState:
    """Reads and writes the game's keys in the session."""

    def __init__(self, request: HttpRequest) -> None:
        self.session = request.session

    def _get(self, key: str, default: Any) -> Any:
        return self.session.get(f"game.{key}", default)

    def _set(self, key: str, value: Any) -> None:
        self.session[f"game.{key}"] = value

    def current(self, campaign: Campaign) -> int | None:
        return self._get("current", {}).get(campaign.slug)

    def set_current(self, campaign: Campaign, feature_id: int) -> None:
        self._set("current", {**self._get("current", {}), campaign.slug: feature_id})

    def clear_current(self, campaign: Campaign) -> None:
        current = self._get("current", {})
        current.pop(campaign.slug, None)
        self._set("current", current)

    def seen(self) -> set[int]:
        return set(self._get("seen", []))

    def mark_seen(self, feature_id: int) -> None:
        self._set("seen", [*self._get("seen", [])[-999:], feature_id])

    def visit(self, campaign: Campaign, feature_id: int) -> None:
        """Append to this campaign's history (for "previous puzzle"), unless it is already the last one."""
        history = self._get("history", {})
        trail = history.get(campaign.slug, [])
        if feature_id not in trail:
            trail = [*trail, feature_id][-HISTORY:]
            self._set("history", {**history, campaign.slug: trail})

    def previous(self, campaign: Campaign, feature_id: int) -> int | None:
        trail = self._get("history", {}).get(campaign.slug, [])
        if feature_id in trail:
            i = trail.index(feature_id)
            return trail[i - 1] if i > 0 else None
        return trail[-1] if trail else None

    def answer(self, feature_id: int) -> dict | None:
        return self._get("answers", {}).get(str(feature_id))

    def set_answer(self, feature_id: int, kind: str, message: str) -> None:
        answers = self._get("answers", {})
        answers[str(feature_id)] = {"kind": kind, "message": message}
        if len(answers) > HISTORY:
            answers.pop(next(iter(answers)))
        self._set("answers", answers)
