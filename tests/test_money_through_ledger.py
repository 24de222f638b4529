"""Money only through the ledger: the Django admin reads money rows and never writes them, and `check_ledger` finds a
money row that has no posting (or decision) behind it."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import NoReverseMatch, reverse

from loans.models import (
    AllocationEvent,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    CapitalUse,
    CollectionItem,
    CollectionLine,
    CollectionSheet,
    ImportBatch,
    InterestArrearsEntry,
    Loan,
    LoanApplication,
    Posting,
    ReconciliationItem,
    RepaymentInstalment,
)
from loans.services.collection import collection_sheet_create
from tests.factories import LoanApplicationFactory, LoanFactory, approved_allocation

MONEY_MODELS = [
    Loan, Posting, RepaymentInstalment, InterestArrearsEntry, CapitalPlan, CapitalAllocation, CapitalAdjustment,
    AllocationEvent, CapitalUse, CollectionSheet, CollectionLine, CollectionItem, ImportBatch, ReconciliationItem,
]


def _url(name, *args):
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _admin_path(model, view, *args):
    return _url(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", *args)


@pytest.fixture
def loan(household_a):
    return LoanFactory(household=household_a)


@pytest.mark.parametrize("model", MONEY_MODELS, ids=lambda m: m.__name__)
def test_the_admin_cannot_add_change_or_delete_money(model, client_for, admin_user, loan, rf):
    """Reproduces finding 6: an admin could add a Loan of any amount and arrears with no posting behind it."""
    client = client_for(admin_user)
    model_admin = admin.site._registry.get(model)
    request = rf.get("/")
    request.user = admin_user
    if model_admin is None:  # not in the admin at all: nothing to write through
        assert _admin_path(model, "add") is None
        return
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert client.get(_admin_path(model, "add")).status_code == 403
    assert client.post(_admin_path(model, "add"), {}).status_code == 403
    row = model.objects.order_by("pk").first()
    if row is not None:
        # The change page only shows the row; a POST to it is refused.
        assert client.post(_admin_path(model, "change", row.pk), {}).status_code == 403
        assert client.get(_admin_path(model, "delete", row.pk)).status_code == 403
        assert client.post(_admin_path(model, "delete", row.pk), {"post": "yes"}).status_code == 403
        assert model.objects.filter(pk=row.pk).exists()
    for inline in model_admin.get_inline_instances(request):
        assert not (inline.has_add_permission(request, row) or inline.has_change_permission(request, row)
                    or inline.has_delete_permission(request, row)), type(inline).__name__


def test_no_money_model_is_writable_in_the_admin_at_all(admin_user, rf):
    """Anything of loans that holds money and is registered later must also refuse writes."""
    request = rf.get("/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        if model in MONEY_MODELS:
            assert not model_admin.has_add_permission(request), model.__name__


def test_the_admin_posting_a_new_loan_creates_nothing(client_for, admin_user, household_a):
    before = Loan.objects.count()
    response = client_for(admin_user).post(
        _admin_path(Loan, "add"),
        {"number": "5599000000000001", "household": household_a.pk, "amount": "999999999", "interest_arrears": "1"},
    )
    assert response.status_code == 403
    assert Loan.objects.count() == before


def _check_ledger():
    from io import StringIO

    out = StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def test_check_ledger_passes_on_loans_made_through_the_ledger(loan):
    ok, out = _check_ledger()
    assert ok, out


def test_check_ledger_finds_a_loan_inserted_without_postings(loan):
    """A loan added around the services: its zero cache agrees with its empty ledger, but no money went out."""
    Loan.objects.create(
        number="5599000000000002", household=loan.household, group=loan.group, program=loan.program,
        amount=Decimal("80000000"), disbursed_on=loan.disbursed_on, term_months=36, maturity_on=loan.maturity_on,
        frequency=loan.frequency, annual_rate=loan.annual_rate, overdue_multiplier=loan.overdue_multiplier,
        principal_outstanding=0, interest_arrears=0,
    )
    ok, out = _check_ledger()
    assert not ok
    assert "Loan 5599000000000002: amount 80.000.000" in out and "add up to 0" in out
    assert loan.number not in out
    assert "1 money row(s) lack" in out


def test_check_ledger_finds_a_loan_whose_disbursement_differs_from_its_amount(loan):
    Loan.objects.filter(pk=loan.pk).update(amount=Decimal("60000000"))
    Loan.objects.filter(pk=loan.pk).update(principal_outstanding=Decimal("50000000"))
    ok, out = _check_ledger()
    assert not ok and f"Loan {loan.number}: amount 60.000.000" in out


def test_check_ledger_finds_a_collection_line_marked_posted_without_postings(loan, ward_officer_a):
    sheet = collection_sheet_create(group=loan.group, on=loan.disbursed_on.replace(month=4), actor=ward_officer_a)
    line = sheet.lines.get(household=loan.household)
    CollectionLine.objects.filter(pk=line.pk).update(status=CollectionLine.Status.POSTED, amount_paid=1_000_000)
    ok, out = _check_ledger()
    assert not ok and f"Collection line {line.pk}" in out and "no postings" in out


def test_check_ledger_finds_capital_without_its_source(branch_a, household_a, group_a, ward_officer_a, admin_user):
    allocation = approved_allocation(branch=branch_a, amount=100_000_000)
    AllocationEvent.objects.create(allocation=allocation, kind=AllocationEvent.Kind.ADJUSTED_IN, amount=5_000_000)
    application = LoanApplicationFactory(household=household_a, group=group_a, created_by=ward_officer_a)
    assert application.status == LoanApplication.Status.DRAFT
    CapitalUse.objects.create(
        application=application, allocation=allocation, amount_approved=10_000_000, approved_by=admin_user
    )
    ok, out = _check_ledger()
    assert not ok
    assert "allocation entry without adjustment" in out
    assert "capital charged for an unapproved request" in out
