"""The hand-written forms report every error at once, each under its field and linked from one GOV.UK error summary
(templates/includes/error_summary.html): the review meeting, the disbursement day, the 03/TD list review, the ward
merger, the Front's inspection and the correction of a reversed 13/TD row. The 01/TD rules that depend on the
household are one rule for the form and the service, and report every refusal together."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from borrowers.models import Household
from loans.models import Loan, LoanApplication, ReviewMeeting
from loans.services import approvals
from loans.services import requests as requests_services
from organizations.errors import DomainError
from organizations.models import Inspection, WardMerger
from tests.factories import HouseholdFactory, LoanFactory, approved_allocation, program, submitted_loan_list

pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-07")]

Status = LoanApplication.Status


def summary(html):
    """[(href or "", text)] of the error summary's entries, in order; fails when the page has no summary."""
    match = re.search(r'<div[^>]*data-error-summary[^>]*>(.*?)</div>', html, re.S)
    assert match, "no error summary on the page"
    assert 'role="alert"' in match.group(0) and 'tabindex="-1"' in match.group(0)
    entries = []
    for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S):
        link = re.search(r'href="#([^"]+)"', item)
        entries.append((link.group(1) if link else "", re.sub(r"<[^>]+>", "", item).strip()))
    return entries


def assert_targets_exist(html, entries):
    """Every link of the summary leads to an element of the page (a field, or the group that holds its inputs)."""
    for anchor, _text in entries:
        if anchor:
            assert f'id="{anchor}"' in html, anchor


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# ---- the group review meeting (bình xét) ---------------------------------------------------------------------------


@pytest.fixture
def two_requests(group_a, household_a, ward_officer_a):
    neighbour = HouseholdFactory(group=group_a, head_name="Lê Văn Cường")
    return [
        requests_services.application_create(
            household=household, program=program("01"), amount=Decimal(30_000_000), term_months=36,
            purpose="Chăn nuôi", actor=ward_officer_a,
        )
        for household in (household_a, neighbour)
    ]


def test_the_meeting_reports_the_minutes_and_every_row_at_once(client_for, ward_officer_a, group_a, two_requests):
    first, second = two_requests
    client = english(client_for(ward_officer_a))
    url = reverse("loans:meeting_create", args=[group_a.pk])
    response = client.post(url, {
        "held_on": "07/12/2026", "attendee_count": "", "attendees": "", "neighbourhood_head": "Tổ trưởng",
        "branch_officer": "",
        f"r{first.pk}-decision": "approve", f"r{first.pk}-amount": "",  # approved without an amount
    })
    assert response.status_code == 200
    html = response.content.decode()
    entries = summary(html)
    anchors = [anchor for anchor, _text in entries]
    # In the page's order: the minutes, then the rows by name (Lê before Nguyễn).
    assert anchors == [
        "id_attendee_count", "id_branch_officer", "id_attendees",
        f"id_r{second.pk}-decision", f"id_r{first.pk}-amount",
    ]
    assert_targets_exist(html, entries)
    # A row's error names its household in the summary, and stays under its field without the name.
    assert entries[3][1].startswith("Lê Văn Cường: Choose approve, reject")
    assert entries[4][1] == "Nguyễn Thị Ánh: Give the approved amount."
    assert 'data-testid="decision-error"' in html
    assert re.search(rf'<fieldset id="id_r{second.pk}-decision"[^>]*aria-describedby=', html)
    assert not ReviewMeeting.objects.exists()


def test_a_meeting_without_errors_shows_no_summary(client_for, ward_officer_a, group_a, two_requests):
    html = client_for(ward_officer_a).get(reverse("loans:meeting_create", args=[group_a.pk])).content.decode()
    assert "data-error-summary" not in html and "<fieldset" in html


# ---- the disbursement day -------------------------------------------------------------------------------------------


@pytest.fixture
def approved(group_a, ward_officer_a, branch_a, district_staff):
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))
    approved_allocation(branch=branch_a, amount=100_000_000)
    first, second = loan_list.applications.order_by("pk")
    approvals.loan_list_approve(loan_list=loan_list, amounts={first.pk: 30_000_000, second.pk: 20_000_000},
                                actor=district_staff)
    first.refresh_from_db()
    second.refresh_from_db()
    return first, second


def disbursement_data(first_row, second_row, **rows):
    data = {"on": "07/12/2026"}
    for application, values in ((first_row, rows.get("first", {})), (second_row, rows.get("second", {}))):
        pk = application.pk
        data.update({f"pick_{pk}": "on", f"loan_number_{pk}": f"79{pk:014d}", f"amount_{pk}":
                     str(int(application.amount_approved)), f"term_{pk}": "36", f"frequency_{pk}": "3"})
        data.update({f"{name}_{pk}": value for name, value in values.items()})
    return data


def test_the_disbursement_day_reports_every_row_at_once(client_for, district_staff, approved, household_a):
    first, second = approved
    LoanFactory(household=household_a, number="7900000000000099")
    client = english(client_for(district_staff))
    response = client.post(reverse("loans:disbursement_day"), disbursement_data(
        first, second,
        first={"loan_number": "123", "amount": "30.000.001", "term": "121"},
        second={"loan_number": "7900000000000099"},
    ))
    assert response.status_code == 200
    html = response.content.decode()
    entries = summary(html)
    assert [anchor for anchor, _text in entries] == [
        f"id_loan_number_{first.pk}", f"id_amount_{first.pk}", f"id_term_{first.pk}", f"id_loan_number_{second.pk}",
    ]
    assert_targets_exist(html, entries)
    texts = [text for _anchor, text in entries]
    name = first.household.head_name
    assert texts[0] == f"{name}: A bank loan number (số khế ước) has exactly 16 digits."
    assert texts[1].startswith(f"{name} was approved for")  # a message that names the household is not prefixed
    assert texts[2] == f"{name}: The term is 1 to 120 months for this program."
    assert texts[3].endswith("is already used by another loan.")
    assert html.count("The term is 1 to 120 months for this program.") == 2  # in the summary and under the field
    term = re.search(rf'<input[^>]*name="term_{first.pk}"[^>]*>', html).group(0)
    assert "is-invalid" in term and f'aria-describedby="id_term_{first.pk}_error"' in term
    assert f'id="id_term_{first.pk}_error"' in html
    assert not Loan.objects.filter(application__isnull=False).exists()


def test_a_loan_number_typed_twice_is_marked_on_the_second_row(client_for, district_staff, approved):
    first, second = approved
    client = english(client_for(district_staff))
    data = disbursement_data(first, second, second={"loan_number": f"79{first.pk:014d}"})
    entries = summary(client.post(reverse("loans:disbursement_day"), data).content.decode())
    assert entries == [(f"id_loan_number_{second.pk}",
                        f"{second.household.head_name}: Loan number 79{first.pk:014d} is entered twice.")]
    assert not Loan.objects.exists()
    data = disbursement_data(first, second)
    assert client.post(reverse("loans:disbursement_day"), data).status_code == 302
    assert Loan.objects.count() == 2


# ---- the 03/TD list review ------------------------------------------------------------------------------------------


def test_the_list_review_reports_every_request_at_once(client_for, group_a, ward_officer_a, district_staff):
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))
    first, second = loan_list.applications.order_by("pk")
    client = english(client_for(district_staff))
    response = client.post(reverse("loans:loan_list_review", args=[loan_list.pk]), {
        f"decision_{first.pk}": "approve", f"amount_{first.pk}": "35.000.000",  # above the meeting's 30 M
        f"decision_{second.pk}": "reject", f"reason_{second.pk}": "",
    })
    html = response.content.decode()
    entries = dict(summary(html))
    assert set(entries) == {f"id_amount_{first.pk}", f"id_reason_{second.pk}"}
    assert_targets_exist(html, entries.items())
    assert entries[f"id_amount_{first.pk}"].startswith(
        f"The group meeting approved 30.000.000 ₫ for {first.household.head_name}"
    )
    assert entries[f"id_reason_{second.pk}"] == (
        f"{second.household.head_name}: Give the reason for rejecting this request."
    )
    assert set(loan_list.applications.values_list("status", flat=True)) == {Status.SUBMITTED}


# ---- the ward merger ------------------------------------------------------------------------------------------------


def test_the_ward_merger_form_reports_every_field(client_for, admin_user, ward_a, ward_b):
    client = english(client_for(admin_user))
    html = client.post(reverse("organizations:ward_merge"), {"code": "12", "name": ""}).content.decode()
    entries = summary(html)
    assert [anchor for anchor, _text in entries] == ["id_sources", "id_code", "id_name", "id_merged_on"]
    assert 'id="div_id_sources"' in html  # app.js moves the focus into the group of boxes
    assert not WardMerger.objects.exists()


def test_the_ward_merger_confirmation_error_is_in_the_summary(client_for, admin_user, ward_a, ward_b):
    client = english(client_for(admin_user))
    data = {"sources": [ward_a.pk, ward_b.pk], "code": "900009", "name": "Phường Mới", "merged_on": "01/12/2026",
            "confirm": "1"}
    entries = summary(client.post(reverse("organizations:ward_merge"), data).content.decode())
    assert entries == [("", "Tick “I have checked the preview” to carry out the merger.")]


# ---- the Front's inspection (16/TD checklist) ------------------------------------------------------------------------


def test_the_inspection_form_links_every_error(client_for, front_supervisor, front, group_a):
    from organizations.models import ChecklistItem

    second = ChecklistItem.objects.order_by("position")[1]
    client = english(client_for(front_supervisor))
    response = client.post(reverse("organizations:supervision_inspections_new"), {
        "inspected_on": "31/02/2026", "lead_unit": front.pk, "team_members": "",
        "inspected_group": group_a.pk, "follow_up_status": "open", f"item_{second.pk}": "not_ok",
    })
    html = response.content.decode()
    entries = summary(html)
    anchors = [anchor for anchor, _text in entries]
    assert {"id_inspected_on", "id_team_members", f"id_note_{second.pk}"} <= set(anchors)
    assert_targets_exist(html, entries)
    assert html.count("data-error-summary") == 1
    assert not Inspection.objects.exists()


def test_the_group_inspection_16td_shows_the_summary(client_for, ward_officer_a, group_a):
    client = english(client_for(ward_officer_a))
    response = client.post(reverse("loans:group_inspection_record", args=[group_a.pk]), {"inspected_on": ""})
    assert response.status_code == 200
    assert ("id_inspected_on", "This field is required.") in summary(response.content.decode())


# ---- the correction of a reversed 13/TD row -------------------------------------------------------------------------


@pytest.mark.today("2026-06-20")
def test_the_correction_form_shows_its_summary(client_for, group_a, household_a, ward_officer_a):
    from tests.factories import post_sheet, reverse_line

    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    sheet = post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a: (2_841_670, 30_000, 0)})
    line = reverse_line(line=sheet.lines.get(household=household_a), reason="Sai", actor=ward_officer_a)
    client = english(client_for(ward_officer_a))
    url = reverse("loans:collection_line_correct", args=[sheet.pk, line.pk])
    response = client.post(url, {"amount_paid": "abc", "savings_in": "1,5", "savings_out": ""})
    assert response.status_code == 400
    html = response.content.decode()
    card = html.split('data-testid="correction-card"', 1)[1]
    entries = summary(card)
    assert [anchor for anchor, _text in entries] == ["id_amount_paid", "id_savings_in"]
    assert 'aria-describedby="id_amount_paid_error"' in card and 'id="id_amount_paid_error"' in card


# ---- 01/TD: every refusal of the household's rules at once --------------------------------------------------------


@pytest.fixture
def ineligible(household_a, ward_officer_a):
    """A household that is not poor, and already has an open request for program 01."""
    requests_services.application_create(household=household_a, program=program("01"), amount=Decimal(10_000_000),
                                         term_months=12, purpose="Chăn nuôi", actor=ward_officer_a)
    Household.objects.filter(pk=household_a.pk).update(policy_status=Household.PolicyStatus.NONE)
    household_a.refresh_from_db()
    return household_a


def test_the_01td_form_reports_every_refusal_of_the_households_rules(client_for, ward_officer_a, ineligible):
    client = english(client_for(ward_officer_a))
    response = client.post(reverse("loans:application_create", args=[ineligible.pk]), {
        "program": program("01").pk, "amount": "150.000.000", "term_months": "200", "purpose": "Chăn nuôi",
    })
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert len(errors["program"]) == 2  # not eligible, and an open request already
    assert "lends only to" in errors["program"][0] and "already has an open request" in errors["program"][1]
    assert set(errors) == {"program", "amount", "term_months"}
    entries = summary(response.content.decode())
    assert [anchor for anchor, _text in entries] == ["id_program", "id_program", "id_amount", "id_term_months"]
    assert LoanApplication.objects.filter(household=ineligible).count() == 1


def test_the_service_refuses_with_every_rule_at_once(ward_officer_a, ineligible):
    with pytest.raises(DomainError) as refused:
        requests_services.application_create(household=ineligible, program=program("01"),
                                             amount=Decimal(150_000_000), term_months=200, purpose="x",
                                             actor=ward_officer_a)
    fields = [field for field, _message in refused.value.errors]
    assert fields == ["program", "term_months", "amount", "program"]
    assert refused.value.field == "program"
    assert all(str(message) in refused.value.message for _field, message in refused.value.errors)


def test_the_form_and_the_service_apply_one_rule(ineligible):
    refusals = requests_services.application_refusals(
        household=ineligible, program=program("01"), amount=Decimal(10_000_000), term_months=12
    )
    from loans.forms.requests import ApplicationForm

    form = ApplicationForm({"program": program("01").pk, "amount": "10.000.000", "term_months": "12",
                            "purpose": "x"}, household=ineligible)
    assert not form.is_valid()
    assert [str(message) for _field, message in refusals] == form.errors["program"]
