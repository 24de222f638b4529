"""Hostile or broken spreadsheets are refused with a clear message; nothing else ever escapes the reader.

The files of issue 14 (finding 3) are rebuilt here: thousands of unclosed cells, a zip bomb with no end of row, and
beyond it a sheet whose two cells span the whole grid. Hypothesis then throws random and truncated bytes, zips and
XML at the reader. Each case must end in a SpreadsheetError or in rows of plain values, never another exception.
"""

import io
import struct
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loans.bankfiles import reader
from loans.bankfiles.archive_checks import SpreadsheetError
from loans.bankfiles.reader import cell_value, read_rows
from tests.properties import examples

FIXTURES = Path(__file__).parent / "fixtures"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

pytestmark = pytest.mark.usefixtures("english")


def workbook(sheet_xml, *, compression=zipfile.ZIP_DEFLATED, extra=()):
    """A complete .xlsx package around one sheet, as Excel lays it out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="a" sheetId="1" r:id="rId1"/></sheets>'
            "</workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        for name, data in extra:
            archive.writestr(name, data)
    return buffer.getvalue()


def sheet(rows_xml):
    return f'<worksheet xmlns="{MAIN}"><sheetData>{rows_xml}</sheetData></worksheet>'


@pytest.fixture
def calamine_never_called(monkeypatch):
    # The child says when its checks are over and calamine starts; a file refused by the checks never gets there.
    def refuse(name, info):
        if name == "calamine":
            raise AssertionError("the file reached calamine")

    monkeypatch.setattr(reader, "_stage_reached", refuse)


# ---- finding 3: the files that froze the server ------------------------------------------------------------------


def test_twenty_thousand_unclosed_cells_are_refused_as_a_damaged_workbook():
    content = workbook(sheet('<row r="1">' + '<c r="A1">' * 20_000).replace("</sheetData></worksheet>", ""))
    assert len(content) < 6_000

    with pytest.raises(SpreadsheetError) as refused:
        list(read_rows(content, "tiny.xlsx"))
    assert "damaged" in str(refused.value.message)


def test_a_bomb_that_unpacks_to_390_mb_with_no_end_of_row_is_refused_before_reading(calamine_never_called):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}"/>')
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'.encode())
            block = b'<c r="A1"><v>1</v></c>' * 50_000
            for _ in range(390 * 1024 * 1024 // len(block)):
                part.write(block)
    content = buffer.getvalue()
    assert len(content) < 1_000_000

    with pytest.raises(SpreadsheetError) as refused:
        list(read_rows(content, "bomb.xlsx"))
    assert "zip bomb" in str(refused.value.message)


def _lie_about_sizes(content, name, size):
    """The same archive, its part declared `size` bytes long in both headers: a bomb that hides its size."""
    data = bytearray(content)
    encoded = name.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_length = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + name_length] == encoded:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == encoded:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def test_a_part_that_hides_its_real_size_is_refused_as_damaged(calamine_never_called):
    big = sheet('<row r="1">' + '<c r="A1"><v>1</v></c>' * 200_000 + "</row>")
    content = _lie_about_sizes(workbook(big), "xl/worksheets/sheet1.xml", 1000)
    with pytest.raises(SpreadsheetError) as refused:
        list(read_rows(content, "liar.xlsx"))
    assert "damaged" in str(refused.value.message)


def test_real_unpacked_size_counts_against_the_limit(settings, calamine_never_called):
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 2 * 1024 * 1024
    content = workbook(sheet("".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(1, 80_000))))
    with pytest.raises(SpreadsheetError) as refused:
        list(read_rows(content, "big.xlsx"))
    assert "MB" in str(refused.value.message)


def test_a_dtd_anywhere_in_a_part_is_refused(calamine_never_called):
    padded = '<?xml version="1.0"?><!--' + "x" * 3 * 1024 * 1024 + '--><!DOCTYPE worksheet [<!ENTITY a "b">]>'
    with pytest.raises(SpreadsheetError) as refused:
        list(read_rows(workbook(padded + sheet(""), compression=zipfile.ZIP_STORED), "dtd.xlsx"))
    assert "XML declaration" in str(refused.value.message)


def test_two_cells_spanning_the_whole_grid_are_refused_and_the_server_lives_on():
    # calamine lays a sheet out as rows × columns: 17 billion cells here, from a file of a few hundred bytes.
    content = workbook(
        sheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')
    )
    with pytest.raises(SpreadsheetError) as refused:
        list(read_rows(content, "grid.xlsx"))
    assert "too large or too scattered" in str(refused.value.message)

    rows = list(read_rows(workbook(sheet('<row r="2"><c r="B2"><v>7</v></c></row>')), "ok.xlsx"))
    assert rows == [(2, [None, 7])]


# ---- what the layouts see ------------------------------------------------------------------------------------


def test_cells_keep_the_kinds_the_layouts_expect():
    content = workbook(
        sheet(
            '<row r="3"><c r="C3" t="inlineStr"><is><t>Số tiền</t></is></c><c r="D3"><v>12</v></c>'
            '<c r="E3"><v>12.5</v></c><c r="F3" t="inlineStr"><is><t>0610000001</t></is></c><c r="G3" t="b"><v>1</v></c>'
            '<c r="H3"><v>0.1</v></c><c r="I3"><v>50000000</v></c></row>'
        )
    )
    assert list(read_rows(content, "kinds.xlsx")) == [
        (3, [None, None, "Số tiền", 12, Decimal("12.5"), "0610000001", True, Decimal("0.1"), 50_000_000])
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12.0, 12),
        (0.1, Decimal("0.1")),
        (1e16, 10**16),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
        ("", None),
        ("0610", "0610"),
        (True, True),
        (date(2024, 3, 20), date(2024, 3, 20)),
        (datetime(2024, 3, 20, 8, 30), datetime(2024, 3, 20, 8, 30)),
    ],
)
def test_money_never_becomes_float(raw, expected):
    value = cell_value(raw)
    assert value == expected or (value != value and expected != expected)
    assert not isinstance(value, float)
    assert type(value) is type(expected)


def test_the_xls_fixture_still_reads_codes_dates_and_amounts():
    rows = dict(read_rows((FIXTURES / "loan-balances.xls").read_bytes(), "du-no.xls"))
    assert rows[7][10] == 7800000000000001 and rows[7][11] == date(2024, 3, 20)
    assert rows[8][9] == "01" and rows[8][14] == "25.000.000"


# ---- fuzzing -------------------------------------------------------------------------------------------------

VALUES = (str, int, bool, Decimal, date, datetime, type(None))
FUZZ = settings(
    max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def read_or_refuse(content, name):
    try:
        rows = list(read_rows(content, name))
    except SpreadsheetError as error:
        assert str(error.message)
        return None
    for number, values in rows:
        assert isinstance(number, int) and number >= 1
        assert all(isinstance(value, VALUES) for value in values), values
    return rows


@FUZZ
@given(content=st.binary(max_size=4096), name=st.sampled_from(["a.xlsx", "a.xls", "a.csv", "a.txt", "a.xlsm"]))
def test_random_bytes_are_refused_or_read(content, name):
    read_or_refuse(content, name)


@FUZZ
@given(prefix=st.sampled_from([b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]), body=st.binary(max_size=2048))
def test_random_bytes_behind_a_workbook_signature_are_refused(prefix, body):
    assert read_or_refuse(prefix + body, "x.xlsx") is None


SAMPLE = workbook(
    sheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Mã KH</t></is></c><c r="B1"><v>1500000</v></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>0610000001</t></is></c><c r="B2"><v>2500000</v></c></row>'
    ),
    compression=zipfile.ZIP_STORED,
)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(SAMPLE) - 1))
def test_a_truncated_workbook_is_refused(cut):
    assert read_or_refuse(SAMPLE[:cut], "cut.xlsx") is None


@FUZZ
@given(data=st.data())
def test_a_workbook_with_flipped_bytes_is_refused_or_read(data):
    content = bytearray(SAMPLE)
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        position = data.draw(st.integers(min_value=0, max_value=len(content) - 1))
        content[position] = data.draw(st.integers(min_value=0, max_value=255))
    read_or_refuse(bytes(content), "flipped.xlsx")


XML_PIECES = st.sampled_from(
    [
        "<row>",
        "</row>",
        '<row r="1">',
        '<row r="1048577">',
        "<c>",
        "</c>",
        '<c r="A1">',
        '<c r="XFD1">',
        '<c r="ZZZZ99999999999">',
        '<c r="1A">',
        '<c t="s">',
        '<c t="inlineStr">',
        '<c t="e">',
        '<c t="d">',
        '<c t="b">',
        "<v>",
        "</v>",
        "<v>1</v>",
        "<v>-1e308</v>",
        "<v>NaN</v>",
        "<v>2024-13-45</v>",
        "<is><t>",
        "</t></is>",
        "<f>SUM(A1)</f>",
        "&amp;",
        "&bogus;",
        "&#0;",
        "<![CDATA[x]]>",
        "<!-- -->",
        "\x00",
        "é",
    ]
)


@FUZZ
@given(pieces=st.lists(XML_PIECES, max_size=40), closed=st.booleans())
def test_random_sheet_xml_is_refused_or_read(pieces, closed):
    body = "".join(pieces)
    xml = sheet(body) if closed else f'<worksheet xmlns="{MAIN}"><sheetData>{body}'
    read_or_refuse(workbook(xml), "x.xlsx")


@FUZZ
@given(text=st.text(max_size=300))
def test_random_csv_text_is_refused_or_read(text):
    read_or_refuse(text.encode("utf-8", "surrogatepass"), "x.csv")


def test_a_workbook_naming_a_zip_version_python_cannot_read_is_refused():
    """Found by the fuzzing above: one byte of the central directory asking for zip version 6.4 made the zip module
    raise NotImplementedError, which came out as a server error instead of a refusal."""
    content = bytearray(SAMPLE)
    central = content.rindex(b"PK\x01\x02")  # the central directory entry of the last part
    content[central + 6] = 64  # "version needed to extract": 6.4
    assert read_or_refuse(bytes(content), "flipped.xlsx") is None


# ---- every byte is parsed in the capped child, never in this process ----------------------------------------------


@pytest.fixture
def parsed_only_in_the_child(monkeypatch):
    """Once armed, this process may not unzip, parse XML or split CSV; the child processes the reader starts and the
    stages they report are recorded."""
    import csv
    import xml.etree.ElementTree as ElementTree

    import defusedxml.ElementTree as SafeElementTree

    children, stages = [], []

    def parsed_here(*args, **kwargs):
        raise AssertionError("the file was parsed in the worker itself")

    def popen(command, real=reader.subprocess.Popen, **kwargs):
        children.append(command)
        return real(command, **kwargs)

    def arm():
        for module, names in (
            (zipfile, ["ZipFile"]),
            (csv, ["reader", "Sniffer"]),
            (ElementTree, ["fromstring", "iterparse", "parse", "XMLParser"]),
            (SafeElementTree, ["fromstring", "iterparse", "parse"]),
        ):
            for name in names:
                monkeypatch.setattr(module, name, parsed_here)
        monkeypatch.setattr(reader.subprocess, "Popen", popen)
        monkeypatch.setattr(reader, "_stage_reached", lambda name, info: stages.append((name, info)))
        return children, stages

    return arm


def _peak_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _noise(count, seed=7):
    import random

    generator = random.Random(seed)
    return [f"{generator.getrandbits(48):012x}" for _ in range(count)]


def test_a_shared_strings_bomb_is_refused_by_the_child_with_a_clear_message(settings, parsed_only_in_the_child):
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 8 * 1024 * 1024
    strings = "".join(f"<si><t>{text}</t></si>" for text in _noise(400_000))  # ~14 MB that packs only ~3 times
    content = workbook(sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
                       extra=[("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{strings}</sst>')])
    children, stages = parsed_only_in_the_child()
    before = _peak_mb()

    with pytest.raises(SpreadsheetError) as refused:
        list(read_rows(content, "bomb.xlsx"))

    assert "more than the 8 MB allowed; it is refused" in str(refused.value.message)
    assert len(children) == 1 and children[0][1:3] == ["-I", str(reader.CHILD)]
    assert [name for name, _info in stages] == ["start"]  # refused by the checks: calamine never started
    assert _peak_mb() - before < 40


def test_a_huge_workbook_part_is_read_under_the_childs_cap_and_never_here(parsed_only_in_the_child):
    names = "".join(f'<definedName name="n{text}">Sheet1!A1</definedName>' for text in _noise(300_000))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}"><sheets><sheet name="a" sheetId="1"/></sheets>'
                                            f"<definedNames>{names}</definedNames></workbook>")
        archive.writestr("xl/worksheets/sheet1.xml", sheet('<row r="2"><c r="B2"><v>7</v></c></row>'))
    content = buffer.getvalue()
    children, stages = parsed_only_in_the_child()
    before = _peak_mb()

    assert list(read_rows(content, "names.xlsx")) == [(2, [None, 7])]

    assert len(children) == 1
    [(first, started), (name, info)] = stages
    assert first == "start" and started["memory_cap"] < 200 * 1024 * 1024  # the checks: the file and a copy
    assert name == "calamine" and started["memory_cap"] < info["memory_cap"] <= started["memory_hard"]
    assert _peak_mb() - before < 40  # parsing this 14 MB part here took hundreds of MB


def test_csv_is_split_into_cells_by_the_child(parsed_only_in_the_child):
    content = ("Mã KH;Số tiền\n" + "".join(f"061{n:07d};{n * 1000}\n" for n in range(20_000))).encode()
    children, stages = parsed_only_in_the_child()
    rows = list(read_rows(content, "giao-dich.csv"))
    assert rows[0] == (1, ["Mã KH", "Số tiền"]) and rows[-1] == (20_001, ["0610019999", "19999000"])
    assert len(children) == 1 and [name for name, _info in stages] == ["start", "csv"]
