"""A collection day or a disbursement day set on a weekend or public holiday asks the officer to confirm it."""

from datetime import date

import pytest
import time_machine
from django.urls import reverse

from loans.calendar import clear_calendar_cache
from loans.forms.collection import CollectionSheetCreateForm
from loans.models import CollectionSheet
from organizations.models import SavingsGroup

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

SUNDAY = date(2026, 3, 1)
LABOUR_DAY = date(2026, 5, 1)
MONDAY = date(2026, 3, 2)


@pytest.fixture(autouse=True)
def pages_in_english(settings):
    """The tests read the rule's English words, on the pages too."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def fresh_calendar():
    clear_calendar_cache()
    yield
    clear_calendar_cache()


def _form(group, day, confirm=False):
    data = {"group": group.pk, "collection_on": day.strftime("%d/%m/%Y")}
    if confirm:
        data["confirm_non_working_day"] = "on"
    return CollectionSheetCreateForm(data, groups=SavingsGroup.objects.all())


def test_a_working_day_asks_nothing(group_a):
    form = _form(group_a, MONDAY)
    assert form.is_valid(), form.errors
    assert form["confirm_non_working_day"].field.widget.input_type == "hidden"


@pytest.mark.parametrize("day", [SUNDAY, LABOUR_DAY])
def test_a_weekend_or_holiday_needs_the_officers_confirmation(group_a, day):
    form = _form(group_a, day)
    assert not form.is_valid()
    assert "not a working day" in str(form.errors["collection_on"])
    assert form["confirm_non_working_day"].field.widget.input_type == "checkbox"
    assert _form(group_a, day, confirm=True).is_valid()


@time_machine.travel("2026-05-04 09:00 +0700", tick=False)
def test_the_collection_page_asks_then_prepares_the_sheet(client, ward_officer_a, group_a, household_a):
    client.force_login(ward_officer_a)
    url = reverse("loans:collection_sheet_create")
    data = {"group": group_a.pk, "collection_on": "01/05/2026"}
    response = client.post(url, data)
    assert response.status_code == 400
    assert 'name="confirm_non_working_day"' in response.content.decode()
    assert not CollectionSheet.objects.exists()
    response = client.post(url, {**data, "confirm_non_working_day": "on"})
    assert response.status_code == 302
    assert CollectionSheet.objects.get().collection_on == LABOUR_DAY


@time_machine.travel("2026-03-02 09:00 +0700", tick=False)
def test_the_disbursement_day_asks_for_a_sunday(client, district_staff):
    client.force_login(district_staff)
    response = client.post(reverse("loans:disbursement_day"), {"on": "01/03/2026"})
    body = response.content.decode()
    assert "not a working day" in body and 'type="checkbox" name="confirm_non_working_day"' in body


@time_machine.travel("2026-04-29 09:00 +0700", tick=False)
def test_the_approval_queue_shows_the_banks_three_working_day_deadline(client, district_staff, group_a,
                                                                        ward_officer_a):
    from tests.factories import submitted_loan_list

    submitted_loan_list(group=group_a, submitted_by=ward_officer_a)  # submitted Wednesday 29/04/2026
    client.force_login(district_staff)
    body = client.get(reverse("loans:approval_queue")).content.decode()
    # 30/04 and 01/05 are holidays and 02–03/05 a weekend: the third working day is Wednesday 06/05.
    assert "06/05/2026" in body


def test_a_loan_use_check_deadline_on_a_sunday_moves_to_monday(household_a, group_a):
    from loans.selectors.checks import loan_use_todo
    from tests.factories import LoanFactory

    # Disbursed Friday 30/01/2026: thirty days later is Sunday 01/03/2026, so the check is due Monday 02/03.
    LoanFactory(household=household_a, group=group_a, disbursed_on=date(2026, 1, 30))
    todo = loan_use_todo(branch_ids=[group_a.branch_id], today=date(2026, 2, 10))
    assert [item.due_on for item in todo["new_loans"]] == [MONDAY]
