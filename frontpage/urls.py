from django.urls import path
from django.views.decorators.cache import cache_control

from newsroom import views as editor_views

from . import feeds, views

# The same answer for everyone, so feed readers and shared caches may keep it a few minutes.
public_feed = cache_control(public=True, max_age=feeds.FEED_MAX_AGE_SECONDS)

app_name = "news"

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<slug:slug>/", views.article_detail, name="article"),
    path("a/<int:pk>/", views.article_short, name="article_short"),
    path("topics/<slug:slug>/", views.topic_detail, name="topic"),
    path("feeds/rss/", public_feed(feeds.LatestStoriesRss()), name="feed_rss"),
    path("feeds/atom/", public_feed(feeds.LatestStoriesAtom()), name="feed_atom"),
    path("topics/<slug:slug>/rss/", public_feed(feeds.TopicStoriesRss()), name="topic_feed_rss"),
    path("topics/<slug:slug>/atom/", public_feed(feeds.TopicStoriesAtom()), name="topic_feed_atom"),
    path("search/", views.search, name="search"),
    path("editor/", editor_views.dashboard, name="editor_dashboard"),
    path("editor/model/retrain/", editor_views.model_retrain, name="editor_model_retrain"),
    path("editor/model/rollback/", editor_views.model_rollback, name="editor_model_rollback"),
]
