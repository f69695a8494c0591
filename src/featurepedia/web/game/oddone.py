"""Odd-one-out: short snippets of a feature's clues and one intruder; the player picks the odd one, or says
they are all alike. How often people find the intruder measures how consistent the feature is.

A round shows SNIPPETS snippets, each with the token where it fires marked (no strengths, which would give
the intruder away): SNIPPETS - 1 of the feature's top clues, and a text where it does not fire (a random
token of one of its stored non-firing contexts) or another feature's clue. A monosemantic feature's
snippets share one meaning, so the intruder stands out; a polysemantic one's snippets already differ, so
people find the intruder little more often than chance.

The measure (``measure``): with f of n answers finding the intruder, the rate's posterior is
Beta(1 + f, 1 + n - f); consistency is that rate corrected for chance (1/k for k snippets: 0 = no better than
a random pick, 1 = always found), with a 90% interval. A feature with at least FLAG_MIN_ANSWERS answers whose
interval lies below FLAG_BELOW is flagged polysemantic automatically (a Flag with no user); the flag is
resolved if the interval later lies above it (and stays resolved once an admin resolved it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from scipy.stats import beta

from featurepedia.web.catalog.models import ActivationExample, Feature
from featurepedia.web.game import points
from featurepedia.web.game.explicit import tokens_explicit
from featurepedia.web.game.models import Campaign, Flag, OddOneAnswer, OddOneRound, PlayEvent
from featurepedia.web.game.players import AnswerError, Player, award
from featurepedia.web.game.snippets import RADIUS, bounds

SNIPPETS = 4  # per round: 3 clues and the intruder
TOP_POOL = 12  # the feature's top clues a round draws from
ROUNDS_PER_FEATURE = 3  # distinct rounds kept per feature, shared by its players
CANDIDATES = 25  # least-answered features looked at
FLAG_MIN_ANSWERS = 10
FLAG_BELOW = 0.5
INTERVAL = 0.90
FLAG_NOTE = "odd-one-out"  # how an automatic flag's note starts


# --- making rounds ---------------------------------------------------------------------------------------


def _snippet(e: ActivationExample, mark: int, start: int) -> dict:
    lo, hi = bounds(len(e.tokens), mark, RADIUS, start)
    return {"tokens": e.tokens[lo:hi], "mark": mark - lo, "cut_left": lo > start, "cut_right": hi < len(e.tokens)}


def _other_feature_clue(feature: Feature, rng: random.Random) -> ActivationExample | None:
    """A top clue of a random other feature of the source that is not among this one's nearest neighbours."""
    near = {int(n[0]) for n in feature.neighbours or []}
    others = (Feature.objects.filter(source_id=feature.source_id, max_act__gt=0).exclude(pk=feature.pk)
              .exclude(index__in=near))
    count = others.count()
    if count == 0:
        return None
    other = others.order_by("index")[rng.randrange(count)]
    clues = list(other.examples.filter(bin="top").order_by("rank")[:6])
    return rng.choice(clues) if clues else None


def make_round(feature: Feature, rng: random.Random | None = None, hide_explicit: bool = False) -> OddOneRound | None:
    """A new round of this feature, stored; None when it has too few clues or nothing to intrude."""
    rng = rng or random.Random()
    start = feature.source.first_shown
    snippets = []
    for e in feature.examples.filter(bin="top", max_value__gt=0).order_by("rank")[:TOP_POOL]:
        s = _snippet(e, e.max_index, start)
        if not (hide_explicit and tokens_explicit(s["tokens"])):
            snippets.append(s)
    if len(snippets) < SNIPPETS - 1:
        return None
    chosen = rng.sample(snippets, SNIPPETS - 1)
    kinds = [OddOneRound.Intruder.NOT_FIRING, OddOneRound.Intruder.OTHER_FEATURE]
    rng.shuffle(kinds)
    intruder = None
    for kind in kinds:
        if kind == OddOneRound.Intruder.NOT_FIRING:
            quiet = list(feature.examples.filter(bin="negative"))
            e = rng.choice(quiet) if quiet else None
            mark = rng.randrange(start, len(e.tokens)) if e is not None and len(e.tokens) > start else None
        else:
            e = _other_feature_clue(feature, rng)
            mark = e.max_index if e is not None else None
        if e is not None and mark is not None:
            s = _snippet(e, mark, start)
            if not (hide_explicit and tokens_explicit(s["tokens"])):
                intruder = (kind, s)
                break
    if intruder is None:
        return None
    odd = rng.randrange(SNIPPETS)
    chosen.insert(odd, intruder[1])
    return OddOneRound.objects.create(feature=feature, snippets=chosen, odd=odd, intruder=intruder[0])


def round_for(feature: Feature, player: Player, hide_explicit: bool = False,
              rng: random.Random | None = None) -> OddOneRound | None:
    """A round of this feature for this player: a new one while it has fewer than ROUNDS_PER_FEATURE, else
    the least answered (one without explicit words, for a player who hides them)."""
    rng = rng or random.Random()
    rounds = list(feature.odd_one_rounds.annotate(n=Count("answers")).order_by("n", "pk"))
    if hide_explicit:
        rounds = [r for r in rounds if not any(tokens_explicit(s["tokens"]) for s in r.snippets)]
    if len(rounds) < ROUNDS_PER_FEATURE:
        made = make_round(feature, rng, hide_explicit)
        if made is not None:
            return made
    return rounds[0] if rounds else None


def next_round(campaign: Campaign, player: Player, skipped: set[int], hide_explicit: bool = False,
               rng: random.Random | None = None) -> OddOneRound | None:
    """A round of a campaign feature this player has not answered or skipped, least answered first."""
    rng = rng or random.Random()
    answered = set(OddOneAnswer.objects.filter(player.answers()).values_list("feature_id", flat=True))
    features = list(campaign.feature_queryset().filter(max_act__gt=0).exclude(id__in=answered | skipped)
                    .annotate(n=Count("odd_one_answers")).order_by("n", "index")
                    .select_related("source")[:CANDIDATES])
    rng.shuffle(features)
    features.sort(key=lambda f: f.n)  # stable: random among equally answered
    for f in features:
        found = round_for(f, player, hide_explicit, rng)
        if found is not None:
            return found
    return None


# --- answering -------------------------------------------------------------------------------------------


def answer(player: Player, round_: OddOneRound, pick: int | None, campaign: Campaign | None = None) -> OddOneAnswer:
    """Store the player's pick (a snippet's position, or None: "they are all alike"), its points and the
    feature's automatic flag, in one transaction: committed before the caller answers.

    Raises AnswerError (409 when this player already answered this feature).
    """
    if pick is not None and not 0 <= pick < len(round_.snippets):
        raise AnswerError(f"Pick one of the {len(round_.snippets)} snippets (0 to {len(round_.snippets) - 1}), "
                          "or answer that they are all alike.")
    try:
        with transaction.atomic():
            row = OddOneAnswer.objects.create(round=round_, feature_id=round_.feature_id, pick=pick,
                                              found=pick == round_.odd, campaign=campaign, **player.fields())
            if player.user is not None:
                award(player.user, PlayEvent.Action.ODD_ONE, row, points.odd_one_points(row.found))
            update_flag(round_.feature_id)
    except IntegrityError as err:
        raise AnswerError("You already answered this feature's odd one out; here is another.", status=409) from err
    return row


# --- the measure -----------------------------------------------------------------------------------------


@dataclass
class Consistency:
    """How often people tell a feature's clues from an intruder, corrected for chance."""

    answers: int
    found: int
    value: float | None  # None without answers
    low: float | None
    high: float | None
    flagged: bool = False

    @property
    def polysemantic(self) -> bool:
        """Confidently inconsistent: the rule that raises the automatic flag."""
        return self.answers >= FLAG_MIN_ANSWERS and self.high is not None and self.high < FLAG_BELOW

    @property
    def consistent(self) -> bool:
        return self.answers >= FLAG_MIN_ANSWERS and self.low is not None and self.low >= FLAG_BELOW


def measure(found: int, answers: int, chance: float) -> tuple[float | None, float | None, float | None]:
    """(consistency, low, high): the chance-corrected posterior mean of the finding rate and its interval."""
    if answers <= 0:
        return None, None, None
    post = beta(1 + found, 1 + answers - found)
    tail = (1 - INTERVAL) / 2

    def corrected(rate: float) -> float:
        return min(1.0, max(0.0, (rate - chance) / (1 - chance)))

    return corrected(float(post.mean())), corrected(float(post.ppf(tail))), corrected(float(post.ppf(1 - tail)))


def consistencies(feature_ids: list[int]) -> dict[int, Consistency]:
    """The measure of each feature (features without answers get an empty one)."""
    rows = (OddOneAnswer.objects.filter(feature_id__in=feature_ids).values("feature_id", "round_id")
            .annotate(n=Count("id"), f=Count("id", filter=Q(found=True))))
    sizes = dict((r.pk, len(r.snippets)) for r in OddOneRound.objects.filter(feature_id__in=feature_ids).only("snippets"))
    totals: dict[int, list[float]] = {fid: [0, 0, 0.0] for fid in feature_ids}  # answers, found, sum of 1/k
    for r in rows:
        t = totals[r["feature_id"]]
        t[0] += r["n"]
        t[1] += r["f"]
        t[2] += r["n"] / max(2, sizes.get(r["round_id"], SNIPPETS))
    flagged = set(Flag.objects.filter(feature_id__in=feature_ids, user__isnull=True, kind=Flag.Kind.POLYSEMANTIC,
                                      resolved=False).values_list("feature_id", flat=True))
    out = {}
    for fid, (n, f, chances) in totals.items():
        value, low, high = measure(int(f), int(n), chances / n if n else 1 / SNIPPETS)
        out[fid] = Consistency(int(n), int(f), value, low, high, fid in flagged)
    return out


def consistency(feature: Feature | int) -> Consistency:
    fid = feature if isinstance(feature, int) else feature.pk
    return consistencies([fid])[fid]


def update_flag(feature_id: int) -> Consistency:
    """Raise the feature's automatic polysemantic flag from its measure, or resolve it once the measure says
    consistent; a flag an admin resolved stays resolved (its note keeps the latest figures)."""
    c = consistency(feature_id)
    note = f"{FLAG_NOTE}: consistency {c.value or 0:.2f} (90% {c.low or 0:.2f}–{c.high or 0:.2f}) from {c.answers} answers"
    flag = Flag.objects.filter(user=None, feature_id=feature_id, explanation=None, kind=Flag.Kind.POLYSEMANTIC).first()
    if flag is None and c.polysemantic:
        flag = Flag.objects.create(user=None, feature_id=feature_id, kind=Flag.Kind.POLYSEMANTIC, note=note)
    elif flag is not None:
        flag.note = note
        flag.resolved = flag.resolved or c.consistent
        flag.save(update_fields=["note", "resolved"])
    c.flagged = flag is not None and not flag.resolved
    return c
