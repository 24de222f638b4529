# ruff: noqa: E501  (literal XML parts of the generated workbook)
"""Benchmark of the loan-balance import, end to end into PostgreSQL.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/uythac_bench .venv/bin/python bench/import_bench.py [ROWS]
    DEBUG=1 .venv/bin/python bench/import_bench.py [ROWS] --read-only     (reading only; any database)

Generates a loan-balance .xlsx of ROWS rows (default 100,000) in the bank's layout, then times:
  - building the bench's database (migrations, wards and organizations, removing earlier runs);
  - reading the file alone (and reading + cleaning every cell), with calamine and with the hand-written regex reader
    it replaced (taken from git history, commit OLD_READER_COMMIT), in the same run, and checks both give the same
    rows;
  - the import end to end (upload, check (preview), confirm, apply; the same code as the page and the command), twice:
    without report snapshots, then with them built (`rebuild_snapshots`), each followed by `check_ledger`;
  - the rows each import wrote per table (PostgreSQL's statistics), and the computed floor: the read time plus those
    rows at the COPY rate measured, table by table, into copies of the real tables WITH their indexes, constraints and
    defaults (CREATE TABLE ... (LIKE ... INCLUDING ALL): no foreign keys), committed;
  - a default django-import-export ModelResource import of the first 5,000 rows: what most projects ship.
It prints each import's ratio to its floor and to the plain ModelResource (rows per second), and the peak memory of
the process. The bench's own rows are removed before each import, so it can be repeated on the same database.
"""

import importlib.util
import io
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("IMPORT_RUN_MODE", "inline")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

# DEBUG=1 only spares the command line a SECRET_KEY: the imports are timed as deployed, without Django's log of every
# query's text (an import's look-ups carry 100,000 keys, a ModelResource makes 25,000 queries).
settings.DEBUG = False

ARGS = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
ROWS = int(ARGS[0]) if ARGS else 100_000
READ_ONLY = "--read-only" in sys.argv
# The last commit with the hand-written regex reader (loans/bankfiles/reader.py), kept for comparison only.
OLD_READER_COMMIT = "39e6d5f"
PLAIN_ROWS = 5_000
#: The tables the bench's runs write to and `remove_previous_runs` deletes from.
BENCH_TABLES = [
    "loans_posting",
    "loans_reconciliationitem",
    "loans_repaymentinstalment",
    "loans_interestarrearsentry",
    "loans_loan",
    "organizations_groupmembership",
    "borrowers_household",
    "loans_groupbalance",
    "loans_groupprogrambalance",
    "organizations_groupgrade",
    "organizations_savingsgroup",
    "loans_importbatch",
    "loans_portfoliomonthend",
    "loans_portfoliodaychange",
    "loans_branchmonthend",
    "loans_branchdaychange",
]
BENCH_FILE = "bench-loan-balances.xlsx"
WARDS = ["026764", "026767", "026770", "026773"]
NAMES = ["Nguyễn Thị Mai", "Trần Văn Hùng", "Lê Thị Hoa", "Phạm Minh Tuấn", "Võ Ngọc Trang", "Đặng Văn Bình"]
HEADER = [
    "STT",
    "Mã phường",
    "Tên phường",
    "Mã hội",
    "Mã tổ",
    "Tên tổ trưởng",
    "Mã khách hàng",
    "Tên khách hàng",
    "Số CCCD",
    "Mã chương trình",
    "Số khế ước",
    "Ngày giải ngân",
    "Ngày đến hạn",
    "Số tiền giải ngân",
    "Dư nợ",
    "Nợ quá hạn",
    "Nợ khoanh",
    "Lãi tồn",
    "Số dư tiết kiệm",
]


def bench_rows(count):
    for n in range(count):
        ward = WARDS[n % len(WARDS)]
        org = str(11 + n % 4)
        amount = 50_000_000 if n % 3 else 80_000_000
        outstanding = amount - (n % 5) * 5_000_000
        overdue = 5_000_000 if n % 50 == 0 and outstanding >= 5_000_000 else 0
        yield [
            n + 1,
            ward,
            "Phường " + ward,
            org,
            f"{7300000 + (n // 40) % 90000:07d}"[:7],
            NAMES[(n // 40) % 6],
            f"{6300000000 + n:010d}",
            NAMES[n % 6],
            f"{79300000000 + n:012d}",
            "01" if n % 4 else "03",
            f"{7930000000000000 + n:016d}",
            f"{1 + n % 28:02d}/{1 + n % 12:02d}/2024",
            f"{1 + n % 28:02d}/{1 + n % 12:02d}/2029",
            amount,
            outstanding,
            overdue,
            0,
            0,
            100_000 * (n % 6),
        ]


def write_xlsx(path, rows):
    """An .xlsx as Excel writes it: shared strings for text, numbers for amounts. Written directly for speed."""
    strings, index = [], {}

    def s(text):
        if text not in index:
            index[text] = len(strings)
            strings.append(text)
        return index[text]

    def col(i):
        return chr(65 + i)

    sheet = io.StringIO()
    sheet.write(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:S1048576"/><sheetData>'
    )
    title = [
        "NGÂN HÀNG CHÍNH SÁCH XÃ HỘI",
        "PHÒNG GIAO DỊCH NHCSXH QUẬN 12",
        "DANH SÁCH DƯ NỢ CHI TIẾT THEO KHÁCH HÀNG ĐẾN NGÀY 31/10/2026",
        "Đơn vị tính: đồng",
    ]
    row_number = 0
    for line in title:
        row_number += 1
        sheet.write(f'<row r="{row_number}"><c r="A{row_number}" t="s"><v>{s(line)}</v></c></row>')
    row_number += 1
    sheet.write(
        f'<row r="{row_number}">'
        + "".join(f'<c r="{col(i)}{row_number}" t="s"><v>{s(h)}</v></c>' for i, h in enumerate(HEADER))
        + "</row>"
    )
    sums = [0] * 6
    for values in rows:
        row_number += 1
        cells = []
        for i, value in enumerate(values):
            if isinstance(value, int):
                cells.append(f'<c r="{col(i)}{row_number}"><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{col(i)}{row_number}" t="s"><v>{s(value)}</v></c>')
        for i in range(6):
            sums[i] += values[13 + i]
        sheet.write(f'<row r="{row_number}">' + "".join(cells) + "</row>")
    row_number += 1
    sheet.write(
        f'<row r="{row_number}"><c r="A{row_number}" t="s"><v>{s("Tổng cộng")}</v></c>'
        + "".join(
            f'<c r="{col(13 + i)}{row_number}"><f>SUM({col(13 + i)}6:{col(13 + i)}{row_number - 1})</f><v>{v}</v></c>'
            for i, v in enumerate(sums)
        )
        + "</row>"
    )
    sheet.write("</sheetData></worksheet>")
    shared = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    ]
    shared += [f"<si><t>{escape(text)}</t></si>" for text in strings]
    shared.append("</sst>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="DuNo" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet.getvalue())
        archive.writestr("xl/sharedStrings.xml", "".join(shared))


def prepare_database():
    from django.contrib.auth import get_user_model

    from organizations.models import Area, Organization, Ward

    call_command("migrate", verbosity=0)
    area, _ = Area.objects.get_or_create(code="Q12", defaults={"name": "Quận 12"})
    for code in WARDS:
        ward, _ = Ward.objects.get_or_create(code=code, defaults={"area": area, "name": "Phường " + code})
        for kind in Organization.MEMBER_KINDS:
            district, _ = Organization.objects.get_or_create(
                area=ward.area, kind=kind, level=Organization.Level.DISTRICT, defaults={"name": f"Hội {kind}"}
            )
            Organization.objects.get_or_create(
                kind=kind,
                ward=ward,
                level=Organization.Level.WARD,
                defaults={"area": ward.area, "parent": district, "name": f"Hội {kind} {ward.name}"},
            )
    user, created = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    remove_previous_runs()
    return user


def remove_previous_runs():
    """Remove what earlier bench runs wrote: their batches and every row those batches created."""
    from loans.models import ImportBatch

    ids = list(ImportBatch.objects.filter(file_name=BENCH_FILE).values_list("pk", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM loans_loan WHERE number LIKE %s", ["77%"])  # the plain resource's loans
        if not ids:
            return
        cursor.execute("DELETE FROM loans_posting WHERE import_batch_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM loans_reconciliationitem WHERE batch_id = ANY(%s)", [ids])
        cursor.execute(
            "DELETE FROM loans_repaymentinstalment WHERE loan_id IN (SELECT id FROM loans_loan WHERE import_batch_id = ANY(%s))",
            [ids],
        )
        cursor.execute("DELETE FROM loans_loan WHERE import_batch_id = ANY(%s)", [ids])
        cursor.execute(
            "DELETE FROM organizations_groupmembership WHERE household_id IN (SELECT id FROM borrowers_household WHERE import_batch_id = ANY(%s))",
            [ids],
        )
        cursor.execute("DELETE FROM borrowers_household WHERE import_batch_id = ANY(%s)", [ids])
        for table in ("loans_groupbalance", "loans_groupprogrambalance", "organizations_groupgrade"):
            cursor.execute(
                f"DELETE FROM {table} WHERE group_id IN (SELECT id FROM organizations_savingsgroup WHERE code LIKE %s)",
                ["73%"],
            )
        cursor.execute("DELETE FROM organizations_savingsgroup WHERE code LIKE %s", ["73%"])
        cursor.execute("DELETE FROM loans_importbatch WHERE id = ANY(%s)", [ids])
    # The rows above went without the code that keeps the per-branch totals; rebuild them from the groups' rows.
    from loans.ledger.summaries import refresh_branch_balances

    refresh_branch_balances()
    # Clear the dead rows now, so that autovacuum does not work through them during the next timed import (the
    # floor's COPY goes into fresh tables).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM " + ", ".join(BENCH_TABLES))


def timed(label, function):
    """Wall time, and this process's CPU time (the database server's work is in wall time only)."""
    def children_cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    start, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
    result = function()
    seconds, cpu, child = time.perf_counter() - start, time.process_time() - cpu, children_cpu() - child
    print(f"  {label:<44} {seconds:8.2f} s wall  {cpu:8.2f} s CPU here  {child:6.2f} s CPU in the reader process", flush=True)
    return result, seconds


def old_reader():
    """The regex reader calamine replaced, loaded from git history into a module of its own."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(
        ["git", "-C", str(root), "show", f"{OLD_READER_COMMIT}:loans/bankfiles/reader.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("old_regex_reader", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "old_regex_reader.py", "exec"), module.__dict__)  # noqa: S102  (our own past code)
    return module


def compare_readers(content, name):
    """Read and clean the same file with calamine and with the old regex reader; same rows, and the speed ratio."""
    from loans.bankfiles.layouts import parse_sheet
    from loans.bankfiles.reader import read_rows

    old = old_reader()
    _, new_read = timed("read alone: calamine", lambda: sum(1 for _ in read_rows(content, name)))
    _, old_read = timed("read alone: old regex reader", lambda: sum(1 for _ in old.read_rows(content, name)))
    new_sheet, new_clean = timed("read + clean: calamine", lambda: parse_sheet(read_rows(content, name), "loans"))
    old_sheet, old_clean = timed("read + clean: old regex reader", lambda: parse_sheet(old.read_rows(content, name), "loans"))
    assert new_sheet.rows == old_sheet.rows and new_sheet.errors == old_sheet.errors, "the readers disagree"
    print(f"    both readers give the same {len(new_sheet.rows):,} cleaned rows")
    print("Reading, rows per second (calamine / old regex reader):")
    print(f"  read alone                  {ROWS / new_read:>12,.0f} / {ROWS / old_read:>10,.0f}   ratio {old_read / new_read:.2f}x")
    print(f"  read + clean                {ROWS / new_clean:>12,.0f} / {ROWS / old_clean:>10,.0f}   ratio {old_clean / new_clean:.2f}x")
    print("  (ratio > 1: calamine is faster; the old figure was 54,000 rows/s read + clean on an idle machine)")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak memory of the calamine child process: {children:,.0f} MB")
    return new_sheet, new_read, new_clean


def clear_snapshots():
    """No report snapshots: an import then refreshes only the per-group summaries."""
    from loans.models import BranchDayChange, BranchMonthEnd, PortfolioDayChange, PortfolioMonthEnd, SnapshotCoverage

    snapshot_models = (PortfolioMonthEnd, PortfolioDayChange, BranchMonthEnd, BranchDayChange, SnapshotCoverage)
    with transaction.atomic(), connection.cursor() as cursor:
        tables = [m._meta.db_table for m in snapshot_models]
        cursor.execute("TRUNCATE " + ", ".join(tables))


def inserted_rows():
    """{table: rows inserted so far} from PostgreSQL's statistics (flushed first, so they include this session's)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT 1")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT relname, n_tup_ins FROM pg_stat_user_tables")
        return dict(cursor.fetchall())


def rows_written(before, after):
    written = {table: after[table] - before.get(table, 0) for table in after}
    return {table: rows for table, rows in sorted(written.items(), key=lambda item: -item[1]) if rows > 0}


def copy_rates(wanted):
    """COPY rate into a copy of each real table WITH its indexes, constraints and defaults (no foreign keys): the
    table's own newest rows (up to `wanted` of them) are COPYed out, then timed while COPYed into the copy in one
    transaction, committed. Returns {table: (rows copied, seconds)}."""
    rates = {}
    for table, rows in wanted.items():
        quoted = connection.ops.quote_name(table)
        copy = connection.ops.quote_name(f"floor_{table}"[:63])
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {copy}")
            cursor.execute(f"CREATE TABLE {copy} (LIKE {quoted} INCLUDING ALL)")
            cursor.execute(
                "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum",
                [table],
            )
            columns = [connection.ops.quote_name(c) for (c,) in cursor.fetchall()]
            order = "ORDER BY id DESC " if "id" in [c.strip('"') for c in columns] else ""
            out = io.StringIO()
            cursor.cursor.copy_expert(
                f"COPY (SELECT {', '.join(columns)} FROM {quoted} {order}LIMIT {int(rows)}) TO STDOUT", out
            )
            copied = out.getvalue().count("\n")
            out.seek(0)
        if copied:
            start = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.cursor.copy_expert(f"COPY {copy} ({', '.join(columns)}) FROM STDIN", out)
            rates[table] = (copied, time.perf_counter() - start)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {copy}")
    return rates


def floor_seconds(written, rates):
    """Seconds to COPY `written` rows per table at the rates measured."""
    return sum(rows * rates[table][1] / rates[table][0] for table, rows in written.items() if table in rates)


def main():
    if READ_ONLY:
        path = Path("/tmp") / BENCH_FILE
        print(f"Generating {ROWS:,} loan-balance rows ...", flush=True)
        write_xlsx(path, bench_rows(ROWS))
        content = path.read_bytes()
        print(f"  {path} {len(content) / 1024 / 1024:.1f} MB", flush=True)
        compare_readers(content, path.name)
        print(f"Load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the benchmark measures PostgreSQL.")
    from datetime import date

    from loans.bankfiles.importing import import_confirm, import_upload, run_job
    from loans.ledger.snapshots import snapshots_rebuild
    from loans.models import ImportBatch

    print("Timings:")
    user, build_seconds = timed("building the bench's database", prepare_database)
    path = Path("/tmp") / BENCH_FILE
    print(f"Generating {ROWS:,} loan-balance rows ...", flush=True)
    write_xlsx(path, bench_rows(ROWS))
    content = path.read_bytes()
    print(f"  {path} {len(content) / 1024 / 1024:.1f} MB", flush=True)

    sheet, read_seconds, clean_seconds = compare_readers(content, path.name)
    assert not sheet.errors, sheet.errors[:5]
    data = [row for _, row in sheet.rows]
    del sheet

    def end_to_end():
        batch = import_upload(kind="loans", file_name=BENCH_FILE, content=content, actor=user, run=False)
        batch = run_job(batch.pk, "check")
        assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors[:5]
        import_confirm(batch=batch, actor=user, run=False)
        batch = run_job(batch.pk, "apply")
        assert batch.status == ImportBatch.Status.DONE, batch.errors[:5]
        return batch

    runs = {}
    for snapshots in (False, True):
        remove_previous_runs()
        clear_snapshots()
        if snapshots:
            timed("report snapshots built (rebuild_snapshots)", lambda: snapshots_rebuild(since=date(2024, 1, 1)))
        label = "with snapshots" if snapshots else "without snapshots"
        before = inserted_rows()
        batch, seconds = timed(f"import end to end, {label}", end_to_end)
        written = rows_written(before, inserted_rows())
        print(f"    written: {batch.summary['written']}")
        checks = io.StringIO()
        timed("check_ledger after the import", lambda out=checks: call_command("check_ledger", stdout=out))
        runs[label] = (seconds, written, checks.getvalue().strip())

    wanted = {}
    for _seconds, written, _checks in runs.values():
        for table, rows in written.items():
            wanted[table] = max(wanted.get(table, 0), rows)
    rates, copy_seconds = timed("COPY into indexed copies of the real tables", lambda: copy_rates(wanted))
    plain_seconds = plain_resource(data[:PLAIN_ROWS])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    plain = PLAIN_ROWS / plain_seconds
    copied = sum(rows for rows, _seconds in rates.values())
    copy_time = sum(seconds for _rows, seconds in rates.values())
    print(f"\nBuilding the bench's database took {build_seconds:.1f} s.")
    print(f"COPY into indexed copies of the real tables (no foreign keys): {copied / copy_time:,.0f} rows/s overall")
    for table, (rows, seconds) in sorted(rates.items(), key=lambda item: -item[1][0]):
        print(f"  {table:<36} {rows / seconds:>10,.0f} rows/s")
    for label, (seconds, written, checks) in runs.items():
        total = sum(written.values())
        floor = read_seconds + floor_seconds(written, rates)
        print(f"\nImport {label}: {ROWS:,} bank rows in {seconds:.2f} s, {ROWS / seconds:,.0f} rows/s")
        print(f"  rows written per table ({total:,} in all, {total / ROWS:.2f} per bank row):")
        for table, rows in written.items():
            print(f"    {table:<36} {rows:>10,}")
        print(f"  computed floor: read {read_seconds:.2f} s + {total:,} rows at the COPY rates = {floor:.2f} s")
        print(f"  {seconds / floor:.2f}× the floor (target <= 1.5× with snapshots)")
        print(f"  {ROWS / seconds / plain:.1f}× a plain ModelResource (target >= 40×)")
        print(f"  check_ledger: {checks}")
    print(f"\nplain ModelResource: {plain:,.0f} rows/s ({PLAIN_ROWS:,} rows)")
    print(f"read alone {ROWS / read_seconds:,.0f} rows/s; read + clean {ROWS / clean_seconds:,.0f} rows/s")
    print(f"Peak memory: {peak_mb:,.0f} MB (target < 1,024 MB)")
    print(f"Load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def plain_resource(rows):
    """The default django-import-export path: a ModelResource, import_data with default options, row by row."""
    import tablib

    from borrowers.models import Household
    from loans.bankfiles.layouts import PlainLoanResource
    from loans.models import LoanProgram
    from organizations.models import SavingsGroup

    households = dict(
        Household.objects.filter(customer_code__in=[r["customer_code"] for r in rows]).values_list(
            "customer_code", "pk"
        )
    )
    programs = dict(LoanProgram.objects.values_list("code", "pk"))
    groups = dict(SavingsGroup.objects.filter(code__in={r["group_code"] for r in rows}).values_list("code", "pk"))
    program = LoanProgram.objects.get(code="01")
    dataset = tablib.Dataset(headers=list(PlainLoanResource._meta.fields))
    for n, row in enumerate(rows):
        dataset.append(
            [
                f"77{n:014d}",
                households[row["customer_code"]],
                programs[row["program_code"]],
                groups[row["group_code"]],
                row["amount"],
                row["disbursed_on"],
                row["maturity_on"],
                60,
                program.annual_rate,
                program.overdue_multiplier,
                row["outstanding"],
            ]
        )

    def run():
        result = PlainLoanResource().import_data(dataset, dry_run=False)
        assert not result.has_errors() and not result.has_validation_errors(), result.row_errors()[:3]

    _, seconds = timed(f"plain ModelResource import of {len(rows):,} rows", run)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM loans_loan WHERE number LIKE %s", ["77%"])
    return seconds


if __name__ == "__main__":
    main()
