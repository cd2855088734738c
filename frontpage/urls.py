from django.urls import path

from newsroom import views as editor_views

from . import views

app_name = "news"

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<slug:slug>/", views.article_detail, name="article"),
    path("topics/<slug:slug>/", views.topic_detail, name="topic"),
    path("search/", views.search, name="search"),
    path("editor/", editor_views.dashboard, name="editor_dashboard"),
    path("editor/model/retrain/", editor_views.model_retrain, name="editor_model_retrain"),
    path("editor/model/rollback/", editor_views.model_rollback, name="editor_model_rollback"),
]
