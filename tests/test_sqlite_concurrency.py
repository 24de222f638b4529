"""SQLite, as `make run` uses it, under two officers at once (issue 14, finding 7).

Two simultaneous approvals or posts get one success and one clear refusal, as on PostgreSQL; a write that still finds
the database locked past its timeout gets a "try again" page (503), never a 500; pages keep reading meanwhile.

The in-memory test database (shared cache) locks tables, not the file, and knows no WAL, so these tests point their
threads at a file database configured as config/settings.py configures SQLite.
"""

import shutil
import sqlite3
import threading
import time
from datetime import date

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import translation

from loans.models import CapitalAllocation, CapitalPlanChange, CollectionSheet, LoanApplication, Posting
from loans.services import approvals
from loans.services.collection import collection_sheet_create, collection_sheet_post
from organizations.errors import DomainError
from organizations.models import OfficerProfile, Organization
from tests.databases import migrated_sqlite_file
from tests.factories import (
    BranchFactory,
    DistrictOrganizationFactory,
    HouseholdFactory,
    LoanFactory,
    SavingsGroupFactory,
    WardFactory,
    approved_allocation,
    officer,
    program,
    submitted_loan_list,
)

Role = OfficerProfile.Role

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own locking; PostgreSQL has its row locks."),
    pytest.mark.django_db(transaction=True),
]


def in_thread(work):
    """Run `work` in a thread of its own (so on the file database) and return what it returns."""
    result = {}

    def run():
        try:
            with translation.override("en"):
                result["value"] = work()
        except BaseException as error:  # noqa: BLE001 — handed back to the test
            result["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in result:
        raise result["error"]
    return result.get("value")


def at_once(*works):
    """Start `works` in threads at the same moment; return each one's outcome: its value, or its DomainError's text."""
    barrier, outcomes = threading.Barrier(len(works)), [None] * len(works)

    def run(index, work):
        try:
            with translation.override("en"):
                barrier.wait(timeout=10)
                outcomes[index] = work()
        except DomainError as error:
            outcomes[index] = str(error)
        except Exception as error:  # noqa: BLE001 — a crash is an outcome the test reports
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, work)) for index, work in enumerate(works)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture(scope="module")
def migrated_file(django_db_setup, django_db_blocker):
    """The migrated file database the test databases are made from (tests/databases.py); each test works on a copy
    of it."""
    with django_db_blocker.unblock():
        return migrated_sqlite_file()


@pytest.fixture
def file_database(migrated_file, tmp_path):
    """New connections (other threads) open a copy of the migrated file database, with the settings' SQLite
    options. Returns those options (a test may shorten the timeout before its threads connect)."""
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(migrated_file, path)
    original = connections.settings["default"]
    options = dict(settings.DATABASES["default"]["OPTIONS"])
    connections.settings["default"] = {**original, "NAME": str(path), "OPTIONS": options}
    try:
        yield options
    finally:
        connections.settings["default"] = original


@pytest.fixture
def district(file_database):
    def build():
        ward = WardFactory(code="900001", name="Phường A")
        women = DistrictOrganizationFactory(area=ward.area, kind=Organization.Kind.WOMEN, name="Hội LHPN quận")
        branch = BranchFactory(ward=ward, kind=Organization.Kind.WOMEN, parent=women)
        group = SavingsGroupFactory(branch=branch, code="8100001", name="Tổ A1")
        return {
            "women": women, "branch": branch, "group": group,
            "ward_officer": officer("ward_a", branch, Role.WARD_OFFICER),
            "checkers": [officer(f"district{i}", women, Role.DISTRICT_STAFF) for i in (1, 2)],
        }

    return in_thread(build)


def test_settings_give_sqlite_wal_a_busy_timeout_and_immediate_transactions(file_database):
    assert file_database["transaction_mode"] == "IMMEDIATE" and file_database["timeout"] >= 5

    def pragmas():
        with connection.cursor() as cursor:
            return [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "synchronous")]

    assert in_thread(pragmas) == ["wal", 1]  # synchronous=NORMAL


def test_two_approvals_at_once_give_one_success_and_one_clear_refusal(district):
    def prepare():
        allocation = approved_allocation(branch=district["branch"], amount=50_000_000)
        loan_list = submitted_loan_list(group=district["group"], submitted_by=district["ward_officer"],
                                        amounts=(30_000_000, 30_000_000))
        return allocation, list(loan_list.applications.order_by("pk"))

    allocation, (first, second) = in_thread(prepare)
    def approve(application, actor):
        approvals.application_approve(application=application, amount=30_000_000, actor=actor)
        return "approved"

    outcomes = at_once(*(
        lambda pair=pair: approve(*pair) for pair in zip((first, second), district["checkers"], strict=True)
    ))
    assert outcomes.count("approved") == 1, outcomes
    refusal = next(o for o in outcomes if o != "approved")
    assert isinstance(refusal, str) and "only 20.000.000 ₫ is left" in refusal, refusal
    allocation = in_thread(lambda: CapitalAllocation.objects.get(pk=allocation.pk))
    assert (allocation.amount_committed, allocation.remaining) == (30_000_000, 20_000_000)
    statuses = in_thread(lambda: sorted(LoanApplication.objects.values_list("status", flat=True)))
    assert statuses == ["approved", "submitted"]


def test_two_posts_of_one_sheet_at_once_give_one_success_and_one_clear_refusal(district):
    officers = [district["ward_officer"], in_thread(lambda: officer("ward_a2", district["branch"], Role.WARD_OFFICER))]
    with time_machine.travel("2026-06-20 09:00 +0700"):
        def prepare():
            LoanFactory(household=HouseholdFactory(group=district["group"]), disbursed_on=date(2026, 5, 20))
            sheet = collection_sheet_create(group=district["group"], on=date(2026, 6, 20), actor=officers[0])
            return sheet, sheet.lines.get()

        sheet, line = in_thread(prepare)
        def post(user, deposit):
            collection_sheet_post(sheet=sheet, entries={line.pk: (284_167, deposit, 0)}, actor=user)
            return "posted"

        outcomes = at_once(*(
            lambda pair=pair: post(*pair) for pair in zip(officers, (10_000, 20_000), strict=True)
        ))
    assert outcomes.count("posted") == 1, outcomes
    refusal = next(o for o in outcomes if o != "posted")
    assert isinstance(refusal, str) and ("already posted" in refusal or "Another officer" in refusal), refusal

    def posted():
        saved = CollectionSheet.objects.get(pk=sheet.pk)
        return saved.status, Posting.objects.filter(collection_lines__sheet=saved, kind=Posting.Kind.INTEREST).count()

    assert in_thread(posted) == (CollectionSheet.Status.POSTED, 1)


def test_a_write_still_locked_past_the_timeout_gets_a_try_again_page_and_reading_goes_on(district, file_database,
                                                                                         tmp_path):
    file_database["timeout"] = 0.3  # the colleague below holds the lock far longer than that
    checker = district["checkers"][0]
    logged_in, holding, release = threading.Event(), threading.Event(), threading.Event()

    def colleague():  # a long write, as a bank import is: it holds SQLite's write lock
        assert logged_in.wait(timeout=10)
        database = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
        database.execute("BEGIN IMMEDIATE")
        holding.set()
        release.wait(timeout=30)
        database.execute("ROLLBACK")
        database.close()

    def officer_at_work():
        client = Client()
        client.force_login(checker)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        logged_in.set()
        assert holding.wait(timeout=10)
        reading = client.get(reverse("loans:allocation_list"))
        writing = client.post(reverse("loans:plan_set"), {
            "organization": district["women"].pk, "program": program("01").pk, "year": 2026, "amount": "500.000.000",
        })
        return reading, writing

    thread = threading.Thread(target=colleague)
    thread.start()
    try:
        reading, writing = in_thread(officer_at_work)
    finally:
        release.set()
        thread.join(timeout=30)
    assert reading.status_code == 200
    assert writing.status_code == 503 and writing["Retry-After"] == "5"
    content = writing.content.decode()
    assert 'data-testid="database-busy"' in content and "could not finish your request" in content
    assert "<nav" in content  # the app's layout, not a bare error
    assert not in_thread(lambda: CapitalPlanChange.objects.exists())


# --- Approvals racing for one allocation -----------------------------------------------------------------------------


def one_request_lists(district, count):
    """An allocation of 50.000.000 ₫ and `count` submitted lists of one 30.000.000 ₫ request each."""
    allocation = approved_allocation(branch=district["branch"], amount=50_000_000)
    lists = [
        submitted_loan_list(group=district["group"], submitted_by=district["ward_officer"], amounts=(30_000_000,))
        for _ in range(count)
    ]
    return allocation, [(loan_list, loan_list.applications.get()) for loan_list in lists]


def decide_list(loan_list, application, actor):
    approvals.loan_list_approve(loan_list=loan_list, amounts={application.pk: 30_000_000}, actor=actor)
    return "approved"


def approve_request(loan_list, application, actor):
    approvals.application_approve(application=application, amount=30_000_000, actor=actor)
    return "approved"


def assert_one_approved_and_one_refused(outcomes, allocation):
    assert outcomes.count("approved") == 1, outcomes
    refusal = next(o for o in outcomes if o != "approved")
    assert isinstance(refusal, str) and "only 20.000.000 ₫ is left" in refusal, refusal
    allocation = CapitalAllocation.objects.get(pk=allocation.pk)
    assert (allocation.amount_committed, allocation.remaining) == (30_000_000, 20_000_000)
    assert sorted(LoanApplication.objects.values_list("status", flat=True)) == ["approved", "submitted"]


@pytest.mark.parametrize("second", [decide_list, approve_request], ids=["another list", "a single request"])
def test_a_list_decision_racing_another_approval_for_one_allocation_gives_one_clear_refusal(district, second):
    allocation, (first_list, second_list) = in_thread(lambda: one_request_lists(district, 2))
    first_checker, second_checker = district["checkers"]
    outcomes = at_once(
        lambda: decide_list(*first_list, first_checker), lambda: second(*second_list, second_checker)
    )
    in_thread(lambda: assert_one_approved_and_one_refused(outcomes, allocation))


@pytest.fixture
def shared_cache_district():
    """The district on the in-memory test database itself, which SQLite shares between connections (shared cache):
    there a second writer is told "database table is locked" at once, without the busy timeout's wait. Returns the
    district and the SQLite options new connections (other threads) take."""
    if not connection.is_in_memory_db():
        pytest.skip("Needs the in-memory (shared-cache) test database.")
    original = connections.settings["default"]
    options = dict(original.get("OPTIONS", {}))
    connections.settings["default"] = {**original, "OPTIONS": options}
    ward = WardFactory(code="900001", name="Phường A")
    women = DistrictOrganizationFactory(area=ward.area, kind=Organization.Kind.WOMEN, name="Hội LHPN quận")
    branch = BranchFactory(ward=ward, kind=Organization.Kind.WOMEN, parent=women)
    try:
        yield {
            "women": women, "branch": branch,
            "group": SavingsGroupFactory(branch=branch, code="8100001", name="Tổ A1"),
            "ward_officer": officer("ward_a", branch, Role.WARD_OFFICER),
            "checkers": [officer(f"district{i}", women, Role.DISTRICT_STAFF) for i in (1, 2)],
        }, options
    finally:
        connections.settings["default"] = original


@pytest.mark.parametrize("second", [approve_request, decide_list], ids=["two requests", "a request and a list"])
def test_on_a_shared_cache_database_the_second_approval_waits_for_the_lock_then_is_refused_clearly(
        shared_cache_district, second):
    # Before: the second officer got OperationalError("database table is locked") from BEGIN IMMEDIATE.
    district, _options = shared_cache_district
    allocation, (first_request, second_request) = one_request_lists(district, 2)
    first_checker, second_checker = district["checkers"]
    outcomes = at_once(
        lambda: approve_request(*first_request, first_checker), lambda: second(*second_request, second_checker)
    )
    assert_one_approved_and_one_refused(outcomes, allocation)


def hold_the_write_lock(holding, release):
    """A colleague's long write (a bank import) on the test database: it holds SQLite's write lock until released."""
    from django.db import transaction

    def work():
        with transaction.atomic():
            holding.set()
            assert release.wait(timeout=30)

    return threading.Thread(target=lambda: in_thread(work))


@pytest.mark.parametrize("database", ["file", "shared cache"])
def test_an_approval_still_locked_past_the_timeout_is_a_busy_database_not_a_refusal(request, database):
    """The capital may well be there: past the timeout the officer is told to try again (503), never that it is
    used up, and nothing is charged."""
    from config.middleware import is_database_busy

    if database == "file":
        district = request.getfixturevalue("district")
        options = request.getfixturevalue("file_database")
        allocation, [(_loan_list, application)] = in_thread(lambda: one_request_lists(district, 1))
    else:
        district, options = request.getfixturevalue("shared_cache_district")
        allocation, [(_loan_list, application)] = one_request_lists(district, 1)
    options["timeout"] = 0.3
    holding, release = threading.Event(), threading.Event()
    colleague = hold_the_write_lock(holding, release)
    colleague.start()
    try:
        assert holding.wait(timeout=10)
        started = time.monotonic()
        [outcome] = at_once(lambda: approve_request(None, application, district["checkers"][0]))
        waited = time.monotonic() - started
    finally:
        release.set()
        colleague.join(timeout=30)
    assert is_database_busy(outcome), outcome
    assert 0.25 <= waited < 5, waited  # it waited for the lock, as long as the timeout says, and no longer
    assert in_thread(lambda: CapitalAllocation.objects.get(pk=allocation.pk).amount_committed) == 0
