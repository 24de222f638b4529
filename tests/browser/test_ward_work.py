"""A ward officer registers a household, takes two requests through the review meeting, certifies list 03/TD and
prints it; another ward's officer cannot open the household."""

import pytest

from borrowers.models import Household
from loans.models import LoanApplication, LoanList
from tests.browser.conftest import login, open_menu
from tests.factories import HouseholdFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def programs(db):
    """Transactional tests empty the tables, the programs of the data migration included."""
    from loans.defaults import install_default_programs
    from loans.models import LoanProgram

    install_default_programs(LoanProgram)


def submit(page):
    page.click("main form[method=post] button[type=submit]")


def both_widths(page, screenshot, name):
    screenshot(name)
    screenshot(f"{name}-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})


def test_ward_officer_takes_requests_through_review_and_certification(
    page, screenshot, ward_officer_a, ward_officer_b, group_a, household_a
):
    for _ in range(4):
        HouseholdFactory(group=group_a)
    login(page, "ward_a")
    open_menu(page, "ward", "Hộ vay")
    page.wait_for_selector("h1:has-text('Hộ vay')")
    both_widths(page, screenshot, "ward-household-list")

    page.click("text=Đăng ký hộ vay")
    page.fill("input[name=head_name]", "Lê Thị Hồng")
    page.fill("input[name=citizen_id]", "079123456789")
    page.fill("input[name=phone]", "0212345678")  # not a mobile number
    page.fill("input[name=address]", "5 Hà Huy Giáp")
    page.fill("input[name=members]", "4")
    page.select_option("select[name=policy_status]", "poor")
    page.select_option("select[name=group]", str(group_a.pk))
    submit(page)
    assert "số di động" in page.inner_text("#div_id_phone .invalid-feedback")
    assert "năm danh sách" in page.inner_text("#div_id_policy_list_year .invalid-feedback")
    assert page.input_value("input[name=head_name]") == "Lê Thị Hồng"
    both_widths(page, screenshot, "ward-household-form")
    page.fill("input[name=phone]", "0912345678")
    page.fill("input[name=policy_list_year]", "2025")
    submit(page)
    page.wait_for_selector("[data-testid=household-name]")
    assert page.inner_text("[data-testid=household-name]") == "Lê Thị Hồng"
    new_household = Household.objects.get(citizen_id="079123456789")
    household_url = page.url

    page.click("text=Lập giấy đề nghị vay vốn")
    page.select_option("select[name=program]", label="01 – Cho vay hộ nghèo")
    page.fill("input[name=amount]", "150.000.000")
    page.fill("input[name=term_months]", "36")
    page.fill("input[name=purpose]", "Chăn nuôi heo")
    page.fill("textarea[name=planned_use]", "Mua 5 con heo giống và thức ăn")
    submit(page)
    assert "100.000.000" in page.inner_text("#div_id_amount .invalid-feedback")  # the program's ceiling is named
    both_widths(page, screenshot, "ward-application-form")
    page.fill("input[name=amount]", "30.000.000")
    submit(page)
    page.wait_for_selector("[data-testid=application-status]")
    assert "Mới lập" in page.inner_text("[data-testid=application-status]")
    both_widths(page, screenshot, "ward-application-detail")

    # The second household's request.
    page.goto(f"{page.base_url}/households/{household_a.pk}/")
    page.click("text=Lập giấy đề nghị vay vốn")
    page.select_option("select[name=program]", label="01 – Cho vay hộ nghèo")
    page.fill("input[name=amount]", "20000000")
    page.fill("input[name=term_months]", "24")
    page.fill("input[name=purpose]", "Buôn bán nhỏ")
    submit(page)
    page.wait_for_selector("[data-testid=application-status]")
    first = LoanApplication.objects.get(household=new_household)
    second = LoanApplication.objects.get(household=household_a)

    open_menu(page, "ward", "Đề nghị vay")
    page.wait_for_selector("h1:has-text('Đề nghị vay vốn')")
    both_widths(page, screenshot, "ward-application-list")
    open_menu(page, "ward", "Tổ TK&VV")
    both_widths(page, screenshot, "ward-group-list")
    page.click(f"text={group_a.code}")
    both_widths(page, screenshot, "ward-group-detail")

    page.click("text=Ghi biên bản họp bình xét")
    page.fill("input[name=attendee_count]", "6")
    page.fill("input[name=neighbourhood_head]", "Ông Nguyễn Văn Tư")
    page.fill("input[name=branch_officer]", "Cán bộ hội phường")
    page.fill("textarea[name=attendees]", "Các hộ trong tổ")
    # Nothing is preselected: each request gets its decision, and an approved one its amount.
    page.check(f"#id_r{first.pk}-decision_0")
    page.fill(f"input[name=r{first.pk}-amount]", "25.000.000")
    page.check(f"#id_r{second.pk}-decision_1")
    submit(page)  # no reason yet
    assert "lý do" in page.inner_text(f"[data-testid=review-{second.pk}]").lower()
    both_widths(page, screenshot, "ward-meeting-form")
    page.fill(f"input[name=r{second.pk}-reason]", "Chưa trả hết nợ cũ")
    submit(page)
    page.wait_for_selector("[data-testid=minutes-table]")
    assert "Chưa trả hết nợ cũ" in page.inner_text("[data-testid=minutes-table]")
    assert page.inner_text("[data-testid=approved-total]").strip() == "25.000.000"
    both_widths(page, screenshot, "ward-meeting-minutes")

    page.click("a:has-text('Danh sách 03/TD')")
    page.wait_for_selector("[data-testid=list03-table]")
    page.click("text=Ghi xác nhận của UBND phường")
    page.fill("input[name=signer]", "Phó Chủ tịch Trần Văn Ba")
    page.fill("input[name=reference]", "45/XN-UBND")
    both_widths(page, screenshot, "ward-list03-certify")
    submit(page)
    page.wait_for_selector("[data-testid=certification]")
    table = page.inner_text("[data-testid=list03-table]")
    assert "Lê Thị Hồng" in table and household_a.head_name not in table
    assert page.inner_text("[data-testid=list-total]").strip() == "25.000.000"
    assert "45/XN-UBND" in page.inner_text("[data-testid=certification]")
    both_widths(page, screenshot, "ward-list03-print")
    page.emulate_media(media="print")
    assert not page.is_visible("nav")
    assert page.is_visible("[data-testid=list03-table]")
    page.emulate_media(media="screen")

    page.check("#id_confirm_submit")
    page.click("button:has-text('Gửi lên')")
    page.wait_for_selector(".alert-success")
    loan_list = LoanList.objects.get()
    assert loan_list.status == LoanList.Status.SUBMITTED
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("submitted", "group_rejected")
    assert [c.to_status for c in first.status_changes.all()] == ["group_approved", "certified", "submitted"]
    open_menu(page, "ward", "Đề nghị vay")
    page.click("text=Danh sách 03/TD")
    both_widths(page, screenshot, "ward-list03-index")

    page.click("form[action$=\"/accounts/logout/\"] button")
    login(page, "ward_b")
    page.wait_for_selector("[data-testid=officer]")
    response = page.goto(household_url)
    assert response.status == 404


def test_pages_for_editing_and_moving(page, screenshot, ward_officer_a, group_a, household_a):
    from tests.factories import SavingsGroupFactory

    SavingsGroupFactory(branch=group_a.branch, name="Tổ khu phố 2")
    for _ in range(6):
        HouseholdFactory(group=group_a)
    login(page, "ward_a")
    page.wait_for_selector("[data-testid=officer]")
    page.goto(f"{page.base_url}/households/{household_a.pk}/")
    both_widths(page, screenshot, "ward-household-detail")
    page.click("a:has-text('Chuyển tổ')")
    both_widths(page, screenshot, "ward-household-move")
    page.goto(f"{page.base_url}/households/{household_a.pk}/edit/")
    page.fill("input[name=phone]", "0987654321")
    submit(page)
    page.wait_for_selector(".alert-success")
    page.goto(f"{page.base_url}/groups/new/")
    both_widths(page, screenshot, "ward-group-form")
    page.goto(f"{page.base_url}/groups/{group_a.pk}/edit/")
    both_widths(page, screenshot, "ward-group-edit")
