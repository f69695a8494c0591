"""Moderation in Django's admin: campaigns, flags and reports, plays, profiles, This-vs-That and Odd-one-out
answers; banning keeps all data.

Every admin action is written to Django's admin log (LogEntry), so moderation leaves a trail.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from featurepedia.web.explanations.models import Explanation
from featurepedia.web.game.models import Campaign, Comparison, Flag, OddOneAnswer, PlayEvent, Profile


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Campaigns and contests. A contest is a campaign with ``contest`` ticked and a start and an end; the
    actions schedule next week's or next month's side quest over the selected campaigns' features."""

    list_display = ["title", "slug", "source", "active", "contest", "starts", "ends", "phase"]
    list_filter = ["active", "contest"]
    prepopulated_fields = {"slug": ["title"]}
    raw_id_fields = ["features"]
    actions = ["weekly_side_quest", "monthly_side_quest", "download_data"]

    @admin.display(description="now")
    def phase(self, campaign: Campaign) -> str:
        return campaign.phase()

    @admin.action(description="Schedule next week's side quest over these features")
    def weekly_side_quest(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._schedule(request, queryset, "week")

    @admin.action(description="Schedule next month's side quest over these features")
    def monthly_side_quest(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._schedule(request, queryset, "month")

    @admin.action(description="Download its data (explanations, votes, answers, scores) as Parquet with a data card")
    def download_data(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        from featurepedia.web.data_io.download import export_zip
        from featurepedia.web.data_io.export import scope_for_campaign

        if queryset.count() != 1:
            messages.error(request, "Select one campaign to download its data.")
            return None
        campaign = queryset.get()
        response = HttpResponse(export_zip(scope_for_campaign(campaign.slug)), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="featurepedia-{campaign.slug}-data.zip"'
        return response

    def _schedule(self, request: HttpRequest, queryset: QuerySet[Campaign], kind: str) -> None:
        from featurepedia.web.game.contests import schedule_side_quest

        made = []
        for campaign in queryset:
            contest = schedule_side_quest(campaign, kind)
            self.log_addition(request, contest, f"scheduled from {campaign.slug}")
            made.append(f"{contest.title} ({contest.starts:%d %b} to {contest.ends:%d %b})")
        messages.success(request, "Scheduled: " + "; ".join(made) + ".")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "country", "region", "banned", "advanced_mode"]
    list_filter = ["banned", "country"]
    search_fields = ["user__username", "user__email", "display_name"]
    actions = ["ban", "unban"]

    @admin.action(description="Ban: hide their explanations (nothing is deleted)")
    def ban(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        self._set_banned(request, queryset, True)

    @admin.action(description="Lift the ban")
    def unban(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        self._set_banned(request, queryset, False)

    def _set_banned(self, request: HttpRequest, queryset: QuerySet[Profile], banned: bool) -> None:
        for profile in queryset:
            profile.banned = banned
            profile.save(update_fields=["banned"])
            self.log_change(request, profile, "banned" if banned else "ban lifted")
        messages.success(request, f"{queryset.count()} player(s) {'banned' if banned else 'unbanned'}.")


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = ["kind", "feature", "explanation", "user", "note", "resolved", "created"]
    list_filter = ["kind", "resolved"]
    raw_id_fields = ["user", "feature", "explanation"]
    actions = ["hide_explanations", "resolve"]

    @admin.action(description="Hide the reported explanations")
    def hide_explanations(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        for flag in queryset.filter(explanation__isnull=False).select_related("explanation"):
            explanation = flag.explanation
            assert explanation is not None
            explanation.status = Explanation.Status.HIDDEN
            explanation.save(update_fields=["status", "updated"])
            flag.resolved = True
            flag.save(update_fields=["resolved"])
            self.log_change(request, explanation, "hidden after a report")

    @admin.action(description="Mark resolved")
    def resolve(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        for flag in queryset:
            flag.resolved = True
            flag.save(update_fields=["resolved"])
            self.log_change(request, flag, "resolved")


@admin.register(PlayEvent)
class PlayEventAdmin(admin.ModelAdmin):
    list_display = ["user", "action", "feature", "points", "campaign", "created"]
    list_filter = ["action", "campaign"]
    raw_id_fields = ["user", "feature", "explanation"]
    date_hierarchy = "created"


# This-vs-That and Odd-one-out answers, for moderation (a spammer's answers can be deleted with them).
@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["feature", "first", "second", "choice", "user", "visitor", "created"]
    list_filter = ["choice"]
    raw_id_fields = ["user", "feature", "first", "second", "campaign"]
    date_hierarchy = "created"


@admin.register(OddOneAnswer)
class OddOneAnswerAdmin(admin.ModelAdmin):
    list_display = ["feature", "round", "pick", "found", "user", "visitor", "created"]
    list_filter = ["found"]
    raw_id_fields = ["user", "feature", "round", "campaign"]
    date_hierarchy = "created"
