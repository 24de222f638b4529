"""Writes of the loans app, one module per capability: requests, capital, approvals, disbursement, collection,
overdue, changes and checks. The bank's files are in `loans.bankfiles`."""
