"""Numbers read the page's language in the charts, and on a 390 px phone no amount or ratio loses its ₫ or % to
the next line (issue 16, finding 7)."""

from datetime import date

import pytest

from loans.ledger.summaries import refresh_portfolio_summary
from tests.browser.conftest import SCREENSHOTS, login
from tests.factories import HouseholdFactory, LoanFactory, program

pytestmark = pytest.mark.django_db(transaction=True)

# Every "1.234 ₫" or "2,50 %" on the page whose characters are drawn on more than one line.
BROKEN_FIGURES = """() => {
  const broken = [];
  const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
  const figure = /\\d[\\d.,]*\\s(₫|%)/g;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    for (const match of node.textContent.matchAll(figure)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""


@pytest.fixture
def district(ward_officer_a, group_a, group_b):
    # Large enough that the axes count thousands of millions, where separators show.
    loans = []
    for group, amounts in ((group_a, (3_200_000_000, 2_500_000_000)), (group_b, (1_800_000_000,))):
        for index, amount in enumerate(amounts):
            household = HouseholdFactory(group=group, head_name=f"Nguyễn Thị Hộ Vay Dài Tên {group.code[-1]}-{index}")
            loans.append(LoanFactory(household=household, amount=amount, disbursed_on=date(2026, 3 + index, 10),
                                     program=program("01" if index == 0 else "03")))
    refresh_portfolio_summary()
    return loans


def axis_labels(page, chart, axis):
    page.wait_for_function(f"() => window.Chart && Chart.getChart('{chart}')")
    return page.evaluate(f"() => Chart.getChart('{chart}').scales.{axis}.ticks.map((t) => t.label)")


@pytest.fixture
def english_browser_page(browser, live_server, page):
    """Office computers often run an English browser; the page's language, not the browser's, decides."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="en-US")
    english_page = context.new_page()
    english_page.set_default_timeout(15_000)
    english_page.base_url = live_server.url
    yield english_page
    context.close()


def test_chart_axes_group_digits_the_vietnamese_way_and_the_english_way(english_browser_page, district):
    page = english_browser_page
    login(page, "ward_a")
    labels = axis_labels(page, "chart-kinds", "y")
    thousands = [label for label in labels if len(label) > 3]
    assert thousands and all("." in label and "," not in label for label in thousands), labels
    page.screenshot(path=str(SCREENSHOTS / "chart-separators-vi.png"), full_page=True)

    page.click("nav .language-switch button[value=en]")
    page.wait_for_selector("html[lang=en]")
    labels = axis_labels(page, "chart-kinds", "y")
    thousands = [label for label in labels if len(label) > 3]
    assert thousands and all("," in label and "." not in label for label in thousands), labels
    page.screenshot(path=str(SCREENSHOTS / "chart-separators-en.png"), full_page=True)


def test_on_a_phone_amounts_and_ratios_stay_on_one_line(page, screenshot, district):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "ward_a")
    page.wait_for_selector("[data-testid=total-outstanding]")
    for name, path in (
        ("home", "/"),
        ("household", f"/households/{district[0].household_id}/"),
        ("loan", f"/loans/{district[0].pk}/"),
    ):
        page.goto(page.base_url + path)
        page.wait_for_load_state("domcontentloaded")
        assert page.evaluate(BROKEN_FIGURES) == [], name
        screenshot(f"phone-{name}", width=390)
