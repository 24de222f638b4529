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
    assert_charts_are_readable(page)
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


def chart(page, canvas, expression):
    return page.evaluate(f"() => {{ const chart = Chart.getChart('{canvas}'); return {expression}; }}")


def assert_charts_are_readable(page):
    """Every amount axis says "triệu ₫", the overdue ratio sits on its own % axis, the trend has two legend entries."""
    for canvas, amount_axis in (("chart-kinds", "y"), ("chart-wards", "x"), ("chart-trend", "y")):
        scales = chart(page, canvas, "chart.options.scales")
        assert scales[amount_axis]["title"]["text"] == "Dư nợ (triệu ₫)", canvas
        assert scales["ratio"]["title"]["text"] == "Tỷ lệ nợ quá hạn (%)", canvas
        # Scaled to the ratios themselves, not a fixed 0–5 %.
        assert "max" not in scales["ratio"] and "suggestedMax" not in scales["ratio"], canvas
        axes = chart(page, canvas, "chart.data.datasets.map((d) => [d.label, d.yAxisID || d.xAxisID])")
        assert axes == [["Dư nợ", amount_axis], ["Tỷ lệ nợ quá hạn", "ratio"]], canvas
        assert chart(page, canvas, "chart.scales.ratio.ticks.map((t) => t.label)")[-1].endswith(" %"), canvas
        # Each chart names itself and points at a table with its figures.
        note = page.get_attribute(f"#{canvas}", "aria-describedby")
        assert page.get_attribute(f"#{canvas}", "aria-label")
        assert page.text_content(f"#{note}").startswith("Số liệu") or page.text_content(f"#{note}").startswith("The figures")
    assert chart(page, "chart-trend", "chart.legend.legendItems.length") <= 3

    # Tooltips carry the unit: hover the first outstanding bar of the organizations chart.
    page.locator("#chart-kinds").scroll_into_view_if_needed()
    box = page.evaluate("""() => { const chart = Chart.getChart('chart-kinds'); const bar = chart.getDatasetMeta(0).data[0];
        const rect = chart.canvas.getBoundingClientRect(); return [rect.left + bar.x, rect.top + bar.y + 5]; }""")
    page.mouse.move(*box)
    page.wait_for_function("() => Chart.getChart('chart-kinds').tooltip.body")
    lines = chart(page, "chart-kinds", "chart.tooltip.body.map((b) => b.lines).flat()")
    assert any(line.endswith(" triệu ₫") for line in lines), lines
    assert any(line.endswith(" %") for line in lines), lines
    page.locator("#chart-programs").scroll_into_view_if_needed()
    doughnut = page.evaluate("""() => { const chart = Chart.getChart('chart-programs'); const arc = chart.getDatasetMeta(0).data[0];
        const point = arc.tooltipPosition(); const rect = chart.canvas.getBoundingClientRect();
        return [rect.left + point.x, rect.top + point.y]; }""")
    page.mouse.move(*doughnut)
    page.wait_for_function("() => Chart.getChart('chart-programs').tooltip.body")
    lines = chart(page, "chart-programs", "chart.tooltip.body.map((b) => b.lines).flat()")
    assert lines and lines[0].startswith("Dư nợ: ") and lines[0].endswith(" triệu ₫"), lines

    # The trend's figures are also a table for screen readers, month by month, with units.
    figures = page.text_content("[data-testid=trend-figures]").replace("\xa0", " ")
    assert "145.000.000 ₫" in figures and "0,00 %" in figures
