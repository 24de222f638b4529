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
    path("collections/", views.collection_sheet_list, name="collection_sheet_list"),
    path("collections/new/", views.collection_sheet_create_view, name="collection_sheet_create"),
    path("collections/<int:pk>/", views.collection_sheet_detail, name="collection_sheet_detail"),
    path("collections/<int:pk>/fill/", views.collection_sheet_fill, name="collection_sheet_fill"),
    path("collections/<int:pk>/print/", views.collection_sheet_print, name="collection_sheet_print"),
    path("collections/<int:pk>/13TD.xlsx", views.collection_sheet_xlsx, name="collection_sheet_xlsx"),
    path("collections/<int:pk>/lines/<int:line_pk>/", views.collection_line_detail, name="collection_line_detail"),
    path(
        "collections/<int:pk>/lines/<int:line_pk>/reverse/",
        views.collection_line_reverse_view,
        name="collection_line_reverse",
    ),
    path("postings/<int:pk>/reverse/", views.posting_reverse_view, name="posting_reverse"),
]

urlpatterns += [
    path("<int:pk>/changes/<slug:kind>/", views.loan_change_request_view, name="loan_change_request"),
    path("<int:pk>/use-check/", views.loan_use_check_record_view, name="loan_use_check_record"),
    path("changes/", views.loan_changes, name="loan_changes"),
    path("changes/<int:pk>/decide/", views.loan_change_decide_view, name="loan_change_decide"),
    path("changes/<int:pk>/end-freeze/", views.loan_freeze_end_view, name="loan_freeze_end"),
    path("use-checks/", views.loan_use_checks, name="loan_use_checks"),
    path("use-checks/groups/<int:pk>/", views.group_inspection_record_view, name="group_inspection_record"),
    path("statements/", views.fee_statements, name="fee_statements"),
]

urlpatterns += [
    path("imports/", views.bank_import_list, name="bank_import_list"),
    path("imports/<int:pk>/", views.bank_import_detail, name="bank_import_detail"),
    path("imports/<int:pk>/progress/", views.bank_import_progress, name="bank_import_progress"),
    path("imports/<int:pk>/confirm/", views.bank_import_confirm, name="bank_import_confirm"),
    path("imports/<int:pk>/accept/", views.bank_import_accept, name="bank_import_accept"),
    path("imports/<int:pk>/errors.xlsx", views.bank_import_errors, name="bank_import_errors"),
    path("exports/", views.bank_export_page, name="bank_export_page"),
    path("exports/<str:kind>.<str:fmt>", views.bank_export, name="bank_export"),
]

urlpatterns += [
    path("reports/ward/<int:pk>/", views.report_ward, name="report_ward"),
    path("reports/group/<int:pk>/", views.report_group, name="report_group"),
    path("reports/<slug:layout>/", views.report, name="report"),
]
