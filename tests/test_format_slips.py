"""Language and format slips (issue 16, finding 7): amounts and ratios stay on one line, the chart knows the page's
language, and a late 06/TD check is called a late check, not overdue debt."""

from datetime import date

import pytest
import time_machine
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from tests.factories import HouseholdFactory, LoanFactory


@pytest.fixture(autouse=True)
def keep_language():
    """Pages asked for in English switch this thread's language; the next test starts from the language it had."""
    with translation.override(translation.get_language()):
        yield


def render(text, **context):
    return Template(text).render(Context(context))


def test_an_amount_and_its_currency_sign_never_part():
    assert render("{{ v|vnd }}", v=40_000_000) == '<span class="text-nowrap">40.000.000 ₫</span>'
    assert render("{{ v|vnd }}", v=None) == ""


def test_a_ratio_and_its_percent_sign_never_part():
    assert render("{{ v|percent }}", v="2.5") == '<span class="text-nowrap">2,50 %</span>'
    assert render("{{ v|percent }}", v="") == ""


@pytest.mark.parametrize(("language", "locale"), [("vi", "vi-VN"), ("en", "en-US")])
def test_the_dashboard_tells_its_charts_the_page_language(client_for, ward_officer_a, household_a, language, locale):
    LoanFactory(household=household_a)
    client = client_for(ward_officer_a)
    client.cookies["django_language"] = language
    body = client.get(reverse("organizations:home")).content.decode()
    assert f'data-locale="{locale}"' in body


def test_a_late_loan_use_check_is_labelled_a_late_check_not_overdue_debt(client_for, ward_officer_a, group_a):
    with time_machine.travel("2026-11-20 09:00 +0700", tick=False):
        LoanFactory(household=HouseholdFactory(group=group_a), disbursed_on=date(2026, 9, 1))
        client = client_for(ward_officer_a)
        vietnamese = client.get(reverse("loans:loan_use_checks")).content.decode()
        client.cookies["django_language"] = "en"
        english = client.get(reverse("loans:loan_use_checks")).content.decode()
    badge = english.split('data-testid="check-overdue">', 1)[1].split("<", 1)[0]
    assert badge == "Check overdue"
    assert 'data-testid="check-overdue"' in vietnamese and "nợ quá hạn</span>" not in vietnamese
