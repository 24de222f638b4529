"""The child process that reads a bank file: every byte of it is parsed here, never in the web server or the worker.

Run by loans/bankfiles/reader.py as a separate program, never imported by Django: it needs only the standard library,
defusedxml and python_calamine. It caps its own memory (address space) and CPU time before it reads a byte, so a file
built to exhaust memory fails here, alone.

    python sheet_process.py CONFIG_JSON  < file  > frames

CONFIG_JSON holds the mode (xlsx, xls or csv), the file's size and the limits (see reader.py). Each frame on stdout is
one pickle:
- ("stage", "start", {"memory_cap": bytes, "memory_hard": bytes, ...}): the limits are set, nothing is read yet;
- ("stage", name, {"memory_cap": bytes, ...}): the checks are over and the named reader starts, under that cap;
- ("rows", [(row number, [values]), ...]): a batch of rows, values already as the layouts expect them (cell_value);
- ("refused", code, {params}): the file is refused; reader.py words the refusal in the officer's language.

An .xlsx is checked first, in one streaming pass and constant memory: number of parts, their real unpacked size (a
declared size may lie), compression ratio, no DTD (entities that expand without end). A bare workbook written by a
script gets the package parts calamine needs. Only then does calamine read it, under a cap sized from what the file
really unpacks to.
"""

import codecs
import csv
import io
import json
import math
import pickle
import resource
import sys
import zipfile
import zlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal

CHUNK = 1 << 20
# A batch ends at this many rows or cells, whichever comes first: the parent holds one batch at a time.
BATCH_ROWS = 2000
BATCH_CELLS = 100_000
# Excel's last column is XFD: a row with more cells is no spreadsheet a bank wrote.
MAX_COLUMNS = 16384
CSV_SAMPLE_CHARS = 8192

DTD_MARKS = (b"<!DOCTYPE", b"<!ENTITY")
# Small parts squeeze well (styles, an empty sheet): the ratio counts only from this size on.
RATIO_FROM_BYTES = 1 << 20

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
REL_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


class Refusal(Exception):
    """The file is refused: `code` names the reason, `params` fill in its message (reader.REFUSALS)."""

    def __init__(self, code, **params):
        super().__init__(code)
        self.code, self.params = code, params


def cell_value(value):
    """One calamine value as the layouts expect it: whole numbers as int, others as exact Decimal, "" as None."""
    if value.__class__ is str:
        return value if value else None
    if value.__class__ is float:
        if value.is_integer():
            return int(value)  # exact: a float holding a whole number converts without rounding
        if not math.isfinite(value):
            return repr(value)  # text: every column refuses it with its own message
        # The shortest text that reads back as the same float is what the cell showed; never float arithmetic.
        return Decimal(repr(value))
    if value.__class__ is int or value.__class__ is bool:
        return value
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, (time, timedelta)):
        return str(value)  # a time of day or a duration is no date or amount; the layouts refuse it as text
    return None if value is None else str(value)


# ---- the .xlsx package ------------------------------------------------------------------------------------------


def _mb(size):
    return max(1, round(size / (1024 * 1024)))


def _open(content):
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        return archive, archive.infolist()
    # NotImplementedError: a damaged header asking for a zip version or feature the zip module does not have.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise Refusal("not_xlsx") from None


def check_xlsx(archive, infos, limits):
    """Refuse an archive that is too large, too packed, damaged or carries a DTD. Returns its real unpacked size."""
    max_entries, max_bytes, max_ratio = limits["max_entries"], limits["max_unpacked"], limits["max_ratio"]
    if len(infos) > max_entries:
        raise Refusal("too_many_parts", count=len(infos), limit=max_entries)
    declared = sum(info.file_size for info in infos)
    if declared > max_bytes:
        raise Refusal("declared_too_big", size=_mb(declared), limit=_mb(max_bytes))
    for info in infos:
        if info.file_size > RATIO_FROM_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            raise Refusal(
                "zip_bomb",
                part=info.filename[:200],
                ratio=info.file_size // max(info.compress_size, 1),
                limit=max_ratio,
            )
    unpacked = 0
    for info in infos:
        unpacked = _stream_part(archive, info, unpacked, max_bytes, max_ratio)
    if "xl/workbook.xml" not in {info.filename for info in infos}:
        raise Refusal("not_xlsx")
    return unpacked


def _stream_part(archive, info, unpacked, max_bytes, max_ratio):
    """Unpack one part in chunks, keeping nothing: its real size counts against the limits, DTDs are refused."""
    xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    part = info.filename[:200]
    tail = b""
    size = 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(CHUNK):
                size += len(chunk)
                if unpacked + size > max_bytes:
                    raise Refusal("unpacked_too_big", limit=_mb(max_bytes))
                if size > RATIO_FROM_BYTES and size > max_ratio * max(info.compress_size, 1):
                    raise Refusal("beyond_packed_size", part=part)
                if xml:
                    window = tail + chunk
                    upper = window.upper() if b"<!" in window else b""
                    if upper and any(mark in upper for mark in DTD_MARKS):
                        raise Refusal("dtd", part=part)
                    tail = chunk[-16:]
    except Refusal:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError):
        # A wrong checksum or size, a cut stream, an unknown compression, a password: all just a broken file here.
        raise Refusal("part_damaged", part=part) from None
    return unpacked + size


def _elements(archive, name, tags):
    """The elements named in `tags` of one part, parsed as a stream and dropped as they go: a part of any size costs
    the same few kilobytes. The archive checks have already refused DTDs; defusedxml refuses them again."""
    from defusedxml.ElementTree import iterparse

    try:
        with archive.open(name) as handle:
            open_elements = []
            for event, element in iterparse(handle, events=("start", "end"), forbid_dtd=True):
                if event == "start":
                    open_elements.append(element)
                    continue
                open_elements.pop()
                if element.tag in tags:
                    yield element
                element.clear()
                if open_elements:
                    open_elements[-1].remove(element)  # nothing read stays attached to its parent
    except Exception:  # defusedxml's refusals and plain syntax errors alike
        raise Refusal("part_unsafe", part=name) from None


def complete_package(content, archive, infos):
    """Give a bare workbook (no package relationships, as some scripts write) the parts calamine needs.

    Excel always writes `_rels/.rels`, `xl/_rels/workbook.xml.rels` and an r:id on each sheet; then the file goes
    through untouched. Otherwise the first sheet is found as Excel would (its relationship, else sheet1.xml) and
    the workbook is rewritten with just that sheet and its shared strings and styles.
    """
    names = {info.filename for info in infos}
    date1904, sheet = "", None
    for element in _elements(archive, "xl/workbook.xml", (f"{NS_MAIN}workbookPr", f"{NS_MAIN}sheet")):
        if element.tag == f"{NS_MAIN}workbookPr":
            date1904 = ' date1904="1"' if element.get("date1904") in ("1", "true") else ""
            continue
        sheet = element
        break  # the first sheet is all that is read; the rest of the part is never parsed
    if sheet is None:
        raise Refusal("no_sheet")
    rel_id = sheet.get(f"{NS_REL}id")
    if "_rels/.rels" in names and "xl/_rels/workbook.xml.rels" in names and rel_id:
        return content
    target = "worksheets/sheet1.xml"
    if rel_id and "xl/_rels/workbook.xml.rels" in names:
        for rel in _elements(archive, "xl/_rels/workbook.xml.rels", (f"{NS_PKG_REL}Relationship",)):
            if rel.get("Id") == rel_id and rel.get("Target"):
                target = rel.get("Target")
                break
    path = target.lstrip("/") if target.startswith("/") else "xl/" + target
    if path not in names:
        raise Refusal("first_sheet_missing")
    rels = [f'<Relationship Id="rId1" Type="{REL_DOC}worksheet" Target="/{path}"/>']
    keep = [path]
    for part, kind in (("xl/sharedStrings.xml", "sharedStrings"), ("xl/styles.xml", "styles")):
        if part in names:
            rels.append(f'<Relationship Id="rId{len(rels) + 1}" Type="{REL_DOC}{kind}" Target="/{part}"/>')
            keep.append(part)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        out.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{NS_PKG_REL[1:-1]}"><Relationship Id="rId1" Type="{REL_DOC}officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        out.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{NS_MAIN[1:-1]}" xmlns:r="{NS_REL[1:-1]}"><workbookPr{date1904}/><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        out.writestr(
            "xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{NS_PKG_REL[1:-1]}">{"".join(rels)}</Relationships>'
        )
        for part in keep:
            with archive.open(part) as source, out.open(part, "w") as target_handle:
                while chunk := source.read(CHUNK):
                    target_handle.write(chunk)
    return buffer.getvalue()


# ---- reading rows -------------------------------------------------------------------------------------------------


class Batches:
    """Rows sent to the parent in batches of at most BATCH_ROWS rows or BATCH_CELLS cells."""

    def __init__(self, out):
        self.out, self.rows, self.cells = out, [], 0

    def add(self, number, cells):
        while cells and cells[-1] is None:  # trailing empty cells carry nothing; a wide sheet has thousands
            cells.pop()
        if not cells:
            return
        if len(cells) > MAX_COLUMNS:
            raise Refusal("too_many_columns", row=number, limit=MAX_COLUMNS)
        self.rows.append((number, cells))
        self.cells += len(cells)
        if len(self.rows) >= BATCH_ROWS or self.cells >= BATCH_CELLS:
            self.flush()

    def flush(self):
        if self.rows:
            send(self.out, ("rows", self.rows))
            self.rows, self.cells = [], 0


def send(out, frame):
    pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def read_calamine(content, batches):
    import python_calamine

    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    sheet = workbook.get_sheet_by_index(0)
    start, end = sheet.start, sheet.end
    if start is None:
        return
    padding = [None] * start[1]
    count = 0
    # This version's iter_rows starts at the sheet's row 1 (empty rows above the data included) and at the data's
    # first column; the count is checked below so that a change shows up as a refusal, never as rows numbered wrong.
    for count, values in enumerate(sheet.iter_rows(), start=1):
        cells = [cell_value(value) for value in values]
        if any(cell is not None for cell in cells):
            batches.add(count, padding + cells if padding else cells)
    if count != end[0] + 1:
        raise Refusal("unreadable", reason=f"RowNumbering: {count} rows for a sheet ending at row {end[0] + 1}")


def read_csv(content, batches):
    # Checked whole first, keeping nothing, so that bytes after the total row cannot slip through either.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    try:
        for start in range(0, len(view), CHUNK):
            decoder.decode(view[start : start + CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise Refusal("csv_not_utf8") from None
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    sample = text.read(CSV_SAMPLE_CHARS)
    text.seek(0)
    delimiter = max((",", ";", "\t"), key=sample.count)
    try:
        for number, values in enumerate(csv.reader(text, delimiter=delimiter), start=1):
            batches.add(number, [value if value.strip() else None for value in values])
    except csv.Error:
        raise Refusal("csv_unreadable") from None


def cap_memory(soft, hard):
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def main():
    config = json.loads(sys.argv[1])
    mode, size, base = config["mode"], config["size"], config["memory_base"]
    cpu = config["cpu_seconds"]
    # The most this file may ever need: its bytes twice (as read, and a completed package) and its cells.
    hard = base + 2 * size + config["cells_per_byte"] * (config["max_unpacked"] if mode == "xlsx" else size)
    # The checks stream in constant memory: the file and a copy of it are all they hold.
    first = base + 2 * size if mode == "xlsx" else hard
    cap_memory(first, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    out = sys.stdout.buffer
    batches = Batches(out)
    send(out, ("stage", "start", {"memory_cap": first, "memory_hard": hard, "cpu_seconds": cpu}))
    try:
        content = sys.stdin.buffer.read()
        if mode == "xlsx":
            archive, infos = _open(content)
            unpacked = check_xlsx(archive, infos, config)
            content = complete_package(content, archive, infos)
            archive.close()
            cap = min(hard, base + 2 * size + config["cells_per_byte"] * unpacked)
            cap_memory(cap, cap)
            send(out, ("stage", "calamine", {"memory_cap": cap, "unpacked": unpacked}))
            read_calamine(content, batches)
        elif mode == "xls":
            cap_memory(hard, hard)
            send(out, ("stage", "calamine", {"memory_cap": hard, "unpacked": size}))
            read_calamine(content, batches)
        else:
            send(out, ("stage", "csv", {"memory_cap": hard, "unpacked": size}))
            read_csv(content, batches)
        batches.flush()
    except Refusal as refusal:
        batches.rows = []
        send(out, ("refused", refusal.code, refusal.params))
        sys.exit(2)
    except MemoryError:
        batches.rows = []
        send(out, ("refused", "csv_too_large" if mode == "csv" else "too_large", {}))
        sys.exit(3)
    except Exception as error:  # calamine's refusals: CalamineError and its kinds, and a few plain ValueErrors
        send(out, ("refused", "unreadable", {"reason": f"{type(error).__name__}: {error}"[:300].replace("\n", " ")}))
        sys.exit(2)


if __name__ == "__main__":
    main()
