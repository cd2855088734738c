from django.urls import path

from . import views

app_name = "recommendations"

urlpatterns = [
    path("feed/show-less/", views.show_less, name="show_less"),
]
