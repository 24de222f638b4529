"""Scoped reads for the loans app, one module per capability: loans, requests, capital, approvals, collection,
changes, checks and fees. The bank files' reads are in loans/bankfiles/, the report figures in loans/reports/."""

import sys
from types import ModuleType

# Re-exports for the old import path; removed once callers import from the capability modules.
from loans.bankfiles.selectors import import_batches_for, user_can_import
from loans.reports import selectors as _reports
from loans.reports.selectors import (
    group_grade_counts,
    group_households,
    label_rows,
    portfolio_report,
    portfolio_totals,
    portfolio_trend,
    snapshot_month_end,
    uses_cached_balances,
)
from loans.selectors.approvals import approval_queue, awaiting_disbursement, wards_for_queue
from loans.selectors.capital import allocation_use, allocations_for, capital_plans_for
from loans.selectors.changes import changes_for
from loans.selectors.checks import loan_use_todo
from loans.selectors.collection import collection_sheets_for, group_totals
from loans.selectors.fees import INTEREST_KINDS, commission_statement, fee_statement, month_bounds, schedule_for
from loans.selectors.loans import disbursed_between, loans_for, portfolio_by_organization, postings_for
from loans.selectors.requests import applications_for, loan_lists_for, requests_by_status, review_meetings_for

__all__ = [
    "INTEREST_KINDS",
    "allocation_use",
    "allocations_for",
    "applications_for",
    "approval_queue",
    "awaiting_disbursement",
    "bank_export_rows",
    "capital_plans_for",
    "changes_for",
    "collection_sheets_for",
    "commission_statement",
    "disbursed_between",
    "fee_statement",
    "group_grade_counts",
    "group_households",
    "group_totals",
    "import_batches_for",
    "label_rows",
    "loan_lists_for",
    "loan_use_todo",
    "loans_for",
    "month_bounds",
    "portfolio_by_organization",
    "portfolio_report",
    "portfolio_totals",
    "portfolio_trend",
    "postings_for",
    "requests_by_status",
    "review_meetings_for",
    "schedule_for",
    "snapshot_month_end",
    "user_can_import",
    "uses_cached_balances",
    "wards_for_queue",
]


def __getattr__(name):
    # Looked up on first use: loans.bankfiles.export itself imports loans.selectors.loans.
    if name == "bank_export_rows":
        from loans.bankfiles.export import bank_export_rows

        return bank_export_rows
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The tests and bench/report_bench.py replace these on loans.selectors; the report figures look them up in
#: loans.reports.selectors, so a replacement made here is made there too.
_FORWARDED = ("snapshot_month_end", "uses_cached_balances")


class _OldPath(ModuleType):
    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in _FORWARDED:
            setattr(_reports, name, value)


sys.modules[__name__].__class__ = _OldPath
