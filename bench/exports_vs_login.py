"""Exports against logins: four users each start the largest export while a fifth logs in again and again.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/uythac_exports_bench .venv/bin/python bench/exports_vs_login.py
    DEBUG=1 .venv/bin/python bench/exports_vs_login.py --loans 5000 --skip-before      # a quick try

Options: --loans 20000 (about six postings each: the Front's transactions file has that many rows), --workers 2
(gunicorn sync workers), --task-workers 1, --skip-before.

What it does, and stops by itself (also on Ctrl-C or an error):
1. Setup. The database (PostgreSQL on loopback, its name must contain "bench") is emptied, migrated and filled with
   set-based SQL in a few seconds (one household and loan per borrower, groups of 30; a disbursement, quarterly
   repayments, monthly interest and a savings deposit each), then ANALYZEd. Five Front supervisors are added: four
   export, the fifth logs in.
2. Before (exports built in the request, as they were: EXPORT_INLINE_MAX_ROWS above the file's rows). gunicorn
   with --workers sync workers, production settings, on a free port of 127.0.0.1. The four users GET
   /loans/exports/transactions.xlsx at the same moment while the fifth logs in (the login page, then the form)
   every half second, until the four files have arrived.
3. After (as shipped). The same gunicorn, plus --task-workers background workers (`manage.py run_worker`, the
   database queue). The four users press Prepare (POST) at the same moment and poll the list of prepared files as
   the page does, then download their file, while the fifth logs in as before. The direct GET is timed once too
   (it now sends a large file to Prepare).
Prints each export's time and each phase's login times (median, p95, worst; the target is under 1 s). Every process
it starts (gunicorn, the workers) is stopped by its pid, and its own process group, before it exits.
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/uythac_exports_bench"
PASSWORD = "bench-export-password"
EXPORTERS = [f"bench-export{n}" for n in range(1, 5)]
LOGIN_USER = "bench-login"
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DOWNLOAD_RE = re.compile(r'href="(/loans/exports/prepared/\d+/)"')


def database_url():
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or "bench" not in name:
        sys.exit(f"Refusing to run: the benchmark needs a PostgreSQL database whose name contains 'bench' (got {url}).")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"Refusing to run: the database must be on loopback (got {parts.hostname}).")
    return url, name


def create_database(url, name):
    # Not `with connection:`, which opens a transaction even in autocommit mode, and CREATE DATABASE refuses one.
    admin = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()


LOANS_PER_GROUP = 30
GROUPS_PER_BRANCH = 20
FILL = [
    # The area, the Front (organization 1), the four organizations' district units and their ward branches.
    "INSERT INTO organizations_area (code, name, kind_label) VALUES ('BENCH', 'Vùng thử tải', 'Vùng')",
    """INSERT INTO organizations_ward (id, code, name, area_id)
       SELECT w, lpad((100000 + w)::text, 6, '0'), 'Phường ' || w, (SELECT id FROM organizations_area)
       FROM generate_series(1, %(wards)s) AS w""",
    """INSERT INTO organizations_organization (id, kind, level, name, area_id)
       SELECT 1, 'front', 'district', 'MTTQ vùng thử tải', (SELECT id FROM organizations_area)
       UNION ALL
       SELECT 2 + k, (ARRAY['11','12','13','14'])[k + 1], 'district', 'Hội cấp trên ' || k,
              (SELECT id FROM organizations_area)
       FROM generate_series(0, 3) AS k""",
    """INSERT INTO organizations_organization (id, kind, level, name, area_id, ward_id, parent_id)
       SELECT 100 + b, (ARRAY['11','12','13','14'])[b %% 4 + 1], 'ward', 'Hội cơ sở ' || b,
              (SELECT id FROM organizations_area), b / 4 + 1, 2 + b %% 4
       FROM generate_series(0, %(branches)s - 1) AS b""",
    """INSERT INTO organizations_savingsgroup (id, code, name, status, branch_id)
       SELECT g, lpad(g::text, 7, '0'), 'Tổ ' || g, 'active', 100 + (g - 1) %% %(branches)s
       FROM generate_series(1, %(groups)s) AS g""",
    # One household and one loan per borrower: loan i in group (i - 1) / 30 + 1, disbursed (i * 7) %% 1000 days ago,
    # repaid a tenth each quarter since, with three monthly interest collections and a savings deposit.
    """INSERT INTO borrowers_household (id, customer_code, head_name, search_name, citizen_id, phone, address,
           members, policy_status, policy_list_year, savings_balance, created_at, updated_at, branch_id, ward_id)
       SELECT i, lpad(i::text, 10, '0'), 'Hộ thử ' || i, 'ho thu ' || i, '079' || lpad(i::text, 9, '0'), '',
              'Địa chỉ ' || i, 4, 'poor', 2025, 100000, now(), now(), o.id, o.ward_id
       FROM generate_series(1, %(loans)s) AS i
       JOIN organizations_savingsgroup g ON g.id = (i - 1) / %(per_group)s + 1
       JOIN organizations_organization o ON o.id = g.branch_id""",
    """INSERT INTO organizations_groupmembership (joined_on, note, household_id, group_id)
       SELECT DATE '2020-01-01', '', i, (i - 1) / %(per_group)s + 1 FROM generate_series(1, %(loans)s) AS i""",
    """CREATE TEMP TABLE bench_plan AS
       SELECT i, (30 + i %% 20)::bigint * 1000000 AS amount, CURRENT_DATE - (i * 7) %% 1000 AS disbursed_on,
              LEAST(((i * 7) %% 1000) / 91, 3) AS paid
       FROM generate_series(1, %(loans)s) AS i""",
    """INSERT INTO loans_loan (id, number, amount, disbursed_on, maturity_on, term_months, frequency, annual_rate,
           overdue_multiplier, status, principal_outstanding, overdue_principal, interest_arrears, created_at,
           updated_at, group_id, household_id, program_id)
       SELECT p.i, lpad(p.i::text, 16, '0'), p.amount, p.disbursed_on, p.disbursed_on + 1461, 48, 3, 6.6, 1.3,
              'active', p.amount - p.paid * p.amount / 10, 0, 0, now(), now(), (p.i - 1) / %(per_group)s + 1, p.i,
              (SELECT id FROM loans_loanprogram WHERE code = (ARRAY['01','03','06','07'])[p.i %% 4 + 1])
       FROM bench_plan p""",
    """INSERT INTO loans_posting (kind, amount, "on", note, created_at, household_id, loan_id)
       SELECT 'disbursement', p.amount, p.disbursed_on, '', now(), p.i, p.i FROM bench_plan p
       UNION ALL
       SELECT 'principal', p.amount / 10, p.disbursed_on + 91 * s, '', now(), p.i, p.i
       FROM bench_plan p, generate_series(1, p.paid) AS s
       UNION ALL
       SELECT 'interest', p.amount * 55 / 10000, CURRENT_DATE - 30 * m, '', now(), p.i, p.i
       FROM bench_plan p, generate_series(1, 3) AS m WHERE p.disbursed_on < CURRENT_DATE - 30 * m
       UNION ALL
       SELECT 'savings_in', 100000, CURRENT_DATE - 60, '', now(), p.i, NULL FROM bench_plan p""",
    "DROP TABLE bench_plan",
    "SELECT setval(pg_get_serial_sequence('organizations_ward', 'id'), (SELECT max(id) FROM organizations_ward))",
    "SELECT setval(pg_get_serial_sequence('organizations_organization', 'id'), "
    "(SELECT max(id) FROM organizations_organization))",
    "SELECT setval(pg_get_serial_sequence('organizations_savingsgroup', 'id'), "
    "(SELECT max(id) FROM organizations_savingsgroup))",
    "SELECT setval(pg_get_serial_sequence('borrowers_household', 'id'), (SELECT max(id) FROM borrowers_household))",
    "SELECT setval(pg_get_serial_sequence('loans_loan', 'id'), (SELECT max(id) FROM loans_loan))",
    "ANALYZE",
]


def set_up(url, loans):
    """Empty, migrate and fill the database set-based; add the five users. Returns the rows of the Front's
    transactions file."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    connection.close()
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection as django_connection

    from loans.bankfiles.export import bank_export_count
    from organizations.models import OfficerProfile, Organization

    groups = -(-loans // LOANS_PER_GROUP)
    branches = -(-groups // GROUPS_PER_BRANCH)
    sizes = {"loans": loans, "groups": groups, "branches": branches, "wards": -(-branches // 4),
             "per_group": LOANS_PER_GROUP}
    with django_connection.cursor() as cursor:
        for statement in FILL:
            cursor.execute(statement, sizes if "%(" in statement else None)
    front = Organization.objects.get(pk=1)
    users = []
    for username in [*EXPORTERS, LOGIN_USER]:
        user = get_user_model().objects.create_user(username=username, password=PASSWORD)
        OfficerProfile.objects.create(user=user, organization=front, role=OfficerProfile.Role.FRONT_SUPERVISOR)
        users.append(user)
    rows = bank_export_count("transactions", users[0])
    django_connection.close()
    return rows


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Started:
    """A process of ours in its own process group, stopped by its pid (SIGTERM, then SIGKILL to its group)."""

    def __init__(self, command, env, log_path):
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        else:
            try:  # the leader is gone; anything it left in its group goes too
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def wait_ready(base, server, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}")
        try:
            if requests.get(base + "/accounts/login/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s")


def log_in(base, username):
    """A person logging in: the login page, then the form. Returns the session and the seconds it took."""
    session = requests.Session()
    started = time.perf_counter()
    page = session.get(base + "/accounts/login/", timeout=300)
    token = CSRF_RE.search(page.text).group(1)
    response = session.post(
        base + "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=300,
    )
    seconds = time.perf_counter() - started
    if response.status_code != 302:
        raise RuntimeError(f"{username} could not log in: {response.status_code}")
    return session, seconds


class LoginTimer(threading.Thread):
    """The fifth user logs in every half second until stopped."""

    def __init__(self, base):
        super().__init__(daemon=True)
        self.base, self.times, self.stop = base, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.times.append(log_in(self.base, LOGIN_USER)[1])
            self.stop.wait(0.5)


def export_in_request(base, username, results):
    session, _seconds = log_in(base, username)
    started = time.perf_counter()
    response = session.get(base + "/loans/exports/transactions.xlsx", timeout=600)
    results[username] = (time.perf_counter() - started, len(response.content), response.status_code)


def export_prepared(base, username, results):
    session, _seconds = log_in(base, username)
    page = session.get(base + "/loans/exports/", timeout=300)
    token = CSRF_RE.search(page.text).group(1)
    started = time.perf_counter()
    response = session.post(
        base + "/loans/exports/transactions.xlsx/prepare/", data={"csrfmiddlewaretoken": token},
        allow_redirects=False, timeout=300,
    )
    asked = time.perf_counter() - started
    link = None
    while link is None and time.perf_counter() - started < 1200:
        time.sleep(2)  # the page polls every 2 s
        link = DOWNLOAD_RE.search(session.get(base + "/loans/exports/prepared/", timeout=300).text)
    ready = time.perf_counter() - started
    size = len(session.get(base + link.group(1), timeout=300).content) if link else 0
    results[username] = (asked, ready, size, response.status_code)


def summary(times):
    if not times:
        return "no login finished"
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    under = sum(1 for seconds in times if seconds < 1)
    return (f"{len(times)} logins, median {statistics.median(times):.2f} s, p95 {p95:.2f} s, worst {max(times):.2f} s; "
            f"{under} of {len(times)} under 1 s")


def phase(name, env, args, workdir, work):
    """Start gunicorn (and the task workers when asked), time logins while `work(base)` runs, stop everything."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = []
    try:
        server = Started(
            [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers), "--timeout", "600", "--graceful-timeout", "5", "--log-level", "warning"],
            env, workdir / f"gunicorn-{name}.log",
        )
        started.append(server)
        if name == "after":
            for number in range(args.task_workers):
                started.append(Started([PYTHON, "manage.py", "run_worker"], env, workdir / f"worker-{number}.log"))
        wait_ready(base, server)
        idle = [log_in(base, LOGIN_USER)[1] for _ in range(3)]
        timer = LoginTimer(base)
        timer.start()
        work(base)
        timer.stop.set()
        timer.join(timeout=300)
        return idle, timer.times
    finally:
        for process in reversed(started):
            process.stop()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--task-workers", type=int, default=1, help="background workers (default 1)")
    parser.add_argument("--skip-before", action="store_true", help="only the phase with the background worker")
    args = parser.parse_args()
    url, name = database_url()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")

    clock = time.monotonic()
    print(f"Setting up {name}: migrate, {args.loans:,} loans, five Front supervisors…")
    create_database(url, name)
    rows = set_up(url, args.loans)
    print(f"  ready in {time.monotonic() - clock:.0f} s; the Front's transactions file has {rows:,} rows")

    workdir = Path(tempfile.mkdtemp(prefix="uythac_exports_"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "MANIFEST_STATIC": "0",  # no static file is fetched here; no collectstatic needed
        "STATIC_ROOT": str(workdir / "static"),
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback; a real deployment terminates TLS in front
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "ERROR",
        "TASKS_BACKEND": "database",
        "EXPORT_ROOT": str(workdir / "exports"),
    }
    (workdir / "static").mkdir()
    print(f"Logs and prepared files in {workdir}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

    if not args.skip_before:
        results = {}

        def in_request(base):
            threads = [threading.Thread(target=export_in_request, args=(base, user, results)) for user in EXPORTERS]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        print(f"\nBefore: the four exports built in the request ({args.workers} gunicorn workers)…")
        idle, busy = phase("before", {**env, "EXPORT_INLINE_MAX_ROWS": str(10**9)}, args, workdir, in_request)
        for user, (seconds, size, status) in sorted(results.items()):
            print(f"  {user}: GET transactions.xlsx {status} in {seconds:.1f} s ({size / 1024 / 1024:.1f} MB)")
        print(f"  logins when idle:         {summary(idle)}")
        print(f"  logins while they ran:    {summary(busy)}")

    results, direct = {}, {}

    def prepared(base):
        session, _seconds = log_in(base, EXPORTERS[0])
        started = time.perf_counter()
        response = session.get(base + "/loans/exports/transactions.xlsx", allow_redirects=False, timeout=300)
        direct["answer"] = (response.status_code, time.perf_counter() - started)
        threads = [threading.Thread(target=export_prepared, args=(base, user, results)) for user in EXPORTERS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    print(f"\nAfter: the four exports prepared by {args.task_workers} background worker(s) "
          f"({args.workers} gunicorn workers)…")
    idle, busy = phase("after", env, args, workdir, prepared)
    status, seconds = direct["answer"]
    print(f"  the direct GET transactions.xlsx now answers {status} in {seconds:.2f} s (sent to Prepare)")
    for user, (asked, ready, size, status) in sorted(results.items()):
        print(f"  {user}: Prepare answered {status} in {asked:.2f} s; file ready after {ready:.1f} s "
              f"({size / 1024 / 1024:.1f} MB downloaded)")
    print(f"  logins when idle:         {summary(idle)}")
    print(f"  logins while prepared:    {summary(busy)}")
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    shutil.rmtree(workdir / "exports", ignore_errors=True)  # the files hold (made-up) citizen IDs; the logs stay


if __name__ == "__main__":
    main()
