"""Time `close_day` for one day on a province-sized database against one SQL pass over the loans.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/uythac_province_bench .venv/bin/python bench/close_day_bench.py

The database is emptied and the province built with `seed_province`'s set-based builder (loans/province.py): 168
wards, 1,000,000 loans by default, no past-date snapshots. Its "today" is the latest working day up to today whose
day before was a working day too, so the day close has work: the instalments that fell due the day before and were
not paid become overdue, as on any morning. The day before and the day before that are recorded as closed, as on an
install whose close runs every night.

Then it times, on the same data:
  - one SQL pass over the loans: `SELECT sum(principal_outstanding) FROM loans_loan` (and, for scale, an UPDATE
    of every loan's row, rolled back);
  - `overdue_close_day` for today (the service `close_day` and the scheduled job run), inside a transaction that is
    rolled back, so that each repeat closes the same day on the same data;
and prints the ratio; then the same for a close a week later (the closes in between missed: the catch-up), and
runs `check_ledger` once after a close of today, which is then rolled back too (so --reuse times the same day again).

    --loans 100000 --repeat 1       a quick run
    --reuse                         keep the province already built by an earlier run (its build time is not printed)
    --snapshots                     rebuild the report snapshots first (printing how long a full rebuild takes), so
                                    the closes also keep them in line, as on an install
"""

import argparse
import io
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from loans.calendar import WorkingCalendar  # noqa: E402
from loans.ledger.snapshots import snapshot_span, snapshots_rebuild  # noqa: E402
from loans.models import DayClose, Loan, RepaymentInstalment  # noqa: E402
from loans.province import Province, build_province  # noqa: E402
from loans.services.overdue import overdue_close_day  # noqa: E402


def sql(statement):
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall() if cursor.description else None


def reset_database():
    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or "bench" not in name:
        sys.exit(f"Refusing to run: the benchmark needs a PostgreSQL database named *bench* (got {name}).")
    sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


def bench_today():
    """The latest working day up to today whose day before is a working day too."""
    today = timezone.localdate()
    calendar = WorkingCalendar.for_span(today - timedelta(days=30), today)
    while not (calendar.is_working_day(today) and calendar.is_working_day(today - timedelta(days=1))):
        today -= timedelta(days=1)
    return today


def timed(function, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def close_rolled_back(on, result):
    with transaction.atomic():
        result["marked"], result["refreshed"] = overdue_close_day(on=on)
        transaction.set_rollback(True)


def update_rolled_back():
    with transaction.atomic():
        sql("UPDATE loans_loan SET updated_at = updated_at")
        transaction.set_rollback(True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--wards", type=int, default=168)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="Use the province an earlier run built.")
    parser.add_argument(
        "--snapshots", action="store_true",
        help="Build the report snapshots first (timed), as an install has them: the close then keeps them in line.",
    )
    args = parser.parse_args()
    print(f"PostgreSQL {connection.settings_dict['NAME']}, load average {os.getloadavg()[0]:.1f}")
    if args.reuse and Loan.objects.exists():
        today = DayClose.objects.order_by("-on").values_list("on", flat=True).first() + timedelta(days=1)
        print(f"Reusing the province built earlier: {Loan.objects.count():,} loans, today {today:%d/%m/%Y}")
    else:
        reset_database()
        today = bench_today()
        province = Province(loans=args.loans, wards=args.wards, today=today)
        print(f"Building {args.wards} wards, {province.groups:,} groups, {args.loans:,} loans as of {today:%d/%m/%Y}")
        timings = build_province(province, log=lambda line: print(line, flush=True))
        print(f"Built in {timings['total']:.1f} s ({timings['total'] / 60:.1f} min)")
    sql("VACUUM ANALYZE loans_loan")
    sql("VACUUM ANALYZE loans_repaymentinstalment")
    sql("VACUUM ANALYZE loans_posting")
    if args.snapshots:
        started = time.perf_counter()
        snapshots_rebuild(since=date(today.year - 1, 1, 1), until=today)
        print(f"report snapshots rebuilt from the ledger in {time.perf_counter() - started:.1f} s")
    first, last = snapshot_span()
    print("report snapshots: " + (f"{first:%d/%m/%Y}–{last:%d/%m/%Y}, kept in line by each close" if first else "none"))
    instalments = RepaymentInstalment.objects.count()
    print(f"{Loan.objects.count():,} loans, {instalments:,} instalments; load average {os.getloadavg()[0]:.1f}")

    select = timed(lambda: sql("SELECT sum(principal_outstanding) FROM loans_loan"), args.repeat)
    print(f"one SQL pass, SELECT sum(principal_outstanding) FROM loans_loan: {select:.2f} s")
    result = {}
    close = timed(lambda: close_rolled_back(today, result), args.repeat)
    print(f"overdue_close_day for {today:%d/%m/%Y} (rolled back): {close:.2f} s; "
          f"{len(result['marked']):,} instalments became overdue, {len(result['refreshed']):,} loan balances refreshed")
    catch_up = today + timedelta(days=7)
    late = timed(lambda: close_rolled_back(catch_up, result), 1)
    print(f"overdue_close_day for {catch_up:%d/%m/%Y}, a week of closes missed (rolled back): {late:.2f} s; "
          f"{len(result['marked']):,} instalments became overdue")
    update = timed(update_rolled_back, 1)
    print(f"one UPDATE of every loan's row (rolled back): {update:.2f} s")
    print(f"\nclose_day / SELECT pass: {close / select:.1f}×   (target ≤ 3×)")
    print(f"a week's catch-up / SELECT pass: {late / select:.1f}×")
    print(f"close_day / UPDATE pass: {close / update:.1f}×")

    # The close is kept for check_ledger, then rolled back too: --reuse finds the province as it was built.
    with transaction.atomic():
        started = time.perf_counter()
        call_command("close_day", date=today, stdout=io.StringIO())
        print(f"\nclose_day kept: {time.perf_counter() - started:.2f} s (the command, which also lists every instalment)")
        started = time.perf_counter()
        out = io.StringIO()
        try:
            call_command("check_ledger", stdout=out)
            verdict = "passed"
        except Exception as error:  # noqa: BLE001 - the verdict is printed, whatever it is
            verdict = f"FAILED: {error}\n{out.getvalue()[-2000:]}"
        print(f"check_ledger {verdict} in {time.perf_counter() - started:.1f} s (then the close is rolled back)")
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
