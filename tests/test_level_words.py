"""Status badges and the officer's role name the level above the wards as configured (AREA_LABEL, else the Area's
kind), while the stored choice values stay what they were."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from loans.models import LoanApplication, LoanList
from organizations.area import level_choices, level_display, level_label
from organizations.models import Area, OfficerProfile
from tests.factories import submitted_loan_list

pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-07")]

OFFICE = "Phòng giao dịch Thạnh Xuân"


@pytest.fixture
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def office(settings):
    settings.AREA_LABEL = OFFICE
    return OFFICE


@pytest.fixture
def submitted(group_a, ward_officer_a):
    return submitted_loan_list(group=group_a, submitted_by=ward_officer_a)


def badge(html, testid):
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</span>', html, re.S)
    assert match, testid
    return match.group(1).strip()


def test_the_labels_name_the_configured_level_and_keep_their_values(english, office, submitted):
    application = submitted.applications.first()
    assert application.status == "submitted" and submitted.status == "submitted"  # stored as before
    assert level_display(application) == f"Submitted to {OFFICE}"
    assert level_display(submitted) == f"Submitted to {OFFICE}"
    assert level_label(LoanApplication, "status", "approved") == f"Approved by {OFFICE}"
    assert level_label("loans.LoanApplication", "status", "rejected") == f"Rejected by {OFFICE}"
    assert level_label(LoanList, "status", "decided") == f"Decided by {OFFICE}"
    assert level_label(OfficerProfile, "role", "district_staff") == f"Staff of {OFFICE}"
    # A label that names no level is the model's own.
    assert level_label(LoanApplication, "status", "draft") == "Draft"
    assert level_label(OfficerProfile, "role", "ward_officer") == "Ward officer"
    choices = dict(level_choices(LoanApplication))
    assert list(choices) == LoanApplication.Status.values
    assert choices["submitted"] == f"Submitted to {OFFICE}" and choices["draft"] == "Draft"


def test_without_the_setting_the_areas_kind_is_named(settings, english, ward_a):
    settings.AREA_LABEL = ""
    Area.objects.filter(pk=ward_a.area_id).update(kind_label="Thành phố")
    assert level_label(LoanList, "status", "submitted") == "Submitted to Thành phố"


def test_no_page_says_district_in_a_status_or_role(client_for, settings, office, submitted, ward_officer_a,
                                                   district_staff):
    settings.LANGUAGE_CODE = "en"
    application = submitted.applications.first()
    client = client_for(ward_officer_a)

    html = client.get(reverse("loans:application_detail", args=[application.pk])).content.decode()
    assert badge(html, "application-status").endswith(f">Submitted to {OFFICE}")
    assert f"List 03/TD</a> · Submitted to {OFFICE}" in html
    assert f'<td class="small fw-semibold">Submitted to {OFFICE}</td>' in html  # the history of statuses
    html = client.get(reverse("borrowers:household_detail", args=[application.household_id])).content.decode()
    assert f">Submitted to {OFFICE}</span>" in html
    html = client.get(reverse("loans:application_list")).content.decode()
    assert f'<option value="submitted" >Submitted to {OFFICE}</option>' in html
    assert f">Submitted to {OFFICE}</span>" in html  # the row's badge
    html = client.get(reverse("loans:list03_detail", args=[submitted.pk])).content.decode()
    assert badge(html, "list-status") == f"Submitted to {OFFICE}"

    html = client_for(district_staff).get(reverse("loans:loan_list_review", args=[submitted.pk])).content.decode()
    assert badge(html, "list-status") == f"Submitted to {OFFICE}"
    assert f"· Staff of {OFFICE} ·" in html  # the signed-in officer's role in the menu
    for page in (html,):
        assert "district" not in re.sub(r"<[^>]+>", " ", page).lower().replace("district_staff", "")


def test_a_list_of_requests_reads_the_level_once(client_for, settings, ward_a, group_a, ward_officer_a):
    """The labels come from the page's area_label and the status filter's choices (a read of the Area each), never
    from one read per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.AREA_LABEL = ""
    client = client_for(ward_officer_a)
    submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(10_000_000,))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("loans:application_list"))
    submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(10_000_000,) * 5)
    with CaptureQueriesContext(connection) as six:
        client.get(reverse("loans:application_list"))
    area_reads = [q["sql"] for q in six.captured_queries if "organizations_area" in q["sql"]]
    assert len(area_reads) <= 2
    assert len(six.captured_queries) == len(one.captured_queries)
