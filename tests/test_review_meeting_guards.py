"""The review meeting and the 03/TD list guard the officer: attendance quorum with a confirmation, officer and
attendees required, a message after saving, a confirmed send to district, and a printable 01/TD."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
import time_machine
from django.urls import reverse

from loans.models import LoanApplication, LoanList, ReviewMeeting
from loans.services import requests as requests_services
from organizations.errors import DomainError
from tests.factories import HouseholdFactory, program

Status = LoanApplication.Status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today", "english_pages")]


@pytest.fixture
def english_pages(client, settings):
    """Pages in English, so that assertions read the rule's own words whatever the catalogue holds."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-11-20 09:00 +07:00", tick=False):
        yield


@pytest.fixture
def forty_members(group_a, household_a):
    """Group A with 40 member households."""
    others = [HouseholdFactory(group=group_a) for _ in range(39)]
    group_a.memberships.update(joined_on=date(2025, 1, 1))
    return others


def make_request(household, actor, amount=30_000_000):
    return requests_services.application_create(household=household, program=program("01"), amount=Decimal(amount),
                                                term_months=36, purpose="Chăn nuôi heo", planned_use="",
                                                actor=actor)


def meeting_post(applications, **overrides):
    data = {"held_on": "20/11/2026", "attendee_count": "30", "neighbourhood_head": "Ông Tư",
            "attendees": "Các hộ trong tổ", "branch_officer": "Cán bộ hội phường"}
    for application in applications:
        data[f"r{application.pk}-decision"] = "approve"
        data[f"r{application.pk}-amount"] = "25.000.000"
    data.update(overrides)
    return data


def test_quorum_is_two_thirds_of_members_by_default(group_a, forty_members):
    quorum = requests_services.review_quorum(group=group_a, on=date(2026, 11, 20))
    assert (quorum.members, quorum.required) == (40, 27)


def test_quorum_follows_the_setting(settings, group_a, forty_members):
    settings.REVIEW_MEETING_MIN_ATTENDANCE = Fraction(1, 2)
    assert requests_services.review_quorum(group=group_a, on=date(2026, 11, 20)).required == 20


def test_five_of_forty_households_is_a_warning_that_asks_for_confirmation(client_for, ward_officer_a, group_a,
                                                                         household_a, forty_members):
    application = make_request(household_a, ward_officer_a)
    client = client_for(ward_officer_a)
    url = reverse("loans:meeting_create", args=[group_a.pk])
    response = client.post(url, meeting_post([application], attendee_count="5"))
    assert response.status_code == 200
    assert "confirm_low_attendance" in response.context["form"].errors
    content = response.content.decode()
    assert 'data-testid="attendance-warning"' in content and "27" in content
    assert not ReviewMeeting.objects.exists()
    response = client.post(url, meeting_post([application], attendee_count="5", confirm_low_attendance="on"))
    assert response.status_code == 302
    assert ReviewMeeting.objects.get().attendee_count == 5


def test_enough_households_need_no_confirmation(client_for, ward_officer_a, group_a, household_a, forty_members):
    application = make_request(household_a, ward_officer_a)
    response = client_for(ward_officer_a).post(reverse("loans:meeting_create", args=[group_a.pk]),
                                               meeting_post([application], attendee_count="27"))
    assert response.status_code == 302


def test_the_warning_box_is_not_shown_before_it_is_needed(client_for, ward_officer_a, group_a, household_a):
    make_request(household_a, ward_officer_a)
    content = client_for(ward_officer_a).get(reverse("loans:meeting_create", args=[group_a.pk])).content.decode()
    assert 'data-testid="attendance-warning"' not in content and 'data-testid="quorum"' in content


@pytest.mark.parametrize("field", ["branch_officer", "attendees", "attendee_count"])
def test_officer_and_attendees_are_required(client_for, english, ward_officer_a, group_a, household_a, field):
    application = make_request(household_a, ward_officer_a)
    response = client_for(ward_officer_a).post(reverse("loans:meeting_create", args=[group_a.pk]),
                                               meeting_post([application], **{field: ""}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not ReviewMeeting.objects.exists()


def test_the_service_refuses_minutes_without_the_officer(group_a, household_a, ward_officer_a):
    application = make_request(household_a, ward_officer_a)
    with pytest.raises(DomainError) as error:
        requests_services.application_review(
            group=group_a, held_on=date(2026, 11, 20), actor=ward_officer_a, attendee_count=1, attendees="A",
            results=[requests_services.ReviewResult(application, "approve", Decimal(10_000_000))],
        )
    assert error.value.field == "branch_officer"


def test_saving_the_minutes_says_what_was_decided(client_for, english, ward_officer_a, group_a, household_a):
    application = make_request(household_a, ward_officer_a)
    response = client_for(ward_officer_a).post(reverse("loans:meeting_create", args=[group_a.pk]),
                                               meeting_post([application], attendee_count="1"), follow=True)
    content = response.content.decode()
    assert "The minutes of the review meeting are saved: 1 request(s) approved, 0 rejected." in content
    assert "List 03/TD is ready" in content


@pytest.fixture
def certified_list(group_a, household_a, ward_officer_a):
    application = make_request(household_a, ward_officer_a)
    meeting = requests_services.application_review(
        group=group_a, held_on=date(2026, 11, 20), actor=ward_officer_a, attendee_count=1, attendees="Các hộ",
        branch_officer="Cán bộ", results=[requests_services.ReviewResult(application, "approve", Decimal(25_000_000))],
    )
    return requests_services.loan_list_certify(loan_list=meeting.loan_list, certified_on=date(2026, 11, 20),
                                               signer="Chủ tịch", reference="1/XN", actor=ward_officer_a)


def test_sending_to_district_needs_the_confirmation_box(client_for, english, ward_officer_a, certified_list):
    client = client_for(ward_officer_a)
    detail = client.get(reverse("loans:list03_detail", args=[certified_list.pk])).content.decode()
    assert 'name="confirm"' in detail and "required" in detail
    url = reverse("loans:list03_submit", args=[certified_list.pk])
    response = client.post(url, follow=True)
    assert "Tick the box to confirm" in response.content.decode()
    certified_list.refresh_from_db()
    assert certified_list.status == LoanList.Status.CERTIFIED
    client.post(url, {"confirm": "1"})
    certified_list.refresh_from_db()
    assert certified_list.status == LoanList.Status.SUBMITTED


def test_01td_prints_from_the_request_page(client_for, ward_officer_a, ward_officer_b, household_a):
    application = make_request(household_a, ward_officer_a)
    client = client_for(ward_officer_a)
    detail = client.get(reverse("loans:application_detail", args=[application.pk])).content.decode()
    url = reverse("loans:application_print", args=[application.pk])
    assert url in detail
    page = client.get(url).content.decode()
    assert "01/TD" in page and household_a.head_name in page and "30.000.000" in page and "print-portrait" in page
    assert client_for(ward_officer_b).get(url).status_code == 404


@pytest.mark.parametrize("value, share", [("2/3", Fraction(2, 3)), ("0.5", Fraction(1, 2)), ("50%", Fraction(1, 2))])
def test_attendance_setting_reads_a_share(monkeypatch, value, share):
    from config.settings import env_fraction

    monkeypatch.setenv("REVIEW_MEETING_MIN_ATTENDANCE", value)
    assert env_fraction("REVIEW_MEETING_MIN_ATTENDANCE", "2/3") == share


@pytest.mark.parametrize("value", ["two thirds", "3/2", "1/0"])
def test_attendance_setting_fails_loudly_on_a_bad_value(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from config.settings import env_fraction

    monkeypatch.setenv("REVIEW_MEETING_MIN_ATTENDANCE", value)
    with pytest.raises(ImproperlyConfigured):
        env_fraction("REVIEW_MEETING_MIN_ATTENDANCE", "2/3")
