"""Property-based: the day close and the interest rule do not depend on when things run or how a period is cut.

- any sequence of daily close_day runs and one late run give identical instalment marks, balances, past-date
  balances and collection dues;
- a period's interest is the rounded sum of its days, whatever status changes and rate decisions fall inside it.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loans.calendar import clear_calendar_cache
from loans.interest import (
    DAY_DIVISOR,
    RateHistory,
    StatusHistory,
    daily_balances,
    day_accrual,
    exact_period_interest,
    loan_period_interest,
)
from loans.ledger.balances import refresh_loan_balances, with_derived_balances
from loans.models import Loan, Posting, RepaymentInstalment
from loans.money import round_vnd
from loans.services.collection import collection_dues
from loans.services.overdue import overdue_close_day
from tests.factories import LoanFactory
from tests.properties import examples

D = Decimal

START = date(2026, 1, 15)
END = date(2026, 4, 30)  # past Tết, the 30/04 holiday and the monthly due dates of Feb–Apr
DAYS = (END - START).days


class Rollback(Exception):
    pass


@pytest.fixture(autouse=True)
def fresh_calendar():
    clear_calendar_cache()
    yield
    clear_calendar_cache()


def _scenario(group, household, payments):
    """Two monthly loans and principal payments [(loan index, day offset, amount)]: returns the loans."""
    loans = [
        LoanFactory(household=household, amount=6_000_000, disbursed_on=START, term_months=6,
                    frequency=Loan.Frequency.MONTHLY, maturity_on=date(2026, 7, 15)),
        LoanFactory(household=household, amount=3_000_000, disbursed_on=date(2026, 1, 17), term_months=3,
                    frequency=Loan.Frequency.MONTHLY, maturity_on=date(2026, 4, 17)),
    ]
    ordered = sorted(payments, key=lambda p: (p[1], p[0]))
    return loans, [(START + timedelta(days=offset), loans[index], amount) for index, offset, amount in ordered]


def _pay(loan, day, amount):
    paid = loan.amount - loan.principal_outstanding
    amount = min(amount, loan.amount - paid)
    if amount > 0:
        Posting.objects.create(kind=Posting.Kind.PRINCIPAL, household=loan.household, loan=loan, amount=amount, on=day)
        refresh_loan_balances([loan.pk], since=day)


def _outcome(group, loans):
    marks = list(
        RepaymentInstalment.objects.filter(loan__in=loans).order_by("loan__number", "seq").values_list(
            "seq", "due_on", "overdue_since"
        )
    )
    balances = list(Loan.objects.filter(pk__in=[loan.pk for loan in loans]).order_by("number").values_list(
        "principal_outstanding", "overdue_principal"
    ))
    past = [
        list(with_derived_balances(Loan.objects.filter(pk__in=[loan.pk for loan in loans]), on=day)
             .order_by("number").values_list("derived_outstanding", "derived_overdue"))
        for day in (date(2026, 2, 20), date(2026, 3, 20), date(2026, 4, 25))
    ]
    dues = [
        (i.current_interest_due, i.overdue_interest_accrued, i.principal_due)
        for items in collection_dues(group=group, on=END).values() for i in items
    ]
    call_command("check_ledger")
    return marks, balances, past, dues


def _run(group, household, payments, closes):
    """Play the scenario with close_day run on the days in `closes`, then once on END; return what it left."""
    try:
        with transaction.atomic():
            loans, dated = _scenario(group, household, payments)
            by_day = {}
            for day, loan, amount in dated:
                by_day.setdefault(day, []).append((loan, amount))
            for offset in range(DAYS + 1):
                day = START + timedelta(days=offset)
                if day in closes:
                    overdue_close_day(on=day)  # closes the days before `day`, with what is posted so far
                for loan, amount in by_day.get(day, ()):
                    loan.refresh_from_db()
                    _pay(loan, day, amount)
            overdue_close_day(on=END)
            result = _outcome(group, loans)
            raise Rollback
    except Rollback:
        pass
    return result


payment = st.tuples(st.integers(0, 1), st.integers(0, DAYS - 1), st.sampled_from([500_000, 1_000_000, 3_000_000]))


@pytest.mark.django_db
@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payments=st.lists(payment, max_size=8),
    closes=st.sets(st.integers(1, DAYS), max_size=12),
)
def test_daily_runs_any_runs_and_one_late_run_leave_the_same_ledger(group_a, household_a, payments, closes):
    """Each example plays 105 days three ways (a close every day, on some days, once at the end), about 230 day
    closes and three ledger checks: 15-25 s for its 8 examples."""
    every_day = {START + timedelta(days=offset) for offset in range(1, DAYS + 1)}
    some_days = {START + timedelta(days=offset) for offset in closes}
    daily = _run(group_a, household_a, payments, every_day)
    assert _run(group_a, household_a, payments, set()) == daily
    assert _run(group_a, household_a, payments, some_days) == daily


# ---------------------------------------------------------------------------------------------------------------
# A period's interest is the sum of its days
# ---------------------------------------------------------------------------------------------------------------

PERIOD_START = date(2026, 3, 1)
statuses = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from(["active", "frozen", "written_off"])), max_size=4
)
rates = st.lists(st.tuples(st.integers(-10, 40), st.sampled_from([D for D in map(Decimal, ("6.6", "7.2", "9"))])),
                 max_size=3)


class _Loan:
    status = "active"
    annual_rate = Decimal("6.6")
    overdue_multiplier = Decimal("1.30")


@given(
    length=st.integers(1, 40),
    cut=st.integers(0, 40),
    status_changes=statuses,
    decisions=rates,
    repayments=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3_000_000)), max_size=4),
    overdue_from=st.one_of(st.none(), st.integers(0, 40)),
)
def test_a_periods_interest_is_the_sum_of_its_days(length, cut, status_changes, decisions, repayments, overdue_from):
    end = PERIOD_START + timedelta(days=length)
    history, status = [], "active"
    for offset, new in sorted(status_changes):
        history.append((PERIOD_START + timedelta(days=offset), status, new))
        status = new
    state = StatusHistory(history, status)
    rate = RateHistory(Decimal("6.6"), [(PERIOD_START + timedelta(days=o), r) for o, r in decisions],
                       disbursed_on=date(2026, 1, 15))
    movements = [(date(2026, 1, 15), Decimal(20_000_000), 0)] + [
        (PERIOD_START + timedelta(days=o), 0, Decimal(a)) for o, a in repayments
    ]
    marks = [] if overdue_from is None else [(PERIOD_START + timedelta(days=overdue_from), Decimal(5_000_000))]
    due = loan_period_interest(loan=_Loan(), start=PERIOD_START, end=end, movements=movements, overdue_marks=marks,
                               statuses=state, rates=rate)

    # Day by day, each on its own: that day's balances, status and rate.
    current = overdue = Decimal(0)
    for offset in range(length):
        day = PERIOD_START + timedelta(days=offset)
        ((c, o),) = daily_balances(start=day, end=day + timedelta(days=1), movements=movements, overdue_marks=marks)
        dc, do = day_accrual(current=c, overdue=o, annual_rate=rate.rate_on(day), overdue_multiplier=D("1.30"),
                              accrues=state.status_on(day) == "active")
        current += dc
        overdue += do
    assert (due.current, due.overdue, due.days) == (round_vnd(current / DAY_DIVISOR), round_vnd(overdue / DAY_DIVISOR), length)

    # Cut anywhere, the two parts' exact sums add up to the whole.
    middle = PERIOD_START + timedelta(days=min(cut, length))

    def exact(a, b):
        balances = daily_balances(start=a, end=b, movements=movements, overdue_marks=marks)
        return exact_period_interest(start=a, balances=balances, statuses=state, rates=rate,
                                     overdue_multiplier=D("1.30"))

    first, second = exact(PERIOD_START, middle), exact(middle, end)
    assert (first[0] + second[0], first[1] + second[1]) == (current, overdue)
