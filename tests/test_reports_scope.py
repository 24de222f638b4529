"""Dashboard and reports on small data: scope, roles, methods, dates, ledger edge cases, summaries, query bounds."""

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse

from loans.ledger.balances import refresh_household_savings, refresh_loan_balances
from loans.ledger.summaries import refresh_group_balances, refresh_portfolio_summary
from loans.models import GroupBalance, GroupProgramBalance, Loan, MonthlyBalance, Posting
from loans.reports import selectors as report_selectors
from loans.reports.selectors import group_grade_counts, portfolio_totals
from loans.reports.views import REPORTS
from organizations.models import GroupMembership
from tests.factories import HouseholdFactory, LoanFactory, SavingsGroupFactory, UserFactory

TODAY = date(2026, 11, 20)


def report_url(layout, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("loans:report", args=[layout]) + (f"?{query}" if query else "")


pytestmark = pytest.mark.today(TODAY.isoformat())



@pytest.fixture
def two_wards(household_a, household_b):
    a = LoanFactory(household=household_a, amount=40_000_000, disbursed_on=date(2026, 3, 1))
    b = LoanFactory(household=household_b, amount=25_000_000, disbursed_on=date(2026, 11, 3))
    return a, b


@pytest.mark.django_db
def test_ward_officer_sees_their_branch_and_gets_404_for_another_ward(
    client_for, ward_officer_a, two_wards, ward_b, group_b
):
    client = client_for(ward_officer_a)
    totals = client.get(reverse("organizations:home")).context["totals"]
    assert totals["outstanding"] == 40_000_000 and totals["households"] == 1
    rows = [line["row"] for line in client.get(report_url("bctd_01_1")).context["rows"]]
    assert [row["outstanding"] for row in rows] == [40_000_000]
    assert client.get(reverse("loans:report_ward", args=[ward_b.pk])).status_code == 404
    assert client.get(reverse("loans:report_group", args=[group_b.pk])).status_code == 404


@pytest.mark.django_db
def test_district_staff_see_both_wards_of_their_organization(client_for, district_staff, two_wards):
    totals = client_for(district_staff).get(reverse("organizations:home")).context["totals"]
    assert totals["outstanding"] == 65_000_000 and totals["households"] == 2
    assert totals["lent_month"] == 25_000_000 and totals["lent_year"] == 65_000_000


@pytest.mark.django_db
def test_user_without_a_role_gets_403_and_an_empty_dashboard(client_for, two_wards):
    nobody = UserFactory(username="nobody")
    nobody.save()  # keeps the password hash the session is bound to
    client = client_for(nobody)
    for layout in REPORTS:
        assert client.get(report_url(layout)).status_code == 403
    assert client.get(reverse("loans:report_ward", args=[1])).status_code == 403
    response = client.get(reverse("organizations:home"))
    assert response.status_code == 200 and response.context["totals"]["outstanding"] == 0


@pytest.mark.django_db
def test_wrong_method_and_unknown_layout(client_for, front_supervisor, group_a, ward_a):
    client = client_for(front_supervisor)
    assert client.post(report_url("bctd_01_1")).status_code == 405
    assert client.post(reverse("organizations:home")).status_code == 405
    assert client.post(reverse("loans:report_group", args=[group_a.pk])).status_code == 405
    assert client.post(reverse("loans:report_ward", args=[ward_a.pk])).status_code == 405
    assert client.get(report_url("bc0437")).status_code == 404


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(report_url("bctd_01_1"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_a_date_in_the_future_or_malformed_is_refused_with_a_message(
    client_for, front_supervisor, two_wards
):
    client = client_for(front_supervisor)
    response = client.get(report_url("bctd_01_1", on="01/01/2027"))
    assert response.status_code == 200
    assert "chỉ lập được đến ngày hôm nay" in response.content.decode()
    assert response.context["on"] == TODAY
    response = client.get(reverse("organizations:home"), {"on": "2026-13-45"})
    assert response.status_code == 200 and response.context["on"] == TODAY
    assert "dd/mm/yyyy" in response.content.decode() or "ngày hợp lệ" in response.content.decode()


@pytest.mark.django_db
def test_organization_filter_narrows_the_front_view(
    client_for, front_supervisor, two_wards, farmers_branch_a
):
    farmer = HouseholdFactory(branch=farmers_branch_a)
    group = SavingsGroupFactory(branch=farmers_branch_a)
    GroupMembership.objects.create(group=group, household=farmer, joined_on=date(2025, 1, 1))
    LoanFactory(household=farmer, group=group, amount=10_000_000)
    client = client_for(front_supervisor)
    assert client.get(reverse("organizations:home")).context["totals"]["outstanding"] == 75_000_000
    narrowed = client.get(reverse("organizations:home"), {"organization": "11"}).context["totals"]
    assert narrowed["outstanding"] == 10_000_000


@pytest.mark.django_db
def test_overdue_frozen_arrears_reversals_and_savings_agree_between_cache_and_ledger(
    household_a, household_b, front_supervisor, monkeypatch
):
    loan = LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2026, 2, 10), frequency=3)
    frozen = LoanFactory(household=household_b, amount=12_000_000, disbursed_on=date(2026, 1, 5))
    first = loan.instalments.order_by("seq").first()
    first.overdue_since = first.due_on + timedelta(days=1)
    first.save()
    Posting.objects.create(kind="principal", household=household_a, loan=loan, amount=1_000_000, on=date(2026, 11, 5))
    wrong = Posting.objects.create(
        kind="interest", household=household_a, loan=loan, amount=300_000, on=date(2026, 11, 6)
    )
    Posting.objects.create(kind="reversal", reverses=wrong, household=household_a, loan=loan, amount=300_000,
                           on=date(2026, 11, 7))
    Posting.objects.create(kind="interest", household=household_a, loan=loan, amount=130_000, on=date(2026, 11, 7))
    Posting.objects.create(kind="savings_in", household=household_a, amount=200_000, on=date(2026, 10, 20))
    Loan.objects.filter(pk=frozen.pk).update(status=Loan.Status.FROZEN)
    Loan.objects.filter(pk=loan.pk).update(interest_arrears=45_000)
    refresh_loan_balances([loan.pk, frozen.pk])
    refresh_household_savings([household_a.pk])

    totals = portfolio_totals(user=front_supervisor, on=TODAY)
    assert totals["outstanding"] == 41_000_000
    assert totals["overdue"] == first.principal - 1_000_000
    assert totals["frozen"] == 12_000_000
    assert totals["interest_arrears"] == 45_000
    assert totals["savings"] == 200_000
    assert totals["collected_month"] == 1_130_000
    assert totals["overdue_ratio"] is not None
    monkeypatch.setattr(report_selectors, "uses_cached_balances", lambda on: False)
    assert portfolio_totals(user=front_supervisor, on=TODAY) == totals


@pytest.mark.django_db
def test_postings_dated_after_today_make_the_figures_come_from_the_ledger(household_a, front_supervisor):
    loan = LoanFactory(household=household_a, amount=20_000_000, disbursed_on=date(2026, 5, 1))
    assert report_selectors.uses_cached_balances(TODAY)
    Posting.objects.create(kind="principal", household=household_a, loan=loan, amount=5_000_000, on=date(2026, 12, 1))
    assert not report_selectors.uses_cached_balances(TODAY)
    assert portfolio_totals(user=front_supervisor, on=TODAY)["outstanding"] == 20_000_000


@pytest.mark.django_db
def test_refresh_keeps_group_summaries_and_month_ends(household_a, group_a):
    loan = LoanFactory(household=household_a, amount=18_000_000, disbursed_on=date(2026, 9, 15))
    assert GroupProgramBalance.objects.get(group=group_a).outstanding == 18_000_000
    Posting.objects.create(kind="principal", household=household_a, loan=loan, amount=3_000_000, on=date(2026, 11, 2))
    refresh_loan_balances([loan.pk])
    assert GroupProgramBalance.objects.get(group=group_a).outstanding == 15_000_000
    assert GroupBalance.objects.get(group=group_a).households == 1
    refresh_portfolio_summary(TODAY)
    balances = dict(MonthlyBalance.objects.values_list("month_end", "outstanding"))
    assert date(2026, 8, 31) not in balances
    assert balances[date(2026, 9, 30)] == 18_000_000 and balances[date(2026, 10, 31)] == 18_000_000
    Loan.objects.filter(pk=loan.pk).update(principal_outstanding=0, overdue_principal=0)
    refresh_group_balances([group_a.pk])
    balance = GroupProgramBalance.objects.get(group=group_a)
    # Nothing outstanding, but the year's lending and collections stay on the row.
    figures = (balance.outstanding, balance.loans, balance.lent_year, balance.collected_month)
    assert figures == (0, 0, 18_000_000, 3_000_000)
    assert balance.flows_on == TODAY


@pytest.mark.django_db
def test_grade_counts_are_zero_until_grades_exist(front_supervisor, two_wards):
    assert group_grade_counts(user=front_supervisor, on=TODAY, by=("ward", "kind")) == {}
    totals = portfolio_totals(user=front_supervisor, on=TODAY)
    assert (totals["good"], totals["fair"], totals["average"], totals["weak"]) == (0, 0, 0, 0)
    assert totals["groups"] == 2


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_data(client_for, front_supervisor, django_assert_max_num_queries, branch_a):
    client = client_for(front_supervisor)
    for _round in range(2):
        for _ in range(6):
            group = SavingsGroupFactory(branch=branch_a)
            for _ in range(3):
                LoanFactory(household=HouseholdFactory(group=group), amount=10_000_000)
        with django_assert_max_num_queries(40):
            assert client.get(reverse("organizations:home")).status_code == 200
        for layout in REPORTS:
            with django_assert_max_num_queries(26):  # +1 for the menu's inbox count
                client.get(report_url(layout))
    group_page = reverse("loans:report_group", args=[group.pk])
    with django_assert_max_num_queries(15):
        assert client.get(group_page).status_code == 200


@pytest.mark.django_db
def test_cached_month_and_year_flows_roll_over_without_a_refresh(household_a, front_supervisor, monkeypatch):
    with time_machine.travel(date(2026, 11, 20), tick=False):
        LoanFactory(household=household_a, amount=20_000_000, disbursed_on=date(2026, 11, 5))
        totals = portfolio_totals(user=front_supervisor, on=date(2026, 11, 20))
        assert (totals["lent_month"], totals["lent_year"]) == (20_000_000, 20_000_000)
    for today, expected in ((date(2026, 12, 2), (0, 20_000_000)), (date(2027, 1, 3), (0, 0))):
        with time_machine.travel(today, tick=False):
            assert report_selectors.uses_cached_balances(today)
            cached = portfolio_totals(user=front_supervisor, on=today)
            assert (cached["lent_month"], cached["lent_year"]) == expected
            monkeypatch.setattr(report_selectors, "uses_cached_balances", lambda on: False)
            assert portfolio_totals(user=front_supervisor, on=today) == cached
            monkeypatch.undo()


@pytest.mark.django_db
def test_month_ends_in_one_pass_match_the_per_date_derivation(household_a, household_b, monkeypatch):
    """The month-end summary is computed in one pass; it must agree with deriving each month end on its own, through
    repayments, a reversed repayment, a missed instalment (also after one paid on time), a loan repaid in full and one
    disbursed inside the window."""
    from loans.ledger.summaries import derived_portfolio, month_ends, monthly_portfolio

    early = LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2025, 6, 10))
    late = LoanFactory(household=household_b, amount=20_000_000, disbursed_on=date(2026, 4, 20))
    repaid = LoanFactory(household=household_b, amount=5_000_000, disbursed_on=date(2025, 12, 1))
    first = Posting.objects.create(
        kind="principal", household=household_a, loan=early, amount=4_000_000, on=date(2026, 2, 3)
    )
    Posting.objects.create(
        kind="reversal", household=household_a, loan=early, amount=4_000_000, on=date(2026, 3, 5), reverses=first
    )
    Posting.objects.create(kind="principal", household=household_a, loan=early, amount=2_000_000, on=date(2026, 7, 1))
    Posting.objects.create(kind="principal", household=household_b, loan=repaid, amount=5_000_000, on=date(2026, 5, 31))
    instalment = late.instalments.order_by("seq").first()
    instalment.overdue_since = date(2026, 8, 1)
    instalment.save()
    Posting.objects.create(kind="principal", household=household_b, loan=late, amount=500_000, on=date(2026, 9, 12))
    # Its first instalment paid on time, its second missed: what it owes is the second (repayments settle the
    # earliest instalments first), not the second less what paid the first.
    on_time = LoanFactory(household=household_a, amount=12_000_000, disbursed_on=date(2025, 11, 10))
    paid_instalment, missed = on_time.instalments.order_by("seq")[:2]
    Posting.objects.create(
        kind="principal", household=household_a, loan=on_time, amount=paid_instalment.principal,
        on=paid_instalment.due_on,
    )
    missed.overdue_since = missed.due_on + timedelta(days=1)
    missed.save()
    ends = month_ends(TODAY)
    fast = monthly_portfolio(ends)
    for end in ends:
        for (branch,), row in derived_portfolio(Loan.objects.all(), end, ("branch",)).items():
            assert list(fast.pop((end, branch))) == [row["outstanding"], row["overdue"]], end
    assert not {key: value for key, value in fast.items() if any(value)}
    refresh_portfolio_summary(TODAY)
    assert MonthlyBalance.objects.get(month_end=date(2026, 10, 31), branch=late.group.branch).overdue > 0

    # Once the month-end snapshots hold the trend's months, the trend is read from them, with the same figures.
    from loans.ledger import summaries
    from loans.ledger.snapshots import snapshots_rebuild

    from_ledger = sorted(MonthlyBalance.objects.values_list("month_end", "branch", "outstanding", "overdue"))
    snapshots_rebuild(since=date(2024, 1, 1), until=TODAY)
    monkeypatch.setattr(summaries, "monthly_portfolio", None)  # not the ledger's pass
    summaries.refresh_monthly_balances(TODAY)
    assert sorted(MonthlyBalance.objects.values_list("month_end", "branch", "outstanding", "overdue")) == from_ledger


@pytest.mark.django_db
def test_flows_cached_in_a_later_month_are_never_shown_as_this_months(household_a, front_supervisor):
    """Figures cached on 02/12 and read with the clock at 20/11 (a clock set back) come from the ledger."""
    with time_machine.travel(date(2026, 12, 2), tick=False):
        LoanFactory(household=household_a, amount=20_000_000, disbursed_on=date(2026, 11, 5))
        LoanFactory(household=household_a, amount=7_000_000, disbursed_on=date(2026, 12, 1))
    with time_machine.travel(date(2026, 11, 20), tick=False):
        totals = portfolio_totals(user=front_supervisor, on=date(2026, 11, 20))
    assert (totals["lent_month"], totals["lent_year"], totals["outstanding"]) == (20_000_000, 20_000_000, 20_000_000)
