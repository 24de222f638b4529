"""The Front supervisor reads the dashboard, drills down to a group's households and prints 01.1/BCTD."""

from datetime import date

import pytest

from loans.ledger.summaries import refresh_portfolio_summary
from tests.browser.conftest import login
from tests.factories import HouseholdFactory, LoanFactory, program

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def district(front_supervisor, group_a, group_b, farmers_branch_a):
    from tests.factories import SavingsGroupFactory

    farmers = SavingsGroupFactory(branch=farmers_branch_a, code="8100003", name="Tổ Nông dân 1")
    for group, amounts in ((group_a, (40_000_000, 25_000_000)), (group_b, (30_000_000,)), (farmers, (50_000_000,))):
        for index, amount in enumerate(amounts):
            household = HouseholdFactory(group=group, head_name=f"Hộ {group.code[-1]}-{index + 1}")
            LoanFactory(household=household, amount=amount, disbursed_on=date(2026, 3 + index, 10),
                        program=program("01" if index == 0 else "03"))
    refresh_portfolio_summary()
    return group_a


def test_front_supervisor_drills_down_and_prints_the_ward_report(page, screenshot, district):
    login(page, "front")
    page.wait_for_selector("[data-testid=total-outstanding]")
    assert page.inner_text("[data-testid=total-outstanding]").strip() == "145.000.000 ₫"
    # The charts are drawn by Chart.js from the json_script data.
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-kinds') && Chart.getChart('chart-trend')")
    assert page.evaluate("() => Chart.getChart('chart-wards').data.labels") == ["Phường A", "Phường B"]
    women = page.locator("[data-testid=by-kind] tr[data-kind='12']")
    assert "95.000.000" in women.inner_text()
    screenshot("dashboard")
    screenshot("dashboard-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})

    page.click("[data-testid=by-ward] >> text=Phường A")
    page.wait_for_selector("[data-testid=ward-groups]")
    assert "115.000.000" in page.inner_text("main")
    page.click("[data-testid=ward-groups] >> text=Tổ A1")
    page.wait_for_selector("[data-testid=group-households]")
    households = page.inner_text("[data-testid=group-households]")
    assert "Hộ 1-1" in households and "Hộ 1-2" in households
    assert page.inner_text("[data-testid=group-outstanding]").strip() == "65.000.000"
    screenshot("report-group")

    page.click("text=Tổng quan")
    page.click("[data-testid=grades] >> xpath=.. >> text=01.1/BCTD")
    page.wait_for_selector("[data-testid=report-table]")
    assert "01.1/BCTD" in page.inner_text("article")
    assert "Người lập biểu" in page.inner_text("article")
    total = page.inner_text("[data-testid=report-total] [data-field=outstanding]").strip()
    assert total == "145.000.000"
    page.emulate_media(media="print")
    assert not page.is_visible("nav.navbar")
    assert not page.is_visible("[data-testid=scope-form]")
    screenshot("report-01-1-print")
    page.emulate_media(media="screen")
    screenshot("report-01-1-phone", width=390)
