"""The day close reads only what it has still to judge: instalments that fell due since the last close (or came with
an import), and the loans with a reversal or a status change booked since. An instalment found not overdue is stamped
with the close that judged it; nothing is lost by not reading it again, and daily closes still mark exactly what one
late close would."""

from datetime import date, timedelta

import pytest

from loans.models import DayClose, Loan, Posting, RepaymentInstalment
from loans.services.overdue import UNJUDGED, judge_instalments, overdue_close_day
from tests.factories import HouseholdFactory, LoanFactory

pytestmark = pytest.mark.django_db
Kind = Posting.Kind


def quarterly_loan(household, **kwargs):
    # 12,000,000 over 12 months: four instalments of 3,000,000 due 15/04, 15/07, 15/10/2026 and 15/01/2027.
    return LoanFactory(household=household, amount=12_000_000, disbursed_on=date(2026, 1, 15), term_months=12, **kwargs)


def pay(loan, amount, on):
    return Posting.objects.create(kind=Kind.PRINCIPAL, household=loan.household, loan=loan, amount=amount, on=on)


def reverse(posting):
    return Posting.objects.create(kind=Kind.REVERSAL, household=posting.household, loan=posting.loan,
                                  amount=posting.amount, on=posting.on, reverses=posting)


def marks(loans):
    return list(RepaymentInstalment.objects.filter(loan__in=loans, overdue_since__isnull=False)
                .order_by("loan__number", "seq").values_list("loan__number", "seq", "overdue_since"))


def one_late_close(loans, on):
    """What a single close on `on` marks, as if no close had ever run."""
    RepaymentInstalment.objects.update(overdue_since=None, judged_through=None)
    DayClose.objects.all().delete()
    overdue_close_day(on=on)
    return marks(loans)


def test_a_close_stamps_what_it_judged_and_the_next_close_has_nothing_to_read(household_a):
    loan = quarterly_loan(household_a)
    pay(loan, 3_000_000, date(2026, 4, 15))
    overdue_close_day(on=date(2026, 4, 16))
    first = loan.instalments.get(seq=1)
    assert (first.overdue_since, first.judged_through) == (None, date(2026, 4, 16))
    assert not RepaymentInstalment.objects.filter(UNJUDGED, due_on__lt=date(2026, 4, 17)).exists()
    assert judge_instalments(date(2026, 4, 17)) == ([], [])


def test_a_due_date_on_a_weekend_waits_for_the_working_day_before_it_is_judged(household_a):
    # 15/08/2026 is a Saturday: the instalment falls due on Monday 17/08.
    loan = LoanFactory(household=household_a, amount=6_000_000, disbursed_on=date(2026, 2, 15), term_months=6,
                       maturity_on=date(2026, 8, 15), frequency=Loan.Frequency.AT_MATURITY)
    overdue_close_day(on=date(2026, 8, 17))
    assert loan.instalments.get().judged_through is None  # not judged: its working due date is today
    overdue_close_day(on=date(2026, 8, 18))
    assert loan.instalments.get().overdue_since == date(2026, 8, 18)


def test_a_reversal_booked_after_the_close_uncovers_an_instalment_it_had_judged(household_a, household_b):
    loan = quarterly_loan(household_a)
    other = quarterly_loan(household_b)
    repayment = pay(loan, 3_000_000, date(2026, 4, 15))
    pay(other, 3_000_000, date(2026, 4, 15))
    overdue_close_day(on=date(2026, 4, 16))
    assert loan.instalments.get(seq=1).judged_through == date(2026, 4, 16)
    reverse(repayment)  # the repayment was entered by mistake: it never happened
    marked, refreshed = overdue_close_day(on=date(2026, 4, 17))
    assert [(row["loan__number"], row["seq"]) for row in marked] == [(loan.number, 1)]
    assert refreshed == [loan.pk]
    daily = marks([loan, other])
    assert daily == [(loan.number, 1, date(2026, 4, 16))]
    loan.refresh_from_db()
    assert loan.overdue_principal == 3_000_000
    assert one_late_close([loan, other], date(2026, 4, 17)) == daily


def test_a_frozen_loan_made_active_again_has_its_unpaid_instalment_judged_again(household_a, ward_officer_a):
    loan = quarterly_loan(household_a, status=Loan.Status.FROZEN)
    overdue_close_day(on=date(2026, 4, 16))
    assert loan.instalments.get(seq=1).overdue_since is None  # frozen on its due date: not overdue
    assert loan.instalments.get(seq=1).judged_through == date(2026, 4, 16)
    loan.transition_to(Loan.Status.ACTIVE, actor=ward_officer_a, on=date(2026, 5, 4))
    for day in (date(2026, 5, 4), date(2026, 5, 5), date(2026, 5, 6)):
        overdue_close_day(on=day)
    daily = marks([loan])
    assert daily == [(loan.number, 1, date(2026, 5, 5))]
    assert one_late_close([loan], date(2026, 5, 6)) == daily


def test_a_judged_instalment_moved_to_a_later_due_date_is_judged_again_when_it_falls_due(household_a):
    loan = quarterly_loan(household_a)
    pay(loan, 3_000_000, date(2026, 4, 15))
    overdue_close_day(on=date(2026, 7, 10))
    first, second = loan.instalments.order_by("seq")[:2]
    assert second.judged_through is None  # due 15/07: not yet
    # An extension moves the second instalment past a close that would otherwise have judged it: it is read again.
    second.judged_through = date(2026, 7, 10)
    second.due_on = date(2026, 8, 17)
    second.save()
    assert RepaymentInstalment.objects.filter(UNJUDGED, pk=second.pk).exists()
    overdue_close_day(on=date(2026, 8, 18))
    second.refresh_from_db()
    assert second.overdue_since == date(2026, 8, 18)
    assert first.judged_through == date(2026, 7, 10)


def test_an_imported_loan_with_past_due_dates_is_judged_by_the_next_close(household_a, group_a):
    overdue_close_day(on=date(2026, 9, 1))
    imported = quarterly_loan(HouseholdFactory(group=group_a))  # arrives after the close, due dates in the past
    pay(imported, 3_000_000, date(2026, 4, 15))  # the second instalment (15/07) was never paid
    overdue_close_day(on=date(2026, 9, 2))
    assert marks([imported]) == [(imported.number, 2, date(2026, 7, 16))]
    assert imported.instalments.get(seq=1).judged_through == date(2026, 9, 2)


def test_daily_closes_and_one_late_close_mark_the_same_with_reversals_and_freezes(group_a, ward_officer_a):
    loans = [quarterly_loan(HouseholdFactory(group=group_a)) for _ in range(4)]
    first_payments = [pay(loan, 3_000_000, date(2026, 4, 15)) for loan in loans]
    day, end = date(2026, 4, 14), date(2026, 8, 5)
    while day <= end:
        if day == date(2026, 5, 20):
            reverse(first_payments[0])
        if day == date(2026, 6, 1):
            loans[1].transition_to(Loan.Status.FROZEN, actor=ward_officer_a, on=day)
        if day == date(2026, 7, 20):
            loans[1].transition_to(Loan.Status.ACTIVE, actor=ward_officer_a, on=day)
        if day == date(2026, 7, 14):
            pay(loans[2], 3_000_000, day)
        overdue_close_day(on=day)
        day += timedelta(days=1)
    daily = marks(loans)
    assert daily == [
        (loans[0].number, 1, date(2026, 4, 16)),  # the reversal takes the repayment's value date
        (loans[0].number, 2, date(2026, 7, 16)),
        (loans[1].number, 2, date(2026, 7, 21)),
        (loans[3].number, 2, date(2026, 7, 16)),
    ]
    assert one_late_close(loans, end) == daily
