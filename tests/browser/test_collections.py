"""A ward officer runs a collection day in the browser: prepare, fill, post, and see the balances move."""

from datetime import date

import pytest
import time_machine

from tests.browser.conftest import login, open_menu
from tests.factories import HouseholdFactory, LoanFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_officer_fills_and_posts_a_collection_sheet(page, screenshot, ward_officer_a, district_staff, group_a,
                                                    household_a):
    """The whole collection day in one browser walk (prepare, fill, the posting's question, post, print, a reversal
    asked and approved): about 20 s, most of it page loads."""
    traveller = time_machine.travel("2026-06-20 09:00 +0700", tick=True)
    traveller.start()
    try:
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))  # 50,000,000
        neighbour = HouseholdFactory(group=group_a, head_name="Lê Thị Bé")
        LoanFactory(household=neighbour, amount=20_000_000, disbursed_on=date(2026, 5, 20))

        login(page, "ward_a")
        open_menu(page, "ward", "Ngày thu")
        with page.expect_navigation():
            page.select_option("#group-filter", str(group_a.pk))
        totals = page.locator("[data-testid=group-totals]")
        assert totals.locator("[data-testid=group-outstanding]").inner_text() == "70.000.000 ₫"
        assert totals.locator("[data-testid=group-savings]").inner_text() == "0 ₫"

        page.select_option("#id_group", str(group_a.pk))
        page.fill("#id_collection_on", "20/06/2026")
        page.click("button:has-text('Lập bảng kê')")
        # 20/06/2026 is a Saturday: the page asks the officer to confirm the day before preparing the sheet.
        page.check("#id_confirm_non_working_day")
        page.click("button:has-text('Lập bảng kê')")
        page.wait_for_selector("#collection-form")
        rows = page.locator("#collection-form tbody tr")
        assert rows.count() == 2
        row = page.locator("tr", has_text=household_a.head_name)
        # 50,000,000 × 0.55 % / 30 × 31 days = 284,167 đ
        assert "284.167" in row.inner_text()
        screenshot("collection-sheet-draft")

        row.locator("button[data-fill]").click()
        assert row.locator("input[data-sum=paid]").input_value() == "284.167"
        row.locator("input[data-sum=paid]").fill("5.284.167")  # interest plus 5,000,000 of principal
        row.locator("input[data-sum=savings_in]").fill("50.000")
        assert page.locator("[data-total=paid]").inner_text() == "5.284.167"
        screenshot("collection-sheet-filled-phone", width=390)
        page.set_viewport_size({"width": 1366, "height": 860})

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("[data-testid=sheet-bar] button:has-text('Ghi sổ bảng kê')")
        # The neighbour's row was left empty: posting names her and the arrears it would create, and waits.
        unentered = page.locator("[data-testid=unentered]")
        unentered.wait_for()
        assert "Lê Thị Bé" in unentered.inner_text() and "113.667 ₫" in unentered.inner_text()
        assert page.inner_text("[data-testid=sheet-status]") == "Mới lập"
        screenshot("collection-sheet-unentered", width=390)
        page.set_viewport_size({"width": 1366, "height": 860})
        unentered.locator("input[name=nothing_paid]").check()
        unentered.locator("[data-testid=post-confirmed]").click()
        page.wait_for_selector("text=Đã ghi sổ bảng kê. Số dư đã được cập nhật.")
        assert page.inner_text("[data-testid=sheet-status]") == "Đã ghi sổ"
        posted = page.locator("tr", has_text=household_a.head_name)
        assert posted.locator("[data-testid=outstanding-after]").inner_text() == "45.000.000"
        assert posted.locator("[data-testid=savings-after]").inner_text() == "50.000"
        # The group: 5,000,000 less outstanding; the neighbour's unpaid 113,667 đ interest is now arrears
        # (20,000,000 × 0.55 % / 30 × 31 = 113,666.67 → 113,667).
        assert page.inner_text("[data-testid=group-outstanding]") == "65.000.000 ₫"
        assert page.inner_text("[data-testid=group-savings]") == "50.000 ₫"
        assert page.inner_text("[data-testid=group-arrears]") == "113.667 ₫"
        screenshot("collection-sheet-posted")
        screenshot("collection-sheet-posted-phone", width=390)
        page.set_viewport_size({"width": 1366, "height": 860})

        page.click("text=In mẫu 13/TD")
        page.wait_for_selector("text=Danh sách thu lãi, thu tiết kiệm")
        screenshot("collection-sheet-print")

        page.goto(f"{page.base_url}/")
        assert page.inner_text("[data-testid=total-outstanding]").strip() == "65.000.000 ₫"

        # A mistake: the officer asks for the whole row to be reversed, with a reason; district staff approve it,
        # and the group's figures go back.
        open_menu(page, "ward", "Ngày thu")
        screenshot("collection-sheet-list")
        page.click("text=20/06/2026")
        page.click(f"text={household_a.head_name}")
        page.wait_for_selector("text=Đề nghị hủy cả dòng")
        screenshot("collection-line-detail")
        page.fill("#line-reason", "Thu nhầm số tiền")
        page.click("form:has(#line-reason) button[type=submit]")
        page.wait_for_selector("text=Đã gửi đề nghị hủy")
        assert page.inner_text("[data-testid=line-status]") == "Đã ghi sổ"
        line_url = page.url
        page.context.clear_cookies()
        login(page, "district")
        page.goto(line_url)
        page.click("[data-testid=reversal-requests] button:has-text('Đồng ý')")
        page.wait_for_selector("text=Đã ghi bút toán hủy")
        assert page.inner_text("[data-testid=line-status]") == "Đã hủy (đảo)"
        page.context.clear_cookies()
        login(page, "ward_a")
        page.goto(line_url)
        screenshot("collection-line-reversed-phone", width=390)
        page.goto(f"{page.base_url}/loans/collections/?group={group_a.pk}")
        assert page.inner_text("[data-testid=group-outstanding]") == "70.000.000 ₫"
        assert page.inner_text("[data-testid=group-savings]") == "0 ₫"
        # 113,667 (neighbour) + 284,167 (the reversed interest is owed again)
        assert page.inner_text("[data-testid=group-arrears]") == "397.834 ₫"
    finally:
        traveller.stop()
