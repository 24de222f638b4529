"""Reading the bank's spreadsheets safely: .xlsx, .xls and .csv become rows of plain cell values.

Cells come back as `str` (text), `int` or `Decimal` (numbers, never float), `bool`, `date`/`datetime` (date cells)
or None (empty), so the layouts see one kind of value whatever the format.

Workbooks are read by calamine (python-calamine, a maintained Rust reader), in a child process that caps its own
memory and CPU time (sheet_process.py): a sheet can make calamine reserve rows × columns cells, and only a separate
process keeps such a file from taking the web server with it. Before that, an .xlsx is checked here in one streaming
pass, in constant memory (archive_checks.py): number of parts, their real unpacked size, compression ratio, no DTD.
CSV stays on the standard library.
"""

import contextlib
import csv
import io
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from loans.bankfiles.archive_checks import SpreadsheetError, check_xlsx, complete_package
from loans.bankfiles.sheet_process import cell_value

__all__ = ["SpreadsheetError", "cell_value", "read_rows", "read_csv"]

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CHILD = Path(__file__).with_name("sheet_process.py")
# What the child may hold besides the file itself: Python, calamine and one batch of rows.
CHILD_BASE_MEMORY = 160 * 1024 * 1024


class _CellsOnly(pickle.Unpickler):
    """The child's batches hold lists of plain values; anything else in the stream is refused."""

    ALLOWED = {
        ("decimal", "Decimal"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")


def _run_calamine(content, unpacked_bytes):
    """Rows of the first sheet, read by calamine in the capped child process, as (Excel row number, values)."""
    memory = CHILD_BASE_MEMORY + 3 * unpacked_bytes  # calamine holds the cells and their text: ~2.5x the XML
    seconds = settings.IMPORT_READ_SECONDS
    # stderr goes to a file: a long panic message in a pipe nobody reads yet could block the child.
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-I", str(CHILD), str(memory), str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
    )
    try:
        try:
            process.stdin.write(content)  # the child reads all of it before it answers
            process.stdin.close()
        except BrokenPipeError:
            pass  # the child is gone already; its exit code says why
        while True:
            try:
                # One unpickler per batch: each batch is its own pickle, with its own memo.
                batch = _CellsOnly(process.stdout).load()
            except EOFError:
                break
            except pickle.UnpicklingError:
                break  # a batch cut short: the child died; its exit code below says why
            yield from batch
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode:
            errors.seek(0)
            raise _refusal(process.returncode, errors.read(400).decode(errors="replace").strip())
    finally:
        # Also when the caller stops early (the total row ends the data): the child is not left behind.
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, errors):
            with contextlib.suppress(OSError):  # a broken pipe's unsent bytes
                stream.close()


def _refusal(code, message):
    if code in (-9, -24) or code == 3 or "memory" in message.lower() or code == -6:
        # -6: Rust aborts when the sheet would not fit in the child's memory; -9/-24: killed for CPU time.
        return SpreadsheetError(
            _(
                "The workbook's first sheet is too large or too scattered to read (it spans far more cells than it "
                "holds, or takes too long); it is refused. Copy the rows into a new workbook and upload that."
            )
        )
    return SpreadsheetError(
        _("The workbook cannot be read: it is damaged or not a real Excel file (%(reason)s).")
        % {"reason": message.split(": ", 1)[-1][:200] or code}
    )


def read_xlsx(content):
    unpacked = check_xlsx(content)
    content = complete_package(content)
    return _run_calamine(content, unpacked)


def read_xls(content):
    if content[:8] != OLE_MAGIC:
        raise SpreadsheetError(_("The file is not a valid .xls workbook."))
    return _run_calamine(content, len(content))


def read_csv(content):
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpreadsheetError(_("The .csv file is not UTF-8 text; save it again as “CSV UTF-8”.")) from None
    sample = text[:8192]
    delimiter = max((",", ";", "\t"), key=sample.count)
    try:
        for number, values in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
            if any(value.strip() for value in values):
                yield number, [value if value.strip() else None for value in values]
    except csv.Error:
        raise SpreadsheetError(_("The .csv file cannot be read as rows of cells.")) from None


def read_rows(content, file_name):
    """Rows of the first sheet: an iterator of (Excel row number, values)."""
    name = file_name.lower()
    if content[:2] == b"PK" or name.endswith((".xlsx", ".xlsm")):
        return read_xlsx(content)
    if content[:8] == OLE_MAGIC or name.endswith(".xls"):
        return read_xls(content)
    if name.endswith((".csv", ".txt")):
        return read_csv(content)
    raise SpreadsheetError(_("Upload an .xlsx, .xls or .csv file."))
