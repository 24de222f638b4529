from django.urls import path

from loans import views

app_name = "loans"

urlpatterns = [
    path("reports/ward/<int:pk>/", views.report_ward, name="report_ward"),
    path("reports/group/<int:pk>/", views.report_group, name="report_group"),
    path("reports/<slug:layout>/", views.report, name="report"),
]
