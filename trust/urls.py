from django.urls import path

from . import views

app_name = "trust"

urlpatterns = [
    path("trust/survey/", views.survey, name="survey"),
    path("trust/survey/randomized/", views.survey_browser_answer, name="survey_randomized"),
]
