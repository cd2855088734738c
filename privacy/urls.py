from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path(".well-known/gpc.json", views.gpc_json, name="gpc_json"),
    path("privacy/transparency/", views.transparency, name="transparency"),
]
