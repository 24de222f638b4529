"""Status notes are stored as a code and parameters and read in the viewer's language; what an officer typed stays
as typed (issue 16, finding 7: "Phê duyệt 40.000.000 ₫" stayed Vietnamese in English mode)."""

import importlib
from datetime import date

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from loans.models import ApplicationStatusChange
from loans.services import approvals
from tests.factories import approved_allocation, submitted_loan_list


@pytest.fixture(autouse=True)
def keep_language():
    """Pages asked for in English switch this thread's language; the next test starts from the language it had."""
    with translation.override(translation.get_language()):
        yield

pytestmark = pytest.mark.django_db
parse_note = importlib.import_module("loans.migrations.0005_status_notes_as_codes").parse_note


@pytest.fixture
def approved(group_a, branch_a, ward_officer_a, district_staff):
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False):
        loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(40_000_000, 20_000_000))
        approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)
        first, second = loan_list.applications.order_by("pk")
        approvals.application_approve(application=first, amount=40_000_000, actor=district_staff)
        approvals.application_reject(application=second, reason="Hộ đã chuyển đi nơi khác", actor=district_staff)
    return first, second


def test_an_approval_is_stored_as_a_code_and_read_in_each_language(approved):
    change = approved[0].status_changes.get(to_status="approved")
    assert (change.note_code, change.note_params, change.note) == ("approved", {"amount": 40_000_000}, "")
    with translation.override("en"):
        assert change.note_text == "Approved 40.000.000 ₫"
    with translation.override("vi"):
        assert change.note_text == "Phê duyệt 40.000.000 ₫"


def test_a_reason_typed_by_an_officer_stays_as_typed(approved):
    change = approved[1].status_changes.get(to_status="rejected")
    assert (change.note_code, change.note) == ("", "Hộ đã chuyển đi nơi khác")
    with translation.override("en"):
        assert change.note_text == "Hộ đã chuyển đi nơi khác"


def test_the_request_page_in_english_shows_the_note_in_english(approved, client_for, district_staff):
    client = client_for(district_staff)
    client.cookies["django_language"] = "en"
    body = client.get(reverse("loans:application_detail", args=[approved[0].pk])).content.decode()
    assert "Approved 40.000.000 ₫" in body and "Phê duyệt" not in body


def test_a_group_approval_note_keeps_its_date_and_amount(group_a, ward_officer_a):
    change = ApplicationStatusChange(note_code="group_approved", note_params={"date": "2026-06-10", "amount": 25_000_000})
    with translation.override("en"):
        assert change.note_text == "Approved at the group meeting of 10/06/2026: 25.000.000 ₫"


@pytest.mark.parametrize(("old", "parsed"), [
    ("Phê duyệt 40.000.000 ₫", ("approved", {"amount": 40_000_000})),
    ("Approved 40.000.000 ₫", ("approved", {"amount": 40_000_000})),
    ("Tổ đồng ý tại cuộc họp ngày 10/06/2026: 25.000.000 ₫",
     ("group_approved", {"date": date(2026, 6, 10).isoformat(), "amount": 25_000_000})),
    ("Khế ước 7900000000000001, 29.000.000 ₫", ("disbursed", {"number": "7900000000000001", "amount": 29_000_000})),
    ("Đã gửi cấp quận", ("submitted", {})),
    ("13/TD tổ 8100001 ngày 20/06/2026", ("sheet_posted", {"group": "8100001", "date": "2026-06-20"})),
    ("Mở lại khế ước: một khoản trả nợ đã bị hủy (nhập nhầm).", ("reopened", {"reason": "nhập nhầm"})),
    ("Đã hết khoanh nợ", ("freeze_ended", {})),
    ("Đối chiếu với ngân hàng", ("reconciled", {})),
    ("Hộ đã chuyển đi nơi khác", None),
    ("Bình xét đồng ý", None),
])
def test_the_migration_turns_old_wordings_into_codes_and_leaves_free_text(old, parsed):
    assert parse_note(old) == parsed
