"""Spreadsheet downloads in the bank's style: title block, Vietnamese header row, data, Tổng cộng row.

Every cell a user typed goes through `safe_cell`, so a spreadsheet never runs it as a formula.
"""

import csv
import io
from decimal import Decimal

from django.http import HttpResponse
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
AMOUNT_FORMAT = "#,##0"


def safe_cell(value):
    """Text that starts like a formula gets a leading apostrophe; numbers and dates pass unchanged."""
    if isinstance(value, Promise):  # lazily translated text
        value = str(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def build_workbook(*, title_lines, headers, rows, total_row=None, sheet_title="Sheet1", amount_columns=()):
    """A workbook laid out like the bank's reports. `amount_columns` are 0-based indexes formatted as amounts."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title[:31]
    for line in title_lines:
        ws.append([safe_cell(str(line))])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    header_row = ws.max_row + 1
    ws.append([str(h) for h in headers])
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    if total_row is not None:
        ws.append([safe_cell(v) for v in total_row])
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    for index in amount_columns:
        for (cell,) in ws.iter_rows(min_row=header_row + 1, min_col=index + 1, max_col=index + 1):
            cell.number_format = AMOUNT_FORMAT
    for index, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(str(header)) + 4))
    return wb


def xlsx_response(filename, **layout):
    buffer = io.BytesIO()
    build_workbook(**layout).save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(filename, *, headers, rows):
    """UTF-8 with BOM so that Excel opens Vietnamese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(h) for h in headers])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
