"""Balances derived from postings and the schedule: the single source every report, cache and check uses.

balances: loan and household balances; summaries: group and branch summaries, the portfolio as of a date;
arrears: the interest arrears history; snapshots: month-end and day-change snapshots of past dates.
"""
