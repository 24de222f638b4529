from django.urls import path

from organizations import views

app_name = "organizations"

urlpatterns = [
    path("", views.home, name="home"),
    path("groups/grades/", views.group_grades, name="group_grades"),
    path("groups/<int:pk>/grades/", views.group_grade_history, name="group_grade_history"),
]
