"""The Front reads a province-sized dashboard: the trend under today's or each month's wards, the by-ward table
paged, sorted and searched, and the ward filter that suggests wards as they type, with the keyboard alone, on a
laptop and on a phone, with axe at 0."""

from datetime import date

import pytest

from loans.ledger.snapshots import snapshots_rebuild
from loans.ledger.summaries import refresh_portfolio_summary
from organizations.policy import SYSTEM
from organizations.services.mergers import wards_merge
from tests.browser.conftest import SCREENSHOTS, login
from tests.browser.test_accessibility import AXE, BLOCKING, WCAG_21_AA, describe
from tests.factories import BranchFactory, HouseholdFactory, LoanFactory, SavingsGroupFactory, WardFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.today("2026-11-16", tick=True)]

NAMES = ["Bến Thành", "Sài Gòn", "Tân Định", "Thới An", "Chợ Lớn"]


@pytest.fixture
def province(front_supervisor, household_a, household_b):
    """Wards A and B (loans since the winter) merged on 01/07/2026 into "Phường Mới", and 28 more wards."""
    LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2025, 12, 10))
    LoanFactory(household=household_b, amount=20_000_000, disbursed_on=date(2026, 1, 5))
    branch = household_a.branch
    area = household_a.ward.area
    wards_merge(sources=[household_a.ward, household_b.ward], code="900009", name="Phường Mới",
                merged_on=date(2026, 7, 1), actor=SYSTEM)
    for n in range(28):
        ward = WardFactory(area=area, code=f"95{n:04d}", name=f"{NAMES[n % len(NAMES)]} {n:02d}")
        group = SavingsGroupFactory(branch=BranchFactory(ward=ward, kind=branch.kind, parent=branch.parent),
                                    code=f"83{n:05d}")
        LoanFactory(household=HouseholdFactory(group=group), amount=(n + 1) * 1_000_000,
                    disbursed_on=date(2026, 3, 2))
    refresh_portfolio_summary()
    snapshots_rebuild(since=date(2025, 1, 1))
    return front_supervisor


def ward_rows(page):
    return page.locator("[data-testid=by-ward] tbody tr")


def test_front_pages_sorts_searches_and_picks_a_ward_with_the_keyboard(page, screenshot, province):
    """One walk through every control, since each page load builds the whole dashboard (about 20 s)."""
    login(page, "front")
    page.wait_for_selector("[data-testid=by-ward]")

    # The trend: today's wards by default; each month's wards one link away, with the old wards in the table.
    assert page.get_attribute("[data-trend-wards=today]", "aria-current") == "true"
    page.click("[data-trend-wards=month]")
    page.wait_for_url("**trend_wards=month**")
    assert page.get_attribute("[data-trend-wards=month]", "aria-current") == "true"
    page.click("#trend-by-ward summary")
    trend_table = page.inner_text("[data-testid=trend-by-ward]")
    assert "Phường A (" in trend_table and "Phường Mới" in trend_table
    page.locator("#trend-by-ward").screenshot(path=str(SCREENSHOTS / "dashboard-trend-by-ward.png"))
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-trend')")

    # 29 wards today: 25 on the first page, 4 on the second.
    assert ward_rows(page).count() == 25
    page.click("[data-testid=by-ward-pages] a[rel=next]")
    page.wait_for_url("**ward_page=2**")
    assert ward_rows(page).count() == 4
    assert "trend_wards=month" in page.url  # the other choices are kept

    # Sorting by outstanding: largest first, and said so to assistive technology.
    page.click("[data-testid=by-ward] th[data-column=outstanding] a")
    page.wait_for_url("**ward_sort=-outstanding**")
    assert page.get_attribute("[data-testid=by-ward] th[data-column=outstanding]", "aria-sort") == "descending"
    assert "Phường Mới" in ward_rows(page).first.inner_text()
    assert page.evaluate("() => Chart.getChart('chart-wards').data.labels[0]") == "Phường Mới"

    # Searching by name, accents left out.
    page.fill("#by-ward-q", "ben thanh")
    page.press("#by-ward-q", "Enter")
    page.wait_for_url("**ward_q=ben+thanh**")
    names = [text.split("\t")[0] for text in ward_rows(page).all_inner_texts()]
    assert len(names) == 6 and all(name.startswith("Bến Thành") for name in names)

    # The ward filter suggests wards as the user types; arrows and Enter choose one; Enter again shows it.
    page.goto(f"{page.base_url}/")
    picker = page.locator("#id_ward")
    assert picker.get_attribute("role") == "combobox"
    assert page.locator("label[for=id_ward]").count() == 1
    picker.focus()
    page.keyboard.type("sai gon 0")
    page.wait_for_selector("#id_ward-suggestions [role=option]")
    assert picker.get_attribute("aria-expanded") == "true"
    options = page.locator("#id_ward-suggestions [role=option]").all_inner_texts()
    assert options and all(text.startswith("Sài Gòn 0") for text in options)
    page.keyboard.press("ArrowDown")
    active = picker.get_attribute("aria-activedescendant")
    assert active and page.get_attribute(f"#{active}", "aria-selected") == "true"
    page.keyboard.press("Enter")
    assert picker.input_value() == options[0]
    assert picker.get_attribute("aria-expanded") == "false"
    chosen = page.eval_on_selector("#id_ward-select", "select => select.value")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"ward={chosen}" in page.url
    assert page.locator("#id_ward").input_value() == options[0]
    assert ward_rows(page).count() == 1 and options[0] in ward_rows(page).first.inner_text()
    screenshot("dashboard-wards")

    # On a phone the page does not scroll sideways, and the picker still works.
    page.set_viewport_size({"width": 390, "height": 860})
    page.goto(f"{page.base_url}/?trend_wards=month")
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter((e) => e.getBoundingClientRect().right > 392 && !e.closest('.table-responsive')).slice(0, 8).map((e) => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, wide
    page.locator("#id_ward").fill("ben")
    page.wait_for_selector("#id_ward-suggestions [role=option]")
    screenshot("dashboard-wards-phone", width=390)


@pytest.fixture
def axe_page(browser, live_server):
    """A page with the Content-Security-Policy bypassed so that axe.js can be injected."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    context.close()


def violations(page):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_21_AA,
    )
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def test_the_dashboard_wards_pass_axe_with_the_picker_open_and_on_a_phone(axe_page, province):
    """Eight axe runs (three pages and the open picker, at two widths): slow, about 25 s."""
    page = axe_page
    login(page, "front")
    failures = []
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        for url in ("/", "/?trend_wards=month&ward_sort=-overdue_ratio&ward_page=2", "/?ward_q=zzz"):
            page.goto(f"{page.base_url}{url}", wait_until="load")
            page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
            failures += describe(f"{url} at {width}px", violations(page))
        page.goto(f"{page.base_url}/", wait_until="load")
        page.locator("#id_ward").fill("t")
        page.wait_for_selector("#id_ward-suggestions [role=option]")
        page.keyboard.press("ArrowDown")
        failures += describe(f"/ with the ward picker open at {width}px", violations(page))
    assert not failures, "axe found serious or critical violations:\n" + "\n".join(failures)
