"""Printed forms on A4 and the import and supervision screens, looked at in Chromium.

Each test saves what it printed (tests/screenshots/*.pdf and a print-media screenshot) for a person to look at.
"""

import re
from datetime import date

import pytest
import time_machine

from tests.browser.conftest import SCREENSHOTS, login
from tests.factories import HouseholdFactory, LoanFactory

pytestmark = pytest.mark.django_db(transaction=True)

A4_LANDSCAPE_WIDTH = 1123  # px at 96 dpi


def pdf_pages(pdf):
    """Pages in a PDF Chromium wrote (each page object says /Type /Page)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def print_view(page, name):
    """Emulate print on an A4-wide window, save a screenshot and the PDF; returns the PDF bytes."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": A4_LANDSCAPE_WIDTH, "height": 800})
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-print.png"), full_page=True)
    pdf = page.pdf(path=str(SCREENSHOTS / f"{name}.pdf"), prefer_css_page_size=True, print_background=True)
    return pdf


def stt_width(page, table):
    return page.evaluate(
        "(selector) => document.querySelector(selector + ' thead tr:first-child th:first-child')"
        ".getBoundingClientRect().width",
        table,
    )


@pytest.fixture
def busy_group(group_a, household_a):
    """Group A with 40 borrowing households, as a real 13/TD has."""
    with time_machine.travel("2026-06-20 09:00 +0700", tick=False):
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        for number in range(39):
            household = HouseholdFactory(group=group_a, head_name=f"Nguyễn Thị Hộ Vay Số {number + 2}")
            LoanFactory(household=household, amount=20_000_000, disbursed_on=date(2026, 5, 20))
    return group_a


def test_13td_prints_many_rows_per_a4_page_with_the_total_once(page, ward_officer_a, busy_group):
    from loans.services.collection import collection_sheet_create

    with time_machine.travel("2026-06-20 09:00 +0700", tick=False):
        sheet = collection_sheet_create(group=busy_group, on=date(2026, 6, 20), actor=ward_officer_a)
    login(page, "ward_a")
    page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/print/")
    page.wait_for_selector(".print-table")
    pdf = print_view(page, "print-13td")
    # The number column is as narrow as its number, not the 8.5rem of a list's name column.
    assert stt_width(page, ".print-table") < 45
    # The total is an ordinary row group at the end: Chromium repeats a <tfoot> under every page.
    assert page.evaluate("getComputedStyle(document.querySelector('.print-table tfoot')).display") == "table-row-group"
    assert page.evaluate("getComputedStyle(document.querySelector('.print-table thead')).display") == (
        "table-header-group"
    )
    # One line per household: 40 households and the signatures fit on 2 landscape A4 sheets (8 rows a page before).
    assert page.evaluate("document.querySelector('.print-table tbody tr:nth-child(2)').getBoundingClientRect().height") < 24
    assert pdf_pages(pdf) <= 2
    assert page.locator(".signatures .signature").count() == 3


def test_report_01_1_prints_on_landscape_a4_with_ward_names_on_one_line(page, admin_user, busy_group):
    login(page, "admin")
    page.goto(f"{page.base_url}/loans/reports/bctd_01_1/")
    page.wait_for_selector("[data-testid=report-table]")
    pdf = print_view(page, "print-bctd-01-1")
    assert pdf_pages(pdf) >= 1
    assert stt_width(page, "[data-testid=report-table]") < 45
    cell = page.locator("[data-testid=report-table] td.cell-ward_name").first
    line_height = page.evaluate("(el) => parseFloat(getComputedStyle(el).lineHeight) || 14", cell.element_handle())
    assert cell.bounding_box()["height"] < 2 * line_height + 8


def test_01td_prints_on_portrait_a4(page, ward_officer_a, household_a):
    from decimal import Decimal

    from loans.models import LoanProgram
    from loans.services.requests import application_create

    application = application_create(household=household_a, program=LoanProgram.objects.get(code="01"),
                                     amount=Decimal(30_000_000), term_months=36, purpose="Chăn nuôi heo",
                                     planned_use="Mua 5 con heo giống", actor=ward_officer_a)
    login(page, "ward_a")
    page.goto(f"{page.base_url}/loans/requests/{application.pk}/")
    with page.expect_navigation():
        page.click("[data-testid=print-01td]")
    page.wait_for_selector("[data-testid=form-01td]")
    assert "30.000.000 ₫" in page.inner_text("[data-testid=amount]")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.emulate_media(media="print")
    pdf = page.pdf(path=str(SCREENSHOTS / "print-01td.pdf"), prefer_css_page_size=True)
    assert pdf_pages(pdf) == 1
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", pdf)
    width, height = float(box.group(1)), float(box.group(2))
    assert height > width  # portrait
    page.set_viewport_size({"width": 794, "height": 1123})
    page.screenshot(path=str(SCREENSHOTS / "print-01td-print.png"), full_page=True)


def test_supervision_summary_fits_a_1366_laptop(page, screenshot, front_supervisor, branch_a, farmers_branch_a):
    login(page, "front")
    page.goto(f"{page.base_url}/supervision/")
    page.wait_for_selector("[data-testid=summary]")
    screenshot("supervision-summary-1366")
    overflow = page.evaluate(
        """() => { const box = document.querySelector('[data-testid=summary]').closest('.table-responsive');
        return [box.scrollWidth, box.clientWidth, document.documentElement.scrollWidth, window.innerWidth]; }"""
    )
    assert overflow[0] <= overflow[1], overflow  # the table needs no sideways scrolling
    assert overflow[2] <= overflow[3], overflow  # nor does the page


def test_inspection_form_groups_are_grouped_by_ward_branch_and_searchable(page, screenshot, front_supervisor,
                                                                         group_a, group_b):
    login(page, "front")
    page.goto(f"{page.base_url}/supervision/inspections/new/")
    select = page.locator("select[name=inspected_group]")
    labels = select.locator("optgroup").evaluate_all("(groups) => groups.map((g) => g.label)")
    assert len(labels) == 2 and any("Phường A" in label for label in labels)
    search = page.locator("input[type=search]").first
    search.fill("Phuong B")  # accents ignored
    visible = select.locator("option").evaluate_all("(options) => options.filter((o) => !o.hidden && o.value).length")
    assert visible == 1
    screenshot("inspection-form-groups")
