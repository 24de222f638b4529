"""Personas and a small district shared by every test.

Two wards (A and B), the Women's Union in both and the Farmers' Association in ward A, one group per branch.
"""

import pytest

from organizations.models import OfficerProfile, Organization
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
    """Programs, example fee rates and grading criteria come from data migrations; transactional tests flush
    them when they end, so put them back before each test that uses the database."""
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names or request.node.get_closest_marker("django_db"):
        marker = request.node.get_closest_marker("django_db")
        transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
        request.getfixturevalue("transactional_db" if transactional else "db")
    else:
        return
    install_reference_data()
