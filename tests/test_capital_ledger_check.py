"""`check_ledger` on capital: a plan's total against its allocations, an allocation's amount against its history, its
committed and disbursed figures against the requests charged to it, and what a ward merger carried. Each figure is
changed behind the services' back with `.update()`, as a database shell would."""

import io
from datetime import date

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import translation

from loans.ledger.capital_checks import capital_differences
from loans.models import AllocationEvent, CapitalAllocation, CapitalPlan, CapitalUse, Loan
from loans.services import approvals, capital, disbursement
from loans.services import requests as requests_services
from organizations.services.mergers import wards_merge
from tests.factories import BranchFactory, WardFactory, approved_allocation, submitted_loan_list

TODAY = date(2026, 6, 15)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False), translation.override("en"):
        yield


@pytest.fixture
def allocation(branch_a):
    return approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)


@pytest.fixture
def approved(allocation, group_a, ward_officer_a, district_staff):
    """Requests of 30 and 20 million approved against the allocation; the first paid out at 29 million."""
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))
    first, second = loan_list.applications.order_by("pk")
    approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000, second.pk: 20_000_000},
                               actor=district_staff)
    first.refresh_from_db()
    second.refresh_from_db()
    disbursement.loan_disburse(application=first, loan_number="7900000000000001", on=TODAY, amount=29_000_000,
                               term_months=36, frequency=Loan.Frequency.QUARTERLY, actor=district_staff)
    second.refresh_from_db()
    return first, second


def check_ledger():
    out = io.StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def label(allocation):
    return f"Capital allocation {allocation.pk} ({allocation.branch.name} – 01 – 2026)"


def test_capital_moved_through_the_services_passes(approved, allocation, branch_b, ward_officer_a, ward_officer_b,
                                                  district_staff, admin_user):
    _first, second = approved
    # Capital added from the plan's unallocated part, then given back; a request withdrawn after its approval.
    for source, target in ((None, allocation), (allocation, None)):
        adjustment = capital.adjustment_propose(source=source, target=target, amount=15_000_000, reason="Điều chỉnh",
                                                actor=district_staff)
        capital.adjustment_decide(adjustment=adjustment, approve=True, actor=admin_user)
    requests_services.application_withdraw(application=second, reason="Hộ không vay nữa", actor=ward_officer_a)
    # A proposal waiting for a decision holds nothing of the plan, even above what is left of it.
    capital.allocation_propose(plan=allocation.plan, branch=branch_b, amount=500_000_000, actor=ward_officer_b)
    allocation.refresh_from_db()
    assert (allocation.amount, allocation.amount_committed, allocation.amount_disbursed) == (
        100_000_000, 29_000_000, 29_000_000
    )
    assert capital_differences() == (0, [])
    ok, out = check_ledger()
    assert ok, out
    assert "Capital" not in out


def test_an_allocation_amount_raised_in_the_database_is_named(approved, allocation):
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount=F("amount") + 1_000_000_000)
    ok, out = check_ledger()
    assert not ok
    assert (f"{label(allocation)}: amount 1.100.000.000 ₫, but its history (approval, adjustments, mergers) adds up "
            "to 100.000.000 ₫") in out
    plan = allocation.plan
    assert (f"Capital plan {plan.pk} (Hội LHPN quận thử – 01 – 2026): total 300.000.000 ₫, but its approved "
            "allocations add up to 1.100.000.000 ₫") in out
    assert "2 capital plan(s) or allocation(s) do not add up" in out
    assert "0 loan(s) and 0 household(s) differ" in out


def test_a_plan_below_its_allocations_is_caught(allocation, branch_b):
    approved_allocation(branch=branch_b, amount=150_000_000)
    assert check_ledger()[0]
    CapitalPlan.objects.filter(pk=allocation.plan_id).update(amount=200_000_000)
    ok, out = check_ledger()
    assert not ok
    assert (f"Capital plan {allocation.plan_id} (Hội LHPN quận thử – 01 – 2026): total 200.000.000 ₫, but its "
            "approved allocations add up to 250.000.000 ₫") in out
    assert "Capital allocation" not in out
    assert "1 capital plan(s) or allocation(s) do not add up" in out


def test_requests_holding_more_than_the_allocation_are_caught(approved, allocation):
    _first, second = approved
    CapitalUse.objects.filter(application=second).update(amount_approved=90_000_000)
    ok, out = check_ledger()
    assert not ok
    assert (f"{label(allocation)}: the requests approved against it hold 119.000.000 ₫, more than its amount "
            "100.000.000 ₫") in out
    assert (f"{label(allocation)}: approved for requests and not yet disbursed 20.000.000 ₫, less than the "
            "90.000.000 ₫ its approved requests still wait for") in out
    assert "1 capital plan(s) or allocation(s) do not add up" in out


def test_committed_and_disbursed_figures_below_their_requests_are_caught(approved, allocation):
    # The row constraints still hold (amount >= committed >= disbursed); only the requests show the figures are wrong.
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=40_000_000)
    ok, out = check_ledger()
    assert not ok
    assert (f"{label(allocation)}: approved for requests and not yet disbursed 11.000.000 ₫, less than the "
            "20.000.000 ₫ its approved requests still wait for") in out
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_disbursed=20_000_000)
    ok, out = check_ledger()
    assert not ok
    assert f"{label(allocation)}: disbursed 20.000.000 ₫, less than the 29.000.000 ₫ paid out on its requests" in out
    assert "still wait for" not in out and "its history" not in out and "against it hold" not in out


def test_an_amount_that_is_not_its_history_is_caught(allocation, district_staff, admin_user):
    adjustment = capital.adjustment_propose(target=allocation, amount=25_000_000, reason="Bổ sung vốn",
                                            actor=district_staff)
    capital.adjustment_decide(adjustment=adjustment, approve=True, actor=admin_user)
    assert check_ledger()[0]
    AllocationEvent.objects.filter(allocation=allocation, kind=AllocationEvent.Kind.ADJUSTED_IN).update(
        amount=5_000_000
    )
    ok, out = check_ledger()
    assert not ok
    assert (f"{label(allocation)}: amount 125.000.000 ₫, but its history (approval, adjustments, mergers) adds up "
            "to 105.000.000 ₫") in out
    assert "Capital plan" not in out


def test_what_a_ward_merger_carried_adds_up(ward_a, ward_b, branch_a, branch_b, admin_user):
    allocations = [approved_allocation(branch=branch, amount=amount, plan_amount=300_000_000)
                   for branch, amount in ((branch_a, 40_000_000), (branch_b, 30_000_000))]
    wards_merge(sources=[ward_a, ward_b], code=ward_a.code, name="Phường Mới", merged_on=date(2026, 6, 1),
                actor=admin_user, today=TODAY)
    new = CapitalAllocation.objects.get(branch__merged_into__isnull=True, branch__ward__name="Phường Mới")
    assert new.amount == 70_000_000
    assert check_ledger()[0]

    # One old allocation gave up less than the merger says it carried (both its history and the merger disagree).
    AllocationEvent.objects.filter(allocation=allocations[0], kind=AllocationEvent.Kind.MERGED_OUT).update(
        amount=35_000_000
    )
    ok, out = check_ledger()
    assert not ok
    assert (f"{label(new)}: a ward merger gave it 70.000.000 ₫, but the allocations the merger closed gave up "
            "65.000.000 ₫") in out
    assert f"{label(allocations[0])}: amount 0 ₫, but its history" in out


def test_the_checks_take_the_same_few_queries_however_many_allocations(approved, allocation, women_district,
                                                                        django_assert_max_num_queries):
    for number in range(5):
        ward = WardFactory(area=women_district.area, code=f"90010{number}", name=f"Phường {number}")
        approved_allocation(branch=BranchFactory(ward=ward, parent=women_district), amount=10_000_000)
    CapitalAllocation.objects.update(amount=F("amount") + 1)
    with django_assert_max_num_queries(4):
        found, rows = capital_differences()
    assert found == 6 and len(rows) == 6
