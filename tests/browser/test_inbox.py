"""District staff open "What waits for me" from the main menu: a capital proposal and a 03/TD list, oldest first,
each a link to where it is decided; readable on a phone and without serious accessibility violations."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from loans.models import CapitalPlan
from loans.services import capital
from tests.browser.conftest import login
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_accessibility import page as page  # noqa: F401  (the page with CSP bypassed, for axe.js)
from tests.factories import program, submitted_loan_list

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.today("2026-11-16", tick=True)]


def test_district_staff_find_what_waits_for_them(page, screenshot, group_a, branch_a, ward_officer_a,
                                                 district_staff):
    plan = CapitalPlan.objects.create(organization=branch_a.parent, program=program("01"), year=2026,
                                      amount=500_000_000)
    with time_machine.travel(timezone.now() - timedelta(days=4), tick=False):
        allocation = capital.allocation_propose(plan=plan, branch=branch_a, amount=120_000_000,
                                                note="Nhu cầu 4 hộ", actor=ward_officer_a)
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False):
        loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))

    login(page, "district")
    expect(page.get_by_test_id("inbox-count")).to_have_text(re.compile(r"^\s*2\b"))
    page.get_by_test_id("menu-inbox").click()
    page.wait_for_url(f"{page.base_url}/inbox/")

    rows = page.get_by_test_id("inbox").locator("li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("120.000.000")
    expect(rows.nth(0)).to_contain_text("4")
    expect(rows.nth(1)).to_contain_text(group_a.name)
    expect(rows.nth(1)).to_contain_text("50.000.000")
    screenshot("inbox-district-1366")
    screenshot("inbox-district-390", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})

    assert_accessible(page, ["/inbox/"])

    # Each row leads to where the decision is made.
    page.goto(f"{page.base_url}/inbox/")
    page.get_by_test_id("inbox").get_by_role("link").nth(1).click()
    page.wait_for_url(f"{page.base_url}/loans/approvals/lists/{loan_list.pk}/")
    page.goto(f"{page.base_url}/inbox/")
    page.get_by_test_id("inbox").get_by_role("link").nth(0).click()
    page.wait_for_url(f"{page.base_url}/loans/capital/{allocation.pk}/")
