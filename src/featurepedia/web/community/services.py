"""What players do with lists, bookmarks and comments, with the rules: who may see and change a list,
comment lengths and rate limits, and reports that hide a comment until a moderator looks.

Every refusal is a :class:`CommunityError` whose message says what was wrong and what to do instead.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from featurepedia.errors import FeaturepediaError, NotFoundError
from featurepedia.web import text_rules
from featurepedia.web.catalog.models import Feature
from featurepedia.web.community.models import Bookmark, Comment, CommentReport, FeatureList, ListItem

MAX_LISTS = 100
MAX_ITEMS = 1000
MAX_TITLE = 120
MAX_DESCRIPTION = 2000
MAX_TEST_TEXT = 2000
MAX_COMMENT = 2000
MIN_COMMENT = 2
# Comments: a burst limit against floods and a daily one against spam; replies to a discussion fit easily.
COMMENTS_PER_BURST = 5
BURST = timedelta(minutes=10)
COMMENTS_PER_DAY = 50
# Distinct players' reports that hide a comment until a moderator restores it or agrees.
REPORTS_TO_HIDE = 3


class CommunityError(FeaturepediaError, ValueError):
    """A list, bookmark or comment action refused: the message says why and what to do."""


def _text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    text_rules.check(value, what)
    if len(value) > limit:
        raise CommunityError(f"{what[:1].upper()}{what[1:]} is {len(value):,} characters; the limit is {limit:,}. "
                             "Shorten it.")
    return value


# --- lists -------------------------------------------------------------------------------------------------

def create_list(user: AbstractBaseUser, title: str, description: str = "", public: bool = False,
                test_text: str = "") -> FeatureList:
    title = " ".join(_text(title, "a list's title", MAX_TITLE).split())
    if not title:
        raise CommunityError("A list needs a title: say what its features have in common.")
    if FeatureList.objects.filter(owner=user).count() >= MAX_LISTS:
        raise CommunityError(f"You have {MAX_LISTS} lists, the most allowed; delete one you no longer use first.")
    return FeatureList.objects.create(owner=user, title=title, public=public,
                                      description=_text(description, "a list's description", MAX_DESCRIPTION),
                                      test_text=_text(test_text, "a list's test text", MAX_TEST_TEXT))


def update_list(user: AbstractBaseUser, lst: FeatureList, title: str, description: str, public: bool,
                test_text: str) -> FeatureList:
    check_owner(user, lst)
    title = " ".join(_text(title, "a list's title", MAX_TITLE).split())
    if not title:
        raise CommunityError("A list needs a title: say what its features have in common.")
    lst.title, lst.public = title, public
    lst.description = _text(description, "a list's description", MAX_DESCRIPTION)
    lst.test_text = _text(test_text, "a list's test text", MAX_TEST_TEXT)
    lst.save()
    return lst


def can_view(user: AbstractBaseUser | AnonymousUser, lst: FeatureList, key: str = "") -> bool:
    """Public lists, one's own, and private ones opened with their share key."""
    return lst.public or (user.is_authenticated and lst.owner_id == user.pk) or (bool(key) and key == lst.share_key)


def viewable(user: AbstractBaseUser | AnonymousUser, pk: int, key: str = "") -> FeatureList:
    lst = FeatureList.objects.select_related("owner__profile").filter(pk=pk).first()
    if lst is None or not can_view(user, lst, key):
        # The same answer for a private list without its key as for no list: ids do not leak.
        raise NotFoundError(f"no list {pk} you can see; a private list opens only with its share link")
    return lst


def check_owner(user: AbstractBaseUser | AnonymousUser, lst: FeatureList) -> None:
    if not user.is_authenticated or lst.owner_id != user.pk:
        raise CommunityError("Only the list's owner can change it; make your own list to collect features.",
                             status=403)


def add_to_list(user: AbstractBaseUser, lst: FeatureList, feature: Feature, note: str = "") -> bool:
    """Add ``feature`` (False when it was there already)."""
    check_owner(user, lst)
    note = _text(note, "a note", 300)
    with transaction.atomic():
        FeatureList.objects.select_for_update().filter(pk=lst.pk).first()
        if lst.items.count() >= MAX_ITEMS:
            raise CommunityError(f"A list holds at most {MAX_ITEMS} features; start another list for more.")
        _item, created = ListItem.objects.get_or_create(feature_list=lst, feature=feature, defaults={"note": note})
        FeatureList.objects.filter(pk=lst.pk).update(updated=timezone.now())
    return created


def remove_from_list(user: AbstractBaseUser, lst: FeatureList, feature_id: int) -> bool:
    check_owner(user, lst)
    deleted, _ = ListItem.objects.filter(feature_list=lst, feature_id=feature_id).delete()
    return bool(deleted)


def delete_list(user: AbstractBaseUser, lst: FeatureList) -> None:
    check_owner(user, lst)
    lst.delete()


def public_lists() -> QuerySet[FeatureList]:
    return FeatureList.objects.filter(public=True).exclude(owner__profile__banned=True).select_related("owner__profile")


# --- bookmarks ---------------------------------------------------------------------------------------------

def toggle_bookmark(user: AbstractBaseUser, feature: Feature) -> bool:
    """Bookmark ``feature``, or remove the bookmark; True when it is bookmarked afterwards."""
    deleted, _ = Bookmark.objects.filter(user=user, feature=feature).delete()
    if deleted:
        return False
    try:
        with transaction.atomic():
            Bookmark.objects.create(user=user, feature=feature)
    except IntegrityError:
        pass  # a simultaneous click bookmarked it already
    return True


def is_bookmarked(user: AbstractBaseUser | AnonymousUser, feature: Feature) -> bool:
    return user.is_authenticated and Bookmark.objects.filter(user=user, feature=feature).exists()


# --- comments ----------------------------------------------------------------------------------------------

def visible_comments(feature: Feature) -> QuerySet[Comment]:
    return (Comment.objects.filter(feature=feature, status=Comment.Status.LIVE)
            .exclude(author__profile__banned=True).select_related("author__profile"))


def post_comment(user: AbstractBaseUser, feature: Feature, text: str) -> Comment:
    text = _text(text, "a comment", MAX_COMMENT)
    if len(text) < MIN_COMMENT:
        raise CommunityError("Write a comment first: a question, a counter-example, a pattern you noticed.")
    now = timezone.now()
    with transaction.atomic():
        # Counted under a lock on the player's row, so simultaneous posts cannot pass the limit together.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        mine = Comment.objects.filter(author=user)
        recent = mine.filter(created__gte=now - BURST).order_by("created")
        if recent.count() >= COMMENTS_PER_BURST:
            first = recent.first()
            wait = max(1, int(((first.created + BURST) - now).total_seconds() // 60) + 1) if first else 10
            raise CommunityError(f"You have posted {COMMENTS_PER_BURST} comments in the last "
                                 f"{int(BURST.total_seconds() // 60)} minutes; wait about {wait} minute"
                                 f"{'s' if wait != 1 else ''} before the next.", status=429)
        if mine.filter(created__gte=now - timedelta(days=1)).count() >= COMMENTS_PER_DAY:
            raise CommunityError(f"You have posted {COMMENTS_PER_DAY} comments in the last 24 hours, the limit; "
                                 "come back tomorrow.", status=429)
        return Comment.objects.create(feature=feature, author=user, text=text)


def delete_comment(user: AbstractBaseUser, comment: Comment) -> None:
    """The author removes their comment from the page (it stays stored, marked deleted)."""
    if comment.author_id != user.pk:
        raise CommunityError("Only its author can delete a comment; report it if it breaks the rules.", status=403)
    Comment.objects.filter(pk=comment.pk).update(status=Comment.Status.DELETED)


def report_comment(user: AbstractBaseUser, comment: Comment, note: str = "") -> bool:
    """Report a comment (once per player); True when this report hid it pending a moderator."""
    if comment.author_id == user.pk:
        raise CommunityError("That is your own comment: delete it instead of reporting it.")
    note = _text(note, "a report's note", 300)
    with transaction.atomic():
        CommentReport.objects.get_or_create(comment=comment, user=user, defaults={"note": note})
        open_reports = CommentReport.objects.filter(comment=comment, resolved=False).count()
        if open_reports >= REPORTS_TO_HIDE:
            return bool(Comment.objects.filter(pk=comment.pk, status=Comment.Status.LIVE)
                        .update(status=Comment.Status.REPORTED))
    return False
