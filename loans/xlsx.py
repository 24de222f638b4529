"""Spreadsheet downloads in the bank's style: title block, Vietnamese header row, data, Tổng cộng row.

Every cell goes through `safe_cell`, so a spreadsheet never runs typed text as a formula, and control characters
that older rows may still hold are cleaned out (openpyxl refuses them, and a bank's reader chokes on them).
"""

import csv
import io
import re
from decimal import Decimal

from django.http import HttpResponse
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from organizations.text import clean_text

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
AMOUNT_FORMAT = "#,##0"


def safe_cell(value):
    """Text without control characters, and with a leading apostrophe when it starts like a formula; numbers and
    dates pass unchanged."""
    if isinstance(value, Promise):  # lazily translated text
        value = str(value)
    if isinstance(value, str):
        value = clean_text(value, multiline=True)
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def build_workbook(*, title_lines, headers, rows, total_row=None, sheet_title="Sheet1", amount_columns=()):
    """A workbook laid out like the bank's reports. `amount_columns` are 0-based indexes formatted as amounts."""
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(sheet_title)
    for line in title_lines:
        ws.append([safe_cell(str(line))])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    header_row = ws.max_row + 1
    ws.append([safe_cell(str(h)) for h in headers])
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


def _sheet_title(title):
    """Excel's rule for sheet names: at most 31 characters, none of \\ / ? * [ ] :, not empty."""
    title = re.sub(r"[\\/?*\[\]:]", "-", clean_text(str(title))).strip("' ")[:31]
    return title or "Sheet1"


def attachment(response, filename):
    """A download named `filename`; a group code or name in it never breaks the header."""
    response["Content-Disposition"] = content_disposition_header(True, clean_text(str(filename)).replace("/", "-"))
    return response


def xlsx_response(filename, **layout):
    buffer = io.BytesIO()
    build_workbook(**layout).save(buffer)
    return attachment(HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE), filename)


def csv_response(filename, *, headers, rows):
    """UTF-8 with BOM so that Excel opens Vietnamese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(str(h)) for h in headers])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return attachment(HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"), filename)
