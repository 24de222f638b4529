"""Pages of the loans app, one module per capability (requests, capital, approvals, disbursement, overview,
collection, loans, changes, checks, fees); the bank-file pages live in loans.bankfiles.views and the report pages in
loans.reports.views."""

# Re-exports for the old import path; removed once callers import from the capability modules.
from loans.reports.views import REPORTS  # noqa: F401
