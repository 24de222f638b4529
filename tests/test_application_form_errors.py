"""The 01/TD request form reports every error on the first submit, listed in an error summary linked to the fields."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from loans.models import LoanApplication
from loans.services import requests as requests_services
from organizations.errors import DomainError
from tests.factories import program

pytestmark = pytest.mark.django_db


def summary_links(html):
    """The hrefs of the links inside the error summary, in order."""
    match = re.search(r'<div[^>]*data-error-summary[^>]*>(.*?)</div>', html, re.S)
    assert match, "no error summary on the page"
    assert 'role="alert"' in match.group(0)
    return re.findall(r'href="(#[^"]+)"', match.group(1))


def test_a_term_and_an_amount_over_the_programs_limits_are_reported_together(client_for, ward_officer_a, household_a):
    client = client_for(ward_officer_a)
    url = reverse("loans:application_create", args=[household_a.pk])
    # Program 01 lends at most 100.000.000 ₫ over at most 120 months.
    response = client.post(url, {"program": program("01").pk, "amount": "150.000.000", "term_months": "200",
                                 "purpose": "Chăn nuôi heo"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"amount", "term_months"}
    assert "120" in errors["term_months"][0]
    assert "100.000.000" in errors["amount"][0]
    html = response.content.decode()
    assert summary_links(html) == ["#id_amount", "#id_term_months"]
    # Each error is also shown under its own field.
    assert html.count(errors["amount"][0]) == 2 and html.count(errors["term_months"][0]) == 2
    # The typed amount comes back as typed, still marked for the formatter.
    assert re.search(r'<input[^>]*name="amount"[^>]*value="150.000.000"', html)
    assert LoanApplication.objects.count() == 0


def test_field_errors_and_missing_values_are_reported_together(client_for, ward_officer_a, household_a):
    client = client_for(ward_officer_a)
    url = reverse("loans:application_create", args=[household_a.pk])
    response = client.post(url, {"program": program("01").pk, "amount": "abc", "term_months": "0", "purpose": ""})
    assert set(response.context["form"].errors) == {"amount", "term_months", "purpose"}
    assert summary_links(response.content.decode()) == ["#id_amount", "#id_term_months", "#id_purpose"]


def test_a_valid_request_shows_no_summary_and_the_amount_input_asks_for_the_number_pad(client_for, ward_officer_a,
                                                                                      household_a):
    client = client_for(ward_officer_a)
    url = reverse("loans:application_create", args=[household_a.pk])
    html = client.get(url).content.decode()
    assert "data-error-summary" not in html
    amount = re.search(r'<input[^>]*name="amount"[^>]*>', html).group(0)
    assert 'type="text"' in amount and 'inputmode="numeric"' in amount and "data-amount" in amount
    response = client.post(url, {"program": program("01").pk, "amount": "100.000.000", "term_months": "120",
                                 "purpose": "Chăn nuôi heo"})
    assert response.status_code == 302
    assert LoanApplication.objects.get().amount_requested == 100_000_000


def test_the_service_still_refuses_a_request_over_the_programs_limits(ward_officer_a, household_a):
    with pytest.raises(DomainError) as refused:
        requests_services.application_create(household=household_a, program=program("01"),
                                             amount=Decimal(150_000_000), term_months=200, purpose="x",
                                             actor=ward_officer_a)
    assert refused.value.field == "term_months"
    with pytest.raises(DomainError) as refused:
        requests_services.application_create(household=household_a, program=program("01"),
                                             amount=Decimal(150_000_000), term_months=36, purpose="x",
                                             actor=ward_officer_a)
    assert refused.value.field == "amount"


def test_per_month_ceiling_uses_the_longest_term_when_the_term_is_too_long():
    student = program("02")  # 4.000.000 ₫ a month of study
    errors = student.request_limit_errors(amount=Decimal(10**12), term_months=student.max_term_months + 1)
    assert set(errors) == {"term_months", "amount"}
    assert student.request_limit_errors(amount=Decimal(10**12), term_months=None) == {}


def test_household_and_group_forms_show_the_summary(client_for, ward_officer_a):
    client = client_for(ward_officer_a)
    for url in (reverse("borrowers:household_create"), reverse("organizations:group_create")):
        html = client.post(url, {"head_name": "", "name": ""}).content.decode()
        links = summary_links(html)
        assert "#id_head_name" in links or "#id_name" in links, (url, links)
