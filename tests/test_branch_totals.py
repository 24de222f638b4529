"""Per-branch totals: today's (BranchProgramBalance, BranchBalance) and the past dates' (BranchMonthEnd,
BranchDayChange) always equal the sums of their groups' rows, after postings, backdated corrections, a day close, a
month close and a ward merger; and the pages read them once, giving exactly what the group rows give."""

import io
import threading
import time
from collections import defaultdict
from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from loans.ledger.balances import refresh_loan_balances, refresh_overdue_balances
from loans.ledger.branch_checks import branch_sum_differences
from loans.ledger.snapshots import snapshots_close_months, snapshots_rebuild
from loans.ledger.summaries import refresh_monthly_balances
from loans.models import (
    BranchBalance,
    BranchDayChange,
    BranchMonthEnd,
    BranchProgramBalance,
    GroupBalance,
    GroupProgramBalance,
    Loan,
    PortfolioDayChange,
    PortfolioMonthEnd,
    Posting,
    SnapshotCoverage,
)
from loans.reports import selectors as report_selectors
from loans.reports.selectors import portfolio_breakdowns, portfolio_report
from organizations.models import Organization
from organizations.policy import SYSTEM
from organizations.services.mergers import wards_merge
from tests.factories import (
    BranchFactory,
    HouseholdFactory,
    LoanFactory,
    SavingsGroupFactory,
    post_sheet,
    reverse_posting,
)

TODAY = date(2026, 11, 20)
FIGURES = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", "savings")
BREAKDOWNS = [(), ("kind",), ("ward",), ("program",), ("ward", "kind"), ("branch",)]
PAST = [date(2026, 2, 14), date(2026, 6, 1), date(2026, 8, 20), date(2026, 10, 31), date(2026, 11, 3)]


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False), translation.override("en"):
        yield


def _summed(rows, names):
    """{key: (sums of names)} of (key, *values) rows, leaving out keys whose sums are all zero."""
    sums = defaultdict(lambda: [0] * len(names))
    for key, *values in rows:
        sums[key] = [total + (value or 0) for total, value in zip(sums[key], values, strict=True)]
    return {key: tuple(values) for key, values in sums.items() if any(values)}


def _keyed(rows):
    """(branch, program, date, *figures) rows as ((branch, program, date), *figures)."""
    return [((branch, program, day), *figures) for branch, program, day, *figures in rows]


def assert_branch_rows_are_group_sums(only_sums=True):
    flows = ("lent_month", "lent_year", "collected_month", "collected_year")
    names = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", *flows)
    groups = GroupProgramBalance.objects.values_list("group__branch", "program", "flows_on", *names)
    branches = BranchProgramBalance.objects.values_list("branch", "program", "flows_on", *names)
    assert _summed(_keyed(branches), names) == _summed(_keyed(groups), names)
    wholes = GroupBalance.objects.values_list("group__branch", "households", "savings")
    assert _summed(BranchBalance.objects.values_list("branch", "households", "savings"), ("h", "s")) == _summed(
        wholes, ("h", "s")
    )
    months = ("month_end", *FIGURES, "lent_year", "collected_year")
    for group_rows, branch_rows, fields in (
        (PortfolioMonthEnd, BranchMonthEnd, months),
        (PortfolioDayChange, BranchDayChange, ("on", *FIGURES, "lent", "collected")),
    ):
        date_field, *figures = fields
        group_sums = _summed(_keyed(group_rows.objects.values_list("group__branch", "program", *fields)), figures)
        branch_sums = _summed(_keyed(branch_rows.objects.values_list("branch", "program", *fields)), figures)
        assert branch_sums == group_sums, branch_rows.__name__
        if only_sums:  # no row of zeros is kept
            assert branch_rows.objects.count() == len(branch_sums)
    assert branch_sum_differences() == []  # what check_ledger reads


def from_group_rows(monkeypatch, **kwargs):
    """portfolio_report read from the per-group rows only, as before the per-branch totals existed."""
    with monkeypatch.context() as patch:
        patch.setattr(report_selectors, "_branch_level", lambda dims, then: False)
        return portfolio_report(**kwargs)


def assert_pages_read_the_same(user, days, monkeypatch, breakdowns=BREAKDOWNS):
    for on in days:
        for by in breakdowns:
            branch = sorted(portfolio_report(user=user, on=on, by=by), key=lambda row: str(row["key"]))
            group = sorted(from_group_rows(monkeypatch, user=user, on=on, by=by), key=lambda row: str(row["key"]))
            assert branch == group, (on, by)


@pytest.fixture
def portfolio(household_a, household_b, group_a, branch_a, ward_officer_a, front_supervisor):
    """Loans in two wards and two organizations of ward A: an overdue instalment, a freeze, savings, a collection
    sheet that leaves interest arrears, over the year; snapshots built."""
    farmers = BranchFactory(ward=branch_a.ward, kind=Organization.Kind.FARMERS)
    farmers_household = HouseholdFactory(group=SavingsGroupFactory(branch=farmers))
    second_group = HouseholdFactory(group=SavingsGroupFactory(branch=branch_a))
    loan = LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2025, 11, 10), frequency=3)
    other = LoanFactory(household=household_b, amount=12_000_000, disbursed_on=date(2026, 1, 5))
    LoanFactory(household=farmers_household, amount=8_000_000, disbursed_on=date(2026, 5, 5))
    LoanFactory(household=second_group, amount=6_000_000, disbursed_on=date(2026, 3, 5))
    first = loan.instalments.order_by("seq").first()
    first.overdue_since = first.due_on + timedelta(days=1)
    first.save()
    Posting.objects.create(kind="savings_in", household=household_a, amount=200_000, on=date(2026, 3, 3))
    Posting.objects.create(kind="principal", household=household_b, loan=other, amount=2_000_000, on=date(2026, 6, 5))
    refresh_loan_balances([loan.pk, other.pk])
    other.transition_to(Loan.Status.FROZEN, actor=ward_officer_a, on=date(2026, 7, 1))
    post_sheet(group_a, date(2026, 8, 20), ward_officer_a, {household_a: (100_000, 50_000, 0)})
    snapshots_rebuild(since=date(2026, 1, 1))
    return {"loan": loan, "other": other, "farmers": farmers}


@pytest.mark.django_db
def test_the_branch_rows_are_the_sums_of_the_group_rows_and_read_the_same(portfolio, front_supervisor, monkeypatch):
    assert BranchProgramBalance.objects.exists() and BranchMonthEnd.objects.exists()
    assert_branch_rows_are_group_sums()
    assert_pages_read_the_same(front_supervisor, [*PAST, TODAY], monkeypatch)


@pytest.mark.django_db
def test_check_ledger_finds_a_branch_row_out_of_line_with_its_groups(portfolio, branch_a):
    assert BranchProgramBalance.objects.filter(branch=branch_a, overdue__gt=0).update(overdue=F("overdue") + 1) == 1
    month_end = BranchMonthEnd.objects.filter(branch=branch_a, program__isnull=True).order_by("month_end").last()
    month_end.savings += 1
    month_end.save()
    out = io.StringIO()
    with pytest.raises(CommandError, match=" 2 branch total"):
        call_command("check_ledger", stdout=out)
    assert "summed from its groups" in out.getvalue()


@pytest.mark.django_db
def test_a_posting_and_a_backdated_correction_rewrite_their_branch_only(
    portfolio, front_supervisor, ward_officer_b, monkeypatch
):
    loan, other = portfolio["loan"], portfolio["other"]
    untouched = list(BranchMonthEnd.objects.filter(branch=portfolio["farmers"]).values_list("pk", flat=True))
    Posting.objects.create(kind="principal", household=loan.household, loan=loan, amount=3_000_000, on=TODAY)
    refresh_loan_balances([loan.pk], since=TODAY)
    assert_branch_rows_are_group_sums()
    # A repayment recorded today for 01/06, and the reversal (booked 10/06) of the 05/06 one of the other ward.
    Posting.objects.create(kind="principal", household=loan.household, loan=loan, amount=1_000_000, on=date(2026, 6, 1))
    refresh_loan_balances([loan.pk], since=date(2026, 6, 1))
    repayment = Posting.objects.get(loan=other, kind="principal")
    reverse_posting(posting=repayment, reason="Sai số tiền", actor=ward_officer_b, booked_on=date(2026, 6, 10))
    assert_branch_rows_are_group_sums()
    assert_pages_read_the_same(front_supervisor, [date(2026, 5, 31), date(2026, 6, 20), TODAY], monkeypatch)
    # The farmers' branch had no change: its rows were not rewritten.
    assert list(BranchMonthEnd.objects.filter(branch=portfolio["farmers"]).values_list("pk", flat=True)) == untouched
    total = portfolio_report(user=front_supervisor, on=date(2026, 6, 20))[0]
    assert total["outstanding"] == 30_000_000 - 1_000_000 + 12_000_000 + 8_000_000 + 6_000_000


@pytest.mark.django_db
def test_a_day_close_and_a_month_close_keep_the_branch_rows(portfolio, front_supervisor, monkeypatch):
    loan = portfolio["other"]
    instalment = loan.instalments.order_by("seq").first()
    instalment.overdue_since = instalment.due_on + timedelta(days=1)
    instalment.save()
    refresh_overdue_balances([loan.pk], since=instalment.overdue_since)
    assert_branch_rows_are_group_sums()
    assert portfolio_report(user=front_supervisor, on=TODAY)[0]["overdue"] == sum(
        Loan.objects.values_list("overdue_principal", flat=True)
    )
    # The month ends held stop at 30/09: closing the months adds 31/10 to both tables from their day changes.
    BranchMonthEnd.objects.filter(month_end=date(2026, 10, 31)).delete()
    PortfolioMonthEnd.objects.filter(month_end=date(2026, 10, 31)).delete()
    SnapshotCoverage.objects.update(last_month_end=date(2026, 9, 30))
    assert snapshots_close_months(TODAY) == [date(2026, 10, 31)]
    assert BranchMonthEnd.objects.filter(month_end=date(2026, 10, 31)).exists()
    assert_branch_rows_are_group_sums()
    assert_pages_read_the_same(front_supervisor, [date(2026, 11, 3), TODAY], monkeypatch)


@pytest.mark.django_db
def test_a_ward_merger_moves_the_branch_rows_to_the_new_branch(portfolio, ward_a, ward_b, front_supervisor, monkeypatch):
    before = {on: portfolio_report(user=front_supervisor, on=on, by=("kind",)) for on in (date(2026, 6, 30), TODAY)}
    merger = wards_merge(sources=[ward_a, ward_b], code=ward_a.code, name="Phường Mới", merged_on=date(2026, 7, 1),
                         actor=SYSTEM)
    assert_branch_rows_are_group_sums()
    old = Organization.objects.filter(ward__in=[ward_a, ward_b])
    for table in (BranchProgramBalance, BranchBalance, BranchMonthEnd, BranchDayChange):
        assert not table.objects.filter(branch__in=old).exists(), table.__name__
    new = Organization.objects.filter(ward=merger.ward)
    assert BranchMonthEnd.objects.filter(branch__in=new, month_end=date(2026, 1, 31)).exists()
    for on, rows in before.items():
        assert sorted(portfolio_report(user=front_supervisor, on=on, by=("kind",)), key=str) == sorted(rows, key=str)
    # Under the wards of a date before the merger the group rows answer; under today's, the branch rows.
    assert_pages_read_the_same(front_supervisor, [date(2026, 6, 30), date(2026, 7, 1), TODAY], monkeypatch)
    mapped = portfolio_report(user=front_supervisor, on=date(2026, 6, 30), by=("ward",), today_wards=True)
    # The other loan had 2,000,000 repaid on 05/06.
    assert {row["ward"]: row["outstanding"] for row in mapped} == {merger.ward.pk: 30_000_000 + 10_000_000 + 8_000_000
                                                                   + 6_000_000}


@pytest.mark.django_db
def test_a_ward_officer_sees_the_own_branch_only(portfolio, branch_a, ward_officer_a, district_staff, monkeypatch):
    for user in (ward_officer_a, district_staff):
        assert_pages_read_the_same(user, [date(2026, 6, 1), TODAY], monkeypatch, breakdowns=[(), ("kind",), ("ward",)])
    officer_rows = portfolio_report(user=ward_officer_a, on=TODAY, by=("branch",))
    assert [row["branch"] for row in officer_rows] == [branch_a.pk]
    assert officer_rows[0]["outstanding"] == 30_000_000 + 6_000_000


@pytest.mark.django_db
@pytest.mark.parametrize("on", [TODAY, date(2026, 8, 20)])
def test_the_dashboard_reads_the_branch_figures_once(portfolio, front_supervisor, client_for, on):
    refresh_monthly_balances(TODAY)  # the trend's month ends
    client = client_for(front_supervisor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("organizations:home"), {"on": f"{on:%d/%m/%Y}"})
    assert response.status_code == 200
    sums = [query["sql"] for query in queries.captured_queries if "SUM(" in query["sql"]]
    tables = ("loans_branchprogrambalance", "loans_branchbalance") if on == TODAY else (
        "loans_branchmonthend", "loans_branchdaychange")
    for table in tables:
        assert sum(f'FROM "{table}"' in sql for sql in sums) == 1, table
    group_rows = ("loans_groupprogrambalance", "loans_groupbalance", "loans_portfoliomonthend", "loans_portfoliodaychange")
    assert not [sql for sql in queries.captured_queries if any(table in sql["sql"] for table in group_rows)]
    totals = response.context["totals"]
    assert totals["outstanding"] == sum(row["outstanding"] for row in response.context["by_kind"])
    rows = portfolio_breakdowns(user=front_supervisor, on=on, bys=[(), ("program",)])
    assert totals == rows[()][0]
    assert totals["loans"] == sum(row["loans"] for row in rows[("program",)])


@pytest.mark.django_db
def test_the_migration_fills_the_branch_rows_from_the_group_rows(portfolio, front_supervisor):
    """An installation upgraded with its summaries and snapshots built reads the same figures at once."""
    from importlib import import_module
    from types import SimpleNamespace

    migration = import_module("loans.migrations.0016_branch_totals")
    expected = {on: portfolio_report(user=front_supervisor, on=on, by=("kind",)) for on in (date(2026, 6, 1), TODAY)}
    for table in (BranchProgramBalance, BranchBalance, BranchMonthEnd, BranchDayChange):
        table.objects.all().delete()
    migration.fill(None, SimpleNamespace(connection=connection))
    assert_branch_rows_are_group_sums(only_sums=False)
    for on, rows in expected.items():
        assert sorted(portfolio_report(user=front_supervisor, on=on, by=("kind",)), key=str) == sorted(rows, key=str)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes one transaction at a time: no race.")
@pytest.mark.django_db(transaction=True)
def test_changes_to_two_groups_of_one_branch_at_once_leave_the_right_sums(household_a, branch_a, front_supervisor):
    """A colleague's change to another group of the branch, not yet committed, while ours is refreshed: ours waits
    for it, then sums both groups' rows as committed, so nothing is counted twice or left out."""
    other = HouseholdFactory(group=SavingsGroupFactory(branch=branch_a))
    ours = LoanFactory(household=household_a, amount=20_000_000, disbursed_on=date(2026, 9, 1))
    theirs = LoanFactory(household=other, amount=10_000_000, disbursed_on=date(2026, 9, 1))
    snapshots_rebuild(since=date(2026, 1, 1))
    holding = threading.Event()

    def colleague():
        try:
            with transaction.atomic():
                Posting.objects.create(kind="principal", household=other, loan=theirs, amount=1_000_000, on=TODAY)
                refresh_loan_balances([theirs.pk], since=TODAY)
                holding.set()
                time.sleep(1)
        finally:
            connections.close_all()

    thread = threading.Thread(target=colleague)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        with transaction.atomic():
            Posting.objects.create(kind="principal", household=household_a, loan=ours, amount=2_000_000, on=TODAY)
            refresh_loan_balances([ours.pk], since=TODAY)
    finally:
        thread.join(timeout=10)
    assert_branch_rows_are_group_sums()
    totals = portfolio_report(user=front_supervisor, on=TODAY)[0]
    assert (totals["outstanding"], totals["collected_month"]) == (27_000_000, 3_000_000)
