"""Snapshots for past dates: they give the ledger's figures for every day, follow backdated postings, reversals,
freezes and interest arrears, roll month ends forward, and keep past-date pages to a bounded number of queries."""

import io
from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from loans.ledger.balances import refresh_loan_balances
from loans.ledger.snapshots import snapshot_span, snapshots_close_months, snapshots_rebuild
from loans.ledger.summaries import refresh_group_balances
from loans.models import InterestArrearsEntry, Loan, PortfolioDayChange, PortfolioMonthEnd, Posting
from loans.reports import selectors as report_selectors
from loans.reports.selectors import portfolio_report, snapshot_month_end
from loans.reports.views import REPORTS
from tests.factories import HouseholdFactory, LoanFactory, SavingsGroupFactory, post_sheet, reverse_posting

TODAY = date(2026, 11, 20)
BREAKDOWNS = [(), ("kind",), ("ward",), ("program",), ("ward", "kind"), ("group",)]

#: Queries a report page may make whatever the data: its figures, plus the menu's inbox count (one query, and the
#: two permission reads behind the bank-import rule) and the corrections booked after a past date.
BOUND = 27


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False), translation.override("en"):
        yield


def from_ledger(monkeypatch, **kwargs):
    """portfolio_report as if no snapshot existed: every figure derived from the postings."""
    with monkeypatch.context() as patch:
        patch.setattr(report_selectors, "snapshot_month_end", lambda on: None)
        return portfolio_report(**kwargs)


def assert_snapshots_match_the_ledger(user, days, monkeypatch, breakdowns=BREAKDOWNS):
    for on in days:
        assert snapshot_month_end(on) is not None, on
        for by in breakdowns:
            snapshot = sorted(portfolio_report(user=user, on=on, by=by), key=lambda row: row["key"])
            ledger = sorted(from_ledger(monkeypatch, user=user, on=on, by=by), key=lambda row: row["key"])
            assert snapshot == ledger, (on, by)


def snapshot_rows():
    """Both snapshot tables as comparable tuples."""
    figures = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", "savings")
    months = PortfolioMonthEnd.objects.values_list(
        "group", "program", "month_end", *figures, "lent_year", "collected_year"
    )
    days = PortfolioDayChange.objects.values_list("group", "program", "on", *figures, "lent", "collected")
    return sorted(months, key=str), sorted(days, key=str)



@pytest.fixture
def portfolio(household_a, household_b, group_a, ward_officer_a, front_supervisor):
    """Two wards' loans with an overdue instalment, a freeze and its end, a backdated collection that leaves
    interest arrears, a reversed interest payment and savings, spread over the year."""
    loan = LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2025, 11, 10), frequency=3)
    second = LoanFactory(household=household_a, amount=10_000_000, disbursed_on=date(2026, 4, 2))
    other = LoanFactory(household=household_b, amount=12_000_000, disbursed_on=date(2026, 1, 5))
    first = loan.instalments.order_by("seq").first()
    first.overdue_since = first.due_on + timedelta(days=1)
    first.save()
    Posting.objects.create(kind="savings_in", household=household_a, amount=200_000, on=date(2026, 3, 3))
    Posting.objects.create(kind="principal", household=household_b, loan=other, amount=2_000_000, on=date(2026, 6, 5))
    refresh_loan_balances([loan.pk, other.pk])
    other.transition_to(Loan.Status.FROZEN, actor=ward_officer_a, on=date(2026, 7, 1))
    other.transition_to(Loan.Status.ACTIVE, actor=ward_officer_a, on=date(2026, 9, 15))
    second.transition_to(Loan.Status.FROZEN, actor=ward_officer_a, on=date(2026, 10, 1))
    refresh_group_balances([group_a.pk, other.group_id])
    # 100,000 paid of the interest due on 20/08: the rest stays in arrears from that day.
    sheet = post_sheet(group_a, date(2026, 8, 20), ward_officer_a, {household_a: (100_000, 50_000, 0)})
    interest = sheet.lines.get().postings.filter(kind__in=("interest", "overdue_interest")).first()
    reverse_posting(posting=interest, reason="Nhập nhầm", actor=ward_officer_a, booked_on=date(2026, 9, 2))
    return {"loan": loan, "second": second, "other": other, "sheet": sheet}


def test_every_past_day_reads_the_ledger_figures_from_the_snapshots(portfolio, front_supervisor, monkeypatch):
    snapshots_rebuild(since=date(2026, 1, 1))
    assert snapshot_span() == (date(2025, 12, 31), date(2026, 10, 31))
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(0, (TODAY - date(2026, 1, 1)).days + 1, 3)]
    assert_snapshots_match_the_ledger(front_supervisor, [*days, TODAY], monkeypatch, breakdowns=[(), ("group",)])
    assert_snapshots_match_the_ledger(front_supervisor, [date(2026, 8, 31), date(2026, 10, 1)], monkeypatch)


def test_interest_arrears_and_freezes_are_taken_as_of_the_date(portfolio, front_supervisor):
    snapshots_rebuild(since=date(2026, 1, 1))
    arrears_now = sum(Loan.objects.values_list("interest_arrears", flat=True))
    left_by_sheet = sum(InterestArrearsEntry.objects.filter(source="collection").values_list("amount", flat=True))
    reversed_interest = InterestArrearsEntry.objects.get(source="reversal").amount
    assert reversed_interest == portfolio["sheet"].lines.get().postings.filter(kind="reversal").get().amount

    def totals(on):
        return portfolio_report(user=front_supervisor, on=on)[0]

    assert totals(date(2026, 8, 19))["interest_arrears"] == 0
    # The reversal booked on 02/09 takes the value date of the interest it reverses: from 20/08 on, the arrears are
    # what a right-first-time sheet would have left.
    assert left_by_sheet > 0
    assert totals(date(2026, 8, 20))["interest_arrears"] == left_by_sheet + reversed_interest == arrears_now
    assert totals(date(2026, 9, 1))["interest_arrears"] == arrears_now
    assert totals(TODAY)["interest_arrears"] == arrears_now
    assert totals(date(2026, 6, 30))["frozen"] == 0
    assert totals(date(2026, 7, 1))["frozen"] == 10_000_000  # the other loan, after its 2,000,000 repayment
    assert totals(date(2026, 9, 15))["frozen"] == 0
    assert totals(date(2026, 10, 1))["frozen"] == 10_000_000  # the second loan
    assert totals(date(2026, 3, 2))["savings"] == 0 and totals(date(2026, 3, 3))["savings"] == 200_000


def test_a_backdated_posting_corrects_the_snapshots_from_its_day_on(
    portfolio, front_supervisor, ward_officer_b, client_for, monkeypatch
):
    snapshots_rebuild(since=date(2026, 1, 1))
    before = {on: portfolio_report(user=front_supervisor, on=on)[0] for on in (date(2026, 5, 31), date(2026, 6, 1))}
    loan = portfolio["loan"]
    # A repayment recorded today for 01/06, and a reversal of the 05/06 repayment of the other loan.
    Posting.objects.create(kind="principal", household=loan.household, loan=loan, amount=3_000_000, on=date(2026, 6, 1))
    refresh_loan_balances([loan.pk], since=date(2026, 6, 1))
    repayment = Posting.objects.get(loan=portfolio["other"], kind="principal")
    reverse_posting(posting=repayment, reason="Sai số tiền", actor=ward_officer_b, booked_on=date(2026, 6, 10))

    assert portfolio_report(user=front_supervisor, on=date(2026, 5, 31))[0] == before[date(2026, 5, 31)]
    june = portfolio_report(user=front_supervisor, on=date(2026, 6, 1))[0]
    assert june["outstanding"] == before[date(2026, 6, 1)]["outstanding"] - 3_000_000
    assert june["collected_month"] == before[date(2026, 6, 1)]["collected_month"] + 3_000_000
    page = reverse("loans:report", args=["bctd_01_1"])
    rows = [line["row"] for line in client_for(front_supervisor).get(page, {"on": "20/06/2026"}).context["rows"]]
    ledger = from_ledger(monkeypatch, user=front_supervisor, on=date(2026, 6, 20))[0]
    # The 2,000,000 repaid on 05/06 and reversed (booked 10/06) is outstanding again on 20/06, as on 01/06.
    assert sum(row["outstanding"] for row in rows) == ledger["outstanding"] == june["outstanding"]
    # The reversal takes the repayment's value date: read now, 05/06 shows what a right-first-time entry would.
    assert from_ledger(monkeypatch, user=front_supervisor, on=date(2026, 6, 5))[0]["outstanding"] == (
        portfolio_report(user=front_supervisor, on=date(2026, 6, 5))[0]["outstanding"]
    ) == june["outstanding"]
    assert_snapshots_match_the_ledger(
        front_supervisor, [date(2026, 6, 1), date(2026, 6, 9), date(2026, 6, 10), date(2026, 7, 31), TODAY], monkeypatch
    )
    # What the commands wrote is exactly what a rebuild from the ledger writes.
    written = snapshot_rows()
    snapshots_rebuild(since=date(2026, 1, 1))
    assert snapshot_rows() == written


def test_month_ends_roll_forward_like_a_rebuild(portfolio):
    snapshots_rebuild(since=date(2026, 1, 1), until=date(2026, 8, 10))
    assert snapshot_span() == (date(2025, 12, 31), date(2026, 7, 31))
    assert snapshots_close_months(TODAY) == [date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31)]
    assert snapshots_close_months(TODAY) == []
    rolled = snapshot_rows()
    snapshots_rebuild(since=date(2026, 1, 1))
    assert snapshot_rows() == rolled


def test_a_day_close_adds_its_marks_to_the_snapshots_like_a_rebuild(portfolio, household_b, monkeypatch):
    """A close marks instalments overdue, one of them missed in August and partly paid in October, so its overdue
    principal changes on several days across month ends: the group and branch rows equal a rebuild from the ledger,
    and no group's history is derived again to get there."""
    from loans.ledger import snapshots
    from loans.models import BranchDayChange, BranchMonthEnd
    from loans.services.overdue import overdue_close_day

    late = LoanFactory(household=household_b, amount=12_000_000, disbursed_on=date(2026, 5, 4), frequency=1)
    first, second = late.instalments.order_by("seq")[:2]
    Posting.objects.create(
        kind="principal", household=household_b, loan=late, amount=first.principal, on=date(2026, 10, 20)
    )
    refresh_loan_balances([late.pk])
    refresh_group_balances([late.group_id])
    snapshots_rebuild(since=date(2026, 1, 1))
    monkeypatch.setattr(snapshots, "_write_snapshots", None)  # the close adds its change; it derives no group again

    marked, _loans = overdue_close_day(on=TODAY)

    assert {first.pk, second.pk} <= {row["pk"] for row in marked}
    def branch_rows():
        figures = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", "savings")
        months = BranchMonthEnd.objects.values_list("branch", "program", "month_end", *figures, "lent_year")
        days = BranchDayChange.objects.values_list("branch", "program", "on", *figures, "lent", "collected")
        return sorted(months, key=str), sorted(days, key=str)

    added = snapshot_rows(), branch_rows()
    monkeypatch.undo()
    snapshots_rebuild(since=date(2026, 1, 1))
    assert added == (snapshot_rows(), branch_rows())


def test_dates_before_the_first_snapshot_are_derived_from_the_ledger(portfolio, front_supervisor):
    assert snapshot_month_end(date(2026, 3, 1)) is None  # nothing built yet: every past date uses the ledger
    expected = {on: portfolio_report(user=front_supervisor, on=on) for on in (date(2025, 12, 20), date(2026, 3, 1))}
    snapshots_rebuild(since=date(2026, 6, 1))  # covers the whole year of `since`
    assert snapshot_month_end(date(2025, 12, 20)) is None and snapshot_month_end(date(2025, 12, 31)) is None
    assert snapshot_month_end(date(2026, 1, 1)) == date(2025, 12, 31)
    assert snapshot_month_end(date(2026, 3, 1)) == date(2026, 2, 28)
    assert {on: portfolio_report(user=front_supervisor, on=on) for on in expected} == expected
    assert expected[date(2025, 12, 20)][0]["outstanding"] == 30_000_000


def test_rebuild_command_reports_what_it_built(portfolio):
    out = io.StringIO()
    call_command("rebuild_snapshots", "--since", "01/01/2026", stdout=out)
    assert "Snapshots cover 01/01/2026 onwards: 11 month end(s)" in out.getvalue()
    assert PortfolioMonthEnd.objects.filter(month_end=date(2026, 10, 31)).exists()
    call_command("rebuild_snapshots", stdout=out)  # from the first posting's year
    assert snapshot_span()[0] == date(2024, 12, 31)


def test_check_ledger_refuses_arrears_entries_that_exceed_the_arrears(portfolio):
    call_command("check_ledger", stdout=io.StringIO())
    InterestArrearsEntry.objects.create(loan=portfolio["other"], on=date(2026, 5, 1), amount=70_000, source="import")
    with pytest.raises(CommandError, match="interest arrears entries"):
        call_command("check_ledger", stdout=io.StringIO())


@pytest.mark.django_db
def test_past_date_pages_keep_a_bounded_number_of_queries(
    client_for, front_supervisor, branch_a, django_assert_max_num_queries
):
    client = client_for(front_supervisor)
    LoanFactory(household=HouseholdFactory(group=SavingsGroupFactory(branch=branch_a)), disbursed_on=date(2026, 2, 1))
    snapshots_rebuild(since=date(2026, 1, 1))
    for _round in range(2):
        for _ in range(5):
            group = SavingsGroupFactory(branch=branch_a)
            for _ in range(3):
                LoanFactory(household=HouseholdFactory(group=group), amount=10_000_000, disbursed_on=date(2026, 3, 9))
        for on in ("15/03/2026", "01/11/2026"):
            with django_assert_max_num_queries(40):
                response = client.get(reverse("organizations:home"), {"on": on})
            assert response.context["totals"]["outstanding"] > 0
            for layout in REPORTS:
                with django_assert_max_num_queries(BOUND):
                    assert client.get(reverse("loans:report", args=[layout]), {"on": on}).status_code == 200
            with django_assert_max_num_queries(15):
                assert client.get(reverse("loans:report_group", args=[group.pk]), {"on": on}).status_code == 200


def test_a_household_moving_group_takes_its_savings_along_in_the_snapshots(
    portfolio, household_a, front_supervisor, ward_officer_a, branch_a, monkeypatch
):
    from borrowers.services import household_move

    snapshots_rebuild(since=date(2026, 1, 1))
    new_group = SavingsGroupFactory(branch=branch_a)
    LoanFactory(household=HouseholdFactory(group=new_group), amount=5_000_000, disbursed_on=date(2026, 2, 2))
    household_move(household=household_a, group=new_group, on=date(2026, 11, 1), actor=ward_officer_a)
    by_group = {row["group"]: row for row in portfolio_report(user=front_supervisor, on=date(2026, 5, 1), by=("group",))}
    assert by_group[new_group.pk]["savings"] == 200_000
    assert_snapshots_match_the_ledger(front_supervisor, [date(2026, 5, 1), TODAY], monkeypatch, breakdowns=[("group",)])


def test_an_import_brings_the_snapshots_of_its_groups_up_to_date(portfolio, admin_user, front_supervisor, settings,
                                                                   monkeypatch):
    """A loan-balance file creates loans disbursed months ago and a transaction file posts to an existing loan on
    an earlier day: past dates show both, and what the imports wrote equals a rebuild from the ledger."""
    from tests.test_bank_import import loan_row, loans_file, run_import, tx_file

    settings.IMPORT_RUN_MODE = "inline"
    snapshots_rebuild(since=date(2026, 1, 1))
    before = portfolio_report(user=front_supervisor, on=date(2026, 5, 31))[0]
    group = portfolio["loan"].group
    row = loan_row(1, ward=group.branch.ward.code, org=group.branch.kind, group=group.code, amount=20_000_000,
                   outstanding=20_000_000, savings=0)
    row[11:13] = ["02/05/2026", "02/05/2029"]
    imported = run_import("loans", loans_file([row]), admin_user)
    assert imported.status == imported.Status.DONE, imported.summary
    loan = Loan.objects.get(import_batch=imported)
    # The bank's file says 20,000,000 outstanding today; 1,000,000 of it was repaid on 03/05 by the second file.
    posted = run_import("transactions", tx_file([["03/05/2026", "GD0001", loan.number, loan.household.customer_code,
                                                  "Thu nợ gốc", 1_000_000, ""]]), admin_user)
    assert posted.status == posted.Status.DONE, posted.summary
    may = portfolio_report(user=front_supervisor, on=date(2026, 5, 31))[0]
    assert may["outstanding"] == before["outstanding"] + 20_000_000 - 1_000_000
    assert_snapshots_match_the_ledger(front_supervisor, [date(2026, 5, 1), date(2026, 5, 3), date(2026, 8, 31)],
                                      monkeypatch, breakdowns=[(), ("group",)])
    written = snapshot_rows()
    snapshots_rebuild(since=date(2026, 1, 1))
    assert snapshot_rows() == written
