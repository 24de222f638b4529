"""Dates at the edges of a day's work: a rate decision's first day before the 18:00 day close, and a freeze whose end
the job reaches a day (or a week) late. Each with its worked example."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from loans.interest import DAY_DIVISOR
from loans.models import Loan, LoanChange, Posting, ProgramRate
from loans.money import round_vnd
from loans.services import approvals, disbursement
from loans.services.changes import loan_change_decide, loan_change_request
from loans.services.collection import collection_dues
from tests.factories import LoanFactory, approved_allocation, program, submitted_loan_list
from tests.test_bank_import import loan_row, loans_file, run_import

D = Decimal


def morning(day):
    return f"{day} 09:00 +0700"


# ---------------------------------------------------------------------------------------------------------------
# A rate decision's first day
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.today("2026-07-01")
def test_a_loan_disbursed_on_a_rate_decisions_first_day_takes_the_new_rate(clock, group_a, branch_a, ward_officer_a,
                                                                           district_staff):
    # The poor-household rate goes from 6.6 % to 7.0 % on 01/07/2026. Before that day's close (18:00) the program's
    # cached current rate still says 6.6; a loan disbursed that morning must still carry 7.0 for life (the rate
    # history applies only decisions dated after a loan's disbursement on top of its own rate).
    poor = program("01")
    assert poor.annual_rate == D("6.6")
    ProgramRate.objects.create(program=poor, annual_rate=D("7.0"), effective_from=date(2026, 7, 1),
                               decision="QĐ 01/2026")
    approved_allocation(branch=branch_a, amount=100_000_000)
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))
    today, yesterday = loan_list.applications.order_by("pk")
    approvals.loan_list_approve(loan_list=loan_list, amounts={today.pk: 30_000_000, yesterday.pk: 20_000_000},
                               actor=district_staff)

    def disburse(application, number, on, amount):
        return disbursement.loan_disburse(application=application, loan_number=number, on=on, amount=amount,
                                          term_months=12, frequency=Loan.Frequency.AT_MATURITY, actor=district_staff)

    new = disburse(today, "7900000000000001", date(2026, 7, 1), 30_000_000)
    # Entered today for yesterday: the rate then in force.
    old = disburse(yesterday, "7900000000000002", date(2026, 6, 30), 20_000_000)
    poor.refresh_from_db()
    assert poor.annual_rate == D("6.6"), "no day close has run: the cached rate is still the old one"
    assert new.annual_rate == D("7.0")
    assert old.annual_rate == D("6.6")

    # The first month of the new loan, 01/07 → 31/07, 31 days at 7.0 %:
    # 30,000,000 × 7.0 × 31 / 36,000 = 180,833.33 → 180,833 (at 6.6 % it was 170,500).
    clock.move_to(morning("2026-08-01"))
    dues = {item.loan_id: item for item in collection_dues(group=group_a, on=date(2026, 8, 1))[today.household]}
    assert round_vnd(D(30_000_000) * D("7.0") * 31 / DAY_DIVISOR) == 180_833
    assert dues[new.pk].current_interest_due == 180_833


@pytest.mark.today("2026-11-10")
def test_imported_loans_take_the_rate_in_force_on_their_disbursement_date(settings, admin_user, group_a):
    # The bank's loan file gives no rate: each loan takes its program's rate on its disbursement date, not the rate
    # of the day of the import. 6.0 % until 31/12/2024, 6.6 % from 01/01/2025.
    settings.IMPORT_RUN_MODE = "inline"
    poor = program("01")
    ProgramRate.objects.create(program=poor, annual_rate=D("6.0"), effective_from=date(2020, 1, 1))
    ProgramRate.objects.create(program=poor, annual_rate=D("6.6"), effective_from=date(2025, 1, 1))
    earlier, later = loan_row(1), loan_row(2)
    later[11] = "01/01/2025"
    batch = run_import("loans", loans_file([earlier, later]), admin_user)
    rates = dict(Loan.objects.filter(import_batch=batch).values_list("disbursed_on", "annual_rate"))
    assert rates == {date(2024, 3, 20): D("6.0"), date(2025, 1, 1): D("6.6")}


# ---------------------------------------------------------------------------------------------------------------
# A freeze that the job ends late
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.today("2026-03-16")
@pytest.mark.parametrize("job_runs_on", ["2031-03-16", "2031-03-17", "2031-03-23"],
                         ids=["on_time", "one_day_late", "a_week_late"])
def test_a_freeze_ended_late_by_the_job_ends_on_its_end_date(clock, group_a, household_a, ward_officer_a,
                                                             district_staff, job_runs_on):
    # 25,000,000 repaid at maturity (15/01/2027), frozen for 60 months from Monday 16/03/2026: frozen through
    # 15/03/2031, active again from 16/03/2031 (a Sunday, so the daily job may only reach it on Monday).
    loan = LoanFactory(household=household_a, amount=25_000_000, disbursed_on=date(2026, 1, 15),
                       maturity_on=date(2027, 1, 15), term_months=12, frequency=Loan.Frequency.AT_MATURITY)
    change = loan_change_request(loan=loan, kind=LoanChange.Kind.FREEZE, reason="Lũ cuốn trôi chuồng trại",
                                 actor=ward_officer_a, months=60)
    loan_change_decide(change=change, approve=True, actor=district_staff)
    change.refresh_from_db()
    assert (change.frozen_from, change.frozen_until) == (date(2026, 3, 16), date(2031, 3, 16))
    frozen = loan.status_changes.get()

    # Interest settled up to 01/03/2031, then the job; the group collects on 16/04/2031.
    clock.move_to(morning("2031-03-01"))
    Posting.objects.create(kind=Posting.Kind.INTEREST, household=household_a, loan=loan, amount=1,
                           on=date(2031, 3, 1))
    clock.move_to(morning(job_runs_on))
    call_command("end_freezes", stdout=io.StringIO())
    clock.move_to(morning("2031-04-16"))

    # The period 01/03 → 15/04/2031 is 46 days: 01/03 → 15/03 frozen (15 days, no interest), 16/03 → 15/04 active
    # (16 days of March and 15 of April, 31 days): 25,000,000 × 6.6 × 31 / 36,000 = 142,083.33 → 142,083.
    # Ended on the day the job ran one day late it was 30 days: 137,500.
    (items,) = collection_dues(group=group_a, on=date(2031, 4, 16)).values()
    (item,) = items
    assert round_vnd(D(25_000_000) * D("6.6") * 31 / DAY_DIVISOR) == 142_083
    assert (item.period_start, item.days) == (date(2031, 3, 1), 46)
    assert (item.current_interest_due, item.overdue_interest_accrued) == (142_083, 0)

    loan.refresh_from_db()
    change.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert (change.status, change.ended_on) == (LoanChange.Status.ENDED, date(2031, 3, 16))
    # The status change is dated on the end date but records when it was made; the freeze's own row is untouched.
    back = loan.status_changes.get(to_status=Loan.Status.ACTIVE)
    assert back.on == date(2031, 3, 16)
    assert timezone.localdate(back.at) == date.fromisoformat(job_runs_on)
    assert loan.status_changes.get(pk=frozen.pk).on == frozen.on == date(2026, 3, 16)
    # The schedule moves by the freeze's 60 months, not by 61 for a late job.
    assert loan.maturity_on == change.new_maturity_on == date(2032, 1, 15)
    assert list(loan.instalments.values_list("due_on", flat=True)) == [date(2032, 1, 15)]
