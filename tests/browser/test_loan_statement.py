"""A ward officer follows a loan from the household page to its statement, and prints it on A4."""

from datetime import date

import pytest
from playwright.sync_api import expect

from loans.models import Posting
from tests.browser.conftest import SCREENSHOTS, login
from tests.factories import LoanFactory, reverse_posting


@pytest.mark.django_db(transaction=True)
def test_household_to_loan_to_statement_and_print(page, screenshot, household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, number="7900000000000042")
    post = dict(household=household_a, loan=loan, created_by=ward_officer_a)
    Posting.objects.create(kind=Posting.Kind.INTEREST, amount=275_000, on=date(2026, 2, 15), **post)
    Posting.objects.create(kind=Posting.Kind.PRINCIPAL, amount=5_000_000, on=date(2026, 4, 15), **post)
    wrong = Posting.objects.create(kind=Posting.Kind.PRINCIPAL, amount=3_000_000, on=date(2026, 5, 15), **post)
    reverse_posting(posting=wrong, reason="Ghi nhầm hộ", actor=ward_officer_a, booked_on=date(2026, 5, 20))

    login(page, "ward_a")
    page.goto(f"{page.base_url}/households/{household_a.pk}/")
    page.get_by_role("link", name="7900000000000042").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("7900000000000042")
    breadcrumb = page.get_by_role("navigation", name="breadcrumb")
    expect(breadcrumb.get_by_role("link", name=household_a.head_name)).to_be_visible()
    expect(page.get_by_test_id("loan-postings").locator("tbody tr")).to_have_count(5)
    screenshot("loan-detail-postings-1366")

    page.get_by_test_id("statement-link").click()
    balances = page.get_by_test_id("statement-postings").get_by_test_id("running-balance")
    expect(balances).to_have_text(["50.000.000", "50.000.000", "45.000.000", "42.000.000", "45.000.000"])
    expect(page.get_by_test_id("statement-balance")).to_have_text("45.000.000")
    expect(page.get_by_test_id("statement-postings")).to_contain_text("Ghi nhầm hộ")
    screenshot("loan-statement-1366")
    screenshot("loan-statement-390", width=390)

    # Printing hides the toolbar and lays the statement out on A4 pages.
    page.set_viewport_size({"width": 1366, "height": 860})
    page.emulate_media(media="print")
    expect(page.locator("[data-print]")).to_be_hidden()
    expect(page.get_by_test_id("statement-postings")).to_be_visible()
    screenshot("loan-statement-print")
    pdf = page.pdf(prefer_css_page_size=True, path=str(SCREENSHOTS / "loan-statement.pdf"))
    assert pdf.startswith(b"%PDF") and b"/MediaBox" in pdf
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.get_by_test_id("statement-xlsx").click()
    assert download.value.suggested_filename == "sao-ke-7900000000000042.xlsx"
