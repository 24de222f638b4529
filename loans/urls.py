from django.urls import path

from loans import views

app_name = "loans"

urlpatterns = [
    path("requests/", views.application_list, name="application_list"),
    path("requests/<int:pk>/", views.application_detail, name="application_detail"),
    path("requests/<int:pk>/withdraw/", views.application_withdraw, name="application_withdraw"),
    path("households/<int:household_pk>/request/", views.application_create, name="application_create"),
    path("groups/<int:group_pk>/review/", views.meeting_create, name="meeting_create"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting_detail"),
    path("meetings/<int:pk>/xlsx/", views.meeting_xlsx, name="meeting_xlsx"),
    path("lists/", views.list03_index, name="list03_index"),
    path("lists/<int:pk>/", views.list03_detail, name="list03_detail"),
    path("lists/<int:pk>/xlsx/", views.list03_xlsx, name="list03_xlsx"),
    path("lists/<int:pk>/certify/", views.list03_certify, name="list03_certify"),
    path("lists/<int:pk>/submit/", views.list03_submit, name="list03_submit"),
]
