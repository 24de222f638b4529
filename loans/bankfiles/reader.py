"""Reading the bank's spreadsheets safely: .xlsx, .xls and .csv become rows of plain cell values.

Cells come back as `str` (text), `int` or `Decimal` (numbers, never float), `bool`, `date`/`datetime` (date cells)
or None (empty), so the layouts see one kind of value whatever the format.

Every byte of the file is parsed in a child process that caps its own memory and CPU time (sheet_process.py): the
archive checks and the workbook's parts, calamine (python-calamine, a maintained Rust reader), and the CSV reader
alike. A file built to exhaust memory then fails there, alone, never in the web server or the worker. This process
only looks at the first bytes to pick the reader, and reads the child's batches of cell values.
"""

import contextlib
import json
import logging
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from loans.bankfiles.archive_checks import TOO_LARGE, SpreadsheetError, refusal
from loans.bankfiles.sheet_process import cell_value

__all__ = ["SpreadsheetError", "cell_value", "read_rows"]

log = logging.getLogger(__name__)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CHILD = Path(__file__).with_name("sheet_process.py")
# What the child may hold besides the file itself: Python, calamine and one batch of rows.
CHILD_BASE_MEMORY = 160 * 1024 * 1024
# calamine holds the cells and their text: about 2.5 times the sheet's XML.
CHILD_BYTES_PER_UNPACKED_BYTE = 3


class _CellsOnly(pickle.Unpickler):
    """The child's frames hold tuples, lists and dicts of plain values; anything else in the stream is refused."""

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


def child_config(mode, size):
    return {
        "mode": mode,
        "size": size,
        "memory_base": CHILD_BASE_MEMORY,
        "cells_per_byte": CHILD_BYTES_PER_UNPACKED_BYTE,
        "cpu_seconds": settings.IMPORT_READ_SECONDS,
        "max_entries": settings.IMPORT_MAX_XLSX_ENTRIES,
        "max_unpacked": settings.IMPORT_MAX_UNCOMPRESSED_BYTES,
        "max_ratio": settings.IMPORT_MAX_COMPRESSION_RATIO,
    }


def _stage_reached(name, info):
    """The child set its limits ("start"), or finished its checks and hands the file to `name` (calamine or csv),
    under `info["memory_cap"]` bytes of address space."""
    log.info("Bank file reader: %s under a %s MB cap", name, info.get("memory_cap", 0) // (1024 * 1024))


def _read_in_child(content, mode):
    """Rows of the first sheet, read by the capped child process, as (row number, values)."""
    seconds = settings.IMPORT_READ_SECONDS
    # stderr goes to a file: a long panic message in a pipe nobody reads yet could block the child.
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-I", str(CHILD), json.dumps(child_config(mode, len(content)))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
    )
    refused = None
    try:
        try:
            process.stdin.write(content)  # the child reads all of it before it answers
            process.stdin.close()
        except BrokenPipeError:
            pass  # the child is gone already; its exit code says why
        while True:
            try:
                # One unpickler per frame: each frame is its own pickle, with its own memo.
                frame = _CellsOnly(process.stdout).load()
            except EOFError:
                break
            except pickle.UnpicklingError:
                break  # a frame cut short: the child died; its exit code below says why
            kind = frame[0] if isinstance(frame, tuple) and frame else None
            if kind == "rows":
                yield from frame[1]
            elif kind == "stage":
                _stage_reached(frame[1], frame[2])
            elif kind == "refused":
                refused = frame
                break
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if refused is not None:
            raise refusal(refused[1], refused[2])
        if process.returncode:
            errors.seek(0)
            raise _exit_refusal(process.returncode, errors.read(400).decode(errors="replace").strip())
    finally:
        # Also when the caller stops early (the total row ends the data): the child is not left behind.
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, errors):
            with contextlib.suppress(OSError):  # a broken pipe's unsent bytes
                stream.close()


def _exit_refusal(code, message):
    """A child that ended without naming a refusal: killed for its memory or CPU time, or crashed."""
    if code in (-9, -24, -6, 3) or "memory" in message.lower():
        # -6: Rust aborts when the sheet would not fit in the child's memory; -9/-24: killed for CPU time.
        return SpreadsheetError(TOO_LARGE)
    return refusal("unreadable", {"reason": message or str(code)})


def read_rows(content, file_name):
    """Rows of the first sheet: an iterator of (Excel row number, values)."""
    name = file_name.lower()
    if content[:2] == b"PK" or name.endswith((".xlsx", ".xlsm")):
        return _read_in_child(content, "xlsx")
    if content[:8] == OLE_MAGIC or name.endswith(".xls"):
        if content[:8] != OLE_MAGIC:
            raise SpreadsheetError(_("The file is not a valid .xls workbook."))
        return _read_in_child(content, "xls")
    if name.endswith((".csv", ".txt")):
        return _read_in_child(content, "csv")
    raise SpreadsheetError(_("Upload an .xlsx, .xls or .csv file."))
