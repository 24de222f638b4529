"""Checks on an .xlsx archive before any reader sees it, in one streaming pass and constant memory.

An .xlsx is a zip of XML parts. A few kilobytes can declare or hide hundreds of megabytes, or carry a DTD whose
entities expand without end. Every part is unpacked here once, in chunks, counting the bytes it really yields (its
declared size may lie) and looking for DTD declarations; nothing is kept. The limits are settings:
IMPORT_MAX_XLSX_ENTRIES, IMPORT_MAX_UNCOMPRESSED_BYTES and IMPORT_MAX_COMPRESSION_RATIO.
"""

import io
import zipfile
import zlib

from defusedxml import ElementTree as SafeET
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from organizations.errors import DomainError

CHUNK = 1 << 20
DTD_MARKS = (b"<!DOCTYPE", b"<!ENTITY")
# Small parts squeeze well (styles, an empty sheet): the ratio counts only from this size on.
RATIO_FROM_BYTES = 1 << 20

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
REL_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


class SpreadsheetError(DomainError):
    """The file itself cannot be read: wrong format, too big, unsafe."""


def _mb(size):
    return max(1, round(size / (1024 * 1024)))


def _open(content):
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        return archive, archive.infolist()
    # NotImplementedError: a damaged header asking for a zip version or feature the zip module does not have.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise SpreadsheetError(_("The file is not a valid .xlsx workbook.")) from None


def check_xlsx(content):
    """Refuse an archive that is too large, too packed, damaged or carries a DTD. Returns its real unpacked size."""
    max_entries = settings.IMPORT_MAX_XLSX_ENTRIES
    max_bytes = settings.IMPORT_MAX_UNCOMPRESSED_BYTES
    max_ratio = settings.IMPORT_MAX_COMPRESSION_RATIO
    archive, infos = _open(content)
    if len(infos) > max_entries:
        raise SpreadsheetError(
            _("The workbook holds %(count)s parts, more than the %(limit)s allowed; it is refused.")
            % {"count": len(infos), "limit": max_entries}
        )
    declared = sum(info.file_size for info in infos)
    if declared > max_bytes:
        raise SpreadsheetError(
            _("The workbook unpacks to %(size)s MB, more than the %(limit)s MB allowed; it is refused.")
            % {"size": _mb(declared), "limit": _mb(max_bytes)}
        )
    for info in infos:
        if info.file_size > RATIO_FROM_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            raise SpreadsheetError(
                _(
                    "The workbook part %(part)s unpacks to %(ratio)s times its packed size (at most %(limit)s is "
                    "allowed): it looks like a zip bomb and is refused."
                )
                % {"part": info.filename, "ratio": info.file_size // max(info.compress_size, 1), "limit": max_ratio}
            )
    unpacked = 0
    for info in infos:
        unpacked = _stream_part(archive, info, unpacked, max_bytes, max_ratio)
    if "xl/workbook.xml" not in {info.filename for info in infos}:
        raise SpreadsheetError(_("The file is not a valid .xlsx workbook."))
    return unpacked


def _stream_part(archive, info, unpacked, max_bytes, max_ratio):
    """Unpack one part in chunks, keeping nothing: its real size counts against the limits, DTDs are refused."""
    xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    tail = b""
    size = 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(CHUNK):
                size += len(chunk)
                if unpacked + size > max_bytes:
                    raise SpreadsheetError(
                        _("The workbook unpacks to more than %(limit)s MB; it is refused.") % {"limit": _mb(max_bytes)}
                    )
                if size > RATIO_FROM_BYTES and size > max_ratio * max(info.compress_size, 1):
                    raise SpreadsheetError(
                        _("The workbook part %(part)s unpacks far beyond its packed size; it is refused.")
                        % {"part": info.filename}
                    )
                if xml:
                    window = tail + chunk
                    upper = window.upper() if b"<!" in window else b""
                    if upper and any(mark in upper for mark in DTD_MARKS):
                        raise SpreadsheetError(
                            _("The file contains an XML declaration this application refuses (%(part)s).")
                            % {"part": info.filename}
                        )
                    tail = chunk[-16:]
    except SpreadsheetError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError):
        # A wrong checksum or size, a cut stream, an unknown compression, a password: all just a broken file here.
        raise SpreadsheetError(
            _("The workbook part %(part)s is damaged and cannot be read.") % {"part": info.filename}
        ) from None
    return unpacked + size


def _parse_small(archive, name):
    try:
        return SafeET.fromstring(archive.read(name))
    except Exception:  # defusedxml's refusals and plain syntax errors alike
        raise SpreadsheetError(_("The workbook part %(part)s cannot be read safely.") % {"part": name}) from None


def complete_package(content):
    """Give a bare workbook (no package relationships, as some scripts write) the parts calamine needs.

    Excel always writes `_rels/.rels`, `xl/_rels/workbook.xml.rels` and an r:id on each sheet; then the file goes
    through untouched. Otherwise the first sheet is found as Excel would (its relationship, else sheet1.xml) and
    the workbook is rewritten with just that sheet and its shared strings and styles.
    """
    archive, infos = _open(content)
    names = {info.filename for info in infos}
    workbook = _parse_small(archive, "xl/workbook.xml")
    sheet = workbook.find(f"{NS_MAIN}sheets/{NS_MAIN}sheet")
    if sheet is None:
        raise SpreadsheetError(_("The workbook has no sheet."))
    rel_id = sheet.get(f"{NS_REL}id")
    if "_rels/.rels" in names and "xl/_rels/workbook.xml.rels" in names and rel_id:
        return content
    target = "worksheets/sheet1.xml"
    if rel_id and "xl/_rels/workbook.xml.rels" in names:
        for rel in _parse_small(archive, "xl/_rels/workbook.xml.rels").iter(f"{NS_PKG_REL}Relationship"):
            if rel.get("Id") == rel_id and rel.get("Target"):
                target = rel.get("Target")
    path = target.lstrip("/") if target.startswith("/") else "xl/" + target
    if path not in names:
        raise SpreadsheetError(_("The workbook's first sheet is missing."))
    pr = workbook.find(f"{NS_MAIN}workbookPr")
    date1904 = ' date1904="1"' if pr is not None and pr.get("date1904") in ("1", "true") else ""
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
