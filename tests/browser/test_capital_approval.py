"""District staff approve a 03/TD list a ward officer submitted, disburse it, and read the loan's schedule."""

import re

import pytest
from playwright.sync_api import expect

from loans.models import CapitalAllocation, Loan, LoanApplication
from tests.browser.conftest import login
from tests.factories import approved_allocation, submitted_loan_list


@pytest.mark.django_db(transaction=True)
@pytest.mark.today("2026-11-16", tick=True)  # a Monday: on a weekend or holiday the disbursement day asks to confirm
def test_district_staff_approve_and_disburse_a_submitted_list(page, screenshot, group_a, branch_a, ward_officer_a,
                                                              district_staff):
    allocation = approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))
    first, second = loan_list.applications.order_by("pk")

    login(page, "district")
    page.goto(f"{page.base_url}/loans/approvals/")
    expect(page.get_by_test_id("queue-count")).to_have_text("1")
    screenshot("capital-queue-1366")
    page.get_by_role("link", name=re.compile(group_a.name)).click()

    # Cut the first request, keep the second, and record the decisions on the whole list.
    page.select_option(f"#id_decision_{first.pk}", "approve")
    page.select_option(f"#id_decision_{second.pk}", "approve")
    page.fill(f"#id_amount_{first.pk}", "28.000.000")
    screenshot("capital-list-review-1366")
    page.locator("form[data-once] button[type=submit]").click()
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.get_by_test_id("list-status")).to_have_text(re.compile("quyết định|Decided", re.I))
    screenshot("capital-list-decided-390", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})

    page.get_by_test_id("notice-link").click()
    expect(page.get_by_test_id("notice-total")).to_have_text("48.000.000")
    screenshot("capital-notice-04td-1366")

    # Disbursement of both loans on one transaction day.
    page.goto(f"{page.base_url}/loans/disbursements/")
    for application, number in ((first, "7912345678900001"), (second, "7912345678900002")):
        row = page.get_by_test_id(f"disburse-{application.pk}")
        row.locator("input[type=checkbox]").check()
        row.locator(f"#id_loan_number_{application.pk}").fill(number)
    page.select_option(f"#id_frequency_{second.pk}", "6")
    screenshot("capital-disbursement-1366")
    page.locator("form[data-once] button[type=submit]").click()
    expect(page.locator(".alert-success")).to_be_visible()
    screenshot("capital-disbursement-done-390", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})

    page.get_by_test_id("recent-loans").get_by_role("link", name="7912345678900001").click()
    expect(page.get_by_test_id("household")).to_contain_text(first.household.head_name)
    expect(page.get_by_test_id("loan-amount")).to_have_text("28.000.000 ₫")
    expect(page.get_by_test_id("schedule-total")).to_have_text("28.000.000 ₫")
    expect(page.get_by_test_id("schedule").locator("tbody tr")).to_have_count(12)
    expect(page.get_by_test_id("loan-history")).to_contain_text("7912345678900001")
    screenshot("capital-loan-detail-1366")
    screenshot("capital-loan-detail-390", width=390)

    loan = Loan.objects.get(number="7912345678900001")
    assert sum(i.principal for i in loan.instalments.all()) == loan.amount == 28_000_000
    assert Loan.objects.get(number="7912345678900002").instalments.count() == 6
    assert set(LoanApplication.objects.values_list("status", flat=True)) == {"disbursed"}
    allocation = CapitalAllocation.objects.get(pk=allocation.pk)
    assert (allocation.amount_committed, allocation.amount_disbursed, allocation.remaining) == (
        48_000_000, 48_000_000, 52_000_000,
    )


@pytest.mark.django_db(transaction=True)
def test_ward_officer_cannot_open_the_approval_pages(page, group_a, ward_officer_a, branch_a):
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(10_000_000,))
    login(page, "ward_a")
    response = page.goto(f"{page.base_url}/loans/approvals/lists/{loan_list.pk}/")
    assert response.status == 403
    expect(page.get_by_role("link", name=re.compile("^(Duyệt|Approvals)"))).to_have_count(0)
