"""Dashboard and the bank's report layouts: figures from one selector, scope, query bounds, xlsx, drill-down."""

import io
import json
from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from loans import selectors
from loans.ledger import refresh_group_balances, refresh_loan_balances, refresh_portfolio_summary
from loans.models import GroupBalance, GroupProgramBalance, Loan, MonthlyBalance, Posting
from loans.selectors import group_grade_counts, portfolio_by_organization, portfolio_report, portfolio_totals
from loans.views import REPORTS
from tests.factories import HouseholdFactory, LoanFactory, UserFactory

TODAY = date(2026, 11, 20)
SEED = {
    "12": (43_479_000_000, 1_430),
    "13": (44_519_000_000, 1_329),
    "11": (37_371_000_000, 1_162),
    "14": (30_178_000_000, 987),
}
FIGURES = ("outstanding", "overdue", "frozen", "interest_arrears", "lent_month", "lent_year", "collected_month",
           "collected_year")


def report_url(layout, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("loans:report", args=[layout]) + (f"?{query}" if query else "")


def workbook(response):
    return load_workbook(io.BytesIO(response.content)).active


# --- The demo district, seeded once for this module -------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Quận 12 from seed_demo, rolled back after the module's tests."""
    with django_db_blocker.unblock():
        with time_machine.travel(TODAY, tick=False), override_settings(DEBUG=True):
            atomic = transaction.atomic()
            atomic.__enter__()
            call_command("seed_demo", stdout=io.StringIO())
        try:
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def demo_user(demo, db):
    from django.contrib.auth import get_user_model

    return lambda username: get_user_model().objects.get(username=username)


@pytest.fixture
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def test_dashboard_shows_the_seed_figures_per_organization(demo_user, client, frozen_today, capsys):
    client.force_login(demo_user("front"))
    response = client.get(reverse("organizations:home"))
    assert response.status_code == 200
    by_kind = {row["kind"]: row for row in response.context["by_kind"]}
    assert {kind: (row["outstanding"], row["households"]) for kind, row in by_kind.items()} == SEED
    assert response.context["totals"]["outstanding"] == sum(amount for amount, _h in SEED.values())
    assert response.context["totals"]["households"] == sum(count for _a, count in SEED.values())
    html = response.content.decode()
    women = html.split('data-kind="12"')[1].split("</tr>")[0]
    assert "43.479.000.000" in women and ">1.430<" in women

    call_command("summary", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert {kind: (row["outstanding"], row["households"]) for kind, row in summary.items()} == SEED


def test_every_report_agrees_with_the_dashboard_and_with_itself(demo_user, client, frozen_today):
    client.force_login(demo_user("front"))
    dashboard = client.get(reverse("organizations:home")).context["totals"]
    for layout in REPORTS:
        response = client.get(report_url(layout))
        assert response.status_code == 200, layout
        rows = [line["row"] for line in response.context["rows"]]
        assert rows, layout
        for name in FIGURES:
            assert sum(row[name] for row in rows) == dashboard[name], (layout, name)
        if layout != "bctd_01_2":
            # Households and savings add up across wards, organizations and groups; by program a household that
            # borrows under two programs appears under both.
            assert sum(row["households"] for row in rows) == dashboard["households"], layout
            assert sum(row["savings"] for row in rows) == dashboard["savings"], layout
        total = {column[0]: value for column, value in response.context["total_cells"]}
        assert total["outstanding"] == dashboard["outstanding"]
        assert total["households"] == dashboard["households"]
    # The BC0438 Women's Union rows add up to the seed figure.
    rows = [line["row"] for line in client.get(report_url("bc0438")).context["rows"]]
    assert sum(row["outstanding"] for row in rows if row["kind"] == "12") == SEED["12"][0]
    assert sum(row["households"] for row in rows if row["kind"] == "12") == SEED["12"][1]


def test_cached_and_ledger_figures_are_identical(demo_user, frozen_today, monkeypatch):
    front = demo_user("front")
    for by in [(), ("kind",), ("ward",), ("program",), ("ward", "kind"), ("group",)]:
        cached = portfolio_report(user=front, on=TODAY, by=by)
        monkeypatch.setattr(selectors, "uses_cached_balances", lambda on: False)
        derived = portfolio_report(user=front, on=TODAY, by=by)
        monkeypatch.undo()
        key = lambda row: row["key"]  # noqa: E731
        assert sorted(cached, key=key) == sorted(derived, key=key), by
    figures = portfolio_by_organization(on=TODAY)
    for row in portfolio_report(user=front, on=TODAY, by=("kind",)):
        assert (row["outstanding"], row["overdue"], row["households"]) == tuple(
            figures[row["kind"]][name] for name in ("outstanding", "overdue", "households")
        )


def test_a_past_date_matches_summary_for_that_date(demo_user, client, frozen_today, capsys):
    on = TODAY - timedelta(days=75)
    call_command("summary", "--json", "--date", on.strftime("%d/%m/%Y"))
    summary = json.loads(capsys.readouterr().out)
    client.force_login(demo_user("front"))
    response = client.get(reverse("organizations:home"), {"on": on.strftime("%d/%m/%Y")})
    assert response.context["on"] == on
    by_kind = {row["kind"]: (row["outstanding"], row["households"]) for row in response.context["by_kind"]}
    assert by_kind == {kind: (row["outstanding"], row["households"]) for kind, row in summary.items()}
    assert sum(row["outstanding"] for row in summary.values()) < sum(a for a, _h in SEED.values())
    rows = [line["row"] for line in client.get(report_url("bctd_01_1", on=on.strftime("%d/%m/%Y"))).context["rows"]]
    assert sum(row["outstanding"] for row in rows) == sum(row["outstanding"] for row in summary.values())


def test_trend_ends_today_and_agrees_with_the_ledger_at_each_month_end(demo_user, frozen_today):
    front = demo_user("front")
    trend = selectors.portfolio_trend(user=front, today=TODAY)
    assert len(trend["days"]) == 13 and trend["days"][-1] == TODAY and trend["days"][0] == date(2025, 11, 30)
    women = next(series for series in trend["series"] if series["kind"] == "12")
    assert women["outstanding"][-1] == SEED["12"][0]
    month_end = trend["days"][6]
    assert women["outstanding"][6] == portfolio_by_organization(on=month_end)["12"]["outstanding"]


def test_ward_officer_dashboard_shows_only_their_branch(demo_user, client, frozen_today):
    officer = demo_user("ward")
    client.force_login(officer)
    response = client.get(reverse("organizations:home"))
    branch = officer.officer.organization
    expected = portfolio_by_organization(on=TODAY, loans=Loan.objects.filter(group__branch=branch))["12"]
    totals = response.context["totals"]
    assert (totals["outstanding"], totals["households"]) == (expected["outstanding"], expected["households"])
    assert totals["outstanding"] < SEED["12"][0]
    assert [row["kind"] for row in response.context["by_kind"]] == ["12"]
    assert [row["ward"] for row in response.context["by_ward"]] == [branch.ward_id]
    assert "Hội Nông dân" not in response.content.decode()


def test_drill_down_from_ward_to_group_to_households(demo_user, client, frozen_today):
    client.force_login(demo_user("front"))
    dashboard = client.get(reverse("organizations:home"))
    ward_row = dashboard.context["by_ward"][0]
    ward_page = client.get(reverse("loans:report_ward", args=[ward_row["ward"]]))
    assert ward_page.status_code == 200
    groups = ward_page.context["groups"]
    assert sum(row["outstanding"] for row in groups) == ward_row["outstanding"]
    assert sum(row["households"] for row in groups) == ward_row["households"]
    group_row = groups[0]
    group_page = client.get(reverse("loans:report_group", args=[group_row["group"]]))
    assert group_page.status_code == 200
    assert group_page.context["total"]["outstanding"] == group_row["outstanding"]
    assert group_page.context["total"]["households"] == group_row["households"]
    assert group_page.context["total"]["savings"] == group_row["savings"]
    assert group_row["group_obj"].leader.head_name in group_page.content.decode()


def test_query_counts_stay_bounded_on_the_demo_district(demo_user, client, frozen_today, django_assert_max_num_queries):
    client.force_login(demo_user("front"))
    with django_assert_max_num_queries(40):
        client.get(reverse("organizations:home"))
    with django_assert_max_num_queries(40):
        client.get(reverse("organizations:home"), {"on": "31/10/2026"})
    for layout in REPORTS:
        with django_assert_max_num_queries(25):
            client.get(report_url(layout))
        with django_assert_max_num_queries(25):
            client.get(report_url(layout, on="31/10/2026", format="xlsx"))
    ward = client.get(reverse("organizations:home")).context["by_ward"][0]["ward"]
    with django_assert_max_num_queries(25):
        client.get(reverse("loans:report_ward", args=[ward]))


def test_xlsx_has_the_bank_title_block_vietnamese_headings_and_total(demo_user, client, frozen_today):
    client.force_login(demo_user("front"))
    expected_headings = {
        "bctd_01_1": ["STT", "Mã phường", "Phường", "Số tổ", "Số hộ còn dư nợ", "Dư nợ", "Nợ quá hạn"],
        "bctd_01_2": ["STT", "Mã chương trình", "Chương trình cho vay", "Số món vay", "Số hộ còn dư nợ", "Dư nợ"],
        "bc0438": ["STT", "Mã phường", "Phường", "Mã ĐVUT", "Tổ chức hội", "Số tổ", "Số hộ còn dư nợ", "Dư nợ"],
        "len_31": ["STT", "Phường", "Mã tổ", "Tên tổ", "Tổ trưởng", "Số món vay", "Số hộ còn dư nợ", "Dư nợ"],
    }
    dashboard = client.get(reverse("organizations:home")).context["totals"]
    for layout, headings in expected_headings.items():
        response = client.get(report_url(layout, format="xlsx"))
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        sheet = workbook(response)
        values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
        header_index = next(i for i, row in enumerate(values) if row[0] == "STT")
        assert any(REPORTS[layout]["code"] in str(row[0]) for row in values[:header_index])
        assert any(str(row[0]).startswith("Đến ngày 20/11/2026") for row in values[:header_index])
        header = list(values[header_index])
        assert header[: len(headings)] == headings, layout
        total = values[-1]
        assert total[0] == "Tổng cộng"
        assert total[header.index("Dư nợ")] == dashboard["outstanding"]
        assert sum(row[header.index("Dư nợ")] for row in values[header_index + 1 : -1]) == dashboard["outstanding"]


# --- Small scenarios with factories -----------------------------------------------------------------------------


@pytest.fixture
def two_wards(household_a, household_b):
    a = LoanFactory(household=household_a, amount=40_000_000, disbursed_on=date(2026, 3, 1))
    b = LoanFactory(household=household_b, amount=25_000_000, disbursed_on=date(2026, 11, 3))
    return a, b


@pytest.mark.django_db
def test_ward_officer_sees_their_branch_and_gets_404_for_another_ward(
    client_for, ward_officer_a, two_wards, ward_b, group_b, frozen_today
):
    client = client_for(ward_officer_a)
    totals = client.get(reverse("organizations:home")).context["totals"]
    assert totals["outstanding"] == 40_000_000 and totals["households"] == 1
    rows = [line["row"] for line in client.get(report_url("bctd_01_1")).context["rows"]]
    assert [row["outstanding"] for row in rows] == [40_000_000]
    assert client.get(reverse("loans:report_ward", args=[ward_b.pk])).status_code == 404
    assert client.get(reverse("loans:report_group", args=[group_b.pk])).status_code == 404


@pytest.mark.django_db
def test_district_staff_see_both_wards_of_their_organization(client_for, district_staff, two_wards, frozen_today):
    totals = client_for(district_staff).get(reverse("organizations:home")).context["totals"]
    assert totals["outstanding"] == 65_000_000 and totals["households"] == 2
    assert totals["lent_month"] == 25_000_000 and totals["lent_year"] == 65_000_000


@pytest.mark.django_db
def test_user_without_a_role_gets_403_and_an_empty_dashboard(client_for, two_wards, frozen_today):
    client = client_for(UserFactory(username="nobody"))
    for layout in REPORTS:
        assert client.get(report_url(layout)).status_code == 403
    assert client.get(reverse("loans:report_ward", args=[1])).status_code == 403
    response = client.get(reverse("organizations:home"))
    assert response.status_code == 200 and response.context["totals"]["outstanding"] == 0


@pytest.mark.django_db
def test_wrong_method_and_unknown_layout(client_for, front_supervisor, group_a, ward_a, frozen_today):
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
def test_a_date_in_the_future_or_malformed_is_refused_with_a_message(client_for, front_supervisor, two_wards, frozen_today):
    client = client_for(front_supervisor)
    response = client.get(report_url("bctd_01_1", on="01/01/2027"))
    assert response.status_code == 200
    assert "chỉ lập được đến ngày hôm nay" in response.content.decode()
    assert response.context["on"] == TODAY
    response = client.get(reverse("organizations:home"), {"on": "2026-13-45"})
    assert response.status_code == 200 and response.context["on"] == TODAY
    assert "dd/mm/yyyy" in response.content.decode() or "ngày hợp lệ" in response.content.decode()


@pytest.mark.django_db
def test_organization_filter_narrows_the_front_view(client_for, front_supervisor, two_wards, farmers_branch_a, frozen_today):
    farmer = HouseholdFactory(branch=farmers_branch_a)
    from tests.factories import SavingsGroupFactory

    group = SavingsGroupFactory(branch=farmers_branch_a)
    from organizations.models import GroupMembership

    GroupMembership.objects.create(group=group, household=farmer, joined_on=date(2025, 1, 1))
    LoanFactory(household=farmer, group=group, amount=10_000_000)
    client = client_for(front_supervisor)
    assert client.get(reverse("organizations:home")).context["totals"]["outstanding"] == 75_000_000
    narrowed = client.get(reverse("organizations:home"), {"organization": "11"}).context["totals"]
    assert narrowed["outstanding"] == 10_000_000


@pytest.mark.django_db
def test_overdue_frozen_arrears_reversals_and_savings_agree_between_cache_and_ledger(
    household_a, household_b, front_supervisor, frozen_today, monkeypatch
):
    loan = LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2026, 2, 10), frequency=3)
    frozen = LoanFactory(household=household_b, amount=12_000_000, disbursed_on=date(2026, 1, 5))
    first = loan.instalments.order_by("seq").first()
    first.overdue_since = first.due_on + timedelta(days=1)
    first.save()
    Posting.objects.create(kind="principal", household=household_a, loan=loan, amount=1_000_000, on=date(2026, 11, 5))
    wrong = Posting.objects.create(kind="interest", household=household_a, loan=loan, amount=300_000, on=date(2026, 11, 6))
    Posting.objects.create(kind="reversal", reverses=wrong, household=household_a, loan=loan, amount=300_000,
                           on=date(2026, 11, 7))
    Posting.objects.create(kind="interest", household=household_a, loan=loan, amount=130_000, on=date(2026, 11, 7))
    Posting.objects.create(kind="savings_in", household=household_a, amount=200_000, on=date(2026, 10, 20))
    Loan.objects.filter(pk=frozen.pk).update(status=Loan.Status.FROZEN)
    Loan.objects.filter(pk=loan.pk).update(interest_arrears=45_000)
    from loans.ledger import refresh_household_savings

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
    monkeypatch.setattr(selectors, "uses_cached_balances", lambda on: False)
    assert portfolio_totals(user=front_supervisor, on=TODAY) == totals


@pytest.mark.django_db
def test_postings_dated_after_today_make_the_figures_come_from_the_ledger(household_a, front_supervisor, frozen_today):
    loan = LoanFactory(household=household_a, amount=20_000_000, disbursed_on=date(2026, 5, 1))
    assert selectors.uses_cached_balances(TODAY)
    Posting.objects.create(kind="principal", household=household_a, loan=loan, amount=5_000_000, on=date(2026, 12, 1))
    assert not selectors.uses_cached_balances(TODAY)
    assert portfolio_totals(user=front_supervisor, on=TODAY)["outstanding"] == 20_000_000


@pytest.mark.django_db
def test_refresh_keeps_group_summaries_and_month_ends(household_a, group_a, frozen_today):
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
    assert not GroupProgramBalance.objects.filter(group=group_a).exists()


@pytest.mark.django_db
def test_grade_counts_are_zero_until_grades_exist(front_supervisor, two_wards, frozen_today):
    assert group_grade_counts(user=front_supervisor, on=TODAY, by=("ward", "kind")) == {}
    totals = portfolio_totals(user=front_supervisor, on=TODAY)
    assert (totals["good"], totals["fair"], totals["average"], totals["weak"]) == (0, 0, 0, 0)
    assert totals["groups"] == 2


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_data(client_for, front_supervisor, django_assert_max_num_queries,
                                                 frozen_today, branch_a):
    from tests.factories import SavingsGroupFactory

    client = client_for(front_supervisor)
    for round_ in range(2):
        for _ in range(6):
            group = SavingsGroupFactory(branch=branch_a)
            for _ in range(3):
                LoanFactory(household=HouseholdFactory(group=group), amount=10_000_000)
        with django_assert_max_num_queries(40):
            assert client.get(reverse("organizations:home")).status_code == 200
        for layout in REPORTS:
            with django_assert_max_num_queries(25):
                client.get(report_url(layout))
    group_page = reverse("loans:report_group", args=[group.pk])
    with django_assert_max_num_queries(15):
        assert client.get(group_page).status_code == 200
