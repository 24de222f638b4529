"""The hand-written forms in the GOV.UK pattern, on a phone: the review meeting and the disbursement day show every
error at once in a focused summary whose links move the focus to the field, and axe finds nothing serious."""

import pytest

from loans.models import Loan, ReviewMeeting
from tests.browser.conftest import login
from tests.browser.test_accessibility import AXE, BLOCKING, WCAG_21_AA, describe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.today("2026-12-07")]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def programs(db):
    """Transactional tests empty the tables, the programs of the data migration included."""
    from loans.defaults import install_default_programs
    from loans.models import LoanProgram

    install_default_programs(LoanProgram)


@pytest.fixture
def phone(browser, live_server):
    """A 390 px wide page with the Content-Security-Policy bypassed, so that axe.js can be injected."""
    context = browser.new_context(viewport=PHONE, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    context.close()


def assert_no_axe_violations(page, name):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_21_AA
    )
    violations = [v for v in result["violations"] if v["impact"] in BLOCKING]
    assert not violations, "\n".join(describe(name, violations))


def assert_fits_the_screen(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def summary_links(page):
    summary = page.locator("[data-error-summary]")
    summary.wait_for()
    assert summary.get_attribute("role") == "alert"
    # Read first: the page's script focuses it once it has run, which on a loaded machine comes after it shows.
    page.wait_for_function("document.activeElement && document.activeElement.hasAttribute('data-error-summary')")
    return summary.locator("a")


def test_the_meeting_with_errors_on_a_phone(phone, group_a, household_a, ward_officer_a):
    from decimal import Decimal

    from loans.services import requests as requests_services
    from tests.factories import HouseholdFactory, program

    neighbour = HouseholdFactory(group=group_a, head_name="Lê Văn Cường")
    for household in (household_a, neighbour):
        requests_services.application_create(household=household, program=program("01"), amount=Decimal(30_000_000),
                                             term_months=36, purpose="Chăn nuôi", actor=ward_officer_a)
    login(phone, "ward_a")
    phone.goto(f"{phone.base_url}/loans/groups/{group_a.pk}/review/")
    phone.fill("input[name=attendee_count]", "2")
    phone.locator("input[type=radio][value=approve]").first.check()  # Lê Văn Cường: approve, but no amount
    phone.click("main form[method=post] button[type=submit]")

    links = summary_links(phone)
    texts = [links.nth(i).inner_text() for i in range(links.count())]
    # The minutes' three missing names and both rows, at once; a row's error names its household.
    assert links.count() == 5, texts
    assert texts[3].startswith("Lê Văn Cường:") and texts[4].startswith("Nguyễn Thị Ánh:")
    assert_fits_the_screen(phone)
    assert_no_axe_violations(phone, "review meeting with errors, 390 px")
    phone.screenshot(path="tests/screenshots/error_summary_meeting_390.png", full_page=True)

    # The link of a row's missing decision leads into its radio buttons.
    links.nth(4).click()
    focused = phone.evaluate("[document.activeElement.type, document.activeElement.name]")
    assert focused[0] == "radio" and focused[1].endswith("-decision")
    assert not ReviewMeeting.objects.exists()


def test_the_disbursement_day_with_errors_on_a_phone(phone, group_a, ward_officer_a, branch_a, district_staff):
    from loans.services import approvals
    from tests.factories import approved_allocation, submitted_loan_list

    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))
    approved_allocation(branch=branch_a, amount=100_000_000)
    first, second = loan_list.applications.order_by("pk")
    approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000, second.pk: 20_000_000},
                                actor=district_staff)
    login(phone, district_staff.username)
    phone.goto(f"{phone.base_url}/loans/disbursements/")
    for application in (first, second):
        phone.check(f"#id_pick_{application.pk}")
    phone.fill(f"#id_loan_number_{first.pk}", "123")
    phone.fill(f"#id_term_{first.pk}", "121")
    phone.fill(f"#id_loan_number_{second.pk}", "7900000000000002")
    phone.fill(f"#id_amount_{second.pk}", "")
    phone.locator(f"#id_amount_{second.pk}").press_sequentially("25000000")
    phone.click("main form[method=post] button[type=submit]")

    links = summary_links(phone)
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == [f"#id_loan_number_{first.pk}", f"#id_term_{first.pk}", f"#id_amount_{second.pk}"]
    # Each error is also shown under its field.
    assert phone.locator(f"[data-testid=disburse-{first.pk}] .invalid-feedback").count() == 2
    assert_fits_the_screen(phone)
    assert_no_axe_violations(phone, "disbursement day with errors, 390 px")
    phone.screenshot(path="tests/screenshots/error_summary_disbursement_390.png", full_page=True)

    links.nth(2).click()
    assert phone.evaluate("document.activeElement.id") == f"id_amount_{second.pk}"
    assert not Loan.objects.exists()
