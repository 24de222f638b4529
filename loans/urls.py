from django.urls import path  # noqa: F401

from loans import views

app_name = "loans"

urlpatterns = []

urlpatterns += [
    path("<int:pk>/", views.loan_detail, name="loan_detail"),
    path("<int:pk>/changes/<slug:kind>/", views.loan_change_request_view, name="loan_change_request"),
    path("<int:pk>/use-check/", views.loan_use_check_record_view, name="loan_use_check_record"),
    path("changes/", views.loan_changes, name="loan_changes"),
    path("changes/<int:pk>/decide/", views.loan_change_decide_view, name="loan_change_decide"),
    path("changes/<int:pk>/end-freeze/", views.loan_freeze_end_view, name="loan_freeze_end"),
    path("use-checks/", views.loan_use_checks, name="loan_use_checks"),
    path("use-checks/groups/<int:pk>/", views.group_inspection_record_view, name="group_inspection_record"),
    path("statements/", views.fee_statements, name="fee_statements"),
]
