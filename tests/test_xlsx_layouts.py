"""Spreadsheets keep numbers as numbers and carry the form's page setup; 03/TD ends with its signature blocks."""

import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from loans.services import requests as requests_services
from loans.xlsx import RATIO_FORMAT, build_workbook
from tests.factories import HouseholdFactory, LoanFactory, program

pytestmark = pytest.mark.django_db


def sheet_of(response):
    return load_workbook(io.BytesIO(response.content)).active


def test_every_workbook_is_a4_fit_to_width_with_the_header_repeated():
    wb = build_workbook(title_lines=["A", "B"], headers=["STT", "Tên"], rows=[[1, "x"]], total_row=["Tổng cộng", ""])
    saved = io.BytesIO()
    wb.save(saved)
    ws = load_workbook(saved).active
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
    assert ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$3:$3"


def test_ratio_columns_are_numbers_with_a_percentage_format():
    wb = build_workbook(title_lines=[], headers=["Tỷ lệ"], rows=[[Decimal("0.03")]], ratio_columns=(0,))
    saved = io.BytesIO()
    wb.save(saved)
    cell = load_workbook(saved).active["A2"]
    assert cell.data_type == "n" and Decimal(str(cell.value)) == Decimal("0.03")
    assert cell.number_format == RATIO_FORMAT


def test_report_ratio_is_stored_as_a_number(client_for, admin_user, household_a):
    with time_machine.travel("2026-06-20 09:00 +0700", tick=False):
        loan = LoanFactory(household=household_a, disbursed_on=date(2026, 1, 15))
        type(loan).objects.filter(pk=loan.pk).update(overdue_principal=15_000)
        response = client_for(admin_user).get(reverse("loans:report", args=["bctd_01_1"]) + "?format=xlsx")
    ws = sheet_of(response)
    rows = list(ws.iter_rows())
    header = next(r for r in rows if r[0].value == "STT")
    column = next(c.column - 1 for c in header if c.value and "Tỷ lệ" in str(c.value))
    data = rows[header[0].row]
    assert data[column].data_type == "n" and not isinstance(data[column].value, str)
    assert data[column].number_format == RATIO_FORMAT
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == f"${header[0].row}:${header[0].row}"


def test_03td_xlsx_ends_with_the_forms_signature_blocks(client_for, ward_officer_a, group_a, household_a):
    with time_machine.travel("2026-11-20 09:00 +0700", tick=False):
        application = requests_services.application_create(
            household=household_a, program=program("01"), amount=Decimal(30_000_000), term_months=36,
            purpose="Chăn nuôi heo", actor=ward_officer_a,
        )
        HouseholdFactory(group=group_a)
        meeting = requests_services.application_review(
            group=group_a, held_on=date(2026, 11, 20), actor=ward_officer_a, attendee_count=2, attendees="Các hộ",
            branch_officer="Cán bộ",
            results=[requests_services.ReviewResult(application, "approve", Decimal(25_000_000))],
        )
        response = client_for(ward_officer_a).get(reverse("loans:list03_xlsx", args=[meeting.loan_list.pk]))
    ws = sheet_of(response)
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    total = next(i for i, r in enumerate(values) if r[0] == "Tổng cộng")
    after = [cell for row in values[total + 1:] for cell in row if cell]
    assert "Tổ trưởng Tổ TK&VV" in after and "UBND phường" in after and "(ký, ghi rõ họ tên)" in after
    assert int(ws.page_setup.paperSize) == 9  # A4
