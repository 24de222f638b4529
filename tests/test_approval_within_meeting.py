"""District approval is capped by what the group meeting put on list 03/TD, not only by the amount requested."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from loans.models import CapitalAllocation, LoanApplication
from loans.services import approvals
from loans.services import requests as requests_services
from organizations.errors import DomainError
from tests.factories import approved_allocation, program

Status = LoanApplication.Status
M = 1_000_000

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False):
        yield


@pytest.fixture
def allocation(branch_a):
    return approved_allocation(branch=branch_a, amount=500 * M)


@pytest.fixture
def submitted(group_a, household_a, ward_officer_a):
    """The issue's example, through the ward's own steps: 30 M asked, 20 M approved by the meeting, submitted."""
    application = requests_services.application_create(
        household=household_a, program=program("01"), amount=30 * M, term_months=36, purpose="Nuôi bò",
        actor=ward_officer_a,
    )
    requests_services.application_review(
        group=group_a, held_on=date(2026, 6, 15), actor=ward_officer_a,
        results=[requests_services.ReviewResult(application=application, decision="approve", amount=Decimal(20 * M))],
        attendee_count=1, attendees="Các hộ trong tổ", branch_officer="Cán bộ hội phường",
    )
    application.refresh_from_db()
    requests_services.loan_list_certify(loan_list=application.loan_list, certified_on=date(2026, 6, 15),
                                        signer="Chủ tịch UBND phường", reference="12/XN", actor=ward_officer_a)
    requests_services.loan_list_submit(loan_list=application.loan_list, actor=ward_officer_a)
    application.refresh_from_db()
    assert application.status == Status.SUBMITTED and application.amount_group_approved == 20 * M
    return application


def test_approving_more_than_the_meeting_is_refused(submitted, allocation, district_staff):
    with pytest.raises(DomainError) as refused:
        approvals.application_approve(application=submitted, amount=30 * M, actor=district_staff)
    message = refused.value.message
    assert "20.000.000" in message and "30.000.000" in message and "03/TD" in message
    assert refused.value.field == "amount"
    submitted.refresh_from_db()
    allocation.refresh_from_db()
    assert submitted.status == Status.SUBMITTED and submitted.amount_approved is None
    assert allocation.amount_committed == 0


def test_anything_between_one_dong_and_the_meeting_amount_is_allowed(submitted, allocation, district_staff):
    with pytest.raises(DomainError):
        approvals.application_approve(application=submitted, amount=20 * M + 1, actor=district_staff)
    approvals.application_approve(application=submitted, amount=20 * M, actor=district_staff)
    submitted.refresh_from_db()
    assert submitted.status == Status.APPROVED and submitted.amount_approved == 20 * M
    assert CapitalAllocation.objects.get(pk=allocation.pk).amount_committed == 20 * M


def test_deciding_the_whole_list_is_capped_the_same_way(submitted, allocation, district_staff):
    with pytest.raises(DomainError) as refused:
        approvals.loan_list_approve(loan_list=submitted.loan_list, amounts={submitted.pk: 30 * M},
                                    actor=district_staff)
    assert refused.value.field == f"amount_{submitted.pk}"
    approvals.loan_list_approve(loan_list=submitted.loan_list, amounts={submitted.pk: 15 * M}, actor=district_staff)
    submitted.refresh_from_db()
    assert submitted.amount_approved == 15 * M


def test_the_review_page_shows_the_refusal_on_the_amount(submitted, allocation, district_staff, client_for):
    client = client_for(district_staff)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages follow the officer's language, not the test's
    url = reverse("loans:loan_list_review", args=[submitted.loan_list_id])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["form"][f"amount_{submitted.pk}"].initial == 20 * M  # proposed at the meeting's amount
    response = client.post(url, {f"decision_{submitted.pk}": "approve", f"amount_{submitted.pk}": "30.000.000"})
    assert response.status_code == 200
    errors = response.context["form"].errors[f"amount_{submitted.pk}"]
    assert any("group meeting approved 20.000.000" in error for error in errors)
    submitted.refresh_from_db()
    assert submitted.status == Status.SUBMITTED


def test_the_database_refuses_an_amount_above_the_meeting(submitted):
    with pytest.raises(IntegrityError), transaction.atomic():
        LoanApplication.objects.filter(pk=submitted.pk).update(amount_approved=25 * M)
