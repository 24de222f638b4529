"""The interest rule, in one place: daily accrual at the monthly rate ÷ 30, rounded once per collection period.

Current principal accrues at the loan's rate, overdue principal at `overdue_multiplier` × that rate, a frozen loan
accrues nothing. Each day of a period accrues on the balances at the end of the day before it, so money disbursed on
the first day accrues from that day and a repayment on the collection day still pays that day's interest.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from loans.money import round_vnd, to_decimal

DAYS_PER_MONTH = Decimal(30)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class InterestDue:
    """Interest of one loan for one collection period, in whole đồng."""

    current: Decimal
    overdue: Decimal
    days: int

    @property
    def total(self):
        return self.current + self.overdue


def daily_rate(monthly_rate_percent, multiplier=1):
    """0.55 (%/month) -> 0.0055 / 30 per day; exact Decimal, never rounded here."""
    return to_decimal(monthly_rate_percent) / HUNDRED / DAYS_PER_MONTH * to_decimal(multiplier)


def period_interest(*, balances, monthly_rate, overdue_multiplier, frozen=False):
    """Interest for a period given one (current principal, overdue principal) pair per day.

    The exact daily amounts are summed and rounded half-up to whole đồng once, per kind, at the end of the period.
    """
    balances = list(balances)
    if frozen:
        return InterestDue(current=Decimal(0), overdue=Decimal(0), days=len(balances))
    current_rate = daily_rate(monthly_rate)
    overdue_rate = daily_rate(monthly_rate, overdue_multiplier)
    current = sum((to_decimal(c) * current_rate for c, _o in balances), Decimal(0))
    overdue = sum((to_decimal(o) * overdue_rate for _c, o in balances), Decimal(0))
    return InterestDue(current=round_vnd(current), overdue=round_vnd(overdue), days=len(balances))


def daily_balances(*, start, end, movements, overdue_marks):
    """(current, overdue) principal for each day in [start, end), from the loan's history.

    `movements`: (date, disbursed delta, principal-paid delta) tuples, reversals already signed.
    `overdue_marks`: (overdue_since, cumulative scheduled principal up to that instalment) tuples: from that date the
    loan owes at least that much repaid, and whatever is missing of it is overdue (FIFO over the schedule).
    """
    movements = sorted(movements)
    overdue_marks = sorted(overdue_marks)
    day = start
    disbursed = paid = Decimal(0)
    scheduled = Decimal(0)
    m = o = 0
    rows = []
    while day < end:
        while m < len(movements) and movements[m][0] <= day:
            disbursed += to_decimal(movements[m][1])
            paid += to_decimal(movements[m][2])
            m += 1
        while o < len(overdue_marks) and overdue_marks[o][0] <= day:
            scheduled = max(scheduled, to_decimal(overdue_marks[o][1]))
            o += 1
        outstanding = max(disbursed - paid, Decimal(0))
        overdue = min(max(scheduled - paid, Decimal(0)), outstanding)
        rows.append((outstanding - overdue, overdue))
        day += timedelta(days=1)
    return rows


def loan_period_interest(*, loan, start, end, movements, overdue_marks):
    """InterestDue of `loan` for the days from `start` (included) to `end` (excluded)."""
    from loans.models import Loan

    balances = daily_balances(start=start, end=end, movements=movements, overdue_marks=overdue_marks)
    return period_interest(
        balances=balances,
        monthly_rate=loan.monthly_rate,
        overdue_multiplier=loan.overdue_multiplier,
        frozen=loan.status == Loan.Status.FROZEN,
    )
