"""The change rules of DOMAIN.md, with their bounds kept per program: freeze 3–5 years, extension up to 12 months for
loans of 12 months or less (otherwise up to half the term), term adjustment asked some working days ahead."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from loans.models import Loan, LoanChange, LoanProgram
from loans.services.changes import loan_change_decide, loan_change_request
from organizations.errors import DomainError
from tests.factories import LoanFactory

Kind = LoanChange.Kind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def loan(household_a):
    # 50,000,000 over 36 months, quarterly from 15/04/2026, maturity 15/01/2029 (program 01).
    return LoanFactory(household=household_a)


def ask(loan, kind, actor, on=date(2026, 5, 4), **kwargs):
    return loan_change_request(loan=loan, kind=kind, reason="Hỏa hoạn thiêu rụi chuồng trại", actor=actor, on=on,
                               **kwargs)


def test_program_defaults_follow_the_domain_guide():
    program = LoanProgram.objects.get(code="01")
    assert (program.min_freeze_months, program.max_freeze_months) == (36, 60)
    assert (program.short_loan_months, program.short_loan_extension_months, program.extension_term_percent) == (
        12, 12, 50)
    assert program.term_adjustment_notice_days == 5
    assert program.extension_limit_months(12) == 12
    assert program.extension_limit_months(6) == 12
    assert program.extension_limit_months(36) == 18
    assert program.extension_limit_months(13) == 6


@pytest.mark.parametrize("months", [1, 12, 35, 61])
def test_a_freeze_outside_three_to_five_years_is_refused(loan, ward_officer_a, months):
    with pytest.raises(DomainError) as refused:
        ask(loan, Kind.FREEZE, ward_officer_a, months=months)
    assert "from 36 to 60 months (3 to 5 years)" in refused.value.message
    assert refused.value.field == "months"
    assert not LoanChange.objects.exists()


@pytest.mark.parametrize("months", [36, 48, 60])
def test_a_freeze_of_three_to_five_years_is_accepted(loan, ward_officer_a, months):
    assert ask(loan, Kind.FREEZE, ward_officer_a, months=months).months == months


def test_freeze_bounds_are_editable_per_program(loan, ward_officer_a, district_staff):
    LoanProgram.objects.filter(code="01").update(min_freeze_months=12, max_freeze_months=24)
    loan = Loan.objects.get(pk=loan.pk)
    with pytest.raises(DomainError, match=r"from 12 to 24 months \(1 to 2 years\)"):
        ask(loan, Kind.FREEZE, ward_officer_a, months=36)
    change = ask(loan, Kind.FREEZE, ward_officer_a, months=18)
    # The bounds on the day of the decision count: tightened meanwhile, the request no longer fits.
    LoanProgram.objects.filter(code="01").update(min_freeze_months=36, max_freeze_months=60)
    with pytest.raises(DomainError, match="3 to 5 years"):
        loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 5))
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.ACTIVE


def test_extension_limits_are_editable_per_program(household_a, ward_officer_a):
    LoanProgram.objects.filter(code="01").update(extension_term_percent=25, short_loan_extension_months=6)
    long_loan = LoanFactory(household=household_a)  # 36 months: 25 % is 9 months
    with pytest.raises(DomainError, match="at most 9 months"):
        ask(long_loan, Kind.EXTENSION, ward_officer_a, months=10)
    assert ask(long_loan, Kind.EXTENSION, ward_officer_a, months=9).months == 9
    short = LoanFactory(household=household_a, term_months=12, maturity_on=date(2027, 1, 15))
    with pytest.raises(DomainError, match="at most 6 months"):
        ask(short, Kind.EXTENSION, ward_officer_a, months=7)


def test_term_adjustment_notice_is_editable_per_program(loan, ward_officer_a):
    first = loan.instalments.get(seq=1)  # due Wednesday 15/04/2026
    LoanProgram.objects.filter(code="01").update(term_adjustment_notice_days=10)
    loan = Loan.objects.get(pk=loan.pk)
    with pytest.raises(DomainError, match="at least 10 working days"):
        ask(loan, Kind.TERM_ADJUSTMENT, ward_officer_a, on=date(2026, 4, 8), instalment=first,
            new_due_on=date(2026, 6, 15))
    assert ask(loan, Kind.TERM_ADJUSTMENT, ward_officer_a, on=date(2026, 4, 1), instalment=first,
               new_due_on=date(2026, 6, 15)).new_due_on == date(2026, 6, 15)


def test_program_bounds_must_be_consistent():
    program = LoanProgram.objects.get(code="01")
    program.min_freeze_months, program.max_freeze_months = 60, 36
    with pytest.raises(ValidationError):
        program.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        program.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        LoanProgram.objects.filter(pk=program.pk).update(min_freeze_months=36, max_freeze_months=60,
                                                         extension_term_percent=0)


def test_the_freeze_form_shows_and_enforces_the_program_bounds(client_for, loan, ward_officer_a):
    client = client_for(ward_officer_a)
    url = reverse("loans:loan_change_request", args=[loan.pk, Kind.FREEZE])
    page = client.get(url).content.decode()
    assert "it lasts from 36 to 60 months" in page
    assert 'min="36"' in page and 'max="60"' in page
    response = client.post(url, {"months": 12, "reason": "Hỏa hoạn"})
    assert response.status_code == 200
    assert "36" in " ".join(response.context["form"].errors["months"])
    assert not LoanChange.objects.exists()
    assert client.post(url, {"months": 36, "reason": "Hỏa hoạn"}).status_code == 302
    assert LoanChange.objects.get().months == 36


@pytest.fixture(autouse=True)
def pages_in_english(settings):
    """These tests read the rules' English words on the pages too (no language cookie: the site's language)."""
    settings.LANGUAGE_CODE = "en"
