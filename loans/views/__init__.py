"""Pages of the loans app, one module per capability (requests, capital, approvals, disbursement, overview,
collection, loans, changes, checks, fees); the bank-file pages live in loans.bankfiles.views and the report pages in
loans.reports.views."""
