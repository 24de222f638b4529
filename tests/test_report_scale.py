"""Reads that keep a report page's cost bounded at province size: the corrections a past date's page names are found
through their own indexes, and they are exactly the corrections dated by then and booked after it."""

from datetime import date

import pytest
import time_machine

from loans.ledger.balances import refresh_loan_balances
from loans.models import Posting
from loans.reports.selectors import corrections_booked_after
from tests.factories import LoanFactory, reverse_posting


@pytest.mark.django_db
def test_a_past_date_names_the_reversals_booked_after_it_and_nothing_else_booked_late(
    household_a, household_b, ward_officer_a, ward_officer_b, front_supervisor
):
    with time_machine.travel("2026-03-01 10:00 +0700", tick=False):
        loan = LoanFactory(household=household_a, amount=10_000_000, disbursed_on=date(2026, 1, 10))
        other = LoanFactory(household=household_b, amount=10_000_000, disbursed_on=date(2026, 1, 10))
        repayment = Posting.objects.create(
            kind="principal", household=household_a, loan=loan, amount=1_000_000, on=date(2026, 2, 5)
        )
        # Booked weeks after its value date, but not a correction: no page names it.
        Posting.objects.create(kind="principal", household=household_b, loan=other, amount=500_000, on=date(2026, 2, 5))
        refresh_loan_balances([loan.pk, other.pk])
    reversal = reverse_posting(posting=repayment, reason="Sai số tiền", actor=ward_officer_a, booked_on=date(2026, 3, 10))

    assert corrections_booked_after(front_supervisor, date(2026, 2, 20)) == (1, [reversal])
    assert corrections_booked_after(front_supervisor, date(2026, 2, 4)) == (0, [])  # before its value date
    assert corrections_booked_after(front_supervisor, date(2026, 3, 10)) == (0, [])  # booked that day, not after
    assert corrections_booked_after(ward_officer_b, date(2026, 2, 20)) == (0, [])  # another ward's household
