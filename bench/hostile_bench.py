"""Hostile spreadsheets against the reader: each refused within seconds, under 200 MB of extra memory, while the
server keeps answering.

    DEBUG=1 .venv/bin/python bench/hostile_bench.py

For each file of issue 14 (finding 3) and a few more, a fresh process reads it and reports its wall time, its own
peak memory above the same process's baseline, and the peak of the calamine child (if the file got that far). Then
one thread reads each hostile file in a loop while the main thread times the login page through the test client,
to show other requests keep answering. Prints the figures; nothing is asserted (tests do that).
"""

import io
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def workbook(sheet_xml, level=6):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
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
        if isinstance(sheet_xml, bytes | str):
            archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        else:
            with archive.open("xl/worksheets/sheet1.xml", "w") as part:
                for piece in sheet_xml:
                    part.write(piece)
    return buffer.getvalue()


def bomb_pieces():
    yield f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'.encode()
    block = b'<c r="A1"><v>1</v></c>' * 50_000
    for _ in range(390 * 1024 * 1024 // len(block)):
        yield block


def hostile_files():
    yield "20,000 unclosed <c> tags", workbook(f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">' + '<c r="A1">' * 20_000)
    yield "390 MB unpacked, no </row>", workbook(bomb_pieces(), level=9)
    yield (
        "two cells spanning A1:XFD1048576",
        workbook(
            f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
            '<row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData></worksheet>'
        ),
    )
    yield (
        "two cells spanning A1:Z1000000 (fits 4 GB, not the cap)",
        workbook(
            f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
            '<row r="1000000"><c r="Z1000000"><v>2</v></c></row></sheetData></worksheet>'
        ),
    )
    yield (
        "1 million shared-string cells in 1 row",
        workbook(f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">' + '<c t="s"><v>0</v></c>' * 1_000_000 + "</row>"),
    )


def measure_one(path):
    """Run in a fresh process: read the file, print time, memory above baseline and the child's peak."""
    import django

    django.setup()
    from django.utils import translation

    from loans.bankfiles.reader import SpreadsheetError, read_rows

    translation.activate("en")
    content = Path(path).read_bytes()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        outcome = f"read {sum(1 for _ in read_rows(content, 'hostile.xlsx'))} rows"
    except SpreadsheetError as error:
        outcome = "refused: " + str(error.message)
    seconds = time.perf_counter() - start
    extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "extra_mb": extra, "child_mb": child, "outcome": outcome}))


def responsiveness(files):
    import django

    django.setup()
    from django.test import Client
    from django.urls import reverse

    from loans.bankfiles.reader import SpreadsheetError, read_rows

    client = Client(HTTP_HOST="localhost")
    url = reverse("login")

    def page_times(count=15):
        times = []
        for _ in range(count):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        return times

    idle = page_times()
    print(f"\nLogin page while idle: median {statistics.median(idle):.0f} ms, worst {max(idle):.0f} ms")
    for label, content in files:
        stop = threading.Event()

        def hammer(content=content, stop=stop):
            while not stop.is_set():
                try:
                    for _ in read_rows(content, "hostile.xlsx"):
                        pass
                except SpreadsheetError:
                    pass

        worker = threading.Thread(target=hammer, daemon=True)
        worker.start()
        time.sleep(0.2)
        busy = page_times()
        stop.set()
        worker.join()
        print(
            f"Login page while reading {label!r} in a loop: median {statistics.median(busy):.0f} ms, "
            f"worst {max(busy):.0f} ms"
        )


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        measure_one(sys.argv[2])
        return
    folder = Path("/tmp/hostile-bench")
    folder.mkdir(exist_ok=True)
    files = []
    print("Each hostile file, read in a fresh process (extra = peak above that process's baseline):")
    for label, content in hostile_files():
        path = folder / (str(len(files)) + ".xlsx")
        path.write_bytes(content)
        files.append((label, content))
        result = subprocess.run(
            [sys.executable, __file__, "--one", str(path)], capture_output=True, text=True, check=True
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"  {label:<56} {len(content) / 1024:>7.0f} KB  {figures['seconds']:6.2f} s  "
            f"server +{figures['extra_mb']:5.0f} MB  child {figures['child_mb']:5.0f} MB"
        )
        print(f"      {figures['outcome'][:150]}")
    responsiveness(files)
    print(f"\nLoad average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
