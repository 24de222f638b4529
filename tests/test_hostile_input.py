"""Careless or hostile input: absurd amounts, amounts in another writing, impossible dates and full-width digits.

Each finding of the security review is reproduced here first (issue 14, findings 2 and 8)."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from borrowers.models import Household
from borrowers.services import household_update
from loans.forms.collection import CollectionEntryForm, CollectionSheetCreateForm
from loans.forms.requests import ApplicationForm
from loans.models import CollectionLine, CollectionSheet, LoanApplication
from loans.money import COLUMN_MAX, parse_vnd
from loans.services.collection import collection_sheet_create, collection_sheet_save
from organizations.errors import DomainError
from organizations.forms import BusinessDateField
from tests.factories import LoanFactory, program

TODAY = "2026-06-20 09:00 +0700"
ABSURD = "9999999999999999999999999"


@pytest.fixture(autouse=True)
def english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def draft(group_a, household_a, ward_officer_a):
    with time_machine.travel(TODAY):
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        return collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)


# ---------------------------------------------------------------------------------------------------------------
# Finding 2: one absurd amount bricked a sheet
# ---------------------------------------------------------------------------------------------------------------


@time_machine.travel(TODAY)
def test_service_refuses_an_absurd_savings_amount_and_saves_nothing(draft, ward_officer_a):
    line = draft.lines.get()
    with pytest.raises(DomainError, match="more than one collection day can take"):
        collection_sheet_save(sheet=draft, entries={line.pk: (0, int(ABSURD), 0)}, actor=ward_officer_a)
    line.refresh_from_db()
    assert line.savings_in == 0


@time_machine.travel(TODAY)
def test_service_ceiling_follows_the_setting(draft, ward_officer_a):
    line = draft.lines.get()
    with override_settings(MONEY_MAX_COLLECTION=1_000_000):
        with pytest.raises(DomainError, match="at most 1.000.000"):
            collection_sheet_save(sheet=draft, entries={line.pk: (0, 1_000_001, 0)}, actor=ward_officer_a)
        collection_sheet_save(sheet=draft, entries={line.pk: (0, 1_000_000, 0)}, actor=ward_officer_a)
    line.refresh_from_db()
    assert line.savings_in == 1_000_000


@time_machine.travel(TODAY)
def test_the_column_itself_refuses_what_it_cannot_hold(draft):
    # Every write path (save, bulk_update, update) meets the same refusal instead of a 500 or a corrupt row.
    line = draft.lines.get()
    line.savings_in = Decimal(ABSURD)
    with pytest.raises(DomainError, match="too large to be stored"), transaction.atomic():
        CollectionLine.objects.bulk_update([line], ["savings_in"])
    with pytest.raises(DomainError, match="too large to be stored"), transaction.atomic():
        CollectionLine.objects.filter(pk=line.pk).update(savings_in=Decimal(ABSURD))
    with pytest.raises(DomainError, match="too large to be stored"), transaction.atomic():
        line.save()
    CollectionLine.objects.filter(pk=line.pk).update(savings_in=COLUMN_MAX)  # 18 nines still fit the column
    # (SQLite reads back 15 significant digits; every business ceiling stays below that.)
    assert CollectionLine.objects.get(pk=line.pk).savings_in >= Decimal(10**17)


@time_machine.travel(TODAY)
def test_page_refuses_an_absurd_savings_amount_with_a_message(client_for, draft, ward_officer_a):
    line = draft.lines.get()
    url = reverse("loans:collection_sheet_fill", args=[draft.pk])
    response = client_for(ward_officer_a).post(url, {f"savings_in_{line.pk}": ABSURD, "action": "save"})
    assert response.status_code == 400
    errors = response.context["form"].errors[f"savings_in_{line.pk}"]
    assert "cannot be more than 10.000.000.000" in errors[0]
    line.refresh_from_db()
    assert line.savings_in == 0


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL refuses such a value at the write")
@time_machine.travel(TODAY)
def test_a_sheet_already_holding_an_absurd_amount_still_renders_and_can_be_repaired(client_for, draft, ward_officer_a):
    # A row written before the ceilings existed (SQLite stores whatever it is given).
    line = draft.lines.get()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE loans_collectionline SET savings_in = {ABSURD} WHERE id = %s", [line.pk])
    client = client_for(ward_officer_a)
    for name in ("collection_sheet_detail", "collection_sheet_print", "collection_sheet_xlsx"):
        assert client.get(reverse(f"loans:{name}", args=[draft.pk])).status_code == 200, name
    assert client.get(reverse("loans:collection_sheet_list")).status_code == 200
    # The same group and day cannot get a second sheet; the officer corrects this one instead.
    response = client.post(
        reverse("loans:collection_sheet_fill", args=[draft.pk]), {f"savings_in_{line.pk}": "50.000", "action": "save"}
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.savings_in == 50_000


# ---------------------------------------------------------------------------------------------------------------
# Finding 8: numbers and dates slipped through
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1.500.000", 1_500_000), ("1500000", 1_500_000), ("1 500 000", 1_500_000), ("1.500.000 ₫", 1_500_000),
        ("1500000đ", 1_500_000), ("  30.000.000  VNĐ", 30_000_000), ("0", 0), ("", None), ("   ", None),
        ("999.999.999.999.999.999", COLUMN_MAX),
    ],
)
def test_amounts_in_vietnamese_writing_are_read(typed, amount):
    assert parse_vnd(typed) == amount


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("1.5", "decimal"), ("1.000.00", "decimal"), ("1,500,000", "decimal"), ("1,5", "decimal"),
        ("15.00", "decimal"), (".500", "decimal"), ("1..000", "decimal"),
        ("²", "digits"), ("①", "digits"), ("１２３", "digits"), ("١٢٣", "digits"), ("1²", "digits"),
        ("abc", "invalid"), ("1e6", "invalid"), ("NaN", "invalid"), ("Infinity", "invalid"), ("$100", "invalid"),
        ("-5", "negative"), ("-1.500.000", "negative"),
        ("1.000.000.000.000.000.000", "too_large"), (ABSURD, "too_large"),
    ],
)
def test_other_writings_are_refused_with_the_reason(typed, code):
    with pytest.raises(ValidationError) as refusal:
        parse_vnd(typed)
    assert refusal.value.code == code


@pytest.mark.parametrize("typed", ["1.5", "1.000.00", "²", "①"])
def test_request_form_refuses_what_it_used_to_misread(client_for, ward_officer_a, household_a, typed):
    # 1.5 was saved as 15 đồng, 1.000.00 as 100,000; ² and ① were a 500.
    url = reverse("loans:application_create", args=[household_a.pk])
    response = client_for(ward_officer_a).post(
        url, {"program": program("01").pk, "amount": typed, "term_months": "36", "purpose": "Chăn nuôi"}
    )
    assert response.status_code in (200, 400)
    assert "whole đồng" in response.context["form"].errors["amount"][0] or "0 to 9" in (
        response.context["form"].errors["amount"][0]
    )
    assert not LoanApplication.objects.exists()


def test_request_form_has_a_loan_ceiling(db):
    form = ApplicationForm({"program": program("01").pk, "amount": "5.000.000.001", "term_months": "36",
                            "purpose": "x"})
    assert "cannot be more than 5.000.000.000" in form.errors["amount"][0]


@time_machine.travel(TODAY)
def test_collection_entry_refuses_decimals_and_symbols(draft):
    line = draft.lines.get()
    form = CollectionEntryForm(
        {f"paid_{line.pk}": "1.5", f"savings_in_{line.pk}": "①", f"savings_out_{line.pk}": "1.000.00"},
        lines=[line],
    )
    assert set(form.errors) == {f"paid_{line.pk}", f"savings_in_{line.pk}", f"savings_out_{line.pk}"}


@time_machine.travel(TODAY)
@pytest.mark.parametrize("typed", ["01/01/0001", "31/12/1999", "01/01/9999", "21/06/2026"])
def test_collection_day_outside_the_window_is_refused(client_for, ward_officer_a, group_a, typed):
    response = client_for(ward_officer_a).post(
        reverse("loans:collection_sheet_create"), {"group": group_a.pk, "collection_on": typed}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["collection_on"]
    assert not CollectionSheet.objects.exists()


@time_machine.travel(TODAY)
def test_collection_service_refuses_a_day_before_the_records_begin(group_a, ward_officer_a):
    with pytest.raises(DomainError, match="cannot be before 01/01/2000"):
        collection_sheet_create(group=group_a, on=date(1, 1, 1), actor=ward_officer_a)
    assert not CollectionSheet.objects.exists()


@time_machine.travel(TODAY)
def test_business_dates_have_a_window_that_each_field_sets():
    past_only, deadline = BusinessDateField(), BusinessDateField(future_days=None)
    assert past_only.clean("20/06/2026") == date(2026, 6, 20)
    assert past_only.clean("２０/０６/２０２６") == date(2026, 6, 20)  # full-width digits read as ASCII
    for field, typed in ((past_only, "21/06/2026"), (past_only, "01/01/0001"), (deadline, "01/01/2100")):
        with pytest.raises(ValidationError):
            field.clean(typed)
    assert deadline.clean("31/12/2030") == date(2030, 12, 31)
    with override_settings(BUSINESS_DATE_EARLIEST=date(1990, 1, 1)):
        assert past_only.clean("01/01/1995") == date(1995, 1, 1)


@time_machine.travel(TODAY)
def test_collection_sheet_form_refuses_year_one(group_a):
    form = CollectionSheetCreateForm(
        {"group": group_a.pk, "collection_on": "01/01/0001"}, groups=type(group_a).objects.all()
    )
    assert "cannot be before 01/01/2000" in form.errors["collection_on"][0]


def test_full_width_citizen_id_is_read_as_ascii_digits(client_for, ward_officer_a, group_a):
    from tests.test_ward_views import household_post

    response = client_for(ward_officer_a).post(
        reverse("borrowers:household_create"),
        household_post(group_a, citizen_id="０７９１８０４５６７８９", phone="０９１２ ３４５ ６７８"),
    )
    assert response.status_code == 302
    household = Household.objects.get()
    assert (household.citizen_id, household.phone) == ("079180456789", "0912345678")


def test_other_unicode_digits_get_a_clear_message_never_the_constraint_text(client_for, ward_officer_a, group_a):
    from tests.test_ward_views import household_post

    response = client_for(ward_officer_a).post(
        reverse("borrowers:household_create"), household_post(group_a, citizen_id="٠٧٩١٢٣٤٥٦٧٨٩")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Constraint" not in html and "violated" not in html
    assert "digits 0 to 9" in response.context["form"].errors["citizen_id"][0]
    assert not Household.objects.exists()


def test_service_never_passes_on_a_constraint_text(household_a, ward_officer_a):
    # A path without the form (an import, a script): Arabic-Indic digits pass Python's \d but not the database's check.
    with pytest.raises(DomainError) as refusal:
        household_update(household=household_a, data={"citizen_id": "٠٧٩١٢٣٤٥٦٧٨٩"}, actor=ward_officer_a)
    assert "Constraint" not in refusal.value.message and "violated" not in refusal.value.message
    household_update(household=household_a, data={"citizen_id": "０７９１２３４５６７８８"}, actor=ward_officer_a)
    household_a.refresh_from_db()
    assert household_a.citizen_id == "079123456788"


@pytest.fixture(autouse=True)
def pages_in_english(settings):
    """These tests read the rules' English words on the pages too (no language cookie: the site's language)."""
    settings.LANGUAGE_CODE = "en"
