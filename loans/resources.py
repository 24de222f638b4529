"""Moved to loans/bankfiles/layouts.py."""

# Re-exports for the old import path; removed once callers import from the capability modules.
from loans.bankfiles.layouts import GRADES, KIND_LABELS, PlainLoanResource, export_layout, fold, parse_sheet

__all__ = ["GRADES", "KIND_LABELS", "PlainLoanResource", "export_layout", "fold", "parse_sheet"]
