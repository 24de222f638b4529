"""Collection day: the interest rule, the 13/TD sheet, reversals, savings rules and close_day."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from loans.interest import daily_balances, loan_period_interest, period_interest
from loans.ledger.balances import refresh_loan_balances
from loans.models import CollectionLine, CollectionSheet, Loan, Posting, ReversalRequest
from loans.services.collection import (
    RowProblems,
    collection_sheet_create,
    collection_sheet_post,
    collection_sheet_save,
)
from loans.services.overdue import overdue_close_day
from organizations.errors import DomainError
from tests.factories import HouseholdFactory, LoanFactory, post_sheet, reverse_line, reverse_posting

Kind = Posting.Kind
D = Decimal
TODAY = "2026-06-20 09:00 +0700"


@pytest.fixture(autouse=True)
def english_messages():
    """Services speak the active language; these tests read their English messages (pages still render Vietnamese)."""
    with translation.override("en"):
        yield


def ledger_is_clean(capsys=None):
    call_command("check_ledger")
    return True



# ---------------------------------------------------------------------------------------------------------------
# 1. The interest rule, with worked examples
# ---------------------------------------------------------------------------------------------------------------


def test_poor_household_loan_for_31_days():
    # 50,000,000 × 0.55 % / 30 × 31 days = 284,166.67 → 284,167 đ (rounded half-up once, at the end of the period)
    due = period_interest(balances=[(50_000_000, 0)] * 31, monthly_rate=D("0.55"), overdue_multiplier=D("1.30"))
    assert due.current == D("284167")
    assert due.overdue == 0
    assert due.days == 31


def test_part_of_the_loan_overdue():
    # 40,000,000 current: 40,000,000 × 0.0055 / 30 × 31 = 227,333.33 → 227,333
    # 10,000,000 overdue at 130 %: 10,000,000 × 0.0055 × 1.30 / 30 × 31 = 73,883.33 → 73,883
    due = period_interest(
        balances=[(40_000_000, 10_000_000)] * 31, monthly_rate=D("0.55"), overdue_multiplier=D("1.30")
    )
    assert (due.current, due.overdue, due.total) == (D("227333"), D("73883"), D("301216"))


def test_frozen_loan_accrues_nothing(household_a):
    loan = LoanFactory(household=household_a, status=Loan.Status.FROZEN)
    due = loan_period_interest(
        loan=loan, start=date(2026, 1, 15), end=date(2026, 2, 15),
        movements=[(date(2026, 1, 15), D(50_000_000), 0)], overdue_marks=[],
    )
    assert due.total == 0 and due.days == 31


def test_leap_year_february_has_29_days_of_interest():
    # 01/02/2028 → 01/03/2028 is 29 days: 50,000,000 × 0.0055 / 30 × 29 = 265,833.33 → 265,833
    # the same month in 2027 is 28 days: 50,000,000 × 0.0055 / 30 × 28 = 256,666.67 → 256,667
    for year, expected in ((2028, D("265833")), (2027, D("256667"))):
        balances = daily_balances(
            start=date(year, 2, 1), end=date(year, 3, 1), movements=[(date(2026, 1, 1), D(50_000_000), 0)],
            overdue_marks=[],
        )
        due = period_interest(balances=balances, monthly_rate=D("0.55"), overdue_multiplier=D("1.30"))
        assert due.current == expected


def test_rounding_is_half_up_not_bankers():
    # 3,000 × 0.0055 / 30 × 30 = 16.5 → 17 (banker's rounding would give 16)
    due = period_interest(balances=[(3_000, 0)] * 30, monthly_rate=D("0.55"), overdue_multiplier=1)
    assert due.current == 17


def test_balances_follow_repayments_and_overdue_marks():
    # Disbursed 10,000,000 on 01/03; 2,000,000 repaid on 11/03; an instalment with 5,000,000 scheduled so far went
    # overdue on 21/03. Ten days each: 10M current; 8M current; 5M current + 3M overdue.
    balances = daily_balances(
        start=date(2026, 3, 1), end=date(2026, 3, 31),
        movements=[(date(2026, 3, 1), D(10_000_000), 0), (date(2026, 3, 11), 0, D(2_000_000))],
        overdue_marks=[(date(2026, 3, 21), D(5_000_000))],
    )
    assert balances[0] == (10_000_000, 0) and balances[10] == (8_000_000, 0) and balances[20] == (5_000_000, 3_000_000)
    due = period_interest(balances=balances, monthly_rate=D("0.55"), overdue_multiplier=D("1.3"))
    # current: (10M + 8M + 5M) × 10 × 0.0055/30 = 42,166.67 → 42,167; overdue: 3M × 10 × 0.00715/30 = 7,150
    assert (due.current, due.overdue) == (D("42167"), D("7150"))


# ---------------------------------------------------------------------------------------------------------------
# 2. The collection sheet
# ---------------------------------------------------------------------------------------------------------------


@time_machine.travel(TODAY)
def test_sheet_is_prefilled_with_the_worked_example(group_a, household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    other = HouseholdFactory(group=group_a)  # a member without a loan gets no row
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    (line,) = sheet.lines.all()
    assert line.household == household_a and other.pk not in sheet.lines.values_list("household", flat=True)
    (item,) = line.items.all()
    # 20/05 → 20/06 is 31 days: 284,167 đ as in the worked example
    assert (item.loan, item.period_start, item.days) == (loan, date(2026, 5, 20), 31)
    assert (line.current_interest_due, line.overdue_interest_due, line.principal_due) == (284_167, 0, 0)


@time_machine.travel(TODAY)
def test_money_goes_to_overdue_interest_then_current_interest_then_principal(group_a, household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, amount=12_000_000, disbursed_on=date(2026, 3, 20), term_months=12)
    # Instalment 1 (3,000,000) was due 20/06; nothing repaid. Arrears of 50,000 from earlier months.
    Loan.objects.filter(pk=loan.pk).update(interest_arrears=50_000)
    Posting.objects.create(kind=Kind.INTEREST, household=household_a, loan=loan, amount=10_000, on=date(2026, 5, 20))
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    # 20/05 → 20/06: 12,000,000 × 0.0055 / 30 × 31 = 68,200 current interest; arrears count as overdue interest.
    assert (line.overdue_interest_due, line.current_interest_due, line.principal_due) == (50_000, 68_200, 3_000_000)

    # 100,000 paid: 50,000 overdue interest, then 50,000 of the 68,200 current interest, nothing for principal.
    collection_sheet_save(sheet=sheet, entries={line.pk: (100_000, 0, 0)}, actor=ward_officer_a)
    collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    line.refresh_from_db()
    loan.refresh_from_db()
    assert (line.overdue_interest_paid, line.current_interest_paid, line.principal_paid) == (50_000, 50_000, 0)
    assert sorted(line.postings.values_list("kind", "amount")) == [
        (Kind.INTEREST, 50_000), (Kind.OVERDUE_INTEREST, 50_000),
    ]
    assert loan.interest_arrears == 18_200  # 118,200 due − 100,000 collected carries over
    assert loan.principal_outstanding == 12_000_000
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_payment_beyond_interest_repays_principal_and_a_repaid_loan_closes(group_a, household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, amount=3_000_000, disbursed_on=date(2026, 5, 20), term_months=12)
    sheet = post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a: (3_017_050, 0, 0)})
    # 3,000,000 × 0.0055 / 30 × 31 = 17,050 interest; the rest repays the whole principal.
    line = sheet.lines.get()
    assert (line.current_interest_paid, line.principal_paid) == (17_050, 3_000_000)
    loan.refresh_from_db()
    assert (loan.principal_outstanding, loan.interest_arrears, loan.status) == (0, 0, Loan.Status.CLOSED)
    assert loan.status_changes.last().to_status == Loan.Status.CLOSED
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_overpayment_is_refused_and_nothing_is_posted(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, amount=3_000_000, disbursed_on=date(2026, 5, 20), term_months=12)
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    # The draft save checks the posting's rules: the row is refused under its field, and nothing is stored.
    with pytest.raises(RowProblems, match="more than all the interest due") as refused:
        collection_sheet_save(sheet=sheet, entries={line.pk: (3_017_051, 0, 0)}, actor=ward_officer_a)
    assert [field for field, _message in refused.value.row_errors[line.pk]] == ["paid"]
    # Posting with that amount is refused the same way, and posts nothing.
    with pytest.raises(DomainError, match="more than all the interest due"):
        collection_sheet_post(sheet=sheet, entries={line.pk: (3_017_051, 0, 0)}, actor=ward_officer_a)
    sheet.refresh_from_db()
    assert sheet.is_draft and Posting.objects.exclude(kind=Kind.DISBURSEMENT).count() == 0
    line.refresh_from_db()
    assert line.amount_paid == 0 and not line.is_entered


@time_machine.travel(TODAY)
def test_posting_twice_posts_once(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    sheet = post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a: (284_167, 20_000, 0)})
    count = Posting.objects.count()
    with pytest.raises(DomainError, match="already posted"):
        collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    with pytest.raises(DomainError, match="already posted"):
        collection_sheet_save(sheet=sheet, entries={}, actor=ward_officer_a)
    assert Posting.objects.count() == count
    household_a.refresh_from_db()
    assert household_a.savings_balance == 20_000


@time_machine.travel(TODAY)
def test_a_post_writes_its_own_officers_amounts_even_if_a_colleague_saved_others_meanwhile(
    group_a, household_a, ward_officer_a
):
    # Two officers open the same draft; the colleague's save lands between this officer's fill and post.
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    collection_sheet_save(sheet=sheet, entries={line.pk: (0, 70_000, 0)}, actor=ward_officer_a)
    collection_sheet_post(sheet=sheet, entries={line.pk: (284_167, 30_000, 0)}, actor=ward_officer_a)
    line.refresh_from_db()
    assert (line.amount_paid, line.savings_in) == (284_167, 30_000)
    assert sorted((p.kind, p.amount) for p in line.postings.all()) == [(Kind.INTEREST, 284_167), (Kind.SAVINGS_IN, 30_000)]
    household_a.refresh_from_db()
    assert household_a.savings_balance == 30_000
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_next_sheet_charges_interest_from_the_last_collection_day(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 4, 20))
    with time_machine.travel("2026-05-20 09:00 +0700"):
        post_sheet(group_a, date(2026, 5, 20), ward_officer_a, {household_a: (200_000, 0, 0)})
    # May: 30 days → 275,000 due, 200,000 paid, 75,000 in arrears. June: 31 days → 284,167.
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    item = line.items.get()
    assert (item.period_start, item.days, item.arrears_before) == (date(2026, 5, 20), 31, 75_000)
    assert (line.overdue_interest_due, line.current_interest_due) == (75_000, 284_167)


@time_machine.travel(TODAY)
def test_dues_changed_since_filling_are_refreshed_and_the_officer_asked_again(group_a, household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    collection_sheet_save(sheet=sheet, entries={line.pk: (284_167, 0, 0)}, actor=ward_officer_a)
    Loan.objects.filter(pk=loan.pk).update(interest_arrears=1_000)
    with pytest.raises(DomainError, match="changed"):
        collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    line.refresh_from_db()
    assert line.overdue_interest_due == 1_000 and line.amount_paid == 284_167
    collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    line.refresh_from_db()
    assert (line.overdue_interest_paid, line.current_interest_paid) == (1_000, 283_167)


@time_machine.travel(TODAY)
def test_future_or_duplicate_sheets_are_refused(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    with pytest.raises(DomainError, match="future"):
        collection_sheet_create(group=group_a, on=date(2026, 6, 21), actor=ward_officer_a)
    post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {})
    with pytest.raises(DomainError, match="already has"):
        collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    with pytest.raises(DomainError, match="must come after"):
        collection_sheet_create(group=group_a, on=date(2026, 6, 10), actor=ward_officer_a)


# ---------------------------------------------------------------------------------------------------------------
# Savings rules
# ---------------------------------------------------------------------------------------------------------------


@time_machine.travel(TODAY)
def test_savings_deposit_is_at_least_5000(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    with pytest.raises(RowProblems, match="at least 5.000"):
        collection_sheet_save(sheet=sheet, entries={line.pk: (0, 4_999, 0)}, actor=ward_officer_a)
    with pytest.raises(DomainError, match="at least 5.000"):
        collection_sheet_post(sheet=sheet, entries={line.pk: (0, 4_999, 0)}, actor=ward_officer_a)
    collection_sheet_save(sheet=sheet, entries={line.pk: (0, 5_000, 0)}, actor=ward_officer_a)
    collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    household_a.refresh_from_db()
    assert household_a.savings_balance == 5_000
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_withdrawal_never_takes_savings_below_zero(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    Posting.objects.create(kind=Kind.SAVINGS_IN, household=household_a, amount=100_000, on=date(2026, 5, 20))
    household_a.savings_balance = 100_000
    household_a.save()
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    with pytest.raises(RowProblems, match="more than the savings balance") as refused:
        collection_sheet_save(sheet=sheet, entries={line.pk: (0, 10_000, 110_001)}, actor=ward_officer_a)
    assert [field for field, _message in refused.value.row_errors[line.pk]] == ["savings_out"]
    with pytest.raises(DomainError, match="more than the savings balance"):
        collection_sheet_post(sheet=sheet, entries={line.pk: (0, 10_000, 110_001)}, actor=ward_officer_a)
    collection_sheet_save(sheet=sheet, entries={line.pk: (0, 10_000, 110_000)}, actor=ward_officer_a)
    collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    household_a.refresh_from_db()
    assert household_a.savings_balance == 0
    ledger_is_clean()


def test_negative_or_fractional_amounts_are_refused(group_a, household_a, ward_officer_a):
    with time_machine.travel(TODAY):
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    with pytest.raises(DomainError, match="negative"):
        collection_sheet_save(sheet=sheet, entries={line.pk: (-1, 0, 0)}, actor=ward_officer_a)
    with pytest.raises(DomainError, match="whole đồng"):
        collection_sheet_save(sheet=sheet, entries={line.pk: (D("10.5"), 0, 0)}, actor=ward_officer_a)


# ---------------------------------------------------------------------------------------------------------------
# Reversals
# ---------------------------------------------------------------------------------------------------------------


@time_machine.travel(TODAY)
def test_reversing_an_interest_posting_puts_it_back_in_arrears(group_a, household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    sheet = post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a: (284_167, 0, 0)})
    interest = sheet.lines.get().postings.get(kind=Kind.INTEREST)
    with pytest.raises(DomainError, match="reason"):
        reverse_posting(posting=interest, reason="  ", actor=ward_officer_a)
    reversal = reverse_posting(posting=interest, reason="Nhập nhầm hộ", actor=ward_officer_a)
    assert (reversal.kind, reversal.reverses, reversal.amount, reversal.note) == (
        Kind.REVERSAL, interest, 284_167, "Nhập nhầm hộ",
    )
    assert Posting.objects.filter(pk=interest.pk, amount=284_167).exists()  # the original stays, unchanged
    loan.refresh_from_db()
    assert loan.interest_arrears == 284_167
    assert reversal in sheet.lines.get().postings.all()
    with pytest.raises(DomainError, match="already reversed"):
        reverse_posting(posting=interest, reason="again", actor=ward_officer_a)
    ledger_is_clean()
    # A reversal is undone the same way: the interest is entered again, on its own value date, and leaves arrears.
    entry = reverse_posting(posting=reversal, reason="Đúng hộ, hủy nhầm", actor=ward_officer_a)
    assert (entry.kind, entry.restores, entry.amount, entry.on) == (Kind.INTEREST, reversal, 284_167, interest.on)
    loan.refresh_from_db()
    assert loan.interest_arrears == 0
    assert sheet.lines.get().status == CollectionLine.Status.POSTED
    with pytest.raises(DomainError, match="already undone"):
        reverse_posting(posting=reversal, reason="again", actor=ward_officer_a)
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_reversing_a_whole_line_restores_balances_and_reopens_the_loan(group_a, household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, amount=3_000_000, disbursed_on=date(2026, 5, 20), term_months=12)
    sheet = post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a: (3_017_050, 50_000, 0)})
    loan.refresh_from_db()
    assert loan.status == Loan.Status.CLOSED
    line = reverse_line(line=sheet.lines.get(), reason="Sai số tiền", actor=ward_officer_a)
    assert line.status == CollectionLine.Status.REVERSED
    loan.refresh_from_db()
    household_a.refresh_from_db()
    assert (loan.principal_outstanding, loan.interest_arrears, loan.status) == (3_000_000, 17_050, Loan.Status.ACTIVE)
    assert household_a.savings_balance == 0
    assert line.postings.filter(kind=Kind.REVERSAL).count() == 3
    with pytest.raises(DomainError, match="Only a posted line"):
        reverse_line(line=line, reason="again", actor=ward_officer_a)
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_a_deposit_already_withdrawn_cannot_be_reversed(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 4, 20))
    with time_machine.travel("2026-05-20 09:00 +0700"):
        first = post_sheet(group_a, date(2026, 5, 20), ward_officer_a, {household_a: (0, 50_000, 0)})
    post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a: (0, 0, 50_000)})
    deposit = first.lines.get().postings.get(kind=Kind.SAVINGS_IN)
    with pytest.raises(DomainError, match="cannot be reversed"):
        reverse_posting(posting=deposit, reason="Sai", actor=ward_officer_a)
    assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()
    ledger_is_clean()


# ---------------------------------------------------------------------------------------------------------------
# 3. close_day
# ---------------------------------------------------------------------------------------------------------------


def quarterly_loan(household, **kwargs):
    # 12,000,000 over 12 months: four instalments of 3,000,000 due 15/04, 15/07, 15/10/2026 and 15/01/2027.
    return LoanFactory(household=household, amount=12_000_000, disbursed_on=date(2026, 1, 15), term_months=12, **kwargs)


def test_close_day_marks_only_the_missed_instalment_and_twice_changes_nothing(household_a, household_b, capsys):
    missed = quarterly_loan(household_a)
    paid = quarterly_loan(household_b)
    for loan in (missed, paid):  # instalment 1 paid on time by both
        Posting.objects.create(kind=Kind.PRINCIPAL, household=loan.household, loan=loan, amount=3_000_000,
                               on=date(2026, 4, 15))
    Posting.objects.create(kind=Kind.PRINCIPAL, household=household_b, loan=paid, amount=3_000_000,
                           on=date(2026, 7, 15))
    Posting.objects.create(kind=Kind.PRINCIPAL, household=household_a, loan=missed, amount=1_000_000,
                           on=date(2026, 7, 15))  # part of instalment 2
    refresh_loan_balances([missed.pk, paid.pk])

    call_command("close_day", "--date", "16/07/2026")
    out = capsys.readouterr().out
    assert f"Loan {missed.number}" in out and "instalment 2" in out and "2.000.000 ₫ of 3.000.000 ₫ unpaid" in out
    assert paid.number not in out
    assert "1 instalment(s) became overdue" in out
    assert list(missed.instalments.filter(overdue_since__isnull=False).values_list("seq", "overdue_since")) == [
        (2, date(2026, 7, 16)),
    ]
    assert not paid.instalments.filter(overdue_since__isnull=False).exists()
    missed.refresh_from_db()
    paid.refresh_from_db()
    assert (missed.principal_outstanding, missed.overdue_principal) == (8_000_000, 2_000_000)
    assert (paid.principal_outstanding, paid.overdue_principal) == (6_000_000, 0)

    call_command("close_day", "--date", "16/07/2026")
    assert "0 instalment(s) became overdue; 0 loan balance(s) refreshed" in capsys.readouterr().out
    missed.refresh_from_db()
    assert missed.overdue_principal == 2_000_000
    ledger_is_clean()


def test_close_day_leaves_frozen_loans_and_instalments_not_yet_due(household_a, household_b):
    quarterly_loan(household_a, status=Loan.Status.FROZEN)
    loan = quarterly_loan(household_b)
    marked, _refreshed = overdue_close_day(on=date(2026, 4, 15))  # due that day: not yet missed
    assert marked == []
    marked, _refreshed = overdue_close_day(on=date(2026, 4, 16))
    assert [(row["loan__number"], row["seq"]) for row in marked] == [(loan.number, 1)]


def test_close_day_runs_a_fixed_number_of_queries_whatever_the_number_of_loans(household_a, group_a):
    def queries(on):
        with CaptureQueriesContext(connection) as context:
            overdue_close_day(on=on)
        return len(context.captured_queries)

    quarterly_loan(household_a)
    few = queries(date(2026, 4, 16))
    for _ in range(15):
        quarterly_loan(HouseholdFactory(group=group_a))
    assert queries(date(2026, 4, 17)) == few


def test_close_day_refuses_a_malformed_date():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="dd/mm/yyyy"):
        call_command("close_day", "--date", "2026-07-16")


@time_machine.travel(TODAY)
def test_sheet_after_close_day_charges_overdue_interest_and_collects_the_missed_instalment(
    group_a, household_a, ward_officer_a
):
    loan = LoanFactory(household=household_a, amount=12_000_000, disbursed_on=date(2026, 2, 20), term_months=12)
    Posting.objects.create(kind=Kind.INTEREST, household=household_a, loan=loan, amount=1, on=date(2026, 5, 20))
    overdue_close_day(on=date(2026, 5, 21))  # instalment 1 (3,000,000, due 20/05) missed
    sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
    line = sheet.lines.get()
    # 20/05 → 21/05: 12,000,000 current for 1 day = 2,200; 21/05 → 20/06: 9,000,000 current for 30 days = 49,500
    # → current 51,700. Overdue 3,000,000 × 0.00715 / 30 × 30 = 21,450.
    assert (line.current_interest_due, line.overdue_interest_due, line.principal_due) == (51_700, 21_450, 3_000_000)
    collection_sheet_save(sheet=sheet, entries={line.pk: (3_073_150, 0, 0)}, actor=ward_officer_a)
    collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    loan.refresh_from_db()
    assert (loan.principal_outstanding, loan.overdue_principal, loan.interest_arrears) == (9_000_000, 0, 0)
    ledger_is_clean()


# ---------------------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def posted_day(group_a, household_a, ward_officer_a):
    with time_machine.travel(TODAY):
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        return post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a: (284_167, 30_000, 0)})


@pytest.fixture
def draft_day(group_a, household_a, ward_officer_a):
    with time_machine.travel(TODAY):
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        return collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)


def test_list_shows_sheets_in_scope_with_group_totals(client_for, posted_day, ward_officer_a, ward_officer_b):
    url = reverse("loans:collection_sheet_list")
    page = client_for(ward_officer_a).get(url, {"group": posted_day.group_id})
    assert page.status_code == 200
    html = page.content.decode()
    assert "20/06/2026" in html and "284.167" in html
    assert 'data-testid="group-outstanding"><span class="text-nowrap">50.000.000 ₫</span>' in html
    assert 'data-testid="group-savings"><span class="text-nowrap">30.000 ₫</span>' in html
    assert "20/06/2026" not in client_for(ward_officer_b).get(url).content.decode()
    assert client_for(ward_officer_b).get(url, {"group": posted_day.group_id}).status_code == 404
    assert client_for(ward_officer_a).post(url).status_code == 405


def test_district_staff_and_front_read_sheets_but_cannot_prepare_or_post(
    client_for, draft_day, district_staff, front_supervisor
):
    for user in (district_staff, front_supervisor):
        client = client_for(user)
        detail = client.get(reverse("loans:collection_sheet_detail", args=[draft_day.pk]))
        assert detail.status_code == 200 and b"collection-form" not in detail.content
        assert client.post(reverse("loans:collection_sheet_create"), {}).status_code == 403
        assert client.post(reverse("loans:collection_sheet_fill", args=[draft_day.pk]), {}).status_code == 403


@time_machine.travel(TODAY)
def test_officer_prepares_a_sheet(client_for, group_a, household_a, ward_officer_a, group_b):
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    client = client_for(ward_officer_a)
    url = reverse("loans:collection_sheet_create")
    # 20/06/2026 is a Saturday, the group's collection day: the officer confirms the non-working day.
    response = client.post(url, {"group": group_a.pk, "collection_on": "20/06/2026", "confirm_non_working_day": "on"})
    sheet = CollectionSheet.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("loans:collection_sheet_detail", args=[sheet.pk])
    # The same day again: a clear message, no second sheet.
    again = client.post(url, {"group": group_a.pk, "collection_on": "20/06/2026", "confirm_non_working_day": "on"})
    assert again.status_code == 400 and "đã có bảng kê" in again.content.decode()
    # Another ward's group is not a choice; a malformed date is a form error.
    assert client.post(url, {"group": group_b.pk, "collection_on": "20/06/2026"}).status_code == 400
    assert client.post(url, {"group": group_a.pk, "collection_on": "31/02/2026"}).status_code == 400
    assert CollectionSheet.objects.count() == 1
    assert client.get(url).status_code == 405


@time_machine.travel(TODAY)
def test_officer_fills_and_posts_in_one_post_and_a_resend_posts_nothing(client_for, draft_day, household_a,
                                                                        ward_officer_a):
    line = draft_day.lines.get()
    client = client_for(ward_officer_a)
    url = reverse("loans:collection_sheet_fill", args=[draft_day.pk])
    data = {f"paid_{line.pk}": "284.167", f"savings_in_{line.pk}": "50.000", f"savings_out_{line.pk}": "",
            "action": "post"}
    assert client.post(url, data).status_code == 302
    postings = Posting.objects.exclude(kind=Kind.DISBURSEMENT).count()
    assert postings == 2
    resend = client.post(url, data, follow=True)
    assert "không ghi sổ lần thứ hai" in resend.content.decode() or "already posted" in resend.content.decode()
    assert Posting.objects.exclude(kind=Kind.DISBURSEMENT).count() == postings
    household_a.refresh_from_db()
    assert household_a.savings_balance == 50_000
    assert client.get(url).status_code == 405
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_bad_amounts_are_shown_and_nothing_is_saved(client_for, draft_day, ward_officer_a):
    line = draft_day.lines.get()
    url = reverse("loans:collection_sheet_fill", args=[draft_day.pk])
    response = client_for(ward_officer_a).post(
        url, {f"paid_{line.pk}": "abc", f"savings_in_{line.pk}": "-5000", "action": "post"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "is-invalid" in html
    line.refresh_from_db()
    draft_day.refresh_from_db()
    assert line.amount_paid == 0 and draft_day.is_draft


@time_machine.travel(TODAY)
def test_a_refused_post_keeps_the_amounts_and_says_why(client_for, draft_day, ward_officer_a):
    line = draft_day.lines.get()
    url = reverse("loans:collection_sheet_fill", args=[draft_day.pk])
    response = client_for(ward_officer_a).post(url, {f"savings_in_{line.pk}": "1.000", "action": "post"}, follow=True)
    html = response.content.decode()
    assert "ít nhất 5.000 ₫" in html
    # The refused amount is not stored, but it stays in its box, with the error under it, for the officer to fix.
    assert response.context["form"][f"savings_in_{line.pk}"].value() == "1.000"
    assert CollectionSheet.objects.get().is_draft


def test_other_wards_get_404(client_for, posted_day, ward_officer_b):
    client = client_for(ward_officer_b)
    line = posted_day.lines.get()
    posting = line.postings.first()
    for name, args in (
        ("collection_sheet_detail", [posted_day.pk]),
        ("collection_sheet_print", [posted_day.pk]),
        ("collection_sheet_xlsx", [posted_day.pk]),
        ("collection_line_detail", [posted_day.pk, line.pk]),
    ):
        assert client.get(reverse(f"loans:{name}", args=args)).status_code == 404, name
    for name, args in (
        ("collection_sheet_fill", [posted_day.pk]),
        ("collection_line_reverse", [posted_day.pk, line.pk]),
        ("posting_reverse", [posting.pk]),
    ):
        assert client.post(reverse(f"loans:{name}", args=args), {"reason": "x"}).status_code == 404, name
    assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()


def test_posted_sheet_prints_as_13td_and_downloads_as_xlsx(client_for, posted_day, household_a, ward_officer_a):
    client = client_for(ward_officer_a)
    printed = client.get(reverse("loans:collection_sheet_print", args=[posted_day.pk])).content.decode()
    assert "13/TD" in printed and household_a.head_name in printed and "284.167" in printed
    assert "Tổ trưởng" in printed
    response = client.get(reverse("loans:collection_sheet_xlsx", args=[posted_day.pk]))
    assert response["Content-Disposition"].endswith(f'13TD_{posted_day.group.code}_20260620.xlsx"')
    import io

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    data = next(row for row in rows if row[2] == household_a.head_name)
    assert data[4] == 50_000_000 and data[6] == 284_167 and data[9] == 284_167 and data[11] == 30_000
    assert rows[-1][0] == "Tổng cộng" and rows[-1][9] == 284_167


@time_machine.travel(TODAY)
def test_officer_reverses_a_line_with_a_reason(client_for, posted_day, household_a, ward_officer_a, district_staff,
                                              front_supervisor):
    line = posted_day.lines.get()
    url = reverse("loans:collection_line_reverse", args=[posted_day.pk, line.pk])
    assert client_for(front_supervisor).post(url, {"reason": "x"}).status_code == 403
    client = client_for(ward_officer_a)
    assert client.get(url).status_code == 405
    no_reason = client.post(url, {"reason": ""}, follow=True)
    assert "lý do" in no_reason.content.decode().lower()
    line.refresh_from_db()
    assert line.status == CollectionLine.Status.POSTED
    household_a.refresh_from_db()
    savings = household_a.savings_balance
    assert savings > 0
    page = client.post(url, {"reason": "Thu nhầm hộ"}, follow=True)
    assert page.status_code == 200 and "Thu nhầm hộ" in page.content.decode()
    # Asked for, not done: the row stands until district staff decide.
    line.refresh_from_db()
    household_a.refresh_from_db()
    assert line.status == CollectionLine.Status.POSTED and household_a.savings_balance == savings
    request = ReversalRequest.objects.get(line=line, status=ReversalRequest.Status.PROPOSED)
    decided = client_for(district_staff).post(reverse("loans:reversal_decide", args=[request.pk]),
                                              {"decision": "approve"}, follow=True)
    assert decided.status_code == 200
    line.refresh_from_db()
    household_a.refresh_from_db()
    assert line.status == CollectionLine.Status.REVERSED and household_a.savings_balance == 0
    ledger_is_clean()


@time_machine.travel(TODAY)
def test_officer_reverses_one_posting(client_for, posted_day, household_a, ward_officer_a, district_staff):
    line = posted_day.lines.get()
    deposit = line.postings.get(kind=Kind.SAVINGS_IN)
    client = client_for(ward_officer_a)
    line_url = reverse("loans:collection_line_detail", args=[posted_day.pk, line.pk])
    detail = client.get(line_url)
    assert detail.status_code == 200 and "Đề nghị hủy bút toán này" in detail.content.decode()
    response = client.post(reverse("loans:posting_reverse", args=[deposit.pk]), {"reason": "Gửi nhầm", "confirm": "on"})
    assert response["Location"] == line_url
    household_a.refresh_from_db()
    assert household_a.savings_balance == deposit.amount
    request = ReversalRequest.objects.get(posting=deposit)
    # The requester cannot decide; district staff can, from the row's page.
    decide = reverse("loans:reversal_decide", args=[request.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 403
    checker = client_for(district_staff)
    page = checker.get(line_url).content.decode()
    assert 'data-testid="reversal-requests"' in page and "Gửi nhầm" in page
    assert checker.post(decide, {"decision": "approve", "next": line_url})["Location"] == line_url
    household_a.refresh_from_db()
    assert household_a.savings_balance == 0
    assert Posting.objects.get(kind=Kind.REVERSAL).reverses == deposit
    ledger_is_clean()


@pytest.fixture
def group_of_60(group_a, ward_officer_a):
    with time_machine.travel(TODAY):
        households = [HouseholdFactory(group=group_a) for _ in range(60)]
        for household in households[:5]:  # a few households with two loans
            LoanFactory(household=household, amount=10_000_000, disbursed_on=date(2026, 4, 1), term_months=12)
        for household in households:
            LoanFactory(household=household, disbursed_on=date(2026, 5, 20))
    return households


def test_a_sheet_of_60_households_stays_within_a_fixed_number_of_queries(
    client_for, group_of_60, group_a, ward_officer_a, django_assert_max_num_queries
):
    with time_machine.travel(TODAY):
        with django_assert_max_num_queries(25):
            sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
        assert sheet.lines.count() == 60
        client = client_for(ward_officer_a)
        url = reverse("loans:collection_sheet_detail", args=[sheet.pk])
        with django_assert_max_num_queries(20):
            page = client.get(url)
        assert page.content.decode().count('data-sum="paid"') == 60
        data = {"action": "post"}
        for line in sheet.lines.all():
            data[f"paid_{line.pk}"] = str(line.total_due)
            data[f"savings_in_{line.pk}"] = "10000"
        with django_assert_max_num_queries(80):  # + the audit rows and the dashboard summaries, a fixed cost
            response = client.post(reverse("loans:collection_sheet_fill", args=[sheet.pk]), data)
        assert response.status_code == 302
        sheet.refresh_from_db()
        assert not sheet.is_draft
        with django_assert_max_num_queries(20):
            assert client.get(reverse("loans:collection_sheet_list")).status_code == 200
        with django_assert_max_num_queries(20):
            assert client.get(reverse("loans:collection_sheet_print", args=[sheet.pk])).status_code == 200
        with django_assert_max_num_queries(20):
            assert client.get(url).status_code == 200
    assert Posting.objects.filter(kind=Kind.SAVINGS_IN).count() == 60
    ledger_is_clean()


def test_reversing_a_posting_needs_ward_work_and_post(client_for, posted_day, district_staff, front_supervisor,
                                                     ward_officer_a):
    posting = posted_day.lines.get().postings.get(kind=Kind.INTEREST)
    url = reverse("loans:posting_reverse", args=[posting.pk])
    assert client_for(front_supervisor).post(url, {"reason": "x"}).status_code == 403
    assert client_for(ward_officer_a).get(url).status_code == 405
    assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()


def test_admin_prepares_and_posts_for_any_ward(client_for, admin_user, group_b, household_b):
    with time_machine.travel(TODAY):
        LoanFactory(household=household_b, disbursed_on=date(2026, 5, 20))
        client = client_for(admin_user)
        response = client.post(reverse("loans:collection_sheet_create"),
                               {"group": group_b.pk, "collection_on": "20/06/2026", "confirm_non_working_day": "on"})
        sheet = CollectionSheet.objects.get(group=group_b)
        assert response.status_code == 302
        line = sheet.lines.get()
        client.post(reverse("loans:collection_sheet_fill", args=[sheet.pk]),
                    {f"paid_{line.pk}": "284167", "action": "post"})
    sheet.refresh_from_db()
    assert not sheet.is_draft and sheet.posted_by == admin_user
    ledger_is_clean()


def test_list_page_query_count_does_not_grow_with_sheets(client_for, ward_officer_a, group_a, household_a,
                                                         django_assert_max_num_queries):
    LoanFactory(household=household_a, disbursed_on=date(2026, 1, 1))
    for month in range(2, 7):
        with time_machine.travel(f"2026-0{month}-20 09:00 +0700"):
            post_sheet(group_a, date(2026, month, 20), ward_officer_a, {household_a: (0, 10_000, 0)})
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(18):  # +2 for the menu's inbox count, +1 for the pages' count
        page = client.get(reverse("loans:collection_sheet_list"), {"group": group_a.pk})
    assert page.content.decode().count("badge text-bg-success") == 5


def test_admin_sees_sheets_read_only(client_for, posted_day, admin_user):
    client = client_for(admin_user)
    assert client.get(reverse("admin:loans_collectionsheet_changelist")).status_code == 200
    page = client.get(reverse("admin:loans_collectionsheet_change", args=[posted_day.pk]))
    assert page.status_code == 200 and "284167" in page.content.decode().replace(".", "")
    delete = reverse("admin:loans_collectionsheet_delete", args=[posted_day.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert CollectionSheet.objects.filter(pk=posted_day.pk).exists()
