"""Database constraints and model rules that must never be broken."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from loans.models import Posting, schedule_rows
from organizations.errors import DomainError
from organizations.models import GroupMembership
from tests.factories import HouseholdFactory, LoanFactory


def test_duplicate_citizen_id_is_refused(household_a, group_b):
    with pytest.raises(IntegrityError), transaction.atomic():
        HouseholdFactory(group=group_b, citizen_id=household_a.citizen_id)


def test_citizen_id_must_have_12_digits(group_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        HouseholdFactory(group=group_a, citizen_id="12345678901")


def test_second_active_group_membership_is_refused(household_a, group_b):
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupMembership.objects.create(group=group_b, household=household_a, joined_on="2025-01-01")


def test_membership_history_is_kept(household_a, group_a, group_b):
    membership = household_a.current_membership
    membership.left_on = membership.joined_on
    membership.save()
    GroupMembership.objects.create(group=group_b, household=household_a, joined_on=membership.joined_on)
    assert household_a.memberships.count() == 2
    assert household_a.current_membership.group == group_b


def test_non_whole_dong_amount_is_refused(household_a):
    loan = LoanFactory(household=household_a)
    with pytest.raises(DomainError, match="1000.5"):
        Posting.objects.create(
            kind=Posting.Kind.PRINCIPAL, household=household_a, loan=loan, amount=Decimal("1000.5"), on=loan.disbursed_on
        )


def test_negative_amount_is_refused(household_a):
    loan = LoanFactory(household=household_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(
            kind=Posting.Kind.PRINCIPAL, household=household_a, loan=loan, amount=Decimal("-5000"), on=loan.disbursed_on
        )


def test_duplicate_voucher_is_refused(household_a):
    loan = LoanFactory(household=household_a)
    Posting.objects.create(kind="interest", household=household_a, loan=loan, amount=1000, on=loan.disbursed_on, voucher="V1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(kind="interest", household=household_a, loan=loan, amount=1000, on=loan.disbursed_on, voucher="V1")


def test_reversal_must_point_at_its_original(household_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(kind="reversal", household=household_a, amount=1000, on="2026-01-01")


def test_leader_and_deputy_differ(group_a, household_a):
    group_a.leader = group_a.deputy = household_a
    with pytest.raises(IntegrityError), transaction.atomic():
        group_a.save()


def test_schedule_is_equal_whole_dong_instalments_last_absorbs_rounding():
    rows = schedule_rows(Decimal("10000000"), __import__("datetime").date(2026, 1, 31), 12, 3)
    assert [principal for _s, _d, principal in rows] == [2_500_000] * 4
    rows = schedule_rows(10_000_001, __import__("datetime").date(2026, 1, 31), 36, 1)
    amounts = [principal for _s, _d, principal in rows]
    assert len(amounts) == 36 and sum(amounts) == 10_000_001
    assert amounts[:-1] == [277_777] * 35 and amounts[-1] == 10_000_001 - 277_777 * 35
    assert rows[0][1].isoformat() == "2026-02-28"  # 31/01 + 1 month is clamped to the month's end
