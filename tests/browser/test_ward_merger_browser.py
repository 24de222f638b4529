"""An admin merges two wards in the browser: opens the page from the user menu, fills the form, previews, ticks the
check and carries it out; the page passes axe-core's WCAG 2.1 AA checks before and after the preview."""

import pytest

from organizations.models import Ward, WardMerger
from tests.browser.conftest import login
from tests.browser.test_accessibility import AXE, BLOCKING, WCAG_21_AA, describe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(browser, live_server):
    """As conftest's page, but with the Content-Security-Policy bypassed so that axe.js can be injected inline."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    context.close()


def assert_accessible_here(page):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_21_AA,
    )
    failures = describe(page.url, [v for v in result["violations"] if v["impact"] in BLOCKING])
    assert not failures, "axe found serious or critical violations:\n" + "\n".join(failures)


def test_admin_previews_and_carries_out_a_merger(page, screenshot, admin_user, ward_a, ward_b, group_a, group_b,
                                                 household_a):
    login(page, "admin")
    page.wait_for_selector("[data-testid=officer]")
    page.click("[data-testid=officer]")
    # The page's own words are translated when the branch's strings reach locale/; the test goes by its markup.
    with page.expect_navigation():
        page.click("a[href='/wards/merge/']")
    page.wait_for_selector("[data-testid=merger-form]")
    assert_accessible_here(page)

    page.get_by_label(f"{ward_a.code} – {ward_a.name}").check()
    page.get_by_label(f"{ward_b.code} – {ward_b.name}").check()
    page.fill("#id_code", "761234")
    page.fill("#id_name", "Thới An")
    page.fill("#id_merged_on", "01/07/2025")
    page.fill("#id_decision", "1685/NQ-UBTVQH15")
    page.click("[data-testid=merger-preview-button]")
    preview = page.locator("[data-testid=merger-preview]")
    preview.wait_for()
    assert page.locator("[data-testid=merger-problems]").count() == 0
    assert "Thới An" in page.locator("[data-testid=merger-branches]").inner_text()
    assert "2" in page.locator("[data-testid=merger-counts]").inner_text()
    assert_accessible_here(page)
    screenshot("ward-merger-preview")
    screenshot("ward-merger-preview-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})

    page.check("#merger-checked")
    with page.expect_navigation():
        page.click("[data-testid=merger-confirm-button]")
    page.wait_for_selector(".alert-success:has-text('Thới An')")
    assert page.locator("[data-testid=merger-row]").count() == 1
    screenshot("ward-merger-done")
    merger = WardMerger.objects.get()
    assert merger.ward.code == "761234" and merger.carried_out_by == admin_user
    assert set(Ward.objects.filter(merged_into=merger.ward)) == {ward_a, ward_b}
