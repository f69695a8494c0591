from django.contrib import admin

from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote


class ScoreInline(admin.TabularInline):
    model = ExplanationScore
    extra = 0
    readonly_fields = ["scorer", "version", "value", "status", "error", "created"]
    exclude = ["details"]


@admin.register(Explanation)
class ExplanationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "author", "method", "status", "created"]
    list_filter = ["method", "status"]
    search_fields = ["text"]
    raw_id_fields = ["feature", "author"]
    inlines = [ScoreInline]


@admin.register(ExplanationScore)
class ExplanationScoreAdmin(admin.ModelAdmin):
    list_display = ["explanation", "scorer", "value", "status", "updated"]
    list_filter = ["scorer", "status"]
    raw_id_fields = ["explanation"]


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["user", "explanation", "value", "created"]
    raw_id_fields = ["user", "explanation"]
