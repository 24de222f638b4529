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
# Ratios are percentages kept as numbers (1.25 means 1.25 %): Excel shows them with the reader's decimal comma.
RATIO_FORMAT = '0.00" %"'
# Dates are written as dates (sortable, filterable), shown the Vietnamese way.
DATE_FORMAT = "dd/mm/yyyy"


def format_dates(ws, min_row=1):
    """Show every date cell from `min_row` down as dd/mm/yyyy (openpyxl's default is yyyy-mm-dd)."""
    for row in ws.iter_rows(min_row=min_row):
        for cell in row:
            if cell.is_date:
                cell.number_format = DATE_FORMAT


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


def build_workbook(*, title_lines, headers, rows, total_row=None, sheet_title="Sheet1", amount_columns=(),
                   ratio_columns=(), signatures=(), orientation="landscape"):
    """A workbook laid out like the bank's reports. `amount_columns` and `ratio_columns` are 0-based indexes formatted
    as amounts and percentages; `signatures` are (title, note, name) blocks printed under the table."""
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(sheet_title)
    for line in title_lines:
        ws.append([safe_cell(str(line))])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    header_row = ws.max_row + 1 if title_lines else 1  # an empty sheet reports max_row 1
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
    for columns, number_format in ((amount_columns, AMOUNT_FORMAT), (ratio_columns, RATIO_FORMAT)):
        for index in columns:
            for (cell,) in ws.iter_rows(min_row=header_row + 1, min_col=index + 1, max_col=index + 1):
                cell.number_format = number_format
    format_dates(ws, header_row + 1)
    for index, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(str(header)) + 4))
    if signatures:
        _signature_block(ws, signatures, width=len(headers))
    _page_setup(ws, header_row=header_row, orientation=orientation)
    return wb


def _sheet_title(title):
    """Excel's rule for sheet names: at most 31 characters, none of \\ / ? * [ ] :, not empty."""
    title = re.sub(r"[\\/?*\[\]:]", "-", clean_text(str(title))).strip("' ")[:31]
    return title or "Sheet1"


def attachment(response, filename):
    """A download named `filename`; a group code or name in it never breaks the header."""
    response["Content-Disposition"] = content_disposition_header(True, clean_text(str(filename)).replace("/", "-"))
    return response


def _signature_block(ws, signatures, *, width):
    """The form's signature blocks side by side under the table: title, (sign, full name), room to sign, name."""
    first = ws.max_row + 2
    span = max(1, width // len(signatures))
    for index, (title, note, name) in enumerate(signatures):
        column = 1 + index * span
        for offset, (text, bold, italic) in enumerate(((title, True, False), (note, False, True))):
            cell = ws.cell(row=first + offset, column=column, value=safe_cell(str(text)))
            cell.font = Font(bold=bold, italic=italic)
        if name:
            ws.cell(row=first + 5, column=column, value=safe_cell(str(name))).font = Font(bold=True)
        for row in (first, first + 1, first + 5):
            if span > 1:
                ws.merge_cells(start_row=row, start_column=column, end_row=row, end_column=column + span - 1)
            ws.cell(row=row, column=column).alignment = Alignment(horizontal="center")


def _page_setup(ws, *, header_row, orientation):
    """A4, the form's orientation, all columns on one page wide, the header row repeated on every printed page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = orientation
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.print_options.horizontalCentered = True


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
