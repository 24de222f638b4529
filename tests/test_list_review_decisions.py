"""The district's approval page of a 03/TD list: no decision is preselected, and the capital table shows only this
list's programs with what would be left after it."""

import pytest
import time_machine
from django.urls import reverse

from loans.models import LoanApplication
from loans.services import approvals
from tests.factories import approved_allocation, submitted_loan_list

Status = LoanApplication.Status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False):
        yield


@pytest.fixture
def allocation(branch_a):
    return approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)


@pytest.fixture
def loan_list(group_a, ward_officer_a, allocation):
    return submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(40_000_000, 20_000_000))


def test_no_decision_is_preselected(client_for, district_staff, loan_list):
    form = client_for(district_staff).get(reverse("loans:loan_list_review", args=[loan_list.pk])).context["form"]
    for application in loan_list.applications.all():
        field = form[f"decision_{application.pk}"]
        assert not field.value()
        assert '<option value="approve" selected>' not in str(field)
        # The whole amount is in the input, formatted, in a full-width form control.
        amount = str(form[f"amount_{application.pk}"])
        assert "form-control" in amount


def test_a_request_without_a_decision_is_refused_with_a_clear_error(client_for, district_staff, loan_list):
    first, second = loan_list.applications.order_by("pk")
    url = reverse("loans:loan_list_review", args=[loan_list.pk])
    response = client_for(district_staff).post(url, {
        f"decision_{first.pk}": "approve", f"amount_{first.pk}": "40.000.000",
        f"amount_{second.pk}": "20.000.000",
    })
    assert response.status_code == 200
    assert response.context["form"].errors[f"decision_{second.pk}"] == [
        "Choose approve, reject or decide later for this request."
    ]
    assert "Choose approve, reject or decide later for this request." in response.content.decode()
    assert not LoanApplication.objects.filter(status=Status.APPROVED).exists()


def test_capital_table_lists_only_the_programs_of_this_list(client_for, district_staff, loan_list, branch_a,
                                                            group_a, ward_officer_a, allocation):
    approved_allocation(branch=branch_a, amount=50_000_000, program_code="03")
    # Another list of the same branch already holds 30.000.000 of the program 01 allocation.
    other = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000,))
    approvals.loan_list_approve(loan_list=other, amounts={other.applications.get().pk: 30_000_000},
                                actor=district_staff)
    response = client_for(district_staff).get(reverse("loans:loan_list_review", args=[loan_list.pk]))
    rows = response.context["capital"]
    assert [row["program"].code for row in rows] == ["01"]
    (row,) = rows
    assert (row["allocation"].amount, row["committed_other"], row["requested"], row["this_list"], row["left_after"]) == (
        100_000_000, 30_000_000, 60_000_000, 60_000_000, 10_000_000,
    )
    table = response.content.decode().split('data-testid="list-capital"')[1].split("</table>")[0]
    assert "10.000.000 ₫" in table and "50.000.000 ₫" not in table


def test_capital_table_counts_this_lists_approvals_once(client_for, district_staff, loan_list):
    first, second = loan_list.applications.order_by("pk")
    url = reverse("loans:loan_list_review", args=[loan_list.pk])
    client = client_for(district_staff)
    response = client.post(url, {
        f"decision_{first.pk}": "approve", f"amount_{first.pk}": "35.000.000", f"decision_{second.pk}": "later",
    })
    assert response.status_code == 302
    (row,) = client.get(url).context["capital"]
    # 35.000.000 approved from this list plus 20.000.000 still proposed; nothing held by other requests.
    assert (row["committed_other"], row["this_list"], row["left_after"]) == (0, 55_000_000, 45_000_000)


def test_capital_table_warns_when_the_list_exceeds_the_allocation(client_for, district_staff, group_a,
                                                                   ward_officer_a, allocation):
    big = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(90_000_000, 30_000_000))
    response = client_for(district_staff).get(reverse("loans:loan_list_review", args=[big.pk]))
    (row,) = response.context["capital"]
    assert row["left_after"] == -20_000_000
    assert "over the allocation" in response.content.decode()


def test_capital_table_says_when_a_program_has_no_allocation(client_for, district_staff, group_a, ward_officer_a,
                                                             allocation):
    jobs = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(10_000_000,), program_code="03")
    response = client_for(district_staff).get(reverse("loans:loan_list_review", args=[jobs.pk]))
    (row,) = response.context["capital"]
    assert row["allocation"] is None
    assert "No approved allocation for this program this year" in response.content.decode()


@pytest.fixture(autouse=True)
def pages_in_english(settings):
    """These tests read the rules' English words on the pages too (no language cookie: the site's language)."""
    settings.LANGUAGE_CODE = "en"
