"""Hostile bank files through the real check path, with the memory of the process that checks them.

    DEBUG=1 .venv/bin/python bench/hostile_files.py
    DEBUG=1 .venv/bin/python bench/hostile_files.py --only csv     # the files whose label contains "csv"

The files of the issue "no upload or export can starve the server" (finding 1) and a few more: an .xlsx of about
1 MB whose xl/workbook.xml unpacks to about 100 MB, one whose shared strings do the same, a zip bomb, two cells
spanning the whole grid, and 20 MB CSVs (one row of ten million cells; 1.5 million rows of junk under a header).

A temporary SQLite database is migrated once. Each file is then checked in a fresh process, as the worker does it
(`import_upload`, then `run_job(batch, "check")`), which prints its outcome, its wall time, its own peak memory
(RUSAGE_SELF maxrss) above its baseline, the peak of the reading child (RUSAGE_CHILDREN maxrss) and the address-space
caps the child set itself (while checking, and for the reader). Prints the figures; nothing is asserted (the tests in
tests/test_spreadsheet_safety.py do that). Every process it starts ends with it; the temporary folder is removed.
"""

import argparse
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
MB = 1024 * 1024

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
TRANSACTION_HEADER = "Ngày giao dịch,Số chứng từ,Số khế ước,Mã khách hàng,Loại giao dịch,Số tiền,Ghi chú"


def workbook(parts, level=9):
    """An .xlsx package; `parts` maps a part name to bytes or to an iterator of byte pieces (streamed in)."""
    buffer = io.BytesIO()
    base = {
        "_rels/.rels": f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="a" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c>'
        "</row></sheetData></worksheet>",
    }
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in {**base, **parts}.items():
            if isinstance(data, bytes | str):
                archive.writestr(name, data)
                continue
            with archive.open(name, "w") as part:
                for piece in data:
                    part.write(piece)
    return buffer.getvalue()


def packed_noise(element, count, bits, every):
    """`count` elements, one in `every` varying by `bits` random bits: just enough that the part packs 75 to 90
    times, under the ratio limit (100), so that the archive checks let it through."""
    generator = random.Random(count)
    block = []
    for number in range(count):
        block.append(element.format(noise=generator.getrandbits(bits) if number % every == 0 else 0))
        if len(block) == 20_000:
            yield "".join(block).encode()
            block = []
    yield "".join(block).encode()


def big_workbook_part():
    names = packed_noise('<definedName name="n_{noise}">Sheet1!$A$1</definedName>', 2_200_000, bits=2, every=1)
    return {
        "xl/workbook.xml": iter(
            [f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="a" sheetId="1" r:id="rId1"/></sheets>'
             "<definedNames>".encode(), *names, b"</definedNames></workbook>"]
        )
    }


def big_shared_strings():
    strings = packed_noise("<si><t>Nguyễn Thị {noise}</t></si>", 3_200_000, bits=3, every=2)
    return {
        "xl/sharedStrings.xml": iter([f'<sst xmlns="{MAIN}">'.encode(), *strings, b"</sst>"]),
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
        "</row></sheetData></worksheet>",
    }


def bomb():
    def pieces():
        yield f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'.encode()
        block = b'<c r="A1"><v>1</v></c>' * 50_000
        for _ in range(390 * MB // len(block)):
            yield block

    return {"xl/worksheets/sheet1.xml": pieces()}


def hostile_files():
    yield "xlsx: 1 MB, xl/workbook.xml of 100 MB", "loans", "workbook.xlsx", lambda: workbook(big_workbook_part())
    yield "xlsx: 1 MB, xl/sharedStrings.xml of 100 MB", "loans", "strings.xlsx", lambda: workbook(big_shared_strings())
    yield "xlsx: zip bomb, 390 MB with no end of row", "loans", "bomb.xlsx", lambda: workbook(bomb())
    yield (
        "xlsx: two cells spanning A1:XFD1048576", "loans", "grid.xlsx",
        lambda: workbook({"xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1">'
                          '<v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData>'
                          "</worksheet>"}),
    )
    yield (
        "csv: 20 MB, one row of ten million cells", "transactions", "wide.csv",
        lambda: (TRANSACTION_HEADER + "\n" + "1," * (10 * MB)).encode(),
    )
    yield (
        "csv: 20 MB, 1.5 million junk rows under a header", "transactions", "junk.csv",
        lambda: (TRANSACTION_HEADER + "\n" + "x,y,z,w,v,u,t\n" * (20 * MB // 14)).encode(),
    )


def check_one(path, kind, name):
    """In a fresh process: store the file and run the check step as the worker does; print the figures as JSON."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.utils import translation

    from loans.bankfiles import reader
    from loans.bankfiles.importing import import_upload, run_job

    translation.activate("en")
    settings.DEBUG = False  # as in production: DEBUG's query log would keep a copy of every file stored
    caps = {}
    original = reader._stage_reached

    def stage(stage_name, info):
        caps[stage_name] = info
        original(stage_name, info)

    reader._stage_reached = stage
    content = Path(path).read_bytes()
    admin = get_user_model().objects.get(username="bench-admin")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    batch = import_upload(kind=kind, file_name=name, content=content, actor=admin, run=False)
    batch = run_job(batch.pk, "check")
    seconds = time.perf_counter() - started
    outcome = batch.get_status_display()
    if batch.errors:
        outcome += f" ({batch.error_count} error(s)): {batch.errors[0]['message']}"
    print(json.dumps({
        "seconds": seconds,
        "baseline_mb": baseline / 1024,
        "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024,
        "child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "caps": {key: {k: v for k, v in info.items() if k.startswith("memory")} for key, info in caps.items()},
        "outcome": outcome,
    }))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        check_one(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="check only the files whose label contains this text")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="uythac_hostile_"))
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "ERROR",
    }
    try:
        print("Migrating a temporary SQLite database…", flush=True)
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [PYTHON, "manage.py", "shell", "-v0", "-c",
             "from django.contrib.auth import get_user_model; "
             "get_user_model().objects.create_superuser('bench-admin', '', 'bench-admin-password')"],
            cwd=ROOT, env=env, check=True,
        )
        print("Each file checked in a fresh process, as the worker checks it (extra: its peak above its baseline):")
        for label, kind, name, build in hostile_files():
            if args.only not in label:
                continue
            content = build()
            path = folder / name
            path.write_bytes(content)
            result = subprocess.run(
                [PYTHON, __file__, "--one", str(path), kind, name], cwd=ROOT, env=env, capture_output=True, text=True
            )
            if result.returncode:
                print(f"  {label}: the check process failed:\n{result.stderr[-2000:]}")
                continue
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            caps = ", ".join(
                f"{stage} {info['memory_cap'] / MB:.0f} MB" for stage, info in figures["caps"].items()
            )
            hard = figures["caps"].get("start", {}).get("memory_hard", 0) / MB
            print(
                f"  {label:<48} {len(content) / MB:6.1f} MB  {figures['seconds']:6.1f} s  worker {figures['baseline_mb']:4.0f}"
                f" MB +{figures['extra_mb']:4.0f} MB  child peak {figures['child_mb']:5.0f} MB\n"
                f"      child caps: {caps} (never above {hard:.0f} MB)\n"
                f"      {figures['outcome'][:160]}",
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
