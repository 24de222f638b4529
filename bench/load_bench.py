"""Load and fault benchmark: ward officers work the app under gunicorn on PostgreSQL while a worker and the database
connections are killed; afterwards every collection is checked against the ledger.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/uythac_load .venv/bin/python bench/load_bench.py
    DEBUG=1 .venv/bin/python bench/load_bench.py --quick          # 10 officers for 25 s, to try the script

Options: --users 50 --duration 120 --workers 4 --think 2.0 (mean seconds between an officer's clicks), --ramp-up 20
(seconds over which the officers log in), --contest-every 30 (seconds between rounds where a whole team posts the
same group's sheet at once), --no-faults, --conn-max-age 60.

What it does, and stops by itself (also on Ctrl-C or an error):
1. Setup. The database (PostgreSQL, its name must contain "load"; default uythac_load) is emptied, migrated and
   filled with `seed_demo`, then ANALYZEd. Ward officers load01..loadNN (password uythac-demo) are added in teams of three, one
   team per ward branch. Static files are collected into a temporary folder and the app is started under gunicorn
   (sync workers) on a free port of 127.0.0.1 with production settings (DEBUG off, persistent database connections
   with health checks, whitenoise). No request leaves 127.0.0.1.
2. Load. Every officer logs in (CSRF token from the form, no wrong password, so django-axes never locks anyone) and
   then, with a random pause between clicks, opens the dashboard, household lists and pages, group lists and pages,
   collection day lists and sheets, and now and then prepares, fills and posts a 13/TD sheet for one of its own
   groups. At fixed times a whole team prepares the same group's sheet at the same moment (one preparation wins,
   the others are told the sheet exists) and then posts it at the same moment, each officer with its own savings
   amounts, so the ledger shows whose post won (the others must be told it is already posted, or being posted by
   a colleague). A post whose answer is lost (connection reset, 5xx, a plain 400 instead of the sheet) is
   "ambiguous": the officer reopens the sheet and posts again if it is still a draft, as a person would.
3. Faults. At 35 % of the run one gunicorn worker is killed with SIGKILL (gunicorn starts a new one); at 65 % every
   database backend of the app is terminated with pg_terminate_backend. Meanwhile a background worker imports the
   bank's three sample files (bench/import_fault.py) and is killed with SIGKILL during the first import; a new worker
   retries it. Each file must end imported exactly once, with its postings once.
4. Afterwards. Every post the officers were told succeeded must be in the ledger with exactly their amounts and
   posted by them; no sheet is acknowledged twice; no line has two postings of the same kind for a loan or more
   postings than its collected amounts call for; no posting by the officers sits outside a sheet; posts with an
   ambiguous answer are in the ledger at most once; `manage.py check_ledger` exits 0. It prints the error rate by
   cause, p50/p95/p99 latency of page views, posts, sheet preparations and logins, and requests per second, and
   exits 1 if anything is lost or doubled or the ledger check fails (the latency target is reported, not enforced).
   As the machine may be shared, it also prints the CPU seconds the app workers, the database backends and the
   simulated officers used during the load, and the load average.

Uses `requests` (installed with requirements-dev.txt) as the HTTP client and threads for the officers.
"""

import argparse
import html
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/uythac_load"
PASSWORD = "uythac-demo"
TEAM_SIZE = 3
DAYS_BACK = 29  # sheets are dated from today - DAYS_BACK onwards, one day later each time, never in the future

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ALERT_RE = re.compile(r'<div class="alert alert-(\w+)[^"]*"[^>]*role="alert">\s*(.*?)\s*<button', re.S)
LINE_RE = re.compile(r'<tr data-line="(\d+)">.*?data-fill="(\d+)"', re.S)
HOUSEHOLD_RE = re.compile(r'href="/households/(\d+)/"')
GROUP_RE = re.compile(r'href="/groups/(\d+)/"')
SHEET_RE = re.compile(r'href="/loans/collections/(\d+)/">(\d\d/\d\d/\d{4})<')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated ward officers (default 50)")
    parser.add_argument("--duration", type=float, default=120, help="seconds of load (default 120)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between an officer's clicks, seconds")
    parser.add_argument("--ramp-up", type=float, default=20, help="seconds over which the officers log in")
    parser.add_argument("--post-share", type=float, default=0.12, help="share of an officer's steps that post a sheet")
    parser.add_argument("--contest-every", type=float, default=30, help="seconds between same-group rounds")
    parser.add_argument("--conn-max-age", type=int, default=60, help="CONN_MAX_AGE of the app (default 60)")
    parser.add_argument("--no-faults", action="store_true", help="skip the worker kill and the database restart")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 officers for 25 s")
    parser.add_argument("--seed", type=int, default=12, help="random seed for the officers' choices")
    args = parser.parse_args()
    if args.quick:
        args.users, args.duration, args.contest_every, args.ramp_up = 10, 25, 8, 3
    return args


# ---------------------------------------------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------------------------------------------


def database_url():
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or "load" not in name:
        sys.exit(f"Refusing to run: the benchmark needs a PostgreSQL database whose name contains 'load' (got {url}).")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"Refusing to run: the database must be on loopback (got {parts.hostname}).")
    return url, name


def pg_connect(url, name=None):
    parts = urlsplit(url)
    if name is not None:
        parts = parts._replace(path="/" + name)
    connection = psycopg2.connect(urlunsplit(parts))
    connection.autocommit = True
    return connection


def reset_database(url, name):
    # Not `with connection:`, which opens a transaction even in autocommit mode, and CREATE DATABASE refuses one.
    admin = pg_connect(url, "postgres")
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            exists = cursor.fetchone() is not None
            if not exists:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    if exists:
        connection = pg_connect(url)
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        connection.close()


def manage(*args, env, quiet=True):
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=quiet, text=True, check=False
    )
    if result.returncode != 0 and quiet:
        sys.stderr.write(result.stdout + result.stderr)
    return result


@dataclass
class Team:
    number: int
    branch_id: int
    contested_group: int
    members: list = field(default_factory=list)
    barriers: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    aborted: bool = False

    def barrier(self, round_number, step):
        with self.lock:
            key = (round_number, step)
            if key not in self.barriers:
                self.barriers[key] = threading.Barrier(len(self.members), timeout=25)
                if self.aborted:
                    self.barriers[key].abort()
            return self.barriers[key]

    def abort(self):
        with self.lock:
            self.aborted = True
            for barrier in self.barriers.values():
                barrier.abort()


@dataclass
class OfficerPlan:
    number: int
    username: str
    team: Team
    own_groups: list


def add_officers(count):
    """Ward officers load01.. in teams of TEAM_SIZE, one team per ward branch with enough active groups."""
    from django.contrib.auth import get_user_model

    from organizations.models import OfficerProfile, Organization, SavingsGroup

    User = get_user_model()
    password_hash = User.objects.get(username="ward").password  # the demo password, without hashing it 50 times
    groups = defaultdict(list)
    for pk, branch_id in (
        SavingsGroup.objects.filter(status=SavingsGroup.Status.ACTIVE, memberships__isnull=False)
        .distinct()
        .order_by("branch_id", "code")
        .values_list("pk", "branch_id")
    ):
        groups[branch_id].append(pk)
    branches = [b for b in sorted(groups) if len(groups[b]) >= TEAM_SIZE + 1]
    teams_needed = math.ceil(count / TEAM_SIZE)
    if len(branches) < teams_needed:
        sys.exit(f"The demo district has {len(branches)} branches with enough groups; {count} officers need more.")
    teams, plans = [], []
    for number in range(1, count + 1):
        index = (number - 1) // TEAM_SIZE
        if index == len(teams):
            branch_id = branches[index]
            teams.append(Team(number=index + 1, branch_id=branch_id, contested_group=groups[branch_id][0]))
        team = teams[index]
        team.members.append(number)
    for team in teams:
        others = groups[team.branch_id][1:]
        for slot, number in enumerate(team.members):
            own = others[slot :: len(team.members)]
            plans.append(OfficerPlan(number=number, username=f"load{number:02d}", team=team, own_groups=own))
    users = User.objects.bulk_create(
        [User(username=p.username, password=password_hash, first_name="Cán bộ", last_name=f"thử tải {p.number}")
         for p in plans]
    )
    branch_units = Organization.objects.in_bulk([team.branch_id for team in teams])
    OfficerProfile.objects.bulk_create(
        [OfficerProfile(user=user, organization=branch_units[plan.team.branch_id],
                        role=OfficerProfile.Role.WARD_OFFICER)
         for user, plan in zip(users, plans, strict=True)]
    )
    return teams, plans


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn in its own process group, stopped by its pid."""

    def __init__(self, *, env, workers, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"), "config.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning",
            ],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(self.base + "/accounts/login/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s; see {self.log_path}")

    def worker_pids(self):
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.close()


# ---------------------------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One press of "post the sheet" and what the officer was told."""

    sheet: int
    officer: str
    entries: dict  # line pk -> (paid towards loans, savings deposit, savings withdrawal)
    contested: bool
    outcome: str = ""  # posted | already | changed | refused | invalid | ambiguous
    detail: str = ""


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = defaultdict(list)  # kind -> [(start, end, status)]
        self.errors = []  # (start, end, kind, cause, detail)
        self.attempts = []
        self.creates = Counter()
        self.contests = defaultdict(list)  # (team, round) -> create outcomes
        self.faults = []  # (time, name, detail)
        self.notes = Counter()

    def sample(self, kind, start, end, status):
        with self.lock:
            self.samples[kind].append((start, end, status))

    def error(self, kind, start, end, cause, detail=""):
        with self.lock:
            self.errors.append((start, end, kind, cause, detail))

    def attempt(self, attempt):
        with self.lock:
            self.attempts.append(attempt)

    def note(self, what):
        with self.lock:
            self.notes[what] += 1


class Stop(Exception):
    pass


class Officer(threading.Thread):
    def __init__(self, *, plan, base, recorder, stop, args, messages, start_at, today):
        super().__init__(name=plan.username, daemon=True)
        self.plan = plan
        self.base = base
        self.recorder = recorder
        self.stop_event = stop
        self.args = args
        self.messages = messages
        self.start_at = start_at
        self.today = today
        self.random = random.Random(args.seed * 1000 + plan.number)
        self.session = requests.Session()
        self.next_day = {group: 0 for group in plan.own_groups}
        self.households, self.groups, self.sheets = [], [], []
        self.logins_refused = 0
        self.last_request = (0.0, 0.0)

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def request(self, method, path, kind, **kwargs):
        if self.stop_event.is_set():
            raise Stop
        start = time.monotonic()
        try:
            response = self.session.request(method, self.base + path, allow_redirects=False, timeout=60, **kwargs)
        except requests.Timeout as error:
            self.recorder.error(kind, start, time.monotonic(), "timeout", f"{method} {path}: {error}")
            return None
        except requests.ConnectionError as error:
            self.recorder.error(kind, start, time.monotonic(), "connection", f"{method} {path}: {error}")
            return None
        end = time.monotonic()
        self.last_request = (start, end)
        self.recorder.sample(kind, start, end, response.status_code)
        if response.status_code >= 500:
            self.recorder.error(kind, start, end, f"http {response.status_code}", f"{method} {path}")
        return response

    def login(self):
        for _try in range(5):
            page = self.request("GET", "/accounts/login/", "page")
            token = page is not None and page.status_code == 200 and CSRF_RE.search(page.text)
            if token:
                response = self.request(
                    "POST", "/accounts/login/", "login",
                    data={"csrfmiddlewaretoken": token.group(1), "username": self.plan.username,
                          "password": PASSWORD},
                )
                if response is not None and response.status_code == 302:
                    if "/accounts/login/" not in response.headers.get("Location", ""):
                        return
                if response is not None and response.status_code in (200, 403):
                    # Refused: never try a third time, so that django-axes never locks the officer out.
                    self.logins_refused += 1
                    self.recorder.error("login", time.monotonic(), time.monotonic(), f"login refused ({response.status_code})")
                    if self.logins_refused >= 2:
                        raise Stop
            self.pause(0.5)
        raise Stop

    def view(self, path):
        """GET a page as the officer; log in again if the session is gone. Returns the response or None."""
        for _try in range(2):
            response = self.request("GET", path, "page")
            if response is None:
                return None
            if response.status_code == 302 and "/accounts/login/" in response.headers.get("Location", ""):
                self.recorder.note("sent back to the login page")
                self.login()
                continue
            if response.status_code >= 400:
                if response.status_code < 500:
                    self.recorder.error("page", time.monotonic(), time.monotonic(),
                                        f"http {response.status_code}", path)
                return None
            return response
        return None

    def pause(self, mean=None):
        mean = self.args.think if mean is None else mean
        if self.stop_event.wait(self.random.uniform(0.5 * mean, 1.5 * mean)):
            raise Stop

    # --- The day's work -----------------------------------------------------------------------------------------

    def run(self):
        try:
            # Officers arrive over the ramp-up, as a morning starts: 50 password checks in one second would only
            # measure PBKDF2.
            if self.stop_event.wait(self.args.ramp_up * (self.plan.number - 1) / self.args.users):
                raise Stop
            self.login()
            next_contest = self.start_at + self.args.contest_every / 2
            contest_round = 0
            while not self.stop_event.is_set():
                if time.monotonic() >= next_contest:
                    self.contest(contest_round)
                    contest_round += 1
                    next_contest += self.args.contest_every
                    continue
                if self.plan.own_groups and self.random.random() < self.args.post_share:
                    self.post_own_sheet()
                else:
                    self.browse()
                self.pause()
        except Stop:
            pass
        except Exception as error:  # a bug in the simulation must not hide the others' results
            self.recorder.error("officer", time.monotonic(), time.monotonic(), "simulation", repr(error))
        finally:
            self.session.close()

    def browse(self):
        choice = self.random.choices(
            ["home", "households", "household", "groups", "group", "collections", "sheet"],
            weights=[1, 3, 4, 1, 2, 2, 1],
        )[0]
        if choice == "household" and self.households:
            self.view(f"/households/{self.random.choice(self.households)}/")
        elif choice == "group" and self.groups:
            self.view(f"/groups/{self.random.choice(self.groups)}/")
        elif choice == "sheet" and self.sheets:
            self.view(f"/loans/collections/{self.random.choice(self.sheets)}/")
        elif choice in ("households", "household"):
            page = self.view(f"/households/?page={self.random.randint(1, 3)}")
            if page is not None:
                self.households = [int(pk) for pk in HOUSEHOLD_RE.findall(page.text)] or self.households
        elif choice in ("groups", "group"):
            page = self.view("/groups/")
            if page is not None:
                self.groups = [int(pk) for pk in GROUP_RE.findall(page.text)] or self.groups
        elif choice in ("collections", "sheet"):
            group = self.random.choice(self.plan.own_groups or [self.plan.team.contested_group])
            page = self.view(f"/loans/collections/?group={group}")
            if page is not None:
                self.sheets = [int(pk) for pk, _day in SHEET_RE.findall(page.text)][:20] or self.sheets
        else:
            self.view("/")

    def sheet_day(self, index):
        return self.today - timedelta(days=DAYS_BACK - index)

    def find_sheet(self, group, day):
        page = self.view(f"/loans/collections/?group={group}")
        if page is None:
            return None
        for pk, shown in SHEET_RE.findall(page.text):
            if shown == f"{day:%d/%m/%Y}":
                return int(pk)
        return None

    def create_sheet(self, group, day):
        """Prepare the group's sheet for `day` as the officer would: returns (sheet pk or None, what happened)."""
        page = self.view(f"/loans/collections/?group={group}")
        token = page is not None and CSRF_RE.search(page.text)
        if not token:
            return None, "no form"
        response = self.request(
            "POST", "/loans/collections/new/", "create",
            data={"csrfmiddlewaretoken": token.group(1), "group": group, "collection_on": f"{day:%d/%m/%Y}"},
        )
        if response is not None and response.status_code == 302:
            match = re.search(r"/loans/collections/(\d+)/", response.headers.get("Location", ""))
            if match:
                self.recorder.creates["prepared"] += 1
                return int(match.group(1)), "prepared"
        if response is not None and response.status_code == 400:
            outcome = "exists" if self.messages["exists"] in html.unescape(response.text) else "refused"
        else:
            outcome = "ambiguous"
        self.recorder.creates[outcome] += 1
        # The sheet may be there all the same (someone else's, or ours if the answer was lost): look for it.
        return self.find_sheet(group, day), outcome

    def fill(self, sheet):
        """Open the sheet and work out what to enter. Returns (csrf token, entries) or None if it is not a draft."""
        page = self.view(f"/loans/collections/{sheet}/")
        if page is None or 'id="collection-form"' not in page.text:
            return None
        token = CSRF_RE.search(page.text)
        if not token:
            return None
        # What is due, paid in full; a savings deposit that says who entered it (10,000 đ + 1,000 đ × officer).
        deposit = 10_000 + 1_000 * self.plan.number
        entries = {int(line): (int(due), deposit, 0) for line, due in LINE_RE.findall(page.text)}
        return token.group(1), entries

    def post(self, sheet, token, entries, contested):
        data = {"csrfmiddlewaretoken": token, "action": "post"}
        for line, (paid, savings_in, savings_out) in entries.items():
            data[f"paid_{line}"] = str(paid) if paid else ""
            data[f"savings_in_{line}"] = str(savings_in) if savings_in else ""
            data[f"savings_out_{line}"] = str(savings_out) if savings_out else ""
        attempt = Attempt(sheet=sheet, officer=self.plan.username, entries=entries, contested=contested)
        response = self.request("POST", f"/loans/collections/{sheet}/fill/", "post", data=data)
        if response is None or response.status_code >= 500:
            attempt.outcome = "ambiguous"
            attempt.detail = "no answer" if response is None else f"http {response.status_code}"
        elif response.status_code == 400 and 'id="collection-form"' in response.text:
            attempt.outcome = "invalid"  # the sheet again, with the amounts it refused marked
        elif response.status_code == 400:
            # Not the form: Django's plain "Bad Request", e.g. the session could not be saved because the database
            # went away after the post committed. The officer cannot know what happened: ambiguous.
            attempt.outcome, attempt.detail = "ambiguous", "http 400 without the sheet"
            self.recorder.error("post", *self.last_request, "http 400 (session not saved)")
        elif response.status_code == 302:
            try:
                page = self.view(response.headers["Location"])
            except Stop:
                # The run ended between the post and its answer page: the officer never read what happened.
                attempt.outcome, attempt.detail = "ambiguous", "answer not read before the end of the run"
                self.recorder.attempt(attempt)
                raise
            if page is None:
                attempt.outcome, attempt.detail = "ambiguous", "answer page lost"
            else:
                said = [html.unescape(text) for _tag, text in ALERT_RE.findall(page.text)]
                attempt.detail = " | ".join(said)
                if self.messages["posted"] in said:
                    attempt.outcome = "posted"
                elif self.messages["already"] in said:
                    attempt.outcome = "already"
                elif self.messages["busy"] in said:
                    attempt.outcome = "busy"  # a colleague was posting it at that moment
                elif any(message in said for message in self.messages["changed"]):
                    attempt.outcome = "changed"
                else:
                    attempt.outcome = "refused"
        else:
            attempt.outcome, attempt.detail = "invalid", f"http {response.status_code}"
        self.recorder.attempt(attempt)
        if attempt.outcome == "invalid":
            self.recorder.error("post", time.monotonic(), time.monotonic(), "post not accepted", attempt.detail)
        return attempt

    def post_until_answered(self, sheet, token, entries, contested):
        """Post; on an ambiguous answer or changed figures, reopen the sheet and post again while it is a draft."""
        attempt = self.post(sheet, token, entries, contested)
        for _retry in range(3):
            if attempt.outcome not in ("ambiguous", "changed"):
                return attempt
            self.pause(1)
            filled = self.fill(sheet)
            if filled is None:
                return attempt  # posted meanwhile (by us or a colleague); the check afterwards tells which
            token, fresh = filled
            if attempt.outcome == "ambiguous":
                fresh = {line: (due, *entries.get(line, (due, 0, 0))[1:]) for line, (due, *_rest) in fresh.items()}
            attempt = self.post(sheet, token, fresh, contested)
        return attempt

    def post_own_sheet(self):
        available = [g for g in self.plan.own_groups if self.next_day[g] <= DAYS_BACK]
        if not available:
            self.browse()
            return
        group = self.random.choice(available)
        day = self.sheet_day(self.next_day[group])
        self.next_day[group] += 1
        sheet, _outcome = self.create_sheet(group, day)
        if sheet is None:
            return
        self.pause(0.5)
        filled = self.fill(sheet)
        if filled is None:
            return
        self.pause()
        self.post_until_answered(sheet, *filled, contested=False)

    def contest(self, round_number):
        """The whole team prepares the same sheet at once, then posts it at once: one post must win."""
        team = self.plan.team
        if round_number > DAYS_BACK:
            return
        day = self.today - timedelta(days=DAYS_BACK - round_number)
        try:
            team.barrier(round_number, "prepare").wait()
        except threading.BrokenBarrierError:
            self.recorder.note("same-group round skipped (a teammate did not come)")
            return
        sheet, outcome = self.create_sheet(team.contested_group, day)
        with self.recorder.lock:
            self.recorder.contests[team.number, round_number].append(outcome)
        filled = self.fill(sheet) if sheet is not None else None
        try:
            team.barrier(round_number, "post").wait()
        except threading.BrokenBarrierError:
            self.recorder.note("same-group round skipped (a teammate did not come)")
            return
        if filled is not None:
            self.post_until_answered(sheet, *filled, contested=True)


# ---------------------------------------------------------------------------------------------------------------
# Where the CPU went: the machine is small and shared, so the figures say who used it
# ---------------------------------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def watch_cpu(*, server, url, name, stop, usage):
    """Every second, the CPU seconds of each gunicorn worker and each database backend of the app, by pid."""
    while not stop.wait(1):
        pids = [("app", pid) for pid in [server.process.pid, *server.worker_pids()]]
        try:
            connection = pg_connect(url)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                               [name])
                pids += [("database", pid) for (pid,) in cursor.fetchall()]
            connection.close()
        except psycopg2.Error:
            pass
        for kind, pid in pids:
            seconds = cpu_seconds(pid)
            if seconds is not None:
                usage[kind, pid] = seconds


# ---------------------------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------------------------


def inject_faults(*, server, url, name, start_at, duration, recorder, stop):
    if stop.wait(max(0, start_at + 0.35 * duration - time.monotonic())):
        return
    workers = server.worker_pids()
    victim = random.choice(workers)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    recorder.faults.append((killed_at, "worker killed", f"SIGKILL to worker {victim} of {len(workers)}"))
    while not stop.wait(0.2):
        now = server.worker_pids()
        if victim not in now and len(now) >= server.workers:
            recorder.faults.append((time.monotonic(), "worker replaced", f"{len(now)} workers after "
                                    f"{time.monotonic() - killed_at:.1f} s"))
            break
        if time.monotonic() - killed_at > 30:
            recorder.faults.append((time.monotonic(), "worker not replaced", f"{len(now)} workers after 30 s"))
            break
    if stop.wait(max(0, start_at + 0.65 * duration - time.monotonic())):
        return
    connection = pg_connect(url)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            [name],
        )
        terminated = cursor.fetchone()[0]
    connection.close()
    recorder.faults.append((time.monotonic(), "database restarted", f"{terminated} app backends terminated"))


# ---------------------------------------------------------------------------------------------------------------
# Afterwards: the ledger against what the officers were told
# ---------------------------------------------------------------------------------------------------------------


def verify(recorder, usernames):
    from django.db.models import Count

    from loans.models import CollectionLine, CollectionSheet, Posting

    lost, doubled, other = [], [], []
    by_sheet = defaultdict(list)
    for attempt in recorder.attempts:
        by_sheet[attempt.sheet].append(attempt)
    sheets = CollectionSheet.objects.select_related("posted_by").in_bulk(list(by_sheet))
    lines = defaultdict(dict)
    for line in CollectionLine.objects.filter(sheet__in=list(by_sheet)).prefetch_related("postings", "items"):
        lines[line.sheet_id][line.pk] = line

    def same_as_ledger(sheet_pk, entries):
        """Differences between what was entered and what the sheet's lines and their postings hold."""
        problems = []
        for line_pk, (paid, savings_in, savings_out) in entries.items():
            line = lines[sheet_pk].get(line_pk)
            if line is None:
                problems.append(f"line {line_pk} missing")
                continue
            by_kind = Counter()
            for posting in line.postings.all():
                by_kind[posting.kind] += posting.amount
            towards_loans = sum(
                (by_kind[k] for k in (Posting.Kind.OVERDUE_INTEREST, Posting.Kind.INTEREST, Posting.Kind.PRINCIPAL)),
                Decimal(0),
            )
            wanted = (Decimal(paid), Decimal(savings_in), Decimal(savings_out))
            stored = (line.amount_paid, line.savings_in, line.savings_out)
            ledger = (towards_loans, by_kind[Posting.Kind.SAVINGS_IN], by_kind[Posting.Kind.SAVINGS_OUT])
            if stored != wanted or ledger != wanted:
                problems.append(f"line {line_pk}: entered {wanted}, sheet {stored}, ledger {ledger}")
        return problems

    for sheet_pk, attempts in sorted(by_sheet.items()):
        sheet = sheets.get(sheet_pk)
        acknowledged = [a for a in attempts if a.outcome == "posted"]
        if len(acknowledged) > 1:
            doubled.append(f"sheet {sheet_pk}: {len(acknowledged)} posts were told they succeeded "
                           f"({', '.join(a.officer for a in acknowledged)})")
        posted = sheet is not None and sheet.status == CollectionSheet.Status.POSTED
        if acknowledged:
            winner = acknowledged[0]
            if not posted:
                lost.append(f"sheet {sheet_pk}: {winner.officer} was told it was posted, but it is a draft")
            elif sheet.posted_by.username != winner.officer:
                lost.append(f"sheet {sheet_pk}: {winner.officer} was told it was posted, the ledger has "
                            f"{sheet.posted_by.username}'s post")
            else:
                problems = same_as_ledger(sheet_pk, winner.entries)
                if problems:
                    lost.append(f"sheet {sheet_pk} ({winner.officer}): " + "; ".join(problems[:3]))
        elif posted:
            candidates = [a for a in attempts if a.outcome == "ambiguous" and a.officer == sheet.posted_by.username]
            if not candidates:
                other.append(f"sheet {sheet_pk}: posted by {sheet.posted_by.username}, but every post was told "
                             f"it was refused ({', '.join(sorted({a.outcome for a in attempts}))})")
            elif all(same_as_ledger(sheet_pk, a.entries) for a in candidates):
                lost.append(f"sheet {sheet_pk}: posted with amounts no attempt entered")

    # Doubles in the ledger itself, whatever the officers were told.
    run_sheets = CollectionSheet.objects.filter(
        created_by__username__in=usernames, status=CollectionSheet.Status.POSTED
    ).values_list("pk", flat=True)
    checked_lines = 0
    for line in CollectionLine.objects.filter(sheet__in=list(run_sheets)).prefetch_related("postings", "items"):
        checked_lines += 1
        postings = [p for p in line.postings.all() if p.kind != Posting.Kind.REVERSAL]
        per_loan_kind = Counter((p.kind, p.loan_id) for p in postings)
        twice = [key for key, count in per_loan_kind.items() if count > 1]
        expected = sum(
            (item.overdue_interest_paid > 0) + (item.current_interest_paid > 0) + (item.principal_paid > 0)
            for item in line.items.all()
        ) + (line.savings_in > 0) + (line.savings_out > 0)
        if twice or len(postings) != expected:
            doubled.append(f"line {line.pk} of sheet {line.sheet_id}: {len(postings)} postings for {expected} "
                           f"collected amounts{' (twice: ' + str(twice) + ')' if twice else ''}")
    shared = (
        Posting.objects.filter(created_by__username__in=usernames)
        .annotate(owners=Count("collection_lines"))
        .exclude(owners=1)
        .count()
    )
    if shared:
        doubled.append(f"{shared} postings by the officers belong to no sheet line or to more than one")
    totals = {
        "sheets posted in the run": len(run_sheets),
        "lines checked": checked_lines,
        "postings written": Posting.objects.filter(created_by__username__in=usernames).count(),
    }
    return lost, doubled, other, totals


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


def percentile(values, share):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def cause_of(error, faults):
    start, end, _kind, cause, _detail = error
    for moment, name, _detail in faults:
        if name in ("worker killed", "database restarted") and start - 0.05 <= moment <= end + 0.05:
            return f"{cause}, in flight when the {name.split()[0]} was killed"
    return cause


def report(recorder, *, started, ended, args, log_path):
    elapsed = ended - started
    total = sum(len(v) for v in recorder.samples.values()) + sum(
        1 for e in recorder.errors if e[3] in ("connection", "timeout")
    )
    print(f"\nLoad: {args.users} ward officers for {elapsed:.0f} s, {args.workers} gunicorn workers, think time "
          f"{args.think:g} s on average, CONN_MAX_AGE={args.conn_max_age}")
    print(f"Requests: {total} answered or failed, {total / elapsed:.1f} requests/s\n")
    print(f"{'':18}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    labels = {"page": "page views", "post": "posts (13/TD)", "create": "sheet preparations", "login": "logins"}
    for kind, label in labels.items():
        times = [(end - start) * 1000 for start, end, _status in recorder.samples.get(kind, [])]
        if times:
            print(f"{label:18}{len(times):>7}{percentile(times, .5):>9.0f}{percentile(times, .95):>9.0f}"
                  f"{percentile(times, .99):>9.0f}{max(times):>9.0f}")
    causes = Counter(cause_of(e, recorder.faults) for e in recorder.errors)
    errors = sum(causes.values())
    print(f"\nErrors: {errors} of {total} requests ({100 * errors / max(total, 1):.2f} %)")
    for cause, count in causes.most_common():
        print(f"  {count:>5}  {cause}")
    for what, count in recorder.notes.most_common():
        print(f"  ({count} × {what})")
    print("\nFaults:")
    for moment, name, detail in recorder.faults:
        print(f"  at {moment - started:5.1f} s  {name}: {detail}")
    if not recorder.faults:
        print("  none")
    outcomes = Counter(a.outcome for a in recorder.attempts)
    contested = Counter(a.outcome for a in recorder.attempts if a.contested)
    print(f"\nCollections: {len(recorder.attempts)} posts pressed: " + ", ".join(
        f"{count} {name}" for name, count in outcomes.most_common()))
    print("  of which on a group the whole team posted at once: " + ", ".join(
        f"{count} {name}" for name, count in contested.most_common()))
    rounds = recorder.contests
    winners = Counter(sum(1 for o in outcomes_ if o == "prepared") for outcomes_ in rounds.values())
    print(f"  same-group rounds: {len(rounds)}; sheets prepared per round: "
          + ", ".join(f"{n} in {count} rounds" for n, count in sorted(winners.items())))
    for detail, count in Counter(
        f"{a.outcome}: {a.detail}" for a in recorder.attempts if a.outcome in ("refused", "invalid")
    ).most_common(5):
        print(f"    {count} × {detail[:300]}")
    print("  sheet preparations: " + ", ".join(f"{c} {n}" for n, c in recorder.creates.most_common()))
    tracebacks = Path(log_path).read_text(errors="replace").count("Traceback (most recent call last)")
    print(f"  tracebacks in the gunicorn log ({log_path}): {tracebacks}")


def last_exceptions(log_path, limit=8):
    """The distinct last lines of the tracebacks in the gunicorn log."""
    text = Path(log_path).read_text(errors="replace")
    found = Counter()
    for block in text.split("Traceback (most recent call last)")[1:]:
        lines = [line for line in block.splitlines() if line and not line.startswith(" ")]
        if lines:
            found[lines[-1][:200] if len(lines) < 2 else lines[1][:200]] += 1
    return found.most_common(limit)


# ---------------------------------------------------------------------------------------------------------------


def main():
    sys.stdout.reconfigure(line_buffering=True)
    args = parse_args()
    url, name = database_url()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    manage_env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}

    clock = time.monotonic()
    print(f"Setting up {name}: migrate, seed_demo, {args.users} officers…", flush=True)
    reset_database(url, name)
    if manage("migrate", "--noinput", env=manage_env).returncode or manage("seed_demo", env=manage_env).returncode:
        sys.exit("Setup failed.")

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone, translation
    from django.utils.translation import gettext

    teams, plans = add_officers(args.users)
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as a database in service has them after bulk loading
    connection.close()
    with translation.override("vi"):
        messages = {
            "posted": gettext("The sheet is posted. Balances are updated."),
            "already": gettext("This sheet was already posted; nothing was posted twice."),
            "busy": gettext("Another officer is saving or posting this sheet right now. Open it again in a moment."),
            "changed": [
                gettext("What is due changed since the sheet was filled (a payment or an overdue instalment). The new "
                        "figures are shown; check the amounts and post again."),
                gettext("What is due changed while posting; post again."),
            ],
            "exists": gettext("This group already has a collection sheet for %(date)s.").split("%(date)s")[0],
        }

    workdir = Path(tempfile.mkdtemp(prefix="uythac_load_"))
    server_env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "CONN_MAX_AGE": str(args.conn_max_age),
        "STATIC_ROOT": str(workdir / "static"),
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback; a real deployment terminates TLS in front
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "ERROR",
    }
    print(f"  database ready in {time.monotonic() - clock:.0f} s; collectstatic…", flush=True)
    if manage("collectstatic", "--noinput", env=server_env).returncode:
        sys.exit("collectstatic failed.")
    server = None
    stop = threading.Event()
    officers = []
    try:
        server = Server(env=server_env, workers=args.workers, log_path=workdir / "gunicorn.log")
        server.wait_ready()
        print(f"gunicorn: {args.workers} workers on {server.base}; {len(plans)} officers in {len(teams)} teams, "
              f"{args.duration:g} s…", flush=True)
        recorder = Recorder()
        started = time.monotonic()
        officers = [
            Officer(plan=plan, base=server.base, recorder=recorder, stop=stop, args=args, messages=messages,
                    start_at=started, today=today)
            for plan in plans
        ]
        usage = {}
        client_cpu, load_before = time.process_time(), os.getloadavg()[0]
        watcher = threading.Thread(target=watch_cpu, daemon=True,
                                   kwargs={"server": server, "url": url, "name": name, "stop": stop, "usage": usage})
        watcher.start()
        for officer in officers:
            officer.start()
        imports, import_outcome = None, {}
        if not args.no_faults:
            # The bank's samples imported by a background worker, which is killed during the first import.
            from import_fault import import_with_a_killed_worker

            imports = threading.Thread(
                target=import_with_a_killed_worker, daemon=True,
                kwargs={"env": server_env, "log_path": workdir / "worker.log", "recorder": recorder, "stop": stop,
                        "outcome": import_outcome},
            )
            imports.start()
        faults = None
        if not args.no_faults:
            faults = threading.Thread(
                target=inject_faults, daemon=True,
                kwargs={"server": server, "url": url, "name": name, "start_at": started, "duration": args.duration,
                        "recorder": recorder, "stop": stop},
            )
            faults.start()
        stop.wait(args.duration)
        client_cpu, load_after = time.process_time() - client_cpu, os.getloadavg()[0]
        stop.set()
        for team in teams:
            team.abort()
        deadline = time.monotonic() + 70  # a request times out after 60 s
        if imports is not None:
            imports.join(timeout=300)  # the imports run to their end (three small files)
        for thread in [*officers, *([faults] if faults else [])]:
            thread.join(timeout=max(0, deadline - time.monotonic()))
        ended = time.monotonic()
        stuck = [thread.name for thread in officers if thread.is_alive()]
        if stuck:
            print(f"  still busy after the stop, left behind: {', '.join(stuck)}", flush=True)
        print(f"  officers stopped {ended - started - args.duration:.1f} s after the end of the load", flush=True)
    finally:
        stop.set()
        for team in teams:
            team.abort()
        if server is not None:
            server.stop()
        shutil.rmtree(workdir / "static", ignore_errors=True)  # the gunicorn log stays for reading

    report(recorder, started=started, ended=ended, args=args, log_path=server.log_path)
    for line, count in last_exceptions(server.log_path):
        print(f"    {count} × {line}")
    app_cpu = sum(seconds for (kind, _pid), seconds in usage.items() if kind == "app")
    database_cpu = sum(seconds for (kind, _pid), seconds in usage.items() if kind == "database")
    print(f"\nCPU during the load ({os.cpu_count()} cores, load average {load_before:.1f} before, {load_after:.1f} at "
          f"the end): app workers {app_cpu:.0f} s, database backends {database_cpu:.0f} s, simulated officers "
          f"{client_cpu:.0f} s of {args.duration:.0f} s; the rest went to other work on the machine.")

    clock = time.monotonic()
    lost, doubled, other, totals = verify(recorder, [plan.username for plan in plans])
    from import_fault import verify_imports

    import_problems = verify_imports(import_outcome)
    other += import_problems
    if import_outcome.get("killed"):
        killed = import_outcome["killed"]
        print(f"\nJob worker killed during the {killed['kind']} import: the page saw it {killed['status']} after "
              f"{killed['seen_after']:.1f} s; {len(import_outcome['batches'])} sample imports, "
              f"{len(import_problems)} problem(s).")
    elif import_outcome.get("skipped"):
        print(f"\nImports under a killed worker skipped: {import_outcome['skipped']}.")
    ledger = manage("check_ledger", env=manage_env)
    print(f"\nLedger (checked in {time.monotonic() - clock:.0f} s): "
          + ", ".join(f"{value} {label}" for label, value in totals.items()))
    print(f"  lost: {len(lost)}   posted twice: {len(doubled)}   posted though refused: {len(other)}   "
          f"check_ledger exit code: {ledger.returncode}")
    for problem in (lost + doubled + other)[:20]:
        print(f"  ! {problem}")
    page_times = [(end - start) * 1000 for start, end, _s in recorder.samples.get("page", [])]
    p95 = percentile(page_times, .95)
    print(f"\nTarget: page views p95 {p95:.0f} ms ({'under' if p95 < 500 else 'NOT under'} 500 ms); "
          f"{'nothing lost or doubled' if not (lost or doubled or other) else 'LOST OR DOUBLED POSTINGS'}; "
          f"check_ledger {'passed' if ledger.returncode == 0 else 'FAILED'}.")
    if lost or doubled or other or ledger.returncode:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
