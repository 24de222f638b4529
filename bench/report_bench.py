"""Time the dashboard and every report at 10,000 and at 1,000,000 loans on PostgreSQL.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/uythac_bench .venv/bin/python bench/report_bench.py

The database is emptied and rebuilt (it must be PostgreSQL and its name must contain "bench"). Data is filled with
set-based SQL (generate_series): a national-scale slice of wards, branches, groups of about 30 borrowers, one loan per
household, a disbursement, quarterly principal repayments, three monthly interest collections and a savings deposit
per loan; 5 % of loans have an overdue instalment, 1 % were frozen 45 days ago, 3 % carry interest arrears since the
collection 30 days ago. Then the summaries are refreshed the way the commands do it (the snapshots for past dates are
rebuilt from the ledger once, as `rebuild_snapshots` does, and one backdated repayment is posted and refreshed as a
collection sheet does), and each page is fetched through Django's test client as the Front supervisor, for today and
for two past dates. Each size prints how long building it took, the full snapshot rebuild (from the first posting)
and one group's snapshot refresh from a recent day (both include the per-branch sums), the snapshot rows per group
and per ward branch, and runs `check_ledger` on what was built. At the small size the
past-date totals are also derived from the postings and compared (at the large size too with --verify, which takes
minutes).

    --small 2000 --large 20000 --repeat 1     a quick run
    --province                                each size built as a 168-ward province by seed_province's set-based
                                              builder (loans/province.py), every loan with its full schedule
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from loans.ledger.balances import refresh_loan_balances  # noqa: E402
from loans.ledger.snapshots import refresh_snapshots, snapshots_rebuild  # noqa: E402
from loans.ledger.summaries import refresh_group_balances, refresh_monthly_balances  # noqa: E402
from loans.models import (  # noqa: E402
    BranchDayChange,
    BranchMonthEnd,
    Loan,
    PortfolioDayChange,
    PortfolioMonthEnd,
    Posting,
)
from loans.province import Province, build_province  # noqa: E402
from loans.reports import selectors as report_selectors  # noqa: E402
from loans.reports.views import REPORTS  # noqa: E402
from organizations.models import SavingsGroup  # noqa: E402

LOANS_PER_GROUP = 30
GROUPS_PER_BRANCH = 20
KINDS = ("11", "12", "13", "14")


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def reset_database():
    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or "bench" not in name:
        sys.exit(f"Refusing to run: the benchmark needs a PostgreSQL database named *bench* (got {name}).")
    sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


def build_tree(total_loans):
    """Area, wards and the four organizations' branches for `total_loans`; returns the number of branches."""
    branches = -(-total_loans // (LOANS_PER_GROUP * GROUPS_PER_BRANCH))
    wards = -(-branches // len(KINDS))
    sql("INSERT INTO organizations_area (code, name, kind_label) VALUES ('BENCH', 'Vùng thử tải', 'Vùng')")
    sql(
        """INSERT INTO organizations_ward (id, code, name, area_id)
           SELECT w, lpad((100000 + w)::text, 6, '0'), 'Phường ' || w, (SELECT id FROM organizations_area)
           FROM generate_series(1, %s) AS w""",
        [wards],
    )
    sql(
        """INSERT INTO organizations_organization (id, kind, level, name, area_id)
           SELECT 1, 'front', 'district', 'MTTQ vùng thử tải', (SELECT id FROM organizations_area)
           UNION ALL
           SELECT 2 + k, (ARRAY['11','12','13','14'])[k + 1], 'district', 'Hội cấp trên ' || k,
                  (SELECT id FROM organizations_area)
           FROM generate_series(0, 3) AS k"""
    )
    # Branch b (0-based) is organization b % 4 in ward b / 4 + 1.
    sql(
        """INSERT INTO organizations_organization (id, kind, level, name, area_id, ward_id, parent_id)
           SELECT 100 + b, (ARRAY['11','12','13','14'])[b %% 4 + 1], 'ward', 'Hội cơ sở ' || b,
                  (SELECT id FROM organizations_area), b / 4 + 1, 2 + b %% 4
           FROM generate_series(0, %s - 1) AS b""",
        [wards * len(KINDS)],
    )
    sql("SELECT setval(pg_get_serial_sequence('organizations_ward', 'id'), (SELECT max(id) FROM organizations_ward))")
    sql(
        "SELECT setval(pg_get_serial_sequence('organizations_organization', 'id'), "
        "(SELECT max(id) FROM organizations_organization))"
    )
    user = get_user_model().objects.create_user(username="bench-front", password="bench-front-password")
    sql(
        "INSERT INTO organizations_officerprofile (role, phone, user_id, organization_id) "
        "VALUES ('front_supervisor', '', %s, 1)",
        [user.pk],
    )
    return user


def fill_loans(first, last, today):
    """Households, groups, memberships, loans, instalments and postings for loans first..last (1-based, inclusive).

    Loan i lives in group (i - 1) / 30 + 1; group g in branch (g - 1) % branches. Balances are written consistent
    with the postings and the overdue instalments, as refresh_loan_balances would.
    """
    params = {"first": first, "last": last, "per_group": LOANS_PER_GROUP, "today": today}
    branches = "(SELECT count(*) FROM organizations_organization WHERE level = 'ward')"
    sql(
        f"""INSERT INTO organizations_savingsgroup (id, code, name, status, branch_id)
            SELECT g, lpad(g::text, 7, '0'), 'Tổ ' || g, 'active', 100 + (g - 1) %% {branches}
            FROM generate_series((%(first)s - 1) / %(per_group)s + 1, (%(last)s - 1) / %(per_group)s + 1) AS g
            ON CONFLICT (id) DO NOTHING""",
        params,
    )
    sql(
        """INSERT INTO borrowers_household (id, customer_code, head_name, search_name, citizen_id, phone, address,
               members, policy_status, policy_list_year, savings_balance, created_at, updated_at, branch_id, ward_id)
           SELECT i, lpad(i::text, 10, '0'), 'Hộ thử ' || i, 'ho thu ' || i, '079' || lpad(i::text, 9, '0'), '',
                  'Địa chỉ ' || i, 4, 'poor', 2025, 100000, now(), now(), o.id, o.ward_id
           FROM generate_series(%(first)s, %(last)s) AS i
           JOIN organizations_savingsgroup g ON g.id = (i - 1) / %(per_group)s + 1
           JOIN organizations_organization o ON o.id = g.branch_id""",
        params,
    )
    sql(
        """INSERT INTO organizations_groupmembership (joined_on, note, household_id, group_id)
           SELECT DATE '2020-01-01', '', i, (i - 1) / %(per_group)s + 1
           FROM generate_series(%(first)s, %(last)s) AS i""",
        params,
    )
    # Loan i: amount 30-49 million, disbursed (i * 7) % 1000 days ago, term 48 months, repaid a tenth each quarter.
    sql(
        """CREATE TEMP TABLE bench_plan AS
           SELECT i,
                  (30 + i %% 20)::bigint * 1000000 AS amount,
                  %(today)s::date - (i * 7) %% 1000 AS disbursed_on,
                  LEAST(((i * 7) %% 1000) / 91, 3) AS paid,
                  (i %% 20 = 0) AS overdue,
                  (i %% 100 = 1) AS frozen,
                  (i %% 33 = 2) AS arrears
           FROM generate_series(%(first)s, %(last)s) AS i""",
        params,
    )
    sql(
        """INSERT INTO loans_loan (id, number, amount, disbursed_on, maturity_on, term_months, frequency, annual_rate,
               overdue_multiplier, status, principal_outstanding, overdue_principal, interest_arrears, created_at,
               updated_at, group_id, household_id, program_id)
           SELECT p.i, lpad(p.i::text, 16, '0'), p.amount, p.disbursed_on, p.disbursed_on + 1461, 48, 3, 6.6, 1.3,
                  CASE WHEN p.frozen THEN 'frozen' ELSE 'active' END,
                  p.amount - p.paid * p.amount / 10,
                  CASE WHEN p.overdue THEN p.amount / 10 ELSE 0 END,
                  CASE WHEN p.arrears THEN 100000 ELSE 0 END,
                  now(), now(), (p.i - 1) / %(per_group)s + 1, p.i,
                  (SELECT id FROM loans_loanprogram WHERE code = (ARRAY['01','03','06','07'])[p.i %% 4 + 1])
           FROM bench_plan p""",
        params,
    )
    # Overdue loans: every instalment due so far is stamped, the last one unpaid (paid + 1 instalments).
    sql(
        """INSERT INTO loans_repaymentinstalment (seq, due_on, principal, overdue_since, loan_id)
           SELECT s, p.disbursed_on + 91 * s, p.amount / 10, p.disbursed_on + 91 * s + 1, p.i
           FROM bench_plan p, generate_series(1, p.paid + 1) AS s WHERE p.overdue"""
    )
    sql(
        """INSERT INTO loans_posting (kind, amount, "on", note, created_at, household_id, loan_id)
           SELECT 'disbursement', p.amount, p.disbursed_on, '', now(), p.i, p.i FROM bench_plan p
           UNION ALL
           SELECT 'principal', p.amount / 10, p.disbursed_on + 91 * s, '', now(), p.i, p.i
           FROM bench_plan p, generate_series(1, p.paid) AS s
           UNION ALL
           SELECT 'interest', p.amount * 55 / 10000, %(today)s::date - 30 * m, '', now(), p.i, p.i
           FROM bench_plan p, generate_series(1, 3) AS m WHERE p.disbursed_on < %(today)s::date - 30 * m
           UNION ALL
           SELECT 'savings_in', 100000, %(today)s::date - 60, '', now(), p.i, NULL FROM bench_plan p""",
        params,
    )
    # Arrears left by the collection 30 days ago; freezes approved 45 days ago.
    sql(
        """INSERT INTO loans_interestarrearsentry (loan_id, "on", amount, source, created_at)
           SELECT p.i, %(today)s::date - 30, 100000, 'collection', now() FROM bench_plan p WHERE p.arrears""",
        params,
    )
    sql(
        """INSERT INTO loans_loanstatuschange (loan_id, from_status, to_status, "on", at, note, note_code, note_params)
           SELECT p.i, 'active', 'frozen', GREATEST(p.disbursed_on, %(today)s::date - 45), now(), '', '', '{}'
           FROM bench_plan p WHERE p.frozen""",
        params,
    )
    sql("DROP TABLE bench_plan")


def analyze():
    sql("ANALYZE")


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def refresh(today, since):
    """The summary refreshes, each timed: today's group summaries, the 12 month ends of the trend, the snapshots
    rebuilt from the ledger (in full, from the first posting, as `rebuild_snapshots` does by default), one group's
    snapshots refreshed from a recent day (as a change to that group refreshes them), and a repayment backdated to
    `since` refreshed as a collection sheet refreshes it."""
    first_posting = Posting.objects.order_by("on").values_list("on", flat=True).first()
    times = {
        # Once snapshots exist (the second size), this also refreshes every group's snapshots, as an import does.
        "refresh_group_balances": timed(refresh_group_balances),
        "refresh_monthly_balances": timed(refresh_monthly_balances, today),
        "rebuild_snapshots (in full)": timed(snapshots_rebuild, since=first_posting),
    }
    print(f"  snapshots rebuilt from the first posting, {first_posting:%d/%m/%Y}")
    group = SavingsGroup.objects.order_by("pk").values_list("pk", flat=True)[1]
    recent = today - datetime.timedelta(days=10)
    times["one group's snapshots refreshed"] = statistics.median(
        timed(refresh_snapshots, [group], since=recent) for _ in range(5)
    )
    # The province's groups grow with its size (about 15 loans each at 10,000 loans, 43 at a million).
    print(f"  one group's snapshots refreshed from {recent:%d/%m/%Y}: group {group}, "
          f"{Loan.objects.filter(group_id=group).count()} loans")
    loan = Loan.objects.filter(principal_outstanding__gt=0, disbursed_on__lt=since).order_by("pk").first()
    Posting.objects.create(kind="principal", household_id=loan.household_id, loan=loan, amount=1000, on=since)
    times["backdated posting refresh"] = timed(refresh_loan_balances, [loan.pk], since=since)
    return times


def date_of_year_start(today):
    return today.replace(month=1, day=1)


def past_dates(today):
    """The first of this month and the 15th four months back: both read the snapshots."""
    month = today.month - 4 if today.month > 4 else today.month + 8
    year = today.year if today.month > 4 else today.year - 1
    earlier = datetime.date(year, month, 15)
    if earlier < date_of_year_start(today):
        earlier = date_of_year_start(today) + datetime.timedelta(days=14)
    return [today.replace(day=1), earlier]


def pages(client, today):
    group = SavingsGroup.objects.order_by("pk").select_related("branch").first()
    ward = group.branch.ward_id
    urls = {}
    for on in (None, *past_dates(today)):
        suffix = "" if on is None else f" on {on:%d/%m/%Y}"
        query = "" if on is None else f"?on={on:%d/%m/%Y}"
        urls["dashboard" + suffix] = reverse("organizations:home") + query
        for layout, spec in REPORTS.items():
            urls[spec["code"] + suffix] = reverse("loans:report", args=[layout]) + query
        urls["01.1/BCTD .xlsx" + suffix] = (
            reverse("loans:report", args=["bctd_01_1"]) + (query + "&" if query else "?") + "format=xlsx"
        )
        urls["ward drill-down" + suffix] = reverse("loans:report_ward", args=[ward]) + query
        urls["group drill-down" + suffix] = reverse("loans:report_group", args=[group.pk]) + query
    return urls


TOTALS = ("outstanding", "overdue", "frozen", "interest_arrears", "savings", "households", "loans", "lent_month",
          "lent_year", "collected_month", "collected_year")


def past_totals(user, today, verify):
    """Print each past date's totals from the snapshots and, with `verify`, check them against the postings."""
    for on in past_dates(today):
        snapshot = report_selectors.portfolio_report(user=user, on=on)[0]
        figures = ", ".join(f"{name} {snapshot[name]:,}" for name in TOTALS)
        print(f"  totals on {on:%d/%m/%Y} (snapshots): {figures}")
        if not verify:
            continue
        original = report_selectors.snapshot_month_end
        report_selectors.snapshot_month_end = lambda on: None
        try:
            started = time.perf_counter()
            ledger = report_selectors.portfolio_report(user=user, on=on)[0]
            took = time.perf_counter() - started
        finally:
            report_selectors.snapshot_month_end = original
        same = all(snapshot[name] == ledger[name] for name in TOTALS)
        print(f"  totals on {on:%d/%m/%Y} derived from postings in {took:.1f} s: "
              f"{'identical' if same else 'DIFFERENT: ' + str({n: ledger[n] for n in TOTALS})}")


def check_ledger():
    """Run `check_ledger` on what was built; returns (seconds, passed)."""
    from io import StringIO

    from django.core.management.base import CommandError

    output = StringIO()
    started = time.perf_counter()
    try:
        call_command("check_ledger", stdout=output)
        passed = True
    except CommandError as error:
        output.write(str(error))
        passed = False
    took = time.perf_counter() - started
    if not passed:
        print("  check_ledger FAILED:\n" + "\n".join(output.getvalue().splitlines()[-20:]))
    return took, passed


def time_page(client, url, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def build_province_size(size, today):
    """The database emptied and a province of `size` loans in 168 wards built by `seed_province`'s builder
    (loans/province.py); returns the Front supervisor and the build time (the summaries included, the snapshots not:
    `refresh` rebuilds them, timed)."""
    reset_database()
    timings = build_province(Province(loans=size, today=today), log=lambda line: None)
    return get_user_model().objects.get(username="front"), timings["total"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--verify", action="store_true", help="Also derive the large size's past totals from postings.")
    parser.add_argument(
        "--province", action="store_true",
        help="Build each size as a province of 168 wards with seed_province's builder (schedules for every loan, "
             "about 43 loans a group), instead of growing one database from the small size to the large one.",
    )
    args = parser.parse_args()
    today = timezone.localdate()
    print(f"PostgreSQL {connection.settings_dict['NAME']}, today {today:%d/%m/%Y}")
    client = Client(HTTP_HOST="127.0.0.1")
    if not args.province:
        reset_database()
        user = build_tree(args.large)
        client.force_login(user)
    results = {}
    builds = {}
    refreshes = {}
    checks = {}
    filled = 0
    for size in (args.small, args.large):
        started = time.perf_counter()
        if args.province:
            user, _took = build_province_size(size, today)
            client.force_login(user)
            started = time.perf_counter() - _took  # the build, not the emptying and migrating before it
        else:
            batch = 250_000
            for first in range(filled + 1, size + 1, batch):
                fill_loans(first, min(size, first + batch - 1), today)
            filled = size
        analyze()
        fill_time = builds[size] = time.perf_counter() - started
        times = refresh(today, past_dates(today)[1])
        analyze()
        refreshes[size] = times
        checks[size] = check_ledger()
        print(f"\n{size:,} loans: filled in {fill_time:.1f} s; " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
        print(f"  check_ledger {'passed' if checks[size][1] else 'FAILED'} in {checks[size][0]:.1f} s")
        print(
            f"  snapshots: {PortfolioMonthEnd.objects.count():,} month-end rows, "
            f"{PortfolioDayChange.objects.count():,} daily-change rows; summed per ward branch (what province-wide "
            f"pages read): {BranchMonthEnd.objects.count():,} and {BranchDayChange.objects.count():,}"
        )
        past_totals(user, today, verify=size == args.small or args.verify)
        urls = pages(client, today)
        for name, url in urls.items():
            time_page(client, url, 1)  # warm up
            results.setdefault(name, {})[size] = time_page(client, url, args.repeat)
            print(f"  {name:<48} {results[name][size] * 1000:8.0f} ms")
    print(f"\nbuilt: {args.small:,} loans in {builds[args.small]:.1f} s, {args.large:,} loans in "
          f"{builds[args.large]:.1f} s ({builds[args.large] / 60:.1f} min)"
          + (" with the province builder" if args.province else " (grown from the small size)"))
    for size in (args.small, args.large):
        print(f"check_ledger at {size:,} loans: {'passed' if checks[size][1] else 'FAILED'} in {checks[size][0]:.1f} s")
    print(f"\n{'refresh':<48} {args.small:>10,} {args.large:>10,}   ratio  (s)")
    for name in refreshes[args.small]:
        small, large = refreshes[args.small][name], refreshes[args.large].get(name)
        if large is None:
            continue
        print(f"{name:<48} {small:>10.3f} {large:>10.3f} {large / small:>7.1f}")
    print(f"\n{'page':<48} {args.small:>10,} {args.large:>10,}   ratio  (median of {args.repeat}, ms)")
    print("(pages 'on dd/mm/yyyy' are past dates read from the snapshots; the others are today)")
    for name, times in results.items():
        small, large = times.get(args.small), times.get(args.large)
        if small is None or large is None:
            continue
        flag = "" if large < 1 else "  > 1 s"
        print(f"{name:<48} {small * 1000:>10.0f} {large * 1000:>10.0f} {large / small:>7.1f}{flag}")


if __name__ == "__main__":
    main()
