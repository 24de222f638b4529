"""Two district officers approve against one allocation at the same moment: the row lock keeps it from going negative.

This needs real concurrent transactions, so it runs on PostgreSQL only (SQLite serialises whole-database writes and
has no SELECT … FOR UPDATE).
"""

import threading

import pytest
from django.db import connection, connections

from loans.models import CapitalAllocation, LoanApplication
from loans.services import approvals
from organizations.errors import DomainError
from organizations.models import OfficerProfile
from tests.factories import approved_allocation, officer, submitted_loan_list

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Needs PostgreSQL: SQLite has no row locks (SELECT … FOR UPDATE), so there is no race to prove.",
)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_never_take_the_allocation_below_zero(group_a, branch_a, ward_officer_a,
                                                                         women_district):
    allocation = approved_allocation(branch=branch_a, amount=50_000_000)
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 30_000_000))
    first, second = loan_list.applications.order_by("pk")
    staff = [officer(f"checker{i}", women_district, OfficerProfile.Role.DISTRICT_STAFF) for i in (1, 2)]

    barrier = threading.Barrier(2)
    outcomes = []

    def approve(application, actor):
        try:
            barrier.wait(timeout=10)
            approvals.application_approve(application=application, amount=30_000_000, actor=actor)
            outcomes.append("approved")
        except DomainError as error:
            outcomes.append(str(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=pair) for pair in ((first, staff[0]), (second, staff[1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes, key=len)[0] == "approved"
    assert outcomes.count("approved") == 1, outcomes
    assert "chỉ còn 20.000.000 ₫" in [o for o in outcomes if o != "approved"][0]
    allocation = CapitalAllocation.objects.get(pk=allocation.pk)
    assert allocation.amount_committed == 30_000_000 and allocation.remaining == 20_000_000
    statuses = sorted(LoanApplication.objects.filter(loan_list=loan_list).values_list("status", flat=True))
    assert statuses == ["approved", "submitted"]
