"""The Front supervisor records an inspection of a group and finds it in the list; overdue follow-ups stand out."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from organizations.models import ChecklistItem, Inspection
from organizations.services.supervision import inspection_record
from tests.browser.conftest import login, open_menu
from tests.test_supervision import ensure_checklist

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def late_november():
    # A fixed business date, so that "last month" and "this year" never straddle a new year.
    with time_machine.travel("2026-11-20 09:00 +07:00", tick=True):
        yield


def test_front_supervisor_records_an_inspection_and_sees_it_in_the_list(
    page, screenshot, front_supervisor, front, group_a, group_b
):
    ensure_checklist()
    today = timezone.localdate()
    first, second, third = ChecklistItem.objects.order_by("position")[:3]
    # An earlier inspection whose follow-up deadline has passed.
    inspection_record(
        actor=front_supervisor, inspected_on=today - timedelta(days=40), lead_unit=front,
        team_members="Đoàn MTTQ quận", inspected_branch=None, inspected_group=group_b,
        findings=[(first, "not_ok", "Tổ chưa họp định kỳ")], recommendations="Tổ chức họp tổ",
        follow_up_status="open", follow_up_deadline=today - timedelta(days=10),
    )

    login(page, "front")
    open_menu(page, "reports", "Giám sát")
    page.wait_for_selector("[data-testid=summary]")
    page.get_by_role("link", name="Kiểm tra, giám sát").click()
    page.get_by_role("link", name="Ghi cuộc kiểm tra").click()

    page.fill("#id_inspected_on", (today - timedelta(days=1)).strftime("%d/%m/%Y"))
    page.fill("#id_team_members", "Trần Văn A – Phó Chủ tịch MTTQ quận (trưởng đoàn); Lê Thị B – cán bộ NHCSXH")
    page.select_option("#id_inspected_group", str(group_a.pk))
    page.click(f"label[for=id_item_{first.pk}_1]")
    page.click(f"label[for=id_item_{second.pk}_2]")
    page.click(f"label[for=id_item_{third.pk}_1]")
    # Saving without the note of the unsatisfactory item is refused, with the input kept.
    page.click("form.supervision-form button[type=submit]")
    assert "Ghi rõ nội dung chưa đạt." in page.inner_text("form.supervision-form")
    assert page.input_value("#id_team_members").startswith("Trần Văn A")
    page.fill(f"#id_note_{second.pk}", "Thiếu biên bản bình xét tháng 9")
    page.fill("#id_recommendations", "Bổ sung biên bản bình xét, lưu tại tổ")
    page.select_option("#id_follow_up_status", "open")
    deadline = today + timedelta(days=30)
    page.fill("#id_follow_up_deadline", deadline.strftime("%d/%m/%Y"))
    screenshot("supervision-inspection-form")
    screenshot("supervision-inspection-form-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})
    page.click("form.supervision-form button[type=submit]")

    page.wait_for_selector("[data-testid=findings]")
    assert "Thiếu biên bản bình xét tháng 9" in page.inner_text("[data-testid=findings]")
    assert group_a.code in page.inner_text("[data-testid=inspected-unit]")
    screenshot("supervision-inspection-detail")
    inspection = Inspection.objects.get(inspected_group=group_a)
    assert inspection.follow_up_deadline == deadline and inspection.findings.count() == 3

    page.get_by_role("link", name="Kiểm tra, giám sát").click()
    rows = page.locator("[data-testid=inspection-row]")
    assert rows.count() == 2
    new_row = rows.filter(has_text=group_a.code)
    assert "overdue" not in new_row.get_attribute("class")
    assert deadline.strftime("%d/%m/%Y") in new_row.inner_text()
    overdue_row = rows.filter(has_text=group_b.code)
    assert "table-danger" in overdue_row.get_attribute("class")
    assert "Quá hạn" in overdue_row.inner_text()
    screenshot("supervision-inspections")
    screenshot("supervision-inspections-phone", width=390)

    page.set_viewport_size({"width": 1366, "height": 860})
    page.get_by_role("link", name="Tổng hợp năm").click()
    assert page.locator("[data-testid=summary] tr[data-kind=front] td").first.inner_text().startswith("2")
    screenshot("supervision-summary")
    screenshot("supervision-summary-phone", width=390)
