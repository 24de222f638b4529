"""The interest rule, in one place: daily accrual at the monthly rate ÷ 30, rounded once per collection period.

Each day of a period accrues by that day's state, whatever happens inside the period:
- current principal at the rate in force that day, overdue principal (from the day after the instalment's due date)
  at `overdue_multiplier` × that rate;
- nothing on a day the loan is not active (frozen from the day a freeze starts up to the day before it is lifted,
  written off from the day of the write-off);
- the rate in force that day: the program's rate decisions (ProgramRate) taken after the loan was disbursed apply
  from their date; before the first of them the loan's own rate applies.
Each day accrues on the balances at the end of the day before it, so money disbursed on the first day accrues from
that day and a repayment on the collection day still pays that day's interest. The exact daily amounts are summed and
rounded half-up once per period and kind, so a period's interest is the rounded sum of its days.
"""

from bisect import bisect_right
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
    # The principal-days are summed exactly first, then multiplied by the rate and divided once.
    current = sum((to_decimal(c) for c, _o in balances), Decimal(0)) * to_decimal(monthly_rate)
    overdue = sum((to_decimal(o) for _c, o in balances), Decimal(0)) * to_decimal(monthly_rate)
    overdue *= to_decimal(overdue_multiplier)
    return InterestDue(
        current=round_vnd(current / HUNDRED / DAYS_PER_MONTH),
        overdue=round_vnd(overdue / HUNDRED / DAYS_PER_MONTH),
        days=len(balances),
    )


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


ACCRUING_STATUS = "active"  # Loan.Status.ACTIVE; the only status in which a day accrues interest


class StatusHistory:
    """A loan's status on any day, from its status changes [(business date, from, to)] in the order they were made.

    The status on a day is the one after every change dated on or before it: a loan frozen on 16/03 is frozen all of
    16/03; with no change the loan has always had its current status."""

    def __init__(self, changes, current):
        self.changes = sorted(changes, key=lambda change: change[0])  # stable: same-day changes keep their order
        self.current = current
        self._days = [change[0] for change in self.changes]

    def status_on(self, day):
        if not self.changes:
            return self.current
        index = bisect_right(self._days, day)
        return self.changes[0][1] if index == 0 else self.changes[index - 1][2]

    def days_after(self, day):
        return [d for d in self._days if d > day]


class RateHistory:
    """The annual rate (%) of a loan on any day: its own rate, then each program decision taken after it was
    disbursed, from that decision's date on."""

    def __init__(self, own_rate, decisions=(), disbursed_on=None):
        self.own_rate = to_decimal(own_rate)
        self.decisions = sorted(
            (day, to_decimal(rate)) for day, rate in decisions if disbursed_on is None or day > disbursed_on
        )
        self._days = [day for day, _rate in self.decisions]

    def rate_on(self, day):
        index = bisect_right(self._days, day)
        return self.own_rate if index == 0 else self.decisions[index - 1][1]


#: A day's interest is principal × annual rate (%) ÷ 12 months ÷ 100 ÷ 30 days = principal × rate ÷ 36,000.
DAY_DIVISOR = Decimal(12 * 100 * 30)


def day_accrual(*, current, overdue, annual_rate, overdue_multiplier, accrues=True):
    """One day's (current, overdue) interest × DAY_DIVISOR: exact (whole đồng times rates with few decimals), so that
    summing days in any order or in any pieces gives the same total, divided and rounded once per period."""
    if not accrues:
        return Decimal(0), Decimal(0)
    rate = to_decimal(annual_rate)
    return to_decimal(current) * rate, to_decimal(overdue) * rate * to_decimal(overdue_multiplier)


def exact_period_interest(*, start, balances, statuses, rates, overdue_multiplier):
    """(current, overdue) accruals × DAY_DIVISOR summed over the days of `balances`, the first being `start`."""
    current = overdue = Decimal(0)
    day = start
    for current_principal, overdue_principal in balances:
        c, o = day_accrual(
            current=current_principal, overdue=overdue_principal, annual_rate=rates.rate_on(day),
            overdue_multiplier=overdue_multiplier, accrues=statuses.status_on(day) == ACCRUING_STATUS,
        )
        current += c
        overdue += o
        day += timedelta(days=1)
    return current, overdue


def loan_period_interest(*, loan, start, end, movements, overdue_marks, statuses=None, rates=None):
    """InterestDue of `loan` for the days from `start` (included) to `end` (excluded), each day by its own state.

    `statuses` (StatusHistory) and `rates` (RateHistory) default to the loan's current status and own rate.
    """
    balances = daily_balances(start=start, end=end, movements=movements, overdue_marks=overdue_marks)
    current, overdue = exact_period_interest(
        start=start,
        balances=balances,
        statuses=statuses or StatusHistory([], loan.status),
        rates=rates or RateHistory(loan.annual_rate),
        overdue_multiplier=loan.overdue_multiplier,
    )
    return InterestDue(
        current=round_vnd(current / DAY_DIVISOR), overdue=round_vnd(overdue / DAY_DIVISOR), days=len(balances)
    )
