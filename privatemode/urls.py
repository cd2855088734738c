from django.urls import path

from . import views

app_name = "privatemode"

urlpatterns = [
    path("feed/bundle.json", views.bundle, name="bundle"),
    path("private/", views.start, name="start"),
    path("private/account/", views.account_level, name="account_level"),
    path("private/report", views.report, name="report"),
    path("private/federated", views.federated, name="federated"),
]
