"""The level above the wards is named as configured (AREA_LABEL, else the Area's kind_label), never a fixed "quận"."""

import re
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from loans.services import requests as requests_services
from organizations.area import area_label, area_name
from organizations.context_processors import area
from organizations.models import Area
from tests.factories import approved_allocation, program

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

OFFICE = "Phòng giao dịch Quận 12"


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-11-20 09:00 +07:00", tick=False):
        yield


@pytest.fixture
def old_district(ward_a):
    """The demo's top level: the former district, labelled "Quận (cũ)"."""
    Area.objects.filter(pk=ward_a.area_id).update(name="Quận 12", kind_label="Quận (cũ)")
    return Area.objects.get(pk=ward_a.area_id)


@pytest.fixture
def certified_list(group_a, household_a, ward_officer_a):
    application = requests_services.application_create(
        household=household_a, program=program("01"), amount=Decimal(30_000_000), term_months=36,
        purpose="Chăn nuôi heo", planned_use="", actor=ward_officer_a,
    )
    meeting = requests_services.application_review(
        group=group_a, held_on=date(2026, 11, 20), actor=ward_officer_a, attendee_count=1, attendees="Các hộ",
        branch_officer="Cán bộ", results=[requests_services.ReviewResult(application, "approve", Decimal(25_000_000))],
    )
    return requests_services.loan_list_certify(loan_list=meeting.loan_list, certified_on=date(2026, 11, 20),
                                               signer="Chủ tịch", reference="1/XN", actor=ward_officer_a)


def part(html, start, end):
    """The piece of the page from `start` to the next `end`."""
    match = re.search(re.escape(start) + ".*?" + re.escape(end), html, re.S)
    assert match, start
    return match.group(0)


def without_label(text, label):
    return text.replace(label, "")


def test_the_setting_wins_then_the_areas_kind_then_the_default(settings, old_district):
    settings.AREA_LABEL = OFFICE
    assert area_label() == OFFICE
    settings.AREA_LABEL = ""
    assert area_label() == "Quận (cũ)"
    assert area_label(Area(kind_label="Phòng giao dịch")) == "Phòng giao dịch"
    assert area_name() == "Quận 12"


def test_without_an_area_the_label_is_the_translated_default(settings, english):
    settings.AREA_LABEL = ""
    assert Area.objects.count() == 0
    assert area_label() == "area"
    assert area_name() == ""


def test_the_context_costs_nothing_until_used_and_one_query_then(settings, old_district, django_assert_num_queries):
    settings.AREA_LABEL = ""
    with django_assert_num_queries(0):
        context = area(RequestFactory().get("/"))
    template = Template("{% load i18n %}{% blocktranslate %}Submit to {{ area_label }}{% endblocktranslate %}"
                        " · {{ area_name }} · {{ area_label }}")
    with django_assert_num_queries(1):
        assert template.render(Context(context)).endswith("Quận (cũ) · Quận 12 · Quận (cũ)")
    settings.AREA_LABEL = OFFICE
    with django_assert_num_queries(0):
        assert Template("{{ area_label }}").render(Context(area(RequestFactory().get("/")))) == OFFICE


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_ward_officer_sends_the_list_to_the_configured_level(settings, client_for, ward_officer_a, old_district,
                                                                 certified_list, language):
    settings.AREA_LABEL = OFFICE
    client = client_for(ward_officer_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(reverse("loans:list03_detail", args=[certified_list.pk])).content.decode()
    form = part(html, 'data-testid="submit-form"', "</form>")
    button = part(form, "<button", "</button>")
    assert OFFICE in button and OFFICE in part(form, '<p class="mb-2">', "</p>")
    assert "quận" not in without_label(form, OFFICE).lower() and "district" not in form.lower()
    if language == "en":
        assert "Submit to " + OFFICE in button

    response = client.post(reverse("loans:list03_submit", args=[certified_list.pk]), {"confirm": "1"}, follow=True)
    html = response.content.decode()
    assert OFFICE in part(html, "alert-success", "</div>")  # the message
    submitted = part(html, '<p class="small d-print-none">', "</p>")
    assert OFFICE in submitted and "quận" not in without_label(submitted, OFFICE).lower()


def test_the_overview_is_headed_with_the_configured_level(settings, client_for, district_staff, branch_a,
                                                          old_district, django_assert_max_num_queries):
    approved_allocation(branch=branch_a, amount=100_000_000)
    settings.AREA_LABEL = OFFICE
    client = client_for(district_staff)
    with django_assert_max_num_queries(15):  # the setting costs no query; +3 for the menu's inbox count
        html = client.get(reverse("loans:district_overview")).content.decode()
    heading = part(html, "<h1", "</h1>")
    assert OFFICE in heading and OFFICE in part(html, "<title>", "</title>")
    assert "quận" not in without_label(heading, OFFICE).lower()


def test_without_the_setting_the_areas_kind_label_is_shown(settings, client_for, district_staff, ward_officer_a,
                                                           old_district, certified_list, english):
    settings.AREA_LABEL = ""
    settings.LANGUAGE_CODE = "en"
    heading = part(client_for(district_staff).get(reverse("loans:district_overview")).content.decode(), "<h1", "</h1>")
    assert "Overview of Quận (cũ)" in heading
    html = client_for(ward_officer_a).get(reverse("loans:list03_detail", args=[certified_list.pk])).content.decode()
    assert "Submit to Quận (cũ)" in part(html, 'data-testid="submit-form"', "</form>")
