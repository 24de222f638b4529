"""The group leader (tổ trưởng) a bank file names is saved, also for groups and members the same import creates."""

import pytest

from borrowers.models import Household
from loans.bankfiles.plans import appoint_leaders
from loans.models import BankGroupGrade, ImportBatch
from organizations.models import SavingsGroup
from tests.factories import HouseholdFactory
from tests.test_bank_import import frozen_today, inline_jobs, loan_row, loans_file, run_import, workbook  # noqa: F401

pytestmark = pytest.mark.django_db

GROUP_HEADER = ["Mã tổ", "Tên tổ", "Mã phường", "Mã hội", "Tổ trưởng", "Số thành viên", "Điểm", "Xếp loại"]


def led_by(row, name):
    row[5] = name
    return row


def test_a_loans_file_appoints_the_leader_of_a_group_and_members_it_creates(admin_user, group_a):
    rows = [
        led_by(loan_row(1, group="8100009"), "Khách hàng 2"),
        led_by(loan_row(2, group="8100009"), "Khách hàng 2"),
    ]
    batch = run_import("loans", loans_file(rows), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    group = SavingsGroup.objects.get(code="8100009")
    assert group.leader == Household.objects.get(customer_code="6100000002")
    assert group.leader.memberships.get(left_on__isnull=True).group == group
    assert batch.summary["written"]["leaders"] == 1


def test_a_loans_file_appoints_a_new_member_of_an_existing_group(admin_user, group_a, household_a):
    # The name is folded as the household search does: case and marks do not matter.
    batch = run_import("loans", loans_file([led_by(loan_row(1), "KHACH HANG 1")]), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    group_a.refresh_from_db()
    assert group_a.leader.customer_code == "6100000001"


def test_a_groups_file_leader_is_saved_once_a_loans_file_brings_the_members(admin_user, group_a):
    groups = workbook(GROUP_HEADER, [["8100009", "Tổ A9", "900001", "12", "Khách hàng 1", 2, 90, "Tốt"]])
    first = run_import("groups", groups, admin_user)
    assert first.status == ImportBatch.Status.DONE, first.errors
    created = SavingsGroup.objects.get(code="8100009")
    assert created.leader is None  # no member yet
    assert BankGroupGrade.objects.get(group=created).leader_name == "Khách hàng 1"

    # The loans file gives no leader: the groups file's name is used once the household is a member.
    rows = [led_by(loan_row(1, group="8100009"), ""), led_by(loan_row(2, group="8100009"), "")]
    second = run_import("loans", loans_file(rows), admin_user)

    assert second.status == ImportBatch.Status.DONE, second.errors
    created.refresh_from_db()
    assert created.leader == Household.objects.get(customer_code="6100000001")


def test_a_groups_file_appoints_an_existing_member_and_leaves_strangers_out(admin_user, group_a, household_a):
    outsider = HouseholdFactory(head_name="Lê Văn Ngoài")  # in another group: never this group's leader
    rows = [
        ["8100001", "Tổ A1", "900001", "12", "nguyen thi anh", 6, 91, "Tốt"],
        ["8100009", "Tổ A9", "900001", "12", outsider.head_name, 5, 64, "Trung bình"],
    ]
    batch = run_import("groups", workbook(GROUP_HEADER, rows), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    group_a.refresh_from_db()
    assert group_a.leader == household_a
    assert SavingsGroup.objects.get(code="8100009").leader is None


def test_the_deputy_and_two_members_of_one_name_are_not_appointed(group_a, household_a):
    namesake = HouseholdFactory(group=group_a, head_name="Trần Văn Cùng")
    HouseholdFactory(group=group_a, head_name="Trần Văn Cùng")
    SavingsGroup.objects.filter(pk=group_a.pk).update(deputy=household_a)

    assert appoint_leaders({group_a.pk: household_a.head_name}) == 0
    assert appoint_leaders({group_a.pk: namesake.head_name}) == 0
    group_a.refresh_from_db()
    assert group_a.leader is None


def test_the_leader_is_written_in_the_import_transaction(admin_user, group_a, household_a, monkeypatch):
    # The import breaks after the leader is appointed: nothing of it stays, the leader neither.
    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("loans.bankfiles.loan_plan._write_opening_entries", broken)
    batch = run_import("loans", loans_file([led_by(loan_row(1), "Khách hàng 1")]), admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    group_a.refresh_from_db()
    assert group_a.leader is None
    assert not Household.objects.filter(customer_code="6100000001").exists()
