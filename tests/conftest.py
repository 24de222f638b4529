"""Personas and a small district shared by every test, and what makes the suite fast: a fast password hasher, test
databases cloned from one migrated template (tests/databases.py), and the seeded demo built once per process.

Two wards (A and B), the Women's Union in both and the Farmers' Association in ward A, one group per branch.
"""

import io

import pytest

from organizations.models import OfficerProfile, Organization
from tests import databases, properties
from tests.factories import (
    BranchFactory,
    DistrictOrganizationFactory,
    HouseholdFactory,
    SavingsGroupFactory,
    WardFactory,
    install_reference_data,
    officer,
)

Role = OfficerProfile.Role

#: A test slower than this needs a docstring that says why (listed at the end of the run otherwise).
SLOW_SECONDS = 20
#: The demo's "today": the seed is built on this day whatever the real date.
DEMO_TODAY = "2026-11-20"


#: The longest modules start first, so that no process is left alone with one at the end (make test runs xdist with
#: --dist loadscope --no-loadscope-reorder: a module, or a class, runs on one process, in this order).
START_FIRST = (
    "tests/test_dashboard_reports.py",  # seeds the demo district
    "tests/test_day_close_properties.py",
    "tests/test_permission_matrix.py",
    "tests/browser/test_accessibility.py",
    "tests/test_personal_data_pages.py",
    "tests/test_worst_values.py",
    "tests/test_fuzz_text.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return START_FIRST.index(path) if path in START_FIRST else len(START_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


def pytest_configure(config):
    from django.conf import settings

    # PBKDF2's 1,000,000 rounds cost about 0.25 s per officer a test creates; production keeps it (test_settings.py).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # seed_demo's two years of history (loans/demo_history.py) only in tests/test_demo_history.py: the others stay fast.
    settings.DEMO_HISTORY = False
    properties.load_profile()


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """This process's test database, cloned from a template migrated once (tests/databases.py)."""
    with django_db_blocker.unblock():
        original = databases.setup_test_database()
    yield
    with django_db_blocker.unblock():
        databases.teardown_test_database(original)


@pytest.fixture(scope="session", autouse=True)
def private_folders(tmp_path_factory):
    """Exports and backups go to this process's own folders, never to the project's or another worker's."""
    from django.conf import settings

    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    settings.BACKUP_DIR = tmp_path_factory.mktemp("backups")
    settings.EXPORT_ROOT = tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="module")
def demo_district(django_db_setup, django_db_blocker):
    """The demo district as `seed_demo` builds it on DEMO_TODAY: seeded once per process, a fresh copy for each
    module that asks (its tests still roll back), dropped after the module."""
    import time_machine
    from django.core.management import call_command
    from django.test import override_settings

    def seed():
        with time_machine.travel(DEMO_TODAY, tick=False), override_settings(DEBUG=True):
            call_command("seed_demo", stdout=io.StringIO())

    with django_db_blocker.unblock(), databases.database_copy(seed, name="demo"):
        yield


@pytest.fixture(autouse=True)
def clock(request):
    """`@pytest.mark.today("2026-11-20")` on a test or module (pytestmark) stops the clock at that day, 09:00 local
    time, before any of the test's data is built; `tick=True` lets it run from there (browser tests)."""
    marker = request.node.get_closest_marker("today")
    if marker is None:
        yield None
        return
    import time_machine

    day = marker.args[0]
    with time_machine.travel(f"{day} 09:00 +0700", tick=marker.kwargs.get("tick", False)) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def jobs_run_where_asked(settings):
    """Background jobs run inside the call that queues them (no worker in tests); tests/test_jobs_worker.py runs
    real workers on the database and Redis queues."""
    settings.TASKS_BACKEND = "immediate"
    settings.TASKS = {"default": settings.TASK_BACKENDS["immediate"]}


@pytest.fixture
def ward_a(db):
    return WardFactory(code="900001", name="Phường A")


@pytest.fixture
def ward_b(db):
    return WardFactory(code="900002", name="Phường B")


@pytest.fixture
def ward_c(db, ward_a):
    """A third ward of the same area (the ward mergers leave it out)."""
    return WardFactory(area=ward_a.area, code="900003", name="Phường C")


@pytest.fixture
def front(db, ward_a):
    return DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.FRONT, name="MTTQ quận thử")


@pytest.fixture
def women_district(db, ward_a):
    return DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.WOMEN, name="Hội LHPN quận thử")


@pytest.fixture
def branch_a(women_district, ward_a):
    return BranchFactory(ward=ward_a, kind=Organization.Kind.WOMEN, parent=women_district)


@pytest.fixture
def branch_b(women_district, ward_b):
    return BranchFactory(ward=ward_b, kind=Organization.Kind.WOMEN, parent=women_district)


@pytest.fixture
def farmers_branch_a(ward_a):
    return BranchFactory(ward=ward_a, kind=Organization.Kind.FARMERS)


@pytest.fixture
def group_a(branch_a):
    return SavingsGroupFactory(branch=branch_a, code="8100001", name="Tổ A1")


@pytest.fixture
def group_b(branch_b):
    return SavingsGroupFactory(branch=branch_b, code="8100002", name="Tổ B1")


@pytest.fixture
def household_a(group_a):
    return HouseholdFactory(group=group_a, head_name="Nguyễn Thị Ánh")


@pytest.fixture
def household_b(group_b):
    return HouseholdFactory(group=group_b, head_name="Trần Văn Bình")


@pytest.fixture
def ward_officer_a(branch_a):
    return officer("ward_a", branch_a, Role.WARD_OFFICER)


@pytest.fixture
def ward_officer_b(branch_b):
    return officer("ward_b", branch_b, Role.WARD_OFFICER)


@pytest.fixture
def district_staff(women_district):
    return officer("district", women_district, Role.DISTRICT_STAFF)


@pytest.fixture
def farmers_district_staff(farmers_branch_a):
    return officer("farmers_district", farmers_branch_a.parent, Role.DISTRICT_STAFF)


@pytest.fixture
def front_supervisor(front):
    return officer("front", front, Role.FRONT_SUPERVISOR)


@pytest.fixture
def admin_user(front):
    return officer("admin", front, Role.ADMIN)


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the site's language: a request made in English by an earlier test (its language cookie)
    leaves that language active in the thread, as LocaleMiddleware does not switch it back."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def english():
    """Messages in English, so that assertions read a rule's own words."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def reference_data(request):
    """Programs, example fee rates, the checklist, grading criteria and the schedule come from data migrations, and
    the test databases are cloned with them; a transactional test empties every table when it ends, so they are put
    back, committed, right after it (pytest_runtest_teardown)."""
    names = request.fixturenames
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in names or "live_server" in names or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        request.node.stash[_flushes] = request.getfixturevalue("django_db_blocker")
    elif "db" in names or marker:
        request.getfixturevalue("db")


_flushes = pytest.StashKey()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    blocker = item.stash.get(_flushes, None)
    if blocker is not None and nextitem is not None:
        with blocker.unblock():
            install_reference_data()
    return result


_slow_without_reason = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.duration > SLOW_SECONDS:
        function = getattr(item, "function", None)
        if not (function and function.__doc__ and function.__doc__.strip()):
            report.user_properties.append(("slow_without_reason", report.duration))
    return report


_browser_skipped = []


def pytest_runtest_logreport(report):
    """On the process that prints (the controller under xdist)."""
    if report.skipped and "BROWSER TESTS SKIPPED" in str(report.longrepr) and not _browser_skipped:
        _browser_skipped.append(report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr))
    for name, duration in report.user_properties:
        if name == "slow_without_reason":
            _slow_without_reason.append((report.nodeid, duration))


def pytest_terminal_summary(terminalreporter):
    for message in _browser_skipped:
        terminalreporter.write_sep("!", message.removeprefix("Skipped: "), yellow=True)
    for nodeid, duration in _slow_without_reason:
        terminalreporter.write_line(
            f"SLOW TEST WITHOUT A REASON: {nodeid} took {duration:.0f} s (over {SLOW_SECONDS} s, and no docstring "
            "says why)", yellow=True)
