"""Why a bank file is refused, in the officer's words.

The checks themselves run in the child process that reads the file (sheet_process.py: number of parts, real
unpacked size, compression ratio, no DTD, then calamine or the CSV reader); it names a refusal with a code and a few
values, and this module turns them into the message the upload page shows. The limits are settings:
IMPORT_MAX_XLSX_ENTRIES, IMPORT_MAX_UNCOMPRESSED_BYTES, IMPORT_MAX_COMPRESSION_RATIO and IMPORT_READ_SECONDS.
"""

from django.utils.translation import gettext_lazy as _

from organizations.errors import DomainError


class SpreadsheetError(DomainError):
    """The file itself cannot be read: wrong format, too big, unsafe."""


TOO_LARGE = _(
    "The workbook's first sheet is too large or too scattered to read (it spans far more cells than it holds, or "
    "takes too long); it is refused. Copy the rows into a new workbook and upload that."
)

REFUSALS = {
    "not_xlsx": _("The file is not a valid .xlsx workbook."),
    "not_xls": _("The file is not a valid .xls workbook."),
    "too_many_parts": _("The workbook holds %(count)s parts, more than the %(limit)s allowed; it is refused."),
    "declared_too_big": _("The workbook unpacks to %(size)s MB, more than the %(limit)s MB allowed; it is refused."),
    "zip_bomb": _(
        "The workbook part %(part)s unpacks to %(ratio)s times its packed size (at most %(limit)s is allowed): it "
        "looks like a zip bomb and is refused."
    ),
    "unpacked_too_big": _("The workbook unpacks to more than %(limit)s MB; it is refused."),
    "beyond_packed_size": _("The workbook part %(part)s unpacks far beyond its packed size; it is refused."),
    "dtd": _("The file contains an XML declaration this application refuses (%(part)s)."),
    "part_damaged": _("The workbook part %(part)s is damaged and cannot be read."),
    "part_unsafe": _("The workbook part %(part)s cannot be read safely."),
    "no_sheet": _("The workbook has no sheet."),
    "first_sheet_missing": _("The workbook's first sheet is missing."),
    "too_large": TOO_LARGE,
    "unreadable": _("The workbook cannot be read: it is damaged or not a real Excel file (%(reason)s)."),
    "too_many_columns": _(
        "Row %(row)s has more than %(limit)s columns, more than a spreadsheet can hold; the file is refused."
    ),
    "csv_not_utf8": _("The .csv file is not UTF-8 text; save it again as “CSV UTF-8”."),
    "csv_unreadable": _("The .csv file cannot be read as rows of cells."),
    "csv_too_large": _(
        "The .csv file holds rows far longer than a bank file has, too large to read; it is refused. Check that it "
        "is the bank's file and save it again as “CSV UTF-8”."
    ),
}


def refusal(code, params):
    """The SpreadsheetError for a refusal the child named; an unknown code (a newer child) still reads as one."""
    message = REFUSALS.get(code)
    if code == "unreadable":  # "CalamineError: <what calamine says>": the officer reads what it says
        params = {"reason": str(params.get("reason", "")).split(": ", 1)[-1][:200] or "?"}
    if message is None:
        return SpreadsheetError(REFUSALS["unreadable"] % {"reason": str(code)[:200]})
    try:
        return SpreadsheetError(message % params if "%(" in str(message) else message)
    except (KeyError, TypeError, ValueError):
        return SpreadsheetError(REFUSALS["unreadable"] % {"reason": str(code)[:200]})
