"""District pages: allocations, the approval queue, 04/TD, disbursement, loan detail and the overview.

Each page: the happy path, a wrong method (405), a user without the role (403), a user of another organization (404),
and a bounded number of queries on list pages.
"""

import io
from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from loans.models import (
    AllocationEvent,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    CapitalPlanChange,
    Loan,
    LoanApplication,
    LoanList,
)
from loans.services import approvals, capital, disbursement
from tests.factories import LoanFactory, approved_allocation, program, submitted_loan_list

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
    return submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))


def list_post(loan_list, **overrides):
    data = {}
    for application in loan_list.applications.all():
        data[f"decision_{application.pk}"] = "approve"
        data[f"amount_{application.pk}"] = f"{int(application.amount_requested):,}".replace(",", ".")
        data[f"reason_{application.pk}"] = ""
    data.update(overrides)
    return data


# --- Approval queue and list review ---------------------------------------------------------------------------------


def test_queue_lists_submitted_lists_by_ward(client_for, district_staff, loan_list, group_b, ward_officer_b,
                                             django_assert_max_num_queries):
    submitted_loan_list(group=group_b, submitted_by=ward_officer_b, amounts=(10_000_000,))
    client = client_for(district_staff)
    with django_assert_max_num_queries(13):  # 8, the working-day calendar (bank's deadline), 3 the menu's inbox count,
        # 1 the level's name in the status labels
        response = client.get(reverse("loans:approval_queue"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Phường A" in content and "Phường B" in content and "50.000.000 ₫" in content
    assert response.context["count"] == 2


def test_queue_permissions(client_for, ward_officer_a, farmers_district_staff, loan_list, district_staff):
    assert client_for(ward_officer_a).get(reverse("loans:approval_queue")).status_code == 403
    assert client_for(district_staff).post(reverse("loans:approval_queue")).status_code == 405
    response = client_for(farmers_district_staff).get(reverse("loans:approval_queue"))
    assert response.context["count"] == 0


def test_district_staff_approve_a_list_from_the_review_page(client_for, district_staff, loan_list, allocation,
                                                            django_assert_max_num_queries):
    client = client_for(district_staff)
    url = reverse("loans:loan_list_review", args=[loan_list.pk])
    with django_assert_max_num_queries(15):
        page = client.get(url)
    assert page.status_code == 200 and "100.000.000 ₫" in page.content.decode()
    first, second = loan_list.applications.order_by("pk")
    response = client.post(url, list_post(loan_list, **{
        f"amount_{first.pk}": "25.000.000", f"decision_{second.pk}": "reject", f"reason_{second.pk}": "Trùng hồ sơ",
    }))
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    loan_list.refresh_from_db()
    assert (first.status, first.amount_approved, second.status) == (Status.APPROVED, 25_000_000, Status.REJECTED)
    assert loan_list.status == LoanList.Status.DECIDED
    history = client.get(url).content.decode()
    assert "Trùng hồ sơ" in history and district_staff.get_full_name() in history


def test_list_review_shows_refusals_as_form_errors(client_for, district_staff, loan_list, allocation):
    client = client_for(district_staff)
    url = reverse("loans:loan_list_review", args=[loan_list.pk])
    first, second = loan_list.applications.order_by("pk")
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=60_000_000)
    response = client.post(url, list_post(loan_list, **{f"decision_{second.pk}": "reject"}))
    assert response.status_code == 200
    assert "Ghi lý do từ chối đề nghị này." in response.content.decode()
    response = client.post(url, list_post(loan_list))
    assert response.status_code == 200
    assert "10.000.000 ₫" in response.content.decode()  # what is left of the allocation after the first
    assert not LoanApplication.objects.filter(status=Status.APPROVED).exists()
    response = client.post(url, list_post(loan_list, **{f"amount_{first.pk}": "-3"}))
    assert response.status_code == 200 and not LoanApplication.objects.filter(status=Status.APPROVED).exists()


def test_list_review_permissions(client_for, ward_officer_a, farmers_district_staff, loan_list, district_staff):
    url = reverse("loans:loan_list_review", args=[loan_list.pk])
    assert client_for(ward_officer_a).get(url).status_code == 403
    assert client_for(ward_officer_a).post(url, list_post(loan_list)).status_code == 403
    assert client_for(farmers_district_staff).get(url).status_code == 404
    assert client_for(district_staff).put(url).status_code == 405
    assert not LoanApplication.objects.filter(status=Status.APPROVED).exists()


def test_submitter_cannot_approve_their_own_list(client_for, district_staff, group_a, allocation):
    own = submitted_loan_list(group=group_a, submitted_by=district_staff, amounts=(10_000_000,))
    client = client_for(district_staff)
    response = client.post(reverse("loans:loan_list_review", args=[own.pk]), list_post(own))
    assert response.status_code == 200
    assert "Bạn là người gửi danh sách 03/TD này, nên phải do người khác phê duyệt." in response.content.decode()
    assert own.applications.get().status == Status.SUBMITTED


def test_list_review_can_decide_one_request_and_leave_the_other(client_for, district_staff, loan_list):
    client = client_for(district_staff)
    url = reverse("loans:loan_list_review", args=[loan_list.pk])
    first, second = loan_list.applications.order_by("pk")
    everything_later = list_post(loan_list, **{f"decision_{first.pk}": "later", f"decision_{second.pk}": "later"})
    response = client.post(url, everything_later)
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert client.post(url, list_post(loan_list, **{f"decision_{second.pk}": "later"})).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    loan_list.refresh_from_db()
    assert (first.status, second.status) == (Status.APPROVED, Status.SUBMITTED)
    assert loan_list.status == LoanList.Status.SUBMITTED
    assert list(client.get(url).context["form"].applications) == [second]


def test_single_request_approve_and_reject(client_for, district_staff, loan_list, ward_officer_a,
                                           farmers_district_staff):
    first, second = loan_list.applications.order_by("pk")
    approve = reverse("loans:application_approve", args=[first.pk])
    reject = reverse("loans:application_reject", args=[second.pk])
    assert client_for(ward_officer_a).post(approve, {"amount": "30.000.000"}).status_code == 403
    assert client_for(farmers_district_staff).post(approve, {"amount": "30.000.000"}).status_code == 404
    client = client_for(district_staff)
    assert client.get(approve).status_code == 405
    assert client.post(approve, {"amount": "30.000.001"}).status_code == 302
    first.refresh_from_db()
    assert first.status == Status.SUBMITTED
    assert client.post(approve, {"amount": "30.000.000"}).status_code == 302
    assert client.post(reject, {"reason": ""}).status_code == 302
    second.refresh_from_db()
    assert second.status == Status.SUBMITTED
    assert client.post(reject, {"reason": "Không cư trú tại phường"}).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.APPROVED, Status.REJECTED)


# --- 04/TD notice ---------------------------------------------------------------------------------------------------


def test_notice_prints_and_downloads(client_for, district_staff, loan_list, ward_officer_a, ward_officer_b,
                                     farmers_district_staff):
    first, second = loan_list.applications.order_by("pk")
    approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000},
                               rejections={second.pk: "=HYPERLINK(\"x\")"}, actor=district_staff)
    url = reverse("loans:approval_notice", args=[loan_list.pk])
    page = client_for(district_staff).get(url)
    content = page.content.decode()
    assert "04/TD" in content and first.household.head_name in content and "30.000.000" in content
    assert page.context["approved_total"] == 30_000_000
    download = client_for(district_staff).get(url + "?format=xlsx")
    sheet = load_workbook(io.BytesIO(download.content)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert any(first.household.head_name in r for r in rows)
    assert rows[-1][5] == 30_000_000
    assert any("'=HYPERLINK" in str(cell) for r in rows for cell in r)  # never a formula
    assert client_for(ward_officer_a).get(url).status_code == 200  # the ward reads its notice
    assert client_for(ward_officer_b).get(url).status_code == 404
    assert client_for(farmers_district_staff).get(url).status_code == 404
    assert client_for(district_staff).post(url).status_code == 405


# --- Disbursement ---------------------------------------------------------------------------------------------------


@pytest.fixture
def approved(loan_list, district_staff):
    first, second = loan_list.applications.order_by("pk")
    approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000, second.pk: 20_000_000},
                               actor=district_staff)
    return first, second


def disbursement_post(rows, on="15/06/2026"):
    data = {"on": on}
    for application, number, amount in rows:
        data.update({f"pick_{application.pk}": "on", f"loan_number_{application.pk}": number,
                     f"amount_{application.pk}": amount, f"term_{application.pk}": "36",
                     f"frequency_{application.pk}": "3"})
    return data


def test_disbursement_day_records_several_loans(client_for, district_staff, approved,
                                                django_assert_max_num_queries):
    first, second = approved
    client = client_for(district_staff)
    url = reverse("loans:disbursement_day")
    with django_assert_max_num_queries(14):  # +3 for the menu's inbox count, +1 for the level's name in labels
        page = client.get(url)
    assert first.household.head_name in page.content.decode()
    response = client.post(url, disbursement_post([(first, "7900000000000101", "30.000.000"),
                                                   (second, "7900000000000102", "20.000.000")]))
    assert response.status_code == 302
    loans = Loan.objects.order_by("number")
    assert [(loan.number, loan.amount, loan.disbursed_on) for loan in loans] == [
        ("7900000000000101", 30_000_000, date(2026, 6, 15)), ("7900000000000102", 20_000_000, date(2026, 6, 15)),
    ]


def test_disbursement_day_shows_refusals_on_the_row(client_for, district_staff, approved, household_b):
    first, second = approved
    LoanFactory(household=household_b, number="7900000000000999")
    client = client_for(district_staff)
    url = reverse("loans:disbursement_day")
    response = client.post(url, disbursement_post([(first, "7900000000000101", "30.000.000"),
                                                   (second, "7900000000000999", "20.000.000")]))
    assert response.status_code == 200
    assert "7900000000000999" in str(response.context["form"].errors[f"loan_number_{second.pk}"])
    response = client.post(url, disbursement_post([(first, "7900000000000101", "31.000.000")]))
    assert response.context["form"].errors[f"amount_{first.pk}"]
    response = client.post(url, disbursement_post([(first, "12", "30.000.000")], on="31/02/2026"))
    assert response.status_code == 200 and response.context["form"].errors["on"]
    assert Loan.objects.count() == 1  # only household_b's


def test_disbursement_permissions(client_for, ward_officer_a, district_staff, farmers_district_staff, approved):
    first, _second = approved
    url = reverse("loans:disbursement_day")
    data = disbursement_post([(first, "7900000000000101", "30.000.000")])
    assert client_for(ward_officer_a).post(url, data).status_code == 403
    # Another organization's staff do not see the request, so nothing can be disbursed from their page.
    response = client_for(farmers_district_staff).post(url, data)
    assert response.status_code == 200 and not Loan.objects.exists()
    assert client_for(district_staff).delete(url).status_code == 405


def test_loan_detail_shows_schedule_and_history(client_for, district_staff, approved, ward_officer_a,
                                                ward_officer_b, farmers_district_staff,
                                                django_assert_max_num_queries):
    first, _second = approved
    loan = disbursement.loan_disburse(application=first, loan_number="7900000000000101", on=date(2026, 6, 15),
                                  amount=30_000_000, term_months=36, frequency=3, actor=district_staff)
    url = reverse("loans:loan_detail", args=[loan.pk])
    client = client_for(ward_officer_a)
    # The page also shows changes, reversal requests, 06/TD checks and status history.
    with django_assert_max_num_queries(23):  # +3 for the menu's inbox count, +1 for the level's name in labels
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["schedule_total"] == 30_000_000 and len(response.context["instalments"]) == 12
    content = response.content.decode()
    assert "7900000000000101" in content and "2.500.000" in content
    assert district_staff.get_full_name() in content
    assert client_for(ward_officer_b).get(url).status_code == 404
    assert client_for(farmers_district_staff).get(url).status_code == 404
    assert client_for(ward_officer_a).post(url).status_code == 405


# --- Allocations ----------------------------------------------------------------------------------------------------


def test_allocation_pages_propose_decide_adjust(client_for, ward_officer_a, ward_officer_b, district_staff, branch_a,
                                                branch_b, women_district, django_assert_max_num_queries, admin_user):
    staff = client_for(district_staff)
    response = staff.post(reverse("loans:plan_set"), {"organization": women_district.pk, "program": program("03").pk,
                                                       "year": 2026, "amount": "500.000.000"})
    assert response.status_code == 302
    change = CapitalPlanChange.objects.get(program__code="03")
    checker = Client()  # a second person, in a session of their own
    checker.force_login(admin_user)
    assert checker.post(reverse("loans:plan_change_decide", args=[change.pk]),
                                       {"decision": "approve"}).status_code == 302
    plan = CapitalPlan.objects.get(program__code="03")
    ward = client_for(ward_officer_a)
    response = ward.post(reverse("loans:allocation_propose"), {"plan": plan.pk, "branch": branch_a.pk,
                                                               "amount": "200.000.000", "submit": "1"})
    assert response.status_code == 302
    proposal = CapitalAllocation.objects.get(plan=plan, branch=branch_a)
    assert ward.post(reverse("loans:allocation_decide", args=[proposal.pk]), {"decision": "approve"}).status_code == 403
    staff = client_for(district_staff)
    response = staff.post(reverse("loans:allocation_decide", args=[proposal.pk]),
                          {"decision": "approve", "amount": "150.000.000", "reason": "Cân đối nguồn"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "approved" and proposal.amount == 150_000_000
    other = capital.allocation_propose(plan=plan, branch=branch_b, amount=100_000_000, actor=ward_officer_b)
    capital.allocation_decide(allocation=other, approve=True, actor=district_staff)
    response = staff.post(reverse("loans:allocation_adjust"), {"source": proposal.pk, "target": other.pk,
                                                               "amount": "50.000.000", "reason": "Điều chuyển vốn"})
    assert response.status_code == 302
    adjustment = CapitalAdjustment.objects.get(source=proposal, target=other)
    assert checker.post(reverse("loans:adjustment_decide", args=[adjustment.pk]),
                                       {"decision": "approve"}).status_code == 302
    detail = staff.get(reverse("loans:allocation_detail", args=[proposal.pk])).content.decode()
    assert "Điều chuyển vốn" in detail and "Cân đối nguồn" in detail
    assert AllocationEvent.objects.filter(kind="adjusted_in", allocation=other, amount=50_000_000).exists()
    with django_assert_max_num_queries(15):  # 10, the capital waiting for a decision, 3 the menu's inbox count
        listing = staff.get(reverse("loans:allocation_list") + "?year=2026")
    assert [a.amount for a in listing.context["allocations"]] == [100_000_000, 150_000_000]
    assert listing.context["plans"][0].unallocated == 250_000_000


def test_proposal_prefill_and_refusals(client_for, ward_officer_a, district_staff, branch_a, loan_list):
    plan = CapitalPlan.objects.get()
    client = client_for(ward_officer_a)
    response = client.post(reverse("loans:allocation_propose"),
                           {"plan": plan.pk, "branch": branch_a.pk, "amount": "", "prefill": "1"})
    assert response.status_code == 200
    assert response.context["suggestion"]["listed"] == 50_000_000
    assert response.context["form"]["amount"].value() == "50.000.000"
    # Branch A's allocation for the plan is already decided.
    response = client.post(reverse("loans:allocation_propose"),
                           {"plan": plan.pk, "branch": branch_a.pk, "amount": "5.000.000", "submit": "1"})
    assert response.status_code == 200
    assert "hãy thay đổi bằng một điều chỉnh" in str(response.context["form"].errors)


def test_allocation_permissions(client_for, ward_officer_a, ward_officer_b, farmers_district_staff, allocation,
                                district_staff):
    detail = reverse("loans:allocation_detail", args=[allocation.pk])
    assert client_for(ward_officer_a).get(detail).status_code == 200
    assert client_for(ward_officer_b).get(detail).status_code == 404
    assert client_for(farmers_district_staff).get(detail).status_code == 404
    assert client_for(district_staff).post(detail).status_code == 405
    assert client_for(farmers_district_staff).post(
        reverse("loans:allocation_decide", args=[allocation.pk]), {"decision": "reject", "reason": "x"}
    ).status_code == 404
    assert client_for(district_staff).get(reverse("loans:allocation_decide", args=[allocation.pk])).status_code == 405
    assert client_for(ward_officer_a).get(reverse("loans:plan_set")).status_code == 403
    assert client_for(ward_officer_a).get(reverse("loans:allocation_adjust")).status_code == 403
    assert client_for(district_staff).delete(reverse("loans:allocation_list")).status_code == 405
    # The adjust form only offers allocations in scope: another organization's id is refused.
    response = client_for(farmers_district_staff).post(
        reverse("loans:allocation_adjust"), {"source": allocation.pk, "amount": "1.000.000", "reason": "x"}
    )
    assert response.status_code == 200 and "source" in response.context["form"].errors


# --- District overview ----------------------------------------------------------------------------------------------


def test_district_overview(client_for, district_staff, approved, front_supervisor, ward_officer_a,
                           farmers_district_staff, django_assert_max_num_queries, household_a):
    first, _second = approved
    disbursement.loan_disburse(application=first, loan_number="7900000000000101", on=date(2026, 6, 10),
                           amount=30_000_000, term_months=36, frequency=3, actor=district_staff)
    LoanFactory(household=household_a, amount=10_000_000, disbursed_on=date(2026, 2, 1))
    url = reverse("loans:district_overview")
    client = client_for(district_staff)
    # 12, and one read of the Area for the page's heading when AREA_LABEL is not set (tests/test_area_label.py
    # keeps it at 12 with the setting).
    with django_assert_max_num_queries(16):  # +3 for the menu's inbox count
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["this_month"] == {"count": 1, "amount": 30_000_000}
    assert response.context["this_year"] == {"count": 2, "amount": 40_000_000}
    waiting = {row["status"]: row["count"] for row in response.context["requests"]}
    assert waiting[Status.APPROVED] == 1 and waiting[Status.SUBMITTED] == 0
    use = response.context["allocations"][0]
    assert (use.amount, use.amount_committed, use.amount_disbursed) == (100_000_000, 50_000_000, 30_000_000)
    assert client_for(front_supervisor).get(url).status_code == 200
    assert client_for(ward_officer_a).get(url).status_code == 403
    assert client_for(district_staff).post(url).status_code == 405
    other = client_for(farmers_district_staff).get(url)
    assert other.context["this_year"]["count"] == 0 and other.context["allocations"] == []
