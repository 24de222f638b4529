"""Capital allocations, district approval of 03/TD lists and disbursement: the services and their refusals."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from loans.ledger.balances import ledger_differences
from loans.models import (
    AllocationEvent,
    CapitalAllocation,
    CapitalPlan,
    Loan,
    LoanApplication,
    LoanList,
    Posting,
)
from loans.services import approvals, capital, disbursement
from loans.services import requests as requests_services
from organizations.errors import DomainError
from tests.factories import (
    BranchFactory,
    LoanFactory,
    approved_allocation,
    program,
    submitted_loan_list,
)

Status = LoanApplication.Status
TODAY = date(2026, 6, 15)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today", "english")]


@pytest.fixture
def frozen_today():
    # Refusals are matched on their English text here; the Vietnamese ones are checked in the view tests.
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False), translation.override("en"):
        yield


@pytest.fixture
def loan_list(group_a, ward_officer_a):
    return submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))


@pytest.fixture
def allocation(branch_a):
    return approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)


def first_two(loan_list):
    return list(loan_list.applications.order_by("pk"))


# --- Plans and allocations -----------------------------------------------------------------------------------------


def test_proposal_decided_by_someone_else_within_the_district_total(branch_a, branch_b, ward_officer_a, district_staff,
                                                                   admin_user):
    change = capital.capital_plan_propose(organization=branch_a.parent, program=program("01"), year=2026,
                                          amount=150_000_000, actor=district_staff)
    plan = capital.capital_plan_decide(change=change, approve=True, actor=admin_user).plan
    proposal = capital.allocation_propose(plan=plan, branch=branch_a, amount=120_000_000, actor=ward_officer_a,
                                           note="Danh sách 03/TD tháng 6")
    with pytest.raises(DomainError, match="does not allow you to decide on capital"):
        capital.allocation_decide(allocation=proposal, approve=True, actor=ward_officer_a)
    with pytest.raises(DomainError, match="reason"):
        capital.allocation_decide(allocation=proposal, approve=True, amount=100_000_000, actor=district_staff)

    capital.allocation_decide(allocation=proposal, approve=True, amount=100_000_000, reason="Vốn có hạn",
                               actor=district_staff)
    proposal.refresh_from_db()
    assert (proposal.status, proposal.amount, proposal.amount_proposed) == ("approved", 100_000_000, 120_000_000)
    assert proposal.decided_by == district_staff
    assert list(proposal.events.values_list("kind", "amount", "note")) == [
        ("proposed", 120_000_000, "Danh sách 03/TD tháng 6"), ("cut", 100_000_000, "Vốn có hạn"),
    ]

    other = capital.allocation_propose(plan=plan, branch=branch_b, amount=60_000_000, actor=district_staff)
    with pytest.raises(DomainError, match="someone else"):
        capital.allocation_decide(allocation=other, approve=True, actor=district_staff)
    with pytest.raises(DomainError, match="50.000.000 ₫"):
        capital.allocation_decide(allocation=other, approve=True, actor=admin_user)
    other.refresh_from_db()
    assert other.status == CapitalAllocation.Status.PROPOSED and other.amount == 0
    with pytest.raises(DomainError, match="reason"):
        capital.allocation_decide(allocation=other, approve=False, actor=admin_user)
    capital.allocation_decide(allocation=other, approve=False, reason="Chưa có danh sách", actor=admin_user)
    with pytest.raises(DomainError, match="already decided"):
        capital.allocation_decide(allocation=other, approve=True, actor=admin_user)
    with pytest.raises(DomainError, match="adjustment"):
        capital.allocation_propose(plan=plan, branch=branch_b, amount=10_000_000, actor=district_staff)
    with pytest.raises(DomainError, match="cannot be lower"):
        capital.capital_plan_propose(organization=branch_a.parent, program=program("01"), year=2026,
                                      amount=90_000_000, actor=district_staff)


def test_proposal_suggestion_counts_listed_requests_and_maturing_principal(loan_list, branch_a, household_a):
    loan = LoanFactory(household=household_a, amount=Decimal("12000000"), disbursed_on=date(2025, 12, 1),
                       term_months=12, frequency=Loan.Frequency.QUARTERLY)
    suggestion = capital.proposal_suggestion(branch=branch_a, program=program("01"), year=2026)
    assert suggestion["listed"] == 50_000_000
    assert suggestion["maturing"] == sum(i.principal for i in loan.instalments.all()) == 12_000_000
    assert suggestion["total"] == 62_000_000


def test_adjustments_move_capital_and_keep_history(branch_a, branch_b, district_staff, ward_officer_a, admin_user):
    source = approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=250_000_000)
    target = approved_allocation(branch=branch_b, amount=50_000_000)
    water = approved_allocation(branch=branch_b, amount=10_000_000, program_code="06", plan_amount=20_000_000)
    CapitalAllocation.objects.filter(pk=source.pk).update(amount_committed=70_000_000)

    with pytest.raises(DomainError, match="30.000.000 ₫"):
        capital.adjustment_propose(source=source, target=target, amount=40_000_000, reason="Điều chuyển",
                                   actor=district_staff)
    with pytest.raises(DomainError, match="reason"):
        capital.adjustment_propose(source=source, target=target, amount=10_000_000, reason=" ", actor=district_staff)
    adjustment = capital.adjustment_propose(source=source, target=target, amount=30_000_000,
                                            reason="Phường B có thêm hộ nghèo", actor=district_staff)
    capital.adjustment_decide(adjustment=adjustment, approve=True, actor=admin_user)
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.amount, source.remaining, target.amount) == (70_000_000, 0, 80_000_000)
    assert source.amount_proposed == 100_000_000  # the decision itself is never overwritten
    assert target.events.get(kind=AllocationEvent.Kind.ADJUSTED_IN).adjustment == adjustment
    assert source.events.get(kind=AllocationEvent.Kind.ADJUSTED_OUT).actor == district_staff

    # From the pool of unallocated capital (250 − 70 − 80 = 100 million) and across programs.
    with pytest.raises(DomainError, match="100.000.000 ₫"):
        capital.adjustment_propose(target=target, amount=120_000_000, reason="Bổ sung", actor=district_staff)
    capital.adjustment_decide(
        adjustment=capital.adjustment_propose(target=target, amount=100_000_000, reason="Bổ sung",
                                              actor=district_staff),
        approve=True, actor=admin_user,
    )
    with pytest.raises(DomainError, match="10.000.000 ₫"):
        capital.adjustment_propose(source=target, target=water, amount=15_000_000, reason="Sang nước sạch",
                                   actor=district_staff)
    capital.adjustment_decide(
        adjustment=capital.adjustment_propose(source=target, target=water, amount=10_000_000, reason="Sang nước sạch",
                                              actor=district_staff),
        approve=True, actor=admin_user,
    )
    water.refresh_from_db()
    assert water.amount == 20_000_000
    assert sum(a.amount for a in CapitalPlan.objects.get(program__code="01").allocations.all()) == 240_000_000

    # An admin sees both organizations; district staff would be refused the other one as outside their scope.
    other = approved_allocation(branch=BranchFactory(kind="11"), amount=10_000_000)
    with pytest.raises(DomainError, match="one organization"):
        capital.adjustment_propose(source=other, target=target, amount=1_000_000, reason="x", actor=admin_user)


# --- Approval ------------------------------------------------------------------------------------------------------


def test_approving_a_request_charges_the_allocation(loan_list, allocation, district_staff):
    first, _second = first_two(loan_list)
    approvals.application_approve(application=first, amount=25_000_000, actor=district_staff)
    first.refresh_from_db()
    allocation.refresh_from_db()
    assert first.status == Status.APPROVED and first.amount_approved == 25_000_000
    assert (allocation.amount_committed, allocation.remaining) == (25_000_000, 75_000_000)
    assert first.capital_use.allocation == allocation
    change = first.status_changes.get(to_status=Status.APPROVED)
    assert change.actor == district_staff and "25.000.000" in change.note_text
    loan_list.refresh_from_db()
    assert loan_list.status == LoanList.Status.SUBMITTED  # one request still waits


def test_withdrawing_an_approved_request_returns_its_capital(
    loan_list, allocation, district_staff, ward_officer_a, client_for
):
    first, second = first_two(loan_list)
    approvals.application_approve(application=first, amount=25_000_000, actor=district_staff)
    approvals.application_approve(application=second, amount=20_000_000, actor=district_staff)
    requests_services.application_withdraw(application=first, reason="Gia đình không vay nữa", actor=ward_officer_a)
    allocation.refresh_from_db()
    assert (allocation.amount_committed, allocation.remaining) == (20_000_000, 80_000_000)
    event = allocation.events.get(kind=AllocationEvent.Kind.RELEASED)
    assert event.amount == 25_000_000 and event.actor == ward_officer_a
    assert "Gia đình không vay nữa" in event.note
    page = client_for(district_staff).get(reverse("loans:allocation_detail", args=[allocation.pk])).content.decode()
    assert "Hoàn lại do rút đề nghị vay · <span class=\"text-nowrap\">25.000.000 ₫</span>" in page
    # A withdrawn request cannot be withdrawn again, so its capital is returned only once.
    with pytest.raises(DomainError):
        requests_services.application_withdraw(application=first, reason="Lần nữa", actor=ward_officer_a)
    allocation.refresh_from_db()
    assert allocation.amount_committed == 20_000_000


def test_over_allocation_is_refused_and_nothing_changes(loan_list, branch_a, district_staff):
    allocation = approved_allocation(branch=branch_a, amount=40_000_000)
    first, second = first_two(loan_list)
    approvals.application_approve(application=first, amount=30_000_000, actor=district_staff)
    with pytest.raises(DomainError, match="only 10.000.000 ₫ is left"):
        approvals.application_approve(application=second, amount=20_000_000, actor=district_staff)
    second.refresh_from_db()
    allocation.refresh_from_db()
    assert second.status == Status.SUBMITTED and second.amount_approved is None
    assert allocation.amount_committed == 30_000_000


def test_refusals_of_approval(loan_list, allocation, district_staff, ward_officer_a, group_a, admin_user):
    first, second = first_two(loan_list)
    # Only an admin may both submit a list and approve: whoever submitted it, someone else approves it.
    own = submitted_loan_list(group=group_a, submitted_by=admin_user, amounts=(10_000_000,))
    with pytest.raises(DomainError, match="you submitted|You submitted"):
        approvals.application_approve(application=own.applications.get(), amount=10_000_000, actor=admin_user)
    with pytest.raises(DomainError, match="You submitted"):
        approvals.loan_list_approve(loan_list=own, amounts={own.applications.get().pk: 10_000_000}, actor=admin_user)
    with pytest.raises(DomainError, match="does not allow you to decide loan requests"):
        approvals.application_approve(application=first, amount=30_000_000, actor=ward_officer_a)
    with pytest.raises(DomainError, match="cannot be more"):
        approvals.application_approve(application=first, amount=30_000_001, actor=district_staff)
    with pytest.raises(DomainError, match="greater than zero"):
        approvals.application_approve(application=first, amount=-5, actor=district_staff)
    with pytest.raises(DomainError, match="program 03"):
        other = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(10_000_000,),
                                    program_code="03")
        approvals.application_approve(application=other.applications.get(), amount=10_000_000, actor=district_staff)
    approvals.application_reject(application=second, reason="Hộ đã chuyển đi", actor=district_staff)
    with pytest.raises(DomainError, match="only submitted"):
        approvals.application_approve(application=second, amount=20_000_000, actor=district_staff)
    with pytest.raises(DomainError, match="reason"):
        approvals.application_reject(application=first, reason="", actor=district_staff)
    allocation.refresh_from_db()
    assert allocation.amount_committed == 0


def test_whole_list_is_decided_at_once_or_not_at_all(loan_list, branch_a, district_staff):
    allocation = approved_allocation(branch=branch_a, amount=45_000_000)
    first, second = first_two(loan_list)
    with pytest.raises(DomainError) as refused:
        approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000, second.pk: 20_000_000},
                                   actor=district_staff)
    assert refused.value.field == f"amount_{second.pk}"
    first.refresh_from_db()
    allocation.refresh_from_db()
    assert first.status == Status.SUBMITTED and allocation.amount_committed == 0

    decided = approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000},
                                         rejections={second.pk: "Không đủ điều kiện"}, actor=district_staff)
    assert decided.status == LoanList.Status.DECIDED
    second.refresh_from_db()
    assert second.status == Status.REJECTED and second.rejection_reason == "Không đủ điều kiện"
    assert second.status_changes.last().actor == district_staff
    with pytest.raises(DomainError, match="Only a submitted"):
        approvals.loan_list_approve(loan_list=loan_list, amounts={}, actor=district_staff)


# --- Disbursement --------------------------------------------------------------------------------------------------


@pytest.fixture
def approved(loan_list, allocation, district_staff):
    first, second = first_two(loan_list)
    approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000, second.pk: 20_000_000},
                               actor=district_staff)
    first.refresh_from_db()
    second.refresh_from_db()
    return first, second


def disburse(application, actor, **overrides):
    values = {"loan_number": "7900000000000001", "on": TODAY, "amount": 30_000_000, "term_months": 36,
              "frequency": Loan.Frequency.QUARTERLY}
    values.update(overrides)
    return disbursement.loan_disburse(application=application, actor=actor, **values)


def test_disbursement_creates_the_loan_schedule_and_posting(approved, allocation, district_staff, capsys):
    first, _second = approved
    program("01").__class__.objects.filter(code="01").update(annual_rate=Decimal("7.2"))  # later edits don't leak in
    loan = disburse(first, district_staff, amount=29_000_000, term_months=35, frequency=Loan.Frequency.QUARTERLY)
    assert loan.number == "7900000000000001"
    assert loan.group == first.group and loan.household == first.household and loan.application == first
    assert loan.annual_rate == Decimal("7.2") and loan.overdue_multiplier == Decimal("1.30")
    assert loan.maturity_on == date(2029, 5, 15)
    instalments = list(loan.instalments.all())
    assert len(instalments) == 12 and sum(i.principal for i in instalments) == 29_000_000
    assert instalments[0].principal == 2_416_666 and instalments[-1].principal == 2_416_674
    assert instalments[-1].due_on == loan.maturity_on
    assert loan.principal_outstanding == 29_000_000
    posting = Posting.objects.get(loan=loan)
    assert (posting.kind, posting.amount, posting.on, posting.created_by) == ("disbursement", 29_000_000, TODAY,
                                                                              district_staff)
    first.refresh_from_db()
    assert first.status == Status.DISBURSED
    assert "7900000000000001" in first.status_changes.last().note_text
    allocation.refresh_from_db()
    # 1 million approved but not paid out goes back to the allocation.
    assert (allocation.amount_committed, allocation.amount_disbursed) == (49_000_000, 29_000_000)
    assert ledger_differences() == ([], [])
    call_command("check_ledger")
    assert "passed" in capsys.readouterr().out


def test_disbursement_refusals(approved, district_staff, household_a):
    first, second = approved
    with pytest.raises(DomainError, match="cannot be more"):
        disburse(first, district_staff, amount=30_000_001)
    with pytest.raises(DomainError, match="16 digits"):
        disburse(first, district_staff, loan_number="79000000")
    with pytest.raises(DomainError, match="future"):
        disburse(first, district_staff, on=date(2026, 6, 16))
    with pytest.raises(DomainError, match="1 to 120"):
        disburse(first, district_staff, term_months=121)
    LoanFactory(household=household_a, number="7900000000000009")
    with pytest.raises(DomainError, match="already used") as duplicate:
        disburse(first, district_staff, loan_number="7900000000000009")
    assert duplicate.value.field == "loan_number"
    disburse(first, district_staff)
    with pytest.raises(DomainError, match="already disbursed"):
        disburse(first, district_staff, loan_number="7900000000000002")
    assert Loan.objects.filter(application=first).count() == 1
    assert not Loan.objects.filter(number="7900000000000002").exists()
    second.refresh_from_db()
    assert second.status == Status.APPROVED


def test_a_transaction_day_is_all_or_nothing(approved, district_staff):
    first, second = approved
    items = [
        {"application": first, "loan_number": "7900000000000011", "amount": 30_000_000, "term_months": 36,
         "frequency": 3},
        {"application": second, "loan_number": "7900000000000011", "amount": 20_000_000, "term_months": 24,
         "frequency": 6},
    ]
    with pytest.raises(DomainError, match="entered twice") as refused:
        disbursement.loans_disburse(items=items, on=TODAY, actor=district_staff)
    assert refused.value.field == "1-loan_number"
    items[1]["loan_number"] = "7900000000000012"
    items[1]["amount"] = 25_000_000
    with pytest.raises(DomainError, match="cannot be more") as refused:
        disbursement.loans_disburse(items=items, on=TODAY, actor=district_staff)
    assert refused.value.field == "1-amount"
    assert not Loan.objects.exists() and not Posting.objects.exists()
    items[1]["amount"] = 20_000_000
    loans = disbursement.loans_disburse(items=items, on=TODAY, actor=district_staff)
    assert [loan.amount for loan in loans] == [30_000_000, 20_000_000]
    assert loans[1].instalments.count() == 4
    assert ledger_differences() == ([], [])


# --- Who may decide: the service itself refuses, whatever calls it ----------------------------------------------


def test_a_ward_officer_who_did_not_submit_the_list_cannot_approve_through_the_service(
    loan_list, allocation, branch_a
):
    from organizations.models import OfficerProfile
    from tests.factories import officer

    colleague = officer("ward_a2", branch_a, OfficerProfile.Role.WARD_OFFICER)
    first, _second = first_two(loan_list)
    with pytest.raises(DomainError, match="does not allow you to decide loan requests"):
        approvals.application_approve(application=first, amount=30_000_000, actor=colleague)
    with pytest.raises(DomainError, match="does not allow you to decide loan requests"):
        approvals.application_reject(application=first, reason="Không đủ điều kiện", actor=colleague)
    with pytest.raises(DomainError, match="does not allow you to decide loan requests"):
        approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000}, actor=colleague)
    first.refresh_from_db()
    allocation.refresh_from_db()
    assert first.status == Status.SUBMITTED and allocation.amount_committed == 0


def test_district_staff_of_another_organization_cannot_approve_through_the_service(
    loan_list, allocation, farmers_district_staff
):
    first, _second = first_two(loan_list)
    with pytest.raises(DomainError, match="organization you do not work for"):
        approvals.application_approve(application=first, amount=30_000_000, actor=farmers_district_staff)
    with pytest.raises(DomainError, match="organization you do not work for"):
        approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000}, actor=farmers_district_staff)
    first.refresh_from_db()
    assert first.status == Status.SUBMITTED
