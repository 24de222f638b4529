"""Monthly commission and entrustment-fee statements on a small hand-computed case."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from loans.ledger.balances import refresh_loan_balances
from loans.models import FeeReduction, FeeSchedule, Posting
from loans.selectors.fees import commission_statement, fee_statement, schedule_for
from organizations.models import Organization, SavingsGroup
from tests.factories import HouseholdFactory, LoanFactory, SavingsGroupFactory

K = Posting.Kind


@pytest.fixture
def rates(db):
    FeeSchedule.objects.all().delete()  # the seeded example rates
    schedule = FeeSchedule.objects.create(
        name="Biểu phí thử", valid_from=date(2026, 1, 1), commission_rate=Decimal("10"),
        branch_outstanding_rate=Decimal("0.03"), branch_interest_rate=Decimal("5"),
        district_outstanding_rate=Decimal("0.01"), district_interest_rate=Decimal("1"),
    )
    FeeReduction.objects.create(schedule=schedule, overdue_ratio_above=1, reduction_percent=20)
    FeeReduction.objects.create(schedule=schedule, overdue_ratio_above=2, reduction_percent=50)
    return schedule


@pytest.fixture
def october(group_a, household_a, branch_b):
    """Group A: loans of 50 and 20 million; 10 million repaid on the first; one instalment of the second overdue.

    October interest: 250,000 + 30,000 overdue interest + 100,000 that was reversed = 280,000.
    Outstanding 60,000,000; overdue 1,666,666 (2.78 %), so the 50 % reduction applies.
    """
    group_a.leader = household_a
    group_a.save()
    first = LoanFactory(household=household_a)
    second = LoanFactory(household=HouseholdFactory(group=group_a), amount=Decimal(20_000_000))
    instalment = second.instalments.get(seq=1)
    instalment.overdue_since = date(2026, 4, 16)
    instalment.save()

    def post(kind, loan, amount, on, **kwargs):
        return Posting.objects.create(kind=kind, household=loan.household, loan=loan, amount=amount, on=on, **kwargs)

    post(K.PRINCIPAL, first, 10_000_000, date(2026, 4, 15))
    post(K.INTEREST, first, 999, date(2026, 9, 20))  # September: not counted
    post(K.INTEREST, first, 250_000, date(2026, 10, 20))
    post(K.OVERDUE_INTEREST, second, 30_000, date(2026, 10, 20))
    wrong = post(K.INTEREST, second, 100_000, date(2026, 10, 20))
    post(K.REVERSAL, second, 100_000, date(2026, 10, 21), reverses=wrong, note="Ghi nhầm")
    post(K.INTEREST, first, 777, date(2026, 11, 1))  # November: not counted
    refresh_loan_balances([first.pk, second.pk])
    return first, second


def test_statements_on_a_hand_computed_case(rates, october, group_a, branch_a):
    schedule = schedule_for(date(2026, 10, 1))
    assert schedule == rates

    (line,) = commission_statement(month=date(2026, 10, 1), groups=SavingsGroup.objects.all(), schedule=schedule)
    assert (line.code, line.interest, line.outstanding, line.overdue) == ("8100001", 280_000, 60_000_000, 1_666_666)
    assert line.ratio == Decimal("2.78")
    assert (line.gross, line.reduction_percent, line.reduction, line.net) == (28_000, 50, 14_000, 14_000)

    units, districts = fee_statement(month=date(2026, 10, 1), branches=Organization.objects.filter(level="ward"),
                                     schedule=schedule, with_districts=True)
    (unit,) = units  # branch B has nothing and is left out
    assert unit.name == branch_a.name
    assert (unit.fee_on_outstanding, unit.fee_on_interest, unit.gross) == (18_000, 14_000, 32_000)
    assert (unit.reduction, unit.net) == (16_000, 16_000)
    (district,) = districts
    assert (district.outstanding, district.interest) == (60_000_000, 280_000)
    assert (district.fee_on_outstanding, district.fee_on_interest, district.reduction, district.net) == (
        6_000, 2_800, 4_400, 4_400)


def test_balances_are_as_of_the_month_end(rates, october):
    # In March nothing was repaid or overdue yet and no interest collected: 70 million, no reduction.
    (line,) = commission_statement(month=date(2026, 3, 1), groups=SavingsGroup.objects.all(), schedule=rates)
    assert (line.outstanding, line.overdue, line.interest, line.net) == (70_000_000, 0, 0, 0)


def test_no_rates_for_the_month(rates, october, client_for, ward_officer_a):
    assert schedule_for(date(2025, 12, 1)) is None
    response = client_for(ward_officer_a).get(reverse("loans:fee_statements"), {"month": "12/2025"})
    assert response.status_code == 200 and "Chưa có biểu phí" in response.content.decode()


def test_statement_page_and_xlsx(rates, october, client_for, ward_officer_a, ward_officer_b, district_staff,
                                 django_assert_max_num_queries):
    url = reverse("loans:fee_statements")
    client = client_for(ward_officer_a)
    page = client.get(url, {"month": "10/2026"}).content.decode()
    assert "280.000" in page and "14.000" in page and "16.000" in page
    assert "4.400" not in page, "a ward officer does not see the district line"
    assert "4.400" in client_for(district_staff).get(url, {"month": "10/2026"}).content.decode()
    # Ward B's officer sees nothing of ward A.
    assert "280.000" not in client_for(ward_officer_b).get(url, {"month": "10/2026"}).content.decode()

    response = client_for(ward_officer_a).get(url, {"month": "10/2026", "download": "groups"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    data = next(row for row in rows if row[0] == "8100001")
    assert data[6:11] == [280_000, 28_000, 50, 14_000, 14_000]
    assert rows[-1][0] in ("Tổng cộng", "Total") and rows[-1][10] == 14_000

    response = client_for(district_staff).get(url, {"month": "10/2026", "download": "units"})
    rows = [[cell.value for cell in row] for row in load_workbook(io.BytesIO(response.content)).active.iter_rows()]
    assert [row[11] for row in rows if row[3] == 60_000_000] == [16_000, 4_400]

    for _n in range(3):  # more groups and loans do not mean more queries
        LoanFactory(household=HouseholdFactory(group=SavingsGroupFactory(branch=october[0].household.branch)))
    client = client_for(ward_officer_a)
    # 18, and one read of the Area for the top level's label in the rates line when AREA_LABEL is not set.
    with django_assert_max_num_queries(21):  # +2 for the menu's inbox count
        assert client.get(url, {"month": "10/2026"}).status_code == 200


def test_statement_page_rules(rates, client_for, ward_officer_a):
    from django.contrib.auth import get_user_model

    url = reverse("loans:fee_statements")
    client = client_for(ward_officer_a)
    assert client.post(url).status_code == 405
    response = client.get(url, {"month": "13/2026"})
    assert response.status_code == 200 and "mm/yyyy" in response.content.decode()
    nobody = get_user_model().objects.create_user("nobody", password="x")
    assert client_for(nobody).get(url).status_code == 403


def test_example_rates_are_seeded_and_labelled(db):
    example = FeeSchedule.objects.get(is_example=True)
    assert "VÍ DỤ" in example.name and example.reductions.count() == 3
