"""The working-day calendar, overdue from the day after the due date whichever day close_day runs, and interest by
each day's state (frozen or not, current or overdue, the rate in force), with the worked examples of issue 13."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import translation

from loans.calendar import (
    WorkingCalendar,
    add_working_days,
    clear_calendar_cache,
    is_working_day,
    next_working_day,
    working_day_on_or_after,
    working_days_before,
    working_days_between,
)
from loans.models import CalendarException, DayClose, Loan, LoanChange, Posting, ProgramRate, RepaymentInstalment
from loans.services.changes import loan_change_decide, loan_change_request, loan_freeze_end
from loans.services.collection import collection_dues, collection_sheet_create
from loans.services.overdue import overdue_close_day
from organizations.errors import DomainError
from tests.factories import LoanFactory, program

Kind = Posting.Kind
D = Decimal
TODAY = "2026-06-20 09:00 +0700"


@pytest.fixture(autouse=True)
def fresh_calendar():
    """The calendar is cached per process: start and end each test without what another test's rolled-back days
    put in it."""
    clear_calendar_cache()
    with translation.override("en"):
        yield
    clear_calendar_cache()


def ledger_is_clean():
    call_command("check_ledger")
    return True


def one_instalment_loan(household, *, amount, disbursed_on, due_on, **kwargs):
    """A loan repaid in one instalment at maturity."""
    months = (due_on.year - disbursed_on.year) * 12 + due_on.month - disbursed_on.month
    return LoanFactory(
        household=household, amount=amount, disbursed_on=disbursed_on, maturity_on=due_on, term_months=months,
        frequency=Loan.Frequency.AT_MATURITY, **kwargs,
    )


def interest_paid(loan, on, amount=1):
    """Interest settled up to `on`: the next period starts that day."""
    Posting.objects.create(kind=Kind.INTEREST, household=loan.household, loan=loan, amount=amount, on=on)


def dues_of(group, on):
    (items,) = collection_dues(group=group, on=on).values()
    (item,) = items
    return item


# ---------------------------------------------------------------------------------------------------------------
# The calendar
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_public_holidays_of_2026_are_not_working_days():
    for day in (
        date(2026, 1, 1),  # New Year
        *(date(2026, 2, d) for d in range(16, 21)),  # Tết: 16–20/02
        date(2026, 4, 27),  # Hùng Kings' day (26/04, a Sunday, observed on Monday)
        date(2026, 4, 30), date(2026, 5, 1), date(2026, 9, 1), date(2026, 9, 2),
    ):
        assert not is_working_day(day), day
    assert not is_working_day(date(2026, 2, 28))  # a Saturday
    assert is_working_day(date(2026, 2, 23))  # the Monday after Tết
    assert is_working_day(date(2026, 8, 22))  # a make-up Saturday decreed for 2026


@pytest.mark.django_db
def test_the_years_decisions_are_editable_and_override_the_library():
    bridge, makeup = date(2026, 5, 4), date(2026, 5, 9)  # a Monday off, a Saturday worked instead
    assert is_working_day(bridge) and not is_working_day(makeup)
    CalendarException.objects.create(day=bridge, kind=CalendarException.Kind.OFF, note="QĐ 01/2026")
    CalendarException.objects.create(day=makeup, kind=CalendarException.Kind.WORKING, note="QĐ 01/2026")
    assert not is_working_day(bridge) and is_working_day(makeup)  # the save cleared the cache
    CalendarException.objects.filter(day=bridge).delete()
    clear_calendar_cache()  # a queryset delete sends no signal; other processes wait CACHE_SECONDS anyway
    assert is_working_day(bridge)


@pytest.mark.django_db
def test_counting_working_days():
    assert working_day_on_or_after(date(2026, 2, 28)) == date(2026, 3, 2)  # Saturday → Monday
    assert working_day_on_or_after(date(2026, 2, 17)) == date(2026, 2, 23)  # Tết → the Monday after
    assert working_day_on_or_after(date(2026, 3, 2)) == date(2026, 3, 2)
    assert next_working_day(date(2026, 4, 29)) == date(2026, 5, 4)  # over 30/04, 01/05 and the weekend
    assert add_working_days(date(2026, 4, 24), 3) == date(2026, 5, 4)  # 28/04, 29/04, 04/05 (27/04 is off)
    assert working_days_before(date(2026, 5, 6), 5) == date(2026, 4, 24)
    assert working_days_between(date(2026, 4, 29), date(2026, 5, 6)) == 3  # 04/05, 05/05, 06/05
    assert working_days_between(date(2026, 5, 6), date(2026, 5, 6)) == 0


@pytest.mark.django_db
def test_a_span_calendar_reads_its_years_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        calendar = WorkingCalendar.for_span(date(2025, 12, 1), date(2026, 3, 1))
    with django_assert_num_queries(0):
        assert calendar.on_or_after(date(2026, 2, 17)) == date(2026, 2, 23)
        assert calendar.on_or_after(date(2027, 1, 1)) == date(2027, 1, 4)


@time_machine.travel("2026-04-29 09:00 +0700")
def test_term_adjustment_counts_holidays_in_its_five_working_days(household_a, ward_officer_a):
    # Asked 29/04/2026 for an instalment due 06/05/2026: 30/04 and 01/05 are holidays (and 27/04 too), so only 3
    # working days are left; the last day to ask was 24/04.
    loan = LoanFactory(household=household_a, disbursed_on=date(2026, 2, 6), frequency=Loan.Frequency.QUARTERLY)
    instalment = loan.instalments.get(seq=1)
    assert instalment.due_on == date(2026, 5, 6)
    with pytest.raises(DomainError, match="by 24/04/2026 at the latest"):
        loan_change_request(
            loan=loan, kind=LoanChange.Kind.TERM_ADJUSTMENT, reason="Mất mùa", actor=ward_officer_a,
            on=date(2026, 4, 29), instalment=instalment, new_due_on=date(2026, 6, 6),
        )
    change = loan_change_request(
        loan=loan, kind=LoanChange.Kind.TERM_ADJUSTMENT, reason="Mất mùa", actor=ward_officer_a,
        on=date(2026, 4, 24), instalment=instalment, new_due_on=date(2026, 6, 6),
    )
    assert change.pk


# ---------------------------------------------------------------------------------------------------------------
# Overdue from the day after the (working) due date, whichever day close_day runs
# ---------------------------------------------------------------------------------------------------------------


def test_an_instalment_due_on_saturday_is_overdue_from_the_tuesday(household_a, capsys):
    # Due Saturday 28/02/2026: payable on Monday 02/03, overdue from Tuesday 03/03.
    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2025, 11, 28), due_on=date(2026, 2, 28))
    for day in (date(2026, 3, 1), date(2026, 3, 2)):
        assert overdue_close_day(on=day)[0] == []
    marked, _refreshed = overdue_close_day(on=date(2026, 3, 3))
    assert [row["overdue_since"] for row in marked] == [date(2026, 3, 3)]
    call_command("close_day", "--date", "04/03/2026")
    assert loan.instalments.get().overdue_since == date(2026, 3, 3)
    loan.refresh_from_db()
    assert loan.overdue_principal == 5_000_000
    assert ledger_is_clean()


def test_payment_on_the_monday_after_a_saturday_due_date_is_on_time(household_a):
    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2025, 11, 28), due_on=date(2026, 2, 28))
    Posting.objects.create(kind=Kind.PRINCIPAL, household=household_a, loan=loan, amount=5_000_000, on=date(2026, 3, 2))
    assert overdue_close_day(on=date(2026, 3, 10))[0] == []


def test_a_late_first_run_dates_overdue_from_the_day_after_the_due_date(household_a, capsys):
    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2026, 1, 20), due_on=date(2026, 4, 20))
    call_command("close_day", "--date", "30/04/2026")
    out = capsys.readouterr().out
    assert "overdue since 21/04/2026" in out
    assert loan.instalments.get().overdue_since == date(2026, 4, 21)
    assert DayClose.objects.get().on == date(2026, 4, 30)


def test_paid_after_the_due_date_but_before_a_late_run_was_still_overdue_for_those_days(household_a):
    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2026, 1, 20), due_on=date(2026, 4, 20))
    Posting.objects.create(kind=Kind.PRINCIPAL, household=household_a, loan=loan, amount=5_000_000, on=date(2026, 4, 24))
    overdue_close_day(on=date(2026, 4, 30))
    assert loan.instalments.get().overdue_since == date(2026, 4, 21)
    loan.refresh_from_db()
    assert (loan.principal_outstanding, loan.overdue_principal) == (0, 0)
    assert ledger_is_clean()


def test_a_loan_frozen_after_its_due_date_still_has_the_missed_instalment_overdue(household_a, ward_officer_a,
                                                                                   district_staff):
    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2026, 1, 20), due_on=date(2026, 4, 20))
    change = loan_change_request(loan=loan, kind=LoanChange.Kind.FREEZE, reason="Bão", actor=ward_officer_a,
                                 on=date(2026, 4, 25), months=36)
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 4, 27))
    overdue_close_day(on=date(2026, 4, 30))  # late: the loan is frozen now, it was active on 20/04
    assert loan.instalments.get().overdue_since == date(2026, 4, 21)


# ---------------------------------------------------------------------------------------------------------------
# Interest by the day's state: worked examples
# ---------------------------------------------------------------------------------------------------------------


@time_machine.travel(TODAY)
def test_overdue_interest_from_21_04_although_close_day_first_ran_on_30_04(group_a, household_a):
    # 5,000,000 due 20/04, interest settled to 20/04, close_day first run on 30/04, collected on 20/05.
    # Overdue 21/04 → 19/05 is 29 days: 5,000,000 × 0.0055 × 1.3 / 30 × 29 = 34,558.33 → 34,558 (not 23,833, the
    # 20 days from 30/04). 20/04 itself is current: 5,000,000 × 0.0055 / 30 = 916.67 → 917.
    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2026, 1, 20), due_on=date(2026, 4, 20))
    interest_paid(loan, date(2026, 4, 20))
    overdue_close_day(on=date(2026, 4, 30))
    item = dues_of(group_a, date(2026, 5, 20))
    assert (item.overdue_interest_accrued, item.current_interest_due) == (34_558, 917)


@time_machine.travel(TODAY)
def test_a_sheet_made_before_any_close_day_already_counts_the_overdue_days(group_a, household_a):
    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2026, 1, 20), due_on=date(2026, 4, 20))
    interest_paid(loan, date(2026, 4, 20))
    item = dues_of(group_a, date(2026, 5, 20))
    assert (item.overdue_interest_accrued, item.current_interest_due) == (34_558, 917)


@time_machine.travel(TODAY)
def test_a_collection_across_tet(group_a, household_a):
    # 3,000,000 due on 17/02/2026, the first day of Tết: payable on Monday 23/02, overdue from 24/02.
    # Collected on 17/03: 17/01 → 23/02 current, 38 days: 3,000,000 × 0.0055 / 30 × 38 = 20,900;
    # 24/02 → 16/03 overdue, 21 days: 3,000,000 × 0.00715 / 30 × 21 = 15,015.
    one_instalment_loan(household_a, amount=3_000_000, disbursed_on=date(2026, 1, 17), due_on=date(2026, 2, 17))
    item = dues_of(group_a, date(2026, 3, 17))
    assert (item.current_interest_due, item.overdue_interest_accrued) == (20_900, 15_015)
    overdue_close_day(on=date(2026, 3, 17))
    assert RepaymentInstalment.objects.get().overdue_since == date(2026, 2, 24)
    assert (dues_of(group_a, date(2026, 3, 17)).current_interest_due, dues_of(group_a, date(2026, 3, 17))
            .overdue_interest_accrued) == (20_900, 15_015)


def freeze(loan, *, on, requester, approver):
    change = loan_change_request(loan=loan, kind=LoanChange.Kind.FREEZE, reason="Hỏa hoạn", actor=requester,
                                 on=on, months=36)
    return loan_change_decide(change=change, approve=True, actor=approver, on=on)


@time_machine.travel(TODAY)
def test_a_freeze_starting_mid_period_charges_the_days_before_it(group_a, household_a, ward_officer_a,
                                                               district_staff):
    # 50,000,000, interest settled to 01/03, frozen on 16/03, collected 31/03: 01/03 → 15/03 is 15 days:
    # 50,000,000 × 0.0055 / 30 × 15 = 137,500 (the whole period used to be charged 0).
    loan = LoanFactory(household=household_a)
    interest_paid(loan, date(2026, 3, 1))
    freeze(loan, on=date(2026, 3, 16), requester=ward_officer_a, approver=district_staff)
    item = dues_of(group_a, date(2026, 3, 31))
    assert (item.current_interest_due, item.overdue_interest_accrued, item.days) == (137_500, 0, 30)


@time_machine.travel(TODAY)
def test_a_freeze_lifted_mid_period_charges_only_from_the_day_it_ends(group_a, household_a, ward_officer_a,
                                                                    district_staff):
    # Frozen 16/03, interest settled to 31/03, lifted 16/04, collected 29/04: 16/04 → 28/04 is 13 days:
    # 50,000,000 × 0.0055 / 30 × 13 = 119,166.67 → 119,167 (the 16 frozen days used to be charged too).
    loan = LoanFactory(household=household_a)
    change = freeze(loan, on=date(2026, 3, 16), requester=ward_officer_a, approver=district_staff)
    interest_paid(loan, date(2026, 3, 31))
    loan_freeze_end(change=change, actor=district_staff, on=date(2026, 4, 16))
    item = dues_of(group_a, date(2026, 4, 29))
    assert item.current_interest_due == 119_167
    sheet = collection_sheet_create(group=group_a, on=date(2026, 4, 29), actor=ward_officer_a)
    assert sheet.lines.get().current_interest_due == 119_167
    assert ledger_is_clean()


@time_machine.travel(TODAY)
def test_a_rate_decision_applies_from_its_date_to_open_loans(group_a, household_a):
    # 6.6 % to 7.2 % a year from 16/03: 01/03 → 15/03 at 0.55 %/month, 16/03 → 30/03 at 0.60 %/month:
    # 50,000,000 × (0.0055 × 15 + 0.006 × 15) / 30 = 287,500.
    loan = LoanFactory(household=household_a)
    interest_paid(loan, date(2026, 3, 1))
    poor = program("01")
    ProgramRate.objects.create(program=poor, annual_rate=D("7.2"), effective_from=date(2026, 3, 16))
    assert dues_of(group_a, date(2026, 3, 31)).current_interest_due == 287_500
    overdue_close_day(on=date(2026, 3, 16))  # the day close makes the decision the program's current rate
    poor.refresh_from_db()
    assert poor.annual_rate == D("7.2")
    # A loan disbursed after the decision keeps its own (here reduced) rate.
    later = LoanFactory(household=household_a, disbursed_on=date(2026, 3, 20), annual_rate=D("3.96"))
    interest_paid(later, date(2026, 4, 1))
    items = collection_dues(group=group_a, on=date(2026, 5, 1))[household_a]
    later_item = next(i for i in items if i.loan_id == later.pk)
    assert later_item.current_interest_due == 165_000  # 50,000,000 × 0.0033 / 30 × 30


@time_machine.travel(TODAY)
def test_the_schedule_shows_the_due_date_and_the_working_day_it_moves_to(client_for, household_a, ward_officer_a):
    from django.urls import reverse

    loan = one_instalment_loan(household_a, amount=5_000_000, disbursed_on=date(2025, 11, 28), due_on=date(2026, 2, 28))
    html = client_for(ward_officer_a).get(reverse("loans:loan_detail", args=[loan.pk])).content.decode()
    assert "28/02/2026" in html
    assert 'data-testid="effective-due"' in html and "02/03/2026" in html
