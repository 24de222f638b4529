"""WCAG 2.1 AA: axe-core checks the main pages of every role, and the 13/TD sheet works with the keyboard alone.

axe-core comes from npm (package.json); its unminified axe.js is injected into each page after it loads, and only
serious and critical violations fail the test, each printed with its rule, impact, help and the elements it found.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from loans.models import CollectionSheet, LoanChange
from loans.services.changes import loan_change_request
from loans.services.checks import loan_use_check_record
from loans.services.collection import collection_sheet_create
from tests.browser.conftest import login
from tests.factories import HouseholdFactory, LoanFactory, approved_allocation, submitted_loan_list

# A working Monday, so that the collection day and checks dated "today" are ordinary ones on any run date.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.today("2026-11-16", tick=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}


@pytest.fixture
def page(browser, live_server):
    """As conftest's page, but with the Content-Security-Policy bypassed so that axe.js can be injected inline;
    the keyboard test below runs in the same context and uses only the app's own scripts."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    context.close()


def axe_violations(page, url):
    """Open url and return axe's serious and critical WCAG 2.1 A/AA violations on it."""
    page.goto(f"{page.base_url}{url}", wait_until="load")
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (axe-core is in package.json)"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_21_AA,
    )
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(url, violations):
    lines = []
    for violation in violations:
        lines.append(f"{url}: {violation['id']} ({violation['impact']}) — {violation['help']}")
        for node in violation["nodes"][:8]:
            lines.append(f"    {' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return lines


def assert_accessible(page, urls):
    failures = []
    for url in urls:
        failures += describe(url, axe_violations(page, url))
    assert not failures, "axe found serious or critical violations:\n" + "\n".join(failures)


@pytest.fixture
def ward_work(ward_officer_a, district_staff, group_a, branch_a, household_a):
    """A ward with something on every page: loans, a sheet, a submitted 03/TD list, a change and a check."""
    today = timezone.localdate()
    loan = LoanFactory(household=household_a, disbursed_on=today - timedelta(days=60))
    neighbour = HouseholdFactory(group=group_a, head_name="Lê Thị Bé")
    LoanFactory(household=neighbour, amount=20_000_000, disbursed_on=today - timedelta(days=60))
    allocation = approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a)
    sheet = collection_sheet_create(group=group_a, on=today, actor=ward_officer_a)
    loan_change_request(loan=loan, kind=LoanChange.Kind.EXTENSION, reason="Nhà bị ngập", months=6,
                        actor=ward_officer_a)
    loan_use_check_record(loan=loan, result="as_planned", notes="Đã mua bò giống", checked_on=today,
                          actor=ward_officer_a)
    return {"loan": loan, "list": loan_list, "sheet": sheet, "group": group_a, "household": household_a,
            "application": loan_list.applications.first(), "allocation": allocation}


def test_login_and_error_pages_have_no_serious_violations(page, ward_officer_a):
    assert_accessible(page, ["/accounts/login/"])
    login(page, "ward_a")
    page.wait_for_url(f"{page.base_url}/")
    assert_accessible(page, ["/no-such-page/"])


def test_ward_officer_pages_have_no_serious_violations(page, ward_work):
    work = ward_work
    login(page, "ward_a")
    page.wait_for_url(f"{page.base_url}/")
    assert_accessible(page, [
        "/",
        "/households/",
        f"/households/{work['household'].pk}/",
        "/households/new/",
        f"/households/{work['household'].pk}/edit/",
        "/groups/",
        f"/groups/{work['group'].pk}/",
        "/loans/requests/",
        f"/loans/requests/{work['application'].pk}/",
        f"/loans/households/{work['household'].pk}/request/",
        f"/loans/groups/{work['group'].pk}/review/",
        "/loans/lists/",
        f"/loans/lists/{work['list'].pk}/",
        "/loans/collections/",
        f"/loans/collections/{work['sheet'].pk}/",
        f"/loans/{work['loan'].pk}/",
        f"/loans/{work['loan'].pk}/statement/",
        "/loans/changes/",
        "/loans/use-checks/",
        f"/loans/{work['loan'].pk}/use-check/",
        f"/loans/use-checks/groups/{work['group'].pk}/",
        f"/loans/meetings/{work['list'].meeting_id}/",
        f"/loans/collections/{work['sheet'].pk}/print/",
    ])


def test_district_staff_pages_have_no_serious_violations(page, ward_work):
    login(page, "district")
    page.wait_for_url(f"{page.base_url}/")
    assert_accessible(page, [
        "/",
        "/loans/approvals/",
        f"/loans/approvals/lists/{ward_work['list'].pk}/",
        "/loans/capital/",
        f"/loans/capital/{ward_work['allocation'].pk}/",
        "/loans/disbursements/",
        "/loans/district/",
        "/loans/reports/bctd_01_1/",
        "/loans/reports/bctd_01_2/",
        "/loans/reports/bc0438/",
        "/loans/reports/len_31/",
        "/loans/statements/",
        "/loans/changes/",
    ])


def test_front_pages_have_no_serious_violations(page, front_supervisor, ward_work):
    login(page, "front")
    page.wait_for_url(f"{page.base_url}/")
    assert_accessible(page, [
        "/",
        "/supervision/",
        "/supervision/inspections/",
        "/supervision/inspections/new/",
    ])


def test_admin_pages_have_no_serious_violations(page, admin_user, ward_work):
    login(page, "admin")
    page.wait_for_url(f"{page.base_url}/")
    assert_accessible(page, ["/", "/loans/imports/", "/loans/exports/", "/logins/"])


def test_main_pages_on_a_phone_have_no_serious_violations(page, ward_work):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "ward_a")
    page.wait_for_url(f"{page.base_url}/")
    assert_accessible(page, [
        "/",
        f"/households/{ward_work['household'].pk}/",
        f"/loans/collections/{ward_work['sheet'].pk}/",
        f"/loans/{ward_work['loan'].pk}/",
    ])


def focused(page):
    return page.evaluate("document.activeElement && (document.activeElement.id || document.activeElement.textContent.trim())")


def tab_to(page, predicate, limit=80):
    """Press Tab until the focused element satisfies predicate (a JS expression over `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => Boolean({predicate}))(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {predicate}; stuck at {focused(page)!r}")


def test_collection_sheet_is_filled_and_posted_with_the_keyboard_alone(page, screenshot, ward_work):
    sheet = ward_work["sheet"]
    login(page, "ward_a")
    page.wait_for_url(f"{page.base_url}/")
    page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/")
    page.wait_for_selector("#collection-form")
    first, second = sheet.lines.order_by("pk")

    # The skip link comes first and leads past the menu to the page itself.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")

    # First row: type what was paid and a savings deposit, moving from field to field with Tab.
    tab_to(page, f"el.matches('tr[data-line=\"{first.pk}\"] input[data-sum=paid]')")
    page.keyboard.type("1.000.000")
    page.keyboard.press("Tab")
    page.keyboard.type("50.000")
    # Second row: its "total due" button fills the paid amount when pressed with Enter.
    tab_to(page, f"el.matches('tr[data-line=\"{second.pk}\"] button[data-fill]')")
    page.keyboard.press("Enter")
    due = page.locator(f"tr[data-line='{second.pk}'] button[data-fill]").inner_text().strip()
    assert page.locator(f"tr[data-line='{second.pk}'] input[data-sum=paid]").input_value() == due
    assert page.locator("[data-total=savings_in]").inner_text() == "50.000"
    screenshot("a11y-collection-keyboard")

    # Post: Tab to the button and press Enter; the confirmation is answered as a keyboard user would (Enter).
    tab_to(page, "el.matches('button[value=post]')")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[data-testid=sheet-status]").inner_text().strip() in {"Đã ghi sổ", "Posted"}
    sheet.refresh_from_db()
    assert sheet.status == CollectionSheet.Status.POSTED
    line = sheet.lines.get(pk=first.pk)
    assert line.amount_paid == 1_000_000
    assert line.savings_in == 50_000
