"""Lists (/lists/...), bookmarks (/me/bookmarks), and comment and list actions on features."""

from django.urls import path

from featurepedia.web.community import views

urlpatterns = [
    path("lists/", views.lists_page, name="lists"),
    path("lists/new", views.new_list, name="list-new"),
    path("lists/<int:pk>/", views.list_page, name="list"),
    path("lists/<int:pk>/edit", views.edit_list, name="list-edit"),
    path("lists/<int:pk>/delete", views.delete_list, name="list-delete"),
    path("lists/<int:pk>/remove/<int:feature_id>", views.remove_feature, name="list-remove"),
    path("features/<int:feature_id>/add-to-list", views.add_feature, name="list-add"),
    path("features/<int:feature_id>/bookmark", views.bookmark, name="bookmark"),
    path("features/<int:feature_id>/comments", views.comment, name="comment"),
    path("comments/<int:pk>/report", views.report_comment, name="comment-report"),
    path("comments/<int:pk>/delete", views.delete_comment, name="comment-delete"),
    path("me/bookmarks", views.bookmarks_page, name="bookmarks"),
]
