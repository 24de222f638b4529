"""Writes of the loans app, one module per capability: requests, capital, approvals, disbursement, collection,
overdue, changes and checks. The bank's files are in `loans.bankfiles`."""

# Re-exports for the old import path; removed once callers import from the capability modules.
from loans.bankfiles.importing import Progress, import_confirm, import_recover_stale, import_upload, run_job
from loans.bankfiles.reconciliation import reconciliation_accept
from loans.services.approvals import application_approve, application_reject, loan_list_approve
from loans.services.capital import (
    allocation_adjust,
    allocation_decide,
    allocation_propose,
    capital_plan_set,
    proposal_suggestion,
)
from loans.services.changes import (
    MAX_FREEZE_MONTHS,
    adjustable_instalments,
    extension_limit_months,
    extension_months_used,
    freezes_end_due,
    loan_change_decide,
    loan_change_request,
    loan_freeze_end,
    unpaid_instalments,
    working_days_before,
)
from loans.services.checks import group_inspection_record, loan_use_check_record
from loans.services.collection import collection_sheet_create, collection_sheet_post, collection_sheet_save
from loans.services.collection_reversals import collection_line_reverse, posting_reverse
from loans.services.disbursement import loan_disburse, loans_disburse
from loans.services.overdue import overdue_close_day
from loans.services.requests import (
    ReviewResult,
    application_create,
    application_review,
    application_withdraw,
    loan_list_certify,
    loan_list_submit,
)

__all__ = [
    "MAX_FREEZE_MONTHS",
    "Progress",
    "ReviewResult",
    "adjustable_instalments",
    "allocation_adjust",
    "allocation_decide",
    "allocation_propose",
    "application_approve",
    "application_create",
    "application_reject",
    "application_review",
    "application_withdraw",
    "capital_plan_set",
    "collection_line_reverse",
    "collection_sheet_create",
    "collection_sheet_post",
    "collection_sheet_save",
    "extension_limit_months",
    "extension_months_used",
    "freezes_end_due",
    "group_inspection_record",
    "import_confirm",
    "import_recover_stale",
    "import_upload",
    "loan_change_decide",
    "loan_change_request",
    "loan_disburse",
    "loan_freeze_end",
    "loan_list_approve",
    "loan_list_certify",
    "loan_list_submit",
    "loan_use_check_record",
    "loans_disburse",
    "overdue_close_day",
    "posting_reverse",
    "proposal_suggestion",
    "reconciliation_accept",
    "run_job",
    "unpaid_instalments",
    "working_days_before",
]
