"""The day close reads only what it has still to judge: instalments that fell due since the last close, those written
since (an import, a schedule rewritten), and the loans with a reversal or a status change booked since. Nothing is
lost by not reading the rest again: daily closes mark exactly what one late close would, and the cached overdue
totals it adds to agree with a rebuild."""

from datetime import date, timedelta

import pytest

from loans.calendar import WorkingCalendar
from loans.ledger.summaries import refresh_group_balances
from loans.models import BranchProgramBalance, DayClose, GroupProgramBalance, Loan, Posting, RepaymentInstalment
from loans.services.overdue import _closes_before, _to_judge, missed_instalments, overdue_close_day
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
    RepaymentInstalment.objects.update(overdue_since=None)
    DayClose.objects.all().delete()
    overdue_close_day(on=on)
    return marks(loans)


def to_judge(on):
    closes = _closes_before(on)
    calendar = WorkingCalendar.for_span(on - timedelta(days=31), on)
    return sorted(pk for queryset, _first in _to_judge(on, closes, calendar)
                  for pk in queryset.values_list("pk", flat=True))


def group_overdue():
    return (
        sorted(GroupProgramBalance.objects.values_list("group_id", "program_id", "overdue")),
        sorted(BranchProgramBalance.objects.values_list("branch_id", "program_id", "flows_on", "overdue")),
    )


def test_a_close_reads_what_fell_due_since_the_last_close_and_what_was_written_since(household_a, group_a):
    loan = quarterly_loan(household_a)
    first = loan.instalments.get(seq=1)
    assert to_judge(date(2026, 4, 16)) == [first.pk]  # no close yet: everything due
    pay(loan, 3_000_000, date(2026, 4, 15))
    overdue_close_day(on=date(2026, 4, 16))
    assert to_judge(date(2026, 4, 17)) == []  # judged by the close of 16/04: not read again
    assert missed_instalments(date(2026, 4, 17)) == []
    overdue_close_day(on=date(2026, 4, 17))
    late = quarterly_loan(HouseholdFactory(group=group_a))  # written after both closes, its first due date past
    assert to_judge(date(2026, 4, 20)) == [late.instalments.get(seq=1).pk]
    overdue_close_day(on=date(2026, 4, 20))
    assert marks([loan, late]) == [(late.number, 1, date(2026, 4, 16))]
    assert to_judge(date(2026, 4, 21)) == []


def test_the_principal_scheduled_through_each_instalment_is_written_with_the_schedule(household_a):
    loan = quarterly_loan(household_a)
    assert list(loan.instalments.order_by("seq").values_list("scheduled_through", flat=True)) == [
        3_000_000, 6_000_000, 9_000_000, 12_000_000
    ]


def test_a_schedule_written_without_its_running_totals_is_judged_the_same(household_a, household_b):
    loans = [quarterly_loan(household_a), quarterly_loan(household_b)]
    pay(loans[0], 3_000_000, date(2026, 4, 15))
    pay(loans[1], 2_000_000, date(2026, 4, 15))
    overdue_close_day(on=date(2026, 8, 3))
    with_totals = marks(loans)
    RepaymentInstalment.objects.update(scheduled_through=None)
    assert one_late_close(loans, date(2026, 8, 3)) == with_totals == [
        (loans[0].number, 2, date(2026, 7, 16)),
        (loans[1].number, 1, date(2026, 4, 16)),
        (loans[1].number, 2, date(2026, 7, 16)),
    ]


def test_the_overdue_a_close_adds_to_the_group_and_branch_totals_agrees_with_a_rebuild(group_a):
    loans = [quarterly_loan(HouseholdFactory(group=group_a)) for _ in range(3)]
    pay(loans[0], 3_000_000, date(2026, 4, 15))
    refresh_group_balances()
    for day in (date(2026, 4, 16), date(2026, 4, 17), date(2026, 7, 16)):
        overdue_close_day(on=day)
    added = group_overdue()
    assert sum(overdue for _group, _program, overdue in added[0]) == 3_000_000 * 2 + 6_000_000 * 2 - 3_000_000
    assert sum(row[-1] for row in added[1]) == sum(overdue for _group, _program, overdue in added[0])
    refresh_group_balances()
    assert group_overdue() == added


def test_a_due_date_on_a_weekend_waits_for_the_working_day_before_it_is_judged(household_a):
    # 15/08/2026 is a Saturday: the instalment falls due on Monday 17/08.
    loan = LoanFactory(household=household_a, amount=6_000_000, disbursed_on=date(2026, 2, 15), term_months=6,
                       maturity_on=date(2026, 8, 15), frequency=Loan.Frequency.AT_MATURITY)
    assert overdue_close_day(on=date(2026, 8, 17))[0] == []  # its working due date is today
    overdue_close_day(on=date(2026, 8, 18))
    assert loan.instalments.get().overdue_since == date(2026, 8, 18)


def test_a_reversal_booked_after_the_close_uncovers_an_instalment_it_had_judged(household_a, household_b):
    loan = quarterly_loan(household_a)
    other = quarterly_loan(household_b)
    repayment = pay(loan, 3_000_000, date(2026, 4, 15))
    pay(other, 3_000_000, date(2026, 4, 15))
    overdue_close_day(on=date(2026, 4, 16))
    assert marks([loan, other]) == []
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
    loan.transition_to(Loan.Status.ACTIVE, actor=ward_officer_a, on=date(2026, 5, 4))
    for day in (date(2026, 5, 4), date(2026, 5, 5), date(2026, 5, 6)):
        overdue_close_day(on=day)
    daily = marks([loan])
    assert daily == [(loan.number, 1, date(2026, 5, 5))]
    assert one_late_close([loan], date(2026, 5, 6)) == daily


def test_an_instalment_moved_to_a_later_due_date_is_judged_when_that_date_comes(household_a):
    loan = quarterly_loan(household_a)
    pay(loan, 3_000_000, date(2026, 4, 15))
    for day in (date(2026, 7, 9), date(2026, 7, 10)):
        overdue_close_day(on=day)
    second = loan.instalments.get(seq=2)
    second.due_on = date(2026, 8, 17)  # a term adjustment moves the instalment due 15/07
    second.save()
    for day in (date(2026, 7, 16), date(2026, 8, 17)):
        assert overdue_close_day(on=day)[0] == []
    overdue_close_day(on=date(2026, 8, 18))
    assert marks([loan]) == [(loan.number, 2, date(2026, 8, 18))]


def test_an_imported_loan_with_past_due_dates_is_judged_by_the_next_close(household_a, group_a):
    overdue_close_day(on=date(2026, 9, 1))
    imported = quarterly_loan(HouseholdFactory(group=group_a))  # arrives after the close, due dates in the past
    pay(imported, 3_000_000, date(2026, 4, 15))  # the second instalment (15/07) was never paid
    overdue_close_day(on=date(2026, 9, 2))
    assert marks([imported]) == [(imported.number, 2, date(2026, 7, 16))]


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
