"""A 13/TD sheet prepared before the day close has caught up shows the overdue principal its overdue interest is
charged on: both come from the instalments overdue by the sheet's date, not from the marks only close_day writes."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loans.interest import DAY_DIVISOR
from loans.models import CollectionSheet, Loan, RepaymentInstalment
from loans.money import round_vnd
from loans.services.collection import collection_dues, collection_sheet_create, collection_sheet_post
from tests.factories import HouseholdFactory, LoanFactory

pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-06-22")]

SHEET_ON = date(2026, 6, 22)  # a Monday, a week after the missed instalment


def monthly_loan(household):
    # 30,000,000 over 12 months, monthly from Monday 15/06/2026 (a working day): instalments of 2,500,000.
    return LoanFactory(household=household, amount=30_000_000, disbursed_on=date(2026, 5, 15), term_months=12,
                       frequency=Loan.Frequency.MONTHLY)


def sheet_item(sheet):
    (line,) = sheet.lines.all()
    (item,) = line.items.all()
    return line, item


def test_sheet_before_close_day_shows_the_missed_instalment_as_overdue_principal(
    group_a, household_a, ward_officer_a
):
    loan = monthly_loan(household_a)
    first = loan.instalments.get(seq=1)
    assert (first.due_on, first.principal) == (date(2026, 6, 15), 2_500_000)
    # Nothing repaid and no close_day since: the cache still says nothing is overdue.
    assert loan.overdue_principal == 0

    # Overdue from 16/06; the period 15/05 → 22/06 charges 16/06 to 21/06: 6 days of 2,500,000 at 6.6 % × 1.30.
    # 2,500,000 × 6.6 × 1.30 × 6 / 36,000 = 3,575. Current: 30,000,000 for the 32 days 15/05–15/06, then 27,500,000
    # for 6 days: (960,000,000 + 165,000,000) × 6.6 / 36,000 = 206,250.
    assert (loan.annual_rate, loan.overdue_multiplier) == (Decimal("6.6"), Decimal("1.30"))
    overdue_days = (SHEET_ON - date(2026, 6, 16)).days
    expected_overdue_interest = round_vnd(
        first.principal * loan.annual_rate * loan.overdue_multiplier * overdue_days / DAY_DIVISOR
    )
    assert (overdue_days, expected_overdue_interest) == (6, 3_575)

    sheet = collection_sheet_create(group=group_a, on=SHEET_ON, actor=ward_officer_a)
    line, item = sheet_item(sheet)
    assert item.overdue_principal == first.principal == 2_500_000
    assert item.overdue_interest_accrued == expected_overdue_interest
    assert (item.outstanding, item.current_interest_due, item.principal_due) == (30_000_000, 206_250, 2_500_000)
    assert (line.overdue_interest_due, line.current_interest_due) == (3_575, 206_250)
    # Preparing the sheet marks nothing: the day close stays the one writer of overdue_since.
    assert not RepaymentInstalment.objects.filter(loan=loan, overdue_since__isnull=False).exists()

    call_command("close_day", "--date", "22/06/2026")
    first.refresh_from_db()
    loan.refresh_from_db()
    assert (first.overdue_since, loan.overdue_principal) == (date(2026, 6, 16), 2_500_000)

    # Posting syncs the sheet first and refuses when a due figure changed: close_day changed none of them.
    collection_sheet_post(sheet=sheet, actor=ward_officer_a, entries={line.pk: (209_825, 0, 0)})
    sheet.refresh_from_db()
    line, item = sheet_item(sheet)
    assert sheet.status == CollectionSheet.Status.POSTED
    assert (item.overdue_principal, item.overdue_interest_accrued, item.current_interest_due) == (
        2_500_000, 3_575, 206_250
    )
    assert (line.overdue_interest_paid, line.current_interest_paid, line.principal_paid) == (3_575, 206_250, 0)


def test_overdue_principal_before_close_day_takes_the_same_queries_whatever_the_number_of_loans(group_a, household_a):
    def queries():
        with CaptureQueriesContext(connection) as context:
            dues = collection_dues(group=group_a, on=SHEET_ON)
        assert all(item.overdue_principal == 2_500_000 for items in dues.values() for item in items)
        return len(context.captured_queries)

    monthly_loan(household_a)
    few = queries()
    for _ in range(8):
        monthly_loan(HouseholdFactory(group=group_a))
    assert queries() == few
