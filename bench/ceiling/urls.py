from django.http import HttpResponse
from django.urls import path

from . import views

urlpatterns = [
    path("", views.cards, name="cards"),
    path("healthz", lambda request: HttpResponse("ok"), name="healthz"),
]
