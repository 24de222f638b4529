"""The capital pages: the prefilled proposal is written the Vietnamese way, and an allocation's 'approved for
requests' figure is explained by the requests and loans listed under it."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from loans.models import CapitalAllocation, CapitalPlan
from tests.factories import LoanFactory, approved_allocation, submitted_loan_list

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False):
        yield


def test_prefill_shows_the_amount_with_thousands_dots(client_for, ward_officer_a, branch_a, group_a):
    approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)
    submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 8_612_451))
    plan = CapitalPlan.objects.get()
    response = client_for(ward_officer_a).post(
        reverse("loans:allocation_propose"), {"plan": plan.pk, "branch": branch_a.pk, "amount": "", "prefill": "1"}
    )
    assert response.context["form"]["amount"].value() == "38.612.451"
    assert 'value="38.612.451"' in response.content.decode()


def test_allocation_page_lists_what_its_approved_figure_holds(client_for, district_staff, branch_a, household_a):
    """The seed (and a year's opening) charges loans that came without a request: they are listed, and the figures
    add up instead of 'no request is charged' beside a non-zero approved amount."""
    allocation = approved_allocation(branch=branch_a, amount=300_000_000)
    loan = LoanFactory(household=household_a, amount=Decimal("109530426"), disbursed_on=date(2026, 2, 3))
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=loan.amount,
                                                             amount_disbursed=loan.amount)
    response = client_for(district_staff).get(reverse("loans:allocation_detail", args=[allocation.pk]))
    content = response.content.decode()
    usage = response.context["usage"]
    assert usage["loans"] == [loan] and usage["unexplained"] == 0
    assert loan.number in content and "109.530.426" in content
    assert 'data-testid="unexplained"' not in content


def test_allocation_page_says_when_the_figure_is_not_explained(client_for, district_staff, branch_a):
    allocation = approved_allocation(branch=branch_a, amount=300_000_000)
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=5_000_000)
    response = client_for(district_staff).get(reverse("loans:allocation_detail", args=[allocation.pk]))
    assert response.context["usage"]["unexplained"] == 5_000_000
    assert 'data-testid="unexplained"' in response.content.decode()


def test_loans_of_other_years_or_programs_are_not_listed(client_for, district_staff, branch_a, household_a):
    allocation = approved_allocation(branch=branch_a, amount=300_000_000)
    LoanFactory(household=household_a, disbursed_on=date(2025, 5, 1))
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=1_000_000)
    response = client_for(district_staff).get(reverse("loans:allocation_detail", args=[allocation.pk]))
    assert response.context["usage"]["loans"] == []
