"""A player of the site over HTTP, for the kill and load tests: opens puzzles and answers them, keeping a
record of every write the site answered with success, so a test can check each one is in the database.

It drives a ``requests``-style session (locust's HttpSession in the load test), through the same pages and
forms a browser uses: the puzzle page (explanations revealed), its answer form with the CSRF token.
"""

from __future__ import annotations

import random
import re
from typing import Any

VOTE_BUTTON = re.compile(r'name="explanation" value="(\d+)"')
WORDS = ("cats dogs numbers cities colours rivers kings songs tools trees verbs dates money weather food ships "
         "names places letters bones stars").split()


class Player:
    """One signed-in player (its session cookie) answering puzzles of one campaign."""

    def __init__(self, session: Any, name: str, campaign: str, feature_ids: list[int], base: str = "",
                 seed: int = 0) -> None:
        self.session, self.name, self.campaign, self.base = session, name, campaign, base
        self.feature_ids = feature_ids
        self.rng = random.Random(seed)
        self.writes: list[dict[str, Any]] = []  # answered with success
        self.statuses: list[int] = []
        self.named = type(session).__module__.startswith("locust")  # locust groups statistics by name

    def _kw(self, name: str, kw: dict[str, Any]) -> dict[str, Any]:
        return {**kw, "name": name} if self.named else kw

    def _get(self, path: str, name: str = "", **kw: Any) -> Any:
        response = self.session.get(self.base + path, **self._kw(name or path, kw))
        self.statuses.append(response.status_code)
        return response

    def _post(self, path: str, data: dict[str, Any], name: str = "", **kw: Any) -> Any:
        data = {**data, "csrfmiddlewaretoken": self.session.cookies.get("csrftoken", "")}
        response = self.session.post(self.base + path, data=data, allow_redirects=False, **self._kw(name or path, kw))
        self.statuses.append(response.status_code)
        return response

    def next_puzzle(self) -> tuple[int, list[int]]:
        """The puzzle /play/ leads to (or any campaign feature once all are answered), with its explanations."""
        response = self._get(f"/play/{self.campaign}/", name="/play/[campaign]/")
        match = re.search(rf"/play/{self.campaign}/(\d+)", response.url or "")
        feature = int(match.group(1)) if match else self.rng.choice(self.feature_ids)
        page = self._get(f"/play/{self.campaign}/{feature}?reveal=1", name="/play/[campaign]/[feature]")
        return feature, [int(i) for i in VOTE_BUTTON.findall(page.text)] if page.status_code == 200 else []

    def answer(self, feature: int, explanations: list[int]) -> str:
        """One answer, chosen at random: vote, write, flag or skip. Returns its kind."""
        roll = self.rng.random()
        if roll < 0.45 and explanations:
            pick = self.rng.choice(explanations)
            data: dict[str, Any] = {"kind": "vote", "explanation": pick, "confirmed": "1"}
            record: dict[str, Any] = {"kind": "vote", "feature": feature, "explanation": pick}
        elif roll < 0.7:
            text = " ".join(self.rng.sample(WORDS, 3)) + f" ({self.name} {len(self.writes)})"
            data = {"kind": "explain", "text": text}
            record = {"kind": "explain", "feature": feature, "text": text}
        elif roll < 0.85:
            kind = self.rng.choice(["polysemantic", "none-fit"])
            data, record = {"kind": kind}, {"kind": kind, "feature": feature}
        else:
            data, record = {"kind": "skip"}, {"kind": "skip", "feature": feature}
        response = self._post(f"/play/{self.campaign}/{feature}/answer", data, name="/play/[campaign]/[f]/answer")
        if response.status_code == 302:  # the site's "done": it redirects to the result (or the next puzzle)
            self.writes.append({**record, "player": self.name})
        return record["kind"]


def missing_writes(writes: list[dict[str, Any]], users: dict[str, Any]) -> list[dict[str, Any]]:
    """The writes answered with success that the database does not hold."""
    from featurepedia.web.explanations.models import Explanation, Vote
    from featurepedia.web.game.models import Flag, PlayEvent

    missing = []
    for w in writes:
        user = users[w["player"]]
        if w["kind"] == "vote":
            found = Vote.objects.filter(user=user, explanation_id=w["explanation"]).exists()
        elif w["kind"] == "explain":  # stored as written, or counted as an upvote of a near-duplicate
            found = Explanation.objects.filter(author=user, feature_id=w["feature"], text=w["text"]).exists() or \
                Vote.objects.filter(user=user, explanation__feature_id=w["feature"], value=1).exists()
        elif w["kind"] == "skip":
            found = PlayEvent.objects.filter(user=user, feature_id=w["feature"], action="skip").exists()
        else:
            found = Flag.objects.filter(user=user, feature_id=w["feature"], kind=w["kind"]).exists()
        if not found:
            missing.append(w)
    return missing
