"""Scoped reads for the loans app, one module per capability: loans, requests, capital, approvals, collection,
changes, checks and fees. The bank files' reads are in loans/bankfiles/, the report figures in loans/reports/."""
