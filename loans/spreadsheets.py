"""Moved to loans/bankfiles/reader.py."""

# Re-exports for the old import path; removed once callers import from the capability modules.
from loans.bankfiles.reader import SpreadsheetError, read_rows

__all__ = ["SpreadsheetError", "read_rows"]
