from django.urls import path  # noqa: F401

from loans import views

app_name = "loans"

urlpatterns = [
    path("imports/", views.bank_import_list, name="bank_import_list"),
    path("imports/<int:pk>/", views.bank_import_detail, name="bank_import_detail"),
    path("imports/<int:pk>/progress/", views.bank_import_progress, name="bank_import_progress"),
    path("imports/<int:pk>/confirm/", views.bank_import_confirm, name="bank_import_confirm"),
    path("imports/<int:pk>/accept/", views.bank_import_accept, name="bank_import_accept"),
    path("imports/<int:pk>/errors.xlsx", views.bank_import_errors, name="bank_import_errors"),
    path("exports/", views.bank_export_page, name="bank_export_page"),
    path("exports/<str:kind>.<str:fmt>", views.bank_export, name="bank_export"),
]
