"""Forms in the GOV.UK pattern: amounts get their thousands dots as they are typed, and a form with several errors
shows them all at once in a summary at the top that links to each field."""

import pytest

from loans.models import LoanApplication
from tests.browser.conftest import login
from tests.browser.test_accessibility import AXE, BLOCKING, WCAG_21_AA, describe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def programs(db):
    """Transactional tests empty the tables, the programs of the data migration included."""
    from loans.defaults import install_default_programs
    from loans.models import LoanProgram

    install_default_programs(LoanProgram)


def open_request_form(page, household):
    login(page, "ward_a")
    page.goto(f"{page.base_url}/loans/households/{household.pk}/request/")
    page.select_option("select[name=program]", label="01 – Cho vay hộ nghèo")


def caret(page, selector):
    return page.eval_on_selector(selector, "input => input.selectionStart")


def test_the_amount_gets_its_dots_as_it_is_typed(page, ward_officer_a, household_a):
    open_request_form(page, household_a)
    amount = page.locator("input[name=amount]")
    assert amount.get_attribute("inputmode") == "numeric" and amount.get_attribute("type") == "text"
    amount.press_sequentially("150000000")
    assert amount.input_value() == "150.000.000"
    assert caret(page, "input[name=amount]") == len("150.000.000")
    # A digit typed in the middle keeps the caret after it, not at the end.
    amount.evaluate("input => input.setSelectionRange(3, 3)")
    page.keyboard.type("2")
    assert amount.input_value() == "1.502.000.000"
    assert caret(page, "input[name=amount]") == len("1.502")
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    assert amount.input_value() == "150.200.000"
    # Something that is not a number is left as typed, for the server to refuse.
    amount.fill("")
    amount.press_sequentially("12a")
    assert amount.input_value() == "12a"


def test_two_errors_show_together_in_a_summary_that_links_to_the_fields(page, screenshot, ward_officer_a,
                                                                       household_a):
    open_request_form(page, household_a)
    page.locator("input[name=amount]").press_sequentially("150000000")
    page.fill("input[name=term_months]", "200")
    page.fill("input[name=purpose]", "Chăn nuôi heo")
    page.click("main form[method=post] button[type=submit]")
    summary = page.locator("[data-error-summary]")
    summary.wait_for()
    assert summary.get_attribute("role") == "alert"
    # Focused by the page's script once it has run, which on a loaded machine comes after the summary shows.
    page.wait_for_function("document.activeElement && document.activeElement.hasAttribute('data-error-summary')")
    links = summary.locator("a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == ["#id_amount", "#id_term_months"]
    assert "100.000.000" in links.nth(0).inner_text() and "120" in links.nth(1).inner_text()
    # Each error is shown under its field as well, and the amount comes back formatted.
    assert "100.000.000" in page.inner_text("#div_id_amount .invalid-feedback")
    assert "120" in page.inner_text("#div_id_term_months .invalid-feedback")
    assert page.input_value("input[name=amount]") == "150.000.000"
    screenshot("form_error_summary_1366", width=1366)
    screenshot("form_error_summary_390", width=390)
    links.nth(1).click()
    assert page.evaluate("document.activeElement.id") == "id_term_months"
    # Fixed, the request is recorded.
    page.fill("input[name=term_months]", "120")
    page.fill("input[name=amount]", "")
    page.locator("input[name=amount]").press_sequentially("100000000")
    page.click("main form[method=post] button[type=submit]")
    page.wait_for_url("**/requests/*/")
    assert LoanApplication.objects.get().amount_requested == 100_000_000


def test_the_error_summary_passes_axe(browser, live_server, ward_officer_a, household_a):
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    try:
        open_request_form(page, household_a)
        page.fill("input[name=amount]", "150000000")
        page.fill("input[name=term_months]", "200")
        page.click("main form[method=post] button[type=submit]")
        page.locator("[data-error-summary]").wait_for()
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            WCAG_21_AA,
        )
        violations = [v for v in result["violations"] if v["impact"] in BLOCKING]
        assert not violations, "\n".join(describe("01/TD with errors", violations))
    finally:
        context.close()
