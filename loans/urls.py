from django.urls import path

from loans import views

app_name = "loans"

urlpatterns = [
    path("capital/", views.allocation_list, name="allocation_list"),
    path("capital/plan/", views.plan_set, name="plan_set"),
    path("capital/propose/", views.allocation_propose, name="allocation_propose"),
    path("capital/adjust/", views.allocation_adjust, name="allocation_adjust"),
    path("capital/<int:pk>/", views.allocation_detail, name="allocation_detail"),
    path("capital/<int:pk>/decide/", views.allocation_decide, name="allocation_decide"),
    path("approvals/", views.approval_queue, name="approval_queue"),
    path("approvals/lists/<int:pk>/", views.loan_list_review, name="loan_list_review"),
    path("approvals/lists/<int:pk>/04td/", views.approval_notice, name="approval_notice"),
    path("approvals/requests/<int:pk>/approve/", views.application_approve, name="application_approve"),
    path("approvals/requests/<int:pk>/reject/", views.application_reject, name="application_reject"),
    path("disbursements/", views.disbursement_day, name="disbursement_day"),
    path("<int:pk>/", views.loan_detail, name="loan_detail"),
    path("district/", views.district_overview, name="district_overview"),
]
