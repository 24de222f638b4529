"""Balances derived from postings and the schedule: the single source every report, cache and check uses.

balances: loan and household balances; summaries: group and branch summaries, the portfolio as of a date;
arrears: the interest arrears history; snapshots: month-end and day-change snapshots of past dates.
"""

# Re-exports for the old import path; removed once callers import from the capability modules.
from loans.ledger.arrears import arrears_differences, record_arrears_changes
from loans.ledger.balances import (
    ZERO,
    ledger_differences,
    net_amount,
    refresh_balances,
    refresh_household_savings,
    refresh_loan_balances,
    with_derived_balances,
    with_derived_savings,
)
from loans.ledger.snapshots import refresh_snapshots, snapshot_span, snapshots_close_months, snapshots_rebuild
from loans.ledger.summaries import (
    derived_portfolio,
    flow_postings,
    flow_sums,
    month_ends,
    monthly_portfolio,
    refresh_group_balances,
    refresh_monthly_balances,
    refresh_portfolio_summary,
)

__all__ = [
    "ZERO",
    "arrears_differences",
    "derived_portfolio",
    "flow_postings",
    "flow_sums",
    "ledger_differences",
    "month_ends",
    "monthly_portfolio",
    "net_amount",
    "record_arrears_changes",
    "refresh_balances",
    "refresh_group_balances",
    "refresh_household_savings",
    "refresh_loan_balances",
    "refresh_monthly_balances",
    "refresh_portfolio_summary",
    "refresh_snapshots",
    "snapshot_span",
    "snapshots_close_months",
    "snapshots_rebuild",
    "with_derived_balances",
    "with_derived_savings",
]
