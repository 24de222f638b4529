from django.urls import path

from loans.bankfiles import views as bankfile_views
from loans.reports import views as report_views
from loans.views import (
    approvals,
    capital,
    changes,
    checks,
    collection,
    disbursement,
    fees,
    loans,
    overview,
    requests,
    reversals,
)
from loans.views import statements as statement_views

app_name = "loans"

urlpatterns = [
    # Requests: 01/TD, the review meeting (10A/TD), list 03/TD
    path("requests/", requests.application_list, name="application_list"),
    path("requests/<int:pk>/", requests.application_detail, name="application_detail"),
    path("requests/<int:pk>/print/", requests.application_print, name="application_print"),
    path("requests/<int:pk>/withdraw/", requests.application_withdraw, name="application_withdraw"),
    path("households/<int:household_pk>/request/", requests.application_create, name="application_create"),
    path("groups/<int:group_pk>/review/", requests.meeting_create, name="meeting_create"),
    path("meetings/<int:pk>/", requests.meeting_detail, name="meeting_detail"),
    path("meetings/<int:pk>/xlsx/", requests.meeting_xlsx, name="meeting_xlsx"),
    path("lists/", requests.list03_index, name="list03_index"),
    path("lists/<int:pk>/", requests.list03_detail, name="list03_detail"),
    path("lists/<int:pk>/xlsx/", requests.list03_xlsx, name="list03_xlsx"),
    path("lists/<int:pk>/certify/", requests.list03_certify, name="list03_certify"),
    path("lists/<int:pk>/submit/", requests.list03_submit, name="list03_submit"),
    # Capital: plans, allocations, adjustments
    path("capital/", capital.allocation_list, name="allocation_list"),
    path("capital/plan/", capital.plan_set, name="plan_set"),
    path("capital/propose/", capital.allocation_propose, name="allocation_propose"),
    path("capital/adjust/", capital.allocation_adjust, name="allocation_adjust"),
    path("capital/<int:pk>/", capital.allocation_detail, name="allocation_detail"),
    path("capital/<int:pk>/decide/", capital.allocation_decide, name="allocation_decide"),
    path("capital/pending/", capital.capital_pending, name="capital_pending"),
    path("capital/plan-changes/<int:pk>/decide/", capital.plan_change_decide, name="plan_change_decide"),
    path("capital/adjustments/<int:pk>/decide/", capital.adjustment_decide, name="adjustment_decide"),
    # Approvals: the queue, list review, 04/TD notice
    path("approvals/", approvals.approval_queue, name="approval_queue"),
    path("approvals/lists/<int:pk>/", approvals.loan_list_review, name="loan_list_review"),
    path("approvals/lists/<int:pk>/04td/", approvals.approval_notice, name="approval_notice"),
    path("approvals/requests/<int:pk>/approve/", approvals.application_approve, name="application_approve"),
    path("approvals/requests/<int:pk>/reject/", approvals.application_reject, name="application_reject"),
    # Disbursement
    path("disbursements/", disbursement.disbursement_day, name="disbursement_day"),
    # Loans
    path("<int:pk>/", loans.loan_detail, name="loan_detail"),
    path("<int:pk>/statement/", statement_views.loan_statement_page, name="loan_statement"),
    path("<int:pk>/statement.xlsx", statement_views.loan_statement_xlsx, name="loan_statement_xlsx"),
    # Overview
    path("district/", overview.district_overview, name="district_overview"),
    # Collection: the 13/TD sheet, its lines, reversals
    path("collections/", collection.collection_sheet_list, name="collection_sheet_list"),
    path("collections/new/", collection.collection_sheet_create_view, name="collection_sheet_create"),
    path("collections/<int:pk>/", collection.collection_sheet_detail, name="collection_sheet_detail"),
    path("collections/<int:pk>/fill/", collection.collection_sheet_fill, name="collection_sheet_fill"),
    path("collections/<int:pk>/discard/", collection.collection_sheet_discard_view, name="collection_sheet_discard"),
    path("collections/<int:pk>/print/", collection.collection_sheet_print, name="collection_sheet_print"),
    path("collections/<int:pk>/13TD.xlsx", collection.collection_sheet_xlsx, name="collection_sheet_xlsx"),
    path("collections/<int:pk>/lines/<int:line_pk>/", collection.collection_line_detail, name="collection_line_detail"),
    path("collections/<int:pk>/lines/<int:line_pk>/entry/", collection.collection_line_entry,
         name="collection_line_entry"),
    path(
        "collections/<int:pk>/lines/<int:line_pk>/reverse/",
        reversals.collection_line_reverse_view,
        name="collection_line_reverse",
    ),
    path(
        "collections/<int:pk>/lines/<int:line_pk>/correct/",
        collection.collection_line_correct_view,
        name="collection_line_correct",
    ),
    path("postings/<int:pk>/reverse/", reversals.posting_reverse_view, name="posting_reverse"),
    path("reversals/", reversals.reversal_request_list, name="reversal_requests"),
    path("reversals/<int:pk>/decide/", reversals.reversal_decide_view, name="reversal_decide"),
    # Changes: 08/TD adjustments, extensions, freezes
    path("<int:pk>/changes/<slug:kind>/", changes.loan_change_request_view, name="loan_change_request"),
    path("changes/", changes.loan_changes, name="loan_changes"),
    path("changes/<int:pk>/decide/", changes.loan_change_decide_view, name="loan_change_decide"),
    path("changes/<int:pk>/end-freeze/", changes.loan_freeze_end_view, name="loan_freeze_end"),
    # Checks: loan-use checks (06/TD), group inspections (16/TD)
    path("<int:pk>/use-check/", checks.loan_use_check_record_view, name="loan_use_check_record"),
    path("use-checks/", checks.loan_use_checks, name="loan_use_checks"),
    path("use-checks/groups/<int:pk>/", checks.group_inspection_record_view, name="group_inspection_record"),
    # Fees: commission and entrustment-fee statements
    path("statements/", fees.fee_statements, name="fee_statements"),
    # Bank files: imports and exports
    path("imports/", bankfile_views.bank_import_list, name="bank_import_list"),
    path("imports/<int:pk>/", bankfile_views.bank_import_detail, name="bank_import_detail"),
    path("imports/<int:pk>/progress/", bankfile_views.bank_import_progress, name="bank_import_progress"),
    path("imports/<int:pk>/confirm/", bankfile_views.bank_import_confirm, name="bank_import_confirm"),
    path("imports/<int:pk>/accept/", bankfile_views.bank_import_accept, name="bank_import_accept"),
    path("imports/<int:pk>/errors.xlsx", bankfile_views.bank_import_errors, name="bank_import_errors"),
    path("exports/", bankfile_views.bank_export_page, name="bank_export_page"),
    path("exports/<str:kind>.<str:fmt>", bankfile_views.bank_export, name="bank_export"),
    path("exports/<str:kind>.<str:fmt>/prepare/", bankfile_views.bank_export_prepare, name="bank_export_prepare"),
    path("exports/prepared/", bankfile_views.bank_export_jobs, name="bank_export_jobs"),
    path("exports/prepared/<int:pk>/", bankfile_views.bank_export_download, name="bank_export_download"),
    # Reports
    path("reports/ward/<int:pk>/", report_views.report_ward, name="report_ward"),
    path("reports/group/<int:pk>/", report_views.report_group, name="report_group"),
    path("reports/<slug:layout>/", report_views.report, name="report"),
]
