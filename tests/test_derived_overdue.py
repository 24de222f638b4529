"""Reports derived from the ledger count an overdue instalment the same way as the cached balances and snapshots:
repayments settle the earliest instalments first, so a missed second instalment is overdue in full even though the
first was repaid on time. (The demo district's missed instalments showed the ledger path counting only the part of
the marked instalment not covered by earlier repayments.)"""

from datetime import date

import pytest

from loans.ledger.balances import refresh_loan_balances, with_derived_balances
from loans.ledger.summaries import derived_portfolio
from loans.models import Loan, Posting
from loans.services.overdue import overdue_close_day
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db


def test_a_missed_second_instalment_is_overdue_in_full_on_every_path(household_a):
    # 50,000,000 over 36 months, quarterly from 15/04/2026: 12 instalments of 4,166,666 (the last 4,166,674).
    loan = LoanFactory(household=household_a)
    first, second = loan.instalments.order_by("seq")[:2]
    Posting.objects.create(kind=Posting.Kind.PRINCIPAL, household=household_a, loan=loan, amount=first.principal,
                           on=first.due_on)
    refresh_loan_balances([loan.pk])
    overdue_close_day(on=date(2026, 7, 16))
    loan.refresh_from_db()
    assert loan.overdue_principal == second.principal
    derived = with_derived_balances(Loan.objects.filter(pk=loan.pk), date(2026, 7, 31)).get()
    assert derived.derived_overdue == second.principal
    row = derived_portfolio(Loan.objects.filter(pk=loan.pk), date(2026, 7, 31))[()]
    assert row["overdue"] == second.principal
    assert derived_portfolio(Loan.objects.filter(pk=loan.pk), date(2026, 7, 15))[()]["overdue"] == 0
