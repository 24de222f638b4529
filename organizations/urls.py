from django.urls import path

from organizations import views

app_name = "organizations"

urlpatterns = [
    path("", views.home, name="home"),
    path("groups/grades/", views.group_grades, name="group_grades"),
    path("groups/<int:pk>/grades/", views.group_grade_history, name="group_grade_history"),
]

urlpatterns += [
    path("groups/", views.group_list, name="group_list"),
    path("groups/new/", views.group_create, name="group_create"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("groups/<int:pk>/edit/", views.group_update, name="group_update"),
    path("logins/", views.login_log, name="login_log"),
]
