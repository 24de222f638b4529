"""Reading the bank's spreadsheets safely and fast: .xlsx, .xls and .csv become rows of plain cell values.

Cells come back as `str` (text), `int` or `Decimal` (numbers), `date`/`datetime` (date cells of .xls) or None.
An .xlsx is checked before parsing (entry count, uncompressed size, no DTD) and its sheet is scanned as a stream:
only rows that really hold cells cost anything, whatever the sheet claims in its dimension. The small parts
(workbook, relationships, shared strings) go through defusedxml; formulas are never evaluated, their cached value
is read.
"""

import csv
import html
import io
import re
import zipfile
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree as SafeET
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from organizations.errors import DomainError

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CHUNK = 1 << 22

# The usual shape of a cell: <c r="B7" s="3" t="s"><f>…</f><v>12</v></c> or an inline string.
CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"([^>]*?)(?:/>|>(?:<f\b[^>]*?(?:/>|>[^<]*</f>))?'
    rb"(?:<v>([^<]*)</v>|<is><t(?: [^>]*)?>([^<]*)</t></is>)?</c>)"
)
# Any cell at all, to notice the unusual shapes the fast pattern skipped.
ANY_CELL = re.compile(rb"<c[ >/]")
LOOSE_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
TEXT = re.compile(rb"<t(?: [^>]*)?>([^<]*)</t>|<t(?: [^>]*)?/>")
VALUE = re.compile(rb"<v>([^<]*)</v>")
ROW_END = b"</row>"
TYPE_ATTR = re.compile(rb't="(\w+)"')


class SpreadsheetError(DomainError):
    """The file itself cannot be read: wrong format, too big, unsafe."""


def column_index(letters):
    index = 0
    for char in letters:
        index = index * 26 + (char - 64 if isinstance(char, int) else ord(char) - 64)
    return index - 1


def _letters_index():
    names = {}
    for index in range(26 * 27):
        names[_letters(index)] = index
    return names


def _number(text):
    if text.isdigit():
        return int(text)
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _unescape(raw):
    text = raw.decode("utf-8")
    return html.unescape(text) if "&" in text else text


def _refuse_dtd(data, part):
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data[:4096].upper():
        raise SpreadsheetError(
            _("The file contains an XML declaration this application refuses (%(part)s).") % {"part": part}
        )


class XlsxReader:
    def __init__(self, content):
        self.max_entries = settings.IMPORT_MAX_XLSX_ENTRIES
        self.max_bytes = settings.IMPORT_MAX_UNCOMPRESSED_BYTES
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(content))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, ValueError, OSError):
            raise SpreadsheetError(_("The file is not a valid .xlsx workbook.")) from None
        if len(infos) > self.max_entries:
            raise SpreadsheetError(
                _("The workbook holds %(count)s parts, more than the %(limit)s allowed; it is refused.")
                % {"count": len(infos), "limit": self.max_entries}
            )
        declared = sum(info.file_size for info in infos)
        if declared > self.max_bytes:
            raise SpreadsheetError(
                _("The workbook unpacks to %(size)s MB, more than the %(limit)s MB allowed; it is refused.")
                % {"size": declared // (1024 * 1024), "limit": self.max_bytes // (1024 * 1024)}
            )
        self.names = {info.filename for info in infos}
        self.unpacked = 0

    def _read_part(self, name):
        with self.zip.open(name) as handle:
            data = handle.read(self.max_bytes + 1)
        self._count(len(data))
        _refuse_dtd(data, name)
        return data

    def _count(self, size):
        self.unpacked += size
        if self.unpacked > self.max_bytes:
            raise SpreadsheetError(
                _("The workbook unpacks to more than %(limit)s MB; it is refused.")
                % {"limit": self.max_bytes // (1024 * 1024)}
            )

    def _parse(self, name):
        try:
            return SafeET.fromstring(self._read_part(name))
        except SpreadsheetError:
            raise
        except Exception:  # defusedxml's refusals and plain syntax errors alike
            raise SpreadsheetError(_("The workbook part %(part)s cannot be read safely.") % {"part": name}) from None

    def first_sheet_path(self):
        if "xl/workbook.xml" not in self.names:
            raise SpreadsheetError(_("The file is not a valid .xlsx workbook."))
        workbook = self._parse("xl/workbook.xml")
        sheet = workbook.find(f"{NS_MAIN}sheets/{NS_MAIN}sheet")
        pr = workbook.find(f"{NS_MAIN}workbookPr")
        self.date1904 = pr is not None and pr.get("date1904") in ("1", "true")
        if sheet is None:
            raise SpreadsheetError(_("The workbook has no sheet."))
        rel_id = sheet.get(f"{NS_REL}id")
        target = "worksheets/sheet1.xml"
        if "xl/_rels/workbook.xml.rels" in self.names:
            for rel in self._parse("xl/_rels/workbook.xml.rels").iter(f"{NS_PKG_REL}Relationship"):
                if rel.get("Id") == rel_id:
                    target = rel.get("Target")
        path = target.lstrip("/") if target.startswith("/") else "xl/" + target
        if path not in self.names:
            raise SpreadsheetError(_("The workbook's first sheet is missing."))
        return path

    def shared_strings(self):
        name = "xl/sharedStrings.xml"
        if name not in self.names:
            return []
        data = self._read_part(name)  # refused above if it declares a DTD or entities
        strings = []
        for item in re.finditer(rb"<si>(.*?)</si>|<si/>", data, re.S):
            body = item.group(1) or b""
            parts = [m.group(1) or b"" for m in TEXT.finditer(body)]
            # Phonetic runs (<rPh>) are not part of the text.
            if b"<rPh" in body:
                body = re.sub(rb"<rPh\b.*?</rPh>", b"", body, flags=re.S)
                parts = [m.group(1) or b"" for m in TEXT.finditer(body)]
            strings.append(_unescape(b"".join(parts)))
        return strings

    def rows(self):
        """(Excel row number, [cell values]) for every row that holds at least one cell."""
        path = self.first_sheet_path()
        strings = self.shared_strings()
        with self.zip.open(path) as handle:
            head = handle.read(4096)
            _refuse_dtd(head, path)
            buffer = head
            while True:
                chunk = handle.read(CHUNK)
                if chunk:
                    self._count(len(chunk))
                    buffer += chunk
                    end = buffer.rfind(ROW_END)
                    if end < 0:
                        continue
                    end += len(ROW_END)
                else:
                    end = len(buffer)
                yield from self._rows_in(buffer[:end], strings)
                buffer = buffer[end:]
                if not chunk:
                    break

    def _rows_in(self, data, strings):
        cells = CELL.findall(data)
        if len(cells) != len(ANY_CELL.findall(data)):
            cells = self._loose_cells(data)
        columns = COLUMNS
        current, row_number, row = None, 0, None
        for letters, number, attrs, value, inline in cells:
            if number != current:
                if row is not None:
                    yield row_number, row
                current, row_number, row = number, int(number), []
            col = columns[letters] if letters in columns else column_index(letters)
            size = len(row)
            if size < col:
                row.extend([None] * (col - size))
                size = col
            if inline:
                cell = _unescape(inline)
            elif not value:
                cell = None
            elif not attrs:
                cell = int(value) if value.isdigit() else _number(value.decode())
            elif attrs == b' t="s"':
                index = int(value)
                cell = strings[index] if index < len(strings) else None
            else:
                kind = TYPE_ATTR.search(attrs)
                kind = kind.group(1) if kind else b"n"
                if kind == b"n":
                    cell = int(value) if value.isdigit() else _number(value.decode())
                elif kind == b"s":
                    index = int(value)
                    cell = strings[index] if index < len(strings) else None
                elif kind == b"b":
                    cell = value == b"1"
                elif kind == b"e":
                    cell = None
                else:  # str (a formula's text result), d (ISO date text)
                    cell = _unescape(value)
            if size == col:
                row.append(cell)
            else:
                row[col] = cell
        if row is not None:
            yield row_number, row

    def _loose_cells(self, data):
        """Slow path for writers that order attributes differently or use rich inline text."""
        cells = []
        last_row = 0
        row_starts = [(m.start(), int(m.group(1))) for m in re.finditer(rb'<row\b[^>]*?r="(\d+)"', data)]
        position = 0
        col_in_row = -1
        for match in LOOSE_CELL.finditer(data):
            while position < len(row_starts) and row_starts[position][0] < match.start():
                last_row = row_starts[position][1]
                position += 1
                col_in_row = -1
            attrs = dict(ATTR.findall(match.group(1)))
            body = match.group(2) or b""
            ref = attrs.get(b"r")
            if ref:
                letters = re.match(rb"[A-Z]+", ref).group(0)
                number = re.search(rb"\d+", ref).group(0)
                col_in_row = column_index(letters)
            else:
                col_in_row += 1
                letters = _letters(col_in_row)
                number = str(last_row).encode()
            kind = attrs.get(b"t", b"")
            value_match = VALUE.search(body)
            value = value_match.group(1) if value_match else b""
            inline = b""
            if kind == b"inlineStr":
                inline = b"".join(m.group(1) or b"" for m in TEXT.finditer(body)) or b""
                if not inline:
                    value = b""
            type_attr = b' t="' + kind + b'"' if kind else b""
            cells.append((letters, number, type_attr, value, inline))
        return cells


def _letters(index):
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters.encode()


def read_xls(content):
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=content, on_demand=True)
        sheet = book.sheet_by_index(0)
    except Exception:  # xlrd raises many kinds on a broken file
        raise SpreadsheetError(_("The file is not a valid .xls workbook.")) from None
    for index in range(sheet.nrows):
        values = []
        for cell in sheet.row(index):
            if cell.ctype == xlrd.XL_CELL_DATE:
                values.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
            elif cell.ctype == xlrd.XL_CELL_NUMBER:
                # xlrd hands numbers over as binary floats; go through their shortest text form, never arithmetic.
                values.append(_number(repr(cell.value).removesuffix(".0")))
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                values.append(None)
            else:
                values.append(cell.value)
        if any(value not in (None, "") for value in values):
            yield index + 1, values


def read_csv(content):
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpreadsheetError(_("The .csv file is not UTF-8 text; save it again as “CSV UTF-8”.")) from None
    sample = text[:8192]
    delimiter = max((",", ";", "\t"), key=sample.count)
    for number, values in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        if any(value.strip() for value in values):
            yield number, [value if value.strip() else None for value in values]


def read_rows(content, file_name):
    """Rows of the first sheet: an iterator of (Excel row number, values)."""
    name = file_name.lower()
    if content[:2] == b"PK" or name.endswith((".xlsx", ".xlsm")):
        return XlsxReader(content).rows()
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        return read_xls(content)
    if name.endswith((".csv", ".txt")):
        return read_csv(content)
    raise SpreadsheetError(_("Upload an .xlsx, .xls or .csv file."))


COLUMNS = _letters_index()
