from django.contrib import admin

from featurepedia.web.catalog.models import ActivationExample, Feature, LanguageModel, Source


@admin.register(LanguageModel)
class LanguageModelAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "n_layers", "d_model", "created"]
    search_fields = ["slug", "name"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "hook_name", "n_features", "n_tokens", "status", "updated"]
    list_filter = ["kind", "status"]


@admin.register(Feature)
class FeatureAdmin(admin.ModelAdmin):
    list_display = ["__str__", "max_act", "density"]
    list_filter = ["source"]
    search_fields = ["=index"]
    list_select_related = ["source__model"]


@admin.register(ActivationExample)
class ActivationExampleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "max_value", "max_index"]
    list_filter = ["bin"]
    raw_id_fields = ["feature"]
    list_select_related = ["feature__source__model"]
