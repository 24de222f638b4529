"""A ward officer corrects a wrongly entered 13/TD row in the browser: asks for one posting to be reversed (reason and
confirmation), district staff approve it from their queue; the officer asks for the rest of the row, district staff
approve it on the row's page; the officer records the right amounts and prints the sheet with the original, reversal
and correction."""

from datetime import date

import pytest
import time_machine

from loans.models import CollectionLine, Posting
from loans.services.collection import collection_sheet_create, collection_sheet_post, collection_sheet_save
from tests.browser.conftest import login
from tests.factories import HouseholdFactory, LoanFactory

pytestmark = pytest.mark.django_db(transaction=True)


def as_user(page, username):
    page.context.clear_cookies()
    login(page, username)


def test_officer_reverses_and_corrects_a_row(page, screenshot, ward_officer_a, district_staff, group_a, household_a):
    traveller = time_machine.travel("2026-06-20 09:00 +0700", tick=True)
    traveller.start()
    try:
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        neighbour = HouseholdFactory(group=group_a, head_name="Lê Thị Bé")
        LoanFactory(household=neighbour, amount=20_000_000, disbursed_on=date(2026, 5, 20))
        sheet = collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)
        lines = {line.household_id: line.pk for line in sheet.lines.all()}
        collection_sheet_save(sheet=sheet, entries={lines[household_a.pk]: (2_841_670, 30_000, 0),
                                                    lines[neighbour.pk]: (113_667, 0, 0)}, actor=ward_officer_a)
        collection_sheet_post(sheet=sheet, actor=ward_officer_a)
        line = CollectionLine.objects.get(pk=lines[household_a.pk])
        principal = line.postings.get(kind=Posting.Kind.PRINCIPAL)

        login(page, "ward_a")
        page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/lines/{line.pk}/")
        item = page.locator(f"[data-posting='{principal.pk}']")
        item.locator("summary").click()
        item.locator("input[name=reason]").fill("Gõ thừa số 0")
        screenshot("collection-posting-reverse-confirm")
        item.locator("button[type=submit]").click()
        # The browser holds the form back until the box is ticked.
        assert not Posting.objects.filter(kind=Posting.Kind.REVERSAL).exists()
        item.locator("input[name=confirm]").check()
        with page.expect_navigation():
            item.locator("button[type=submit]").click()
        # Asked for, not done: the row shows who asked and waits for district staff.
        assert not Posting.objects.filter(kind=Posting.Kind.REVERSAL).exists()
        page.wait_for_selector("[data-testid=reversal-requests]")
        assert "Gõ thừa số 0" in page.locator("[data-testid=reversal-requests]").inner_text()
        screenshot("collection-reversal-asked")

        as_user(page, "district")
        page.goto(f"{page.base_url}/loans/reversals/")
        screenshot("reversal-requests-queue")
        with page.expect_navigation():
            page.click("[data-testid=pending-reversals] button:has-text('Đồng ý')")
        assert Posting.objects.get(kind=Posting.Kind.REVERSAL).reverses == principal

        as_user(page, "ward_a")
        page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/lines/{line.pk}/")
        screenshot("collection-line-partly-reversed")
        page.fill("#line-reason", "Nhập lại cả dòng")
        with page.expect_navigation():
            page.click("form:has(#line-reason) button[type=submit]")

        as_user(page, "district")
        page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/lines/{line.pk}/")
        screenshot("collection-line-reversal-to-decide")
        with page.expect_navigation():
            page.click("[data-testid=reversal-requests] button:has-text('Đồng ý')")

        as_user(page, "ward_a")
        page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/lines/{line.pk}/")
        page.wait_for_selector("[data-testid=correction-card]")
        page.fill("#id_amount_paid", "284.167")
        page.fill("#id_savings_in", "30.000")
        screenshot("collection-correction-form")
        with page.expect_navigation():
            page.click("[data-testid=correction-card] button[type=submit]")
        page.wait_for_selector("[data-testid=corrects]")
        page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/")
        screenshot("collection-sheet-corrected")
        page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/print/")
        screenshot("collection-sheet-corrected-print")
        footer = page.locator("tfoot").inner_text()
        assert "397.834" in footer  # 284,167 + 113,667 of interest collected, once each
    finally:
        traveller.stop()
