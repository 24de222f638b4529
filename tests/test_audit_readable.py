"""The change history reads as an officer speaks: labels, choice labels, Vietnamese numbers and dates, names that link;
request paths and ids only for admins (issue 16, finding 3)."""

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.text import capfirst

from organizations.audit import audit_bulk, audit_context
from organizations.selectors.audit import readable_history
from tests.factories import LoanFactory


@pytest.fixture(autouse=True)
def keep_language():
    """Pages asked for in English switch this thread's language; the next test starts from the language it had."""
    with translation.override(translation.get_language()):
        yield

ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(T|\s\d{2}:)")


def edit_through_a_request(household, user, **values):
    request = RequestFactory().post(f"/households/{household.pk}/edit/")
    request.user = user
    with audit_context(request=request):
        for name, value in values.items():
            setattr(household, name, value)
        household.save()


def history_html(client, household):
    url = reverse("borrowers:household_detail", args=[household.pk])
    client.cookies["django_language"] = "en"
    body = client.get(url).content.decode()
    start = body.index('data-testid="audit-history"')
    return body[start:]


@pytest.fixture
def changed_household(household_a, ward_officer_a, group_b):
    edit_through_a_request(household_a, ward_officer_a, head_name="Nguyễn Thị Ánh Hồng", birth_year=1985,
                           policy_status="near_poor", savings_balance=1_500_000)
    return household_a


def test_ward_officer_reads_labels_and_values_not_field_names(client_for, ward_officer_a, changed_household):
    html = history_html(client_for(ward_officer_a), changed_household)
    assert "Head of household" in html and "Nguyễn Thị Ánh Hồng" in html
    assert "head_name" not in html and "branch_id" not in html and "policy_status" not in html
    assert "Policy status" in html and "Near-poor household" in html and "near_poor" not in html
    assert "1985" in html and "1.985" not in html and "1,985" not in html
    assert "1.500.000 ₫" in html


def test_foreign_keys_show_names_and_no_ids_or_timestamps(client_for, ward_officer_a, changed_household):
    html = history_html(client_for(ward_officer_a), changed_household)
    assert escape(str(changed_household.branch)) in html and escape(str(changed_household.ward)) in html
    assert not ISO_TIMESTAMP.search(html), ISO_TIMESTAMP.search(html).group(0)
    assert "POST /households" not in html
    assert "<code>" not in html


def test_admin_also_sees_the_request_and_the_id(client_for, admin_user, changed_household):
    html = history_html(client_for(admin_user), changed_household)
    assert f"POST /households/{changed_household.pk}/edit/" in html
    assert 'data-testid="audit-source"' in html


def test_dates_and_datetimes_are_dd_mm_yyyy(household_a, ward_officer_a, english):
    entries = readable_history(household_a, ward_officer_a)
    created = entries[-1]
    texts = {c.label: c.after.text for c in created.changes}
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", texts["Created at"])
    assert texts["Year of the ward's list"] == "2025"


def test_a_household_the_viewer_may_open_is_a_link_and_one_out_of_scope_is_only_a_name(
    household_a, ward_officer_a, ward_officer_b, district_staff, farmers_district_staff, admin_user, english
):
    loan = LoanFactory(household=household_a)
    by_household = {
        user.username: next(c for c in readable_history(loan, user)[-1].changes if c.label == "Household")
        for user in (ward_officer_a, ward_officer_b, district_staff, farmers_district_staff, admin_user)
    }
    url = reverse("borrowers:household_detail", args=[household_a.pk])
    assert by_household["ward_a"].after.text == str(household_a) and by_household["ward_a"].after.url == url
    assert by_household["district"].after.url == url and by_household["admin"].after.url == url
    assert by_household["farmers_district"].after.url == ""
    assert by_household["ward_b"].after.text == str(household_a) and by_household["ward_b"].after.url == ""


def test_citizen_ids_are_masked_for_roles_that_do_not_work_with_households(household_a, district_staff,
                                                                            ward_officer_a, english):
    full = household_a.citizen_id
    officer_view = {c.label: c.after.text for c in readable_history(household_a, ward_officer_a)[-1].changes}
    district_view = {c.label: c.after.text for c in readable_history(household_a, district_staff)[-1].changes}
    assert officer_view["Citizen ID (CCCD)"] == full
    assert district_view["Citizen ID (CCCD)"] != full and "*" in district_view["Citizen ID (CCCD)"]


def test_bulk_rows_show_a_count_and_keep_ids_for_admins(household_a, household_b, ward_officer_a, admin_user,
                                                       english):
    audit_bulk(type(household_a), objects=[household_a, household_b], note="seed_demo")
    # A bulk row is about the model, not one object; read it through the same presenter.
    from organizations.models import AuditEvent
    from organizations.selectors.audit import _Presenter

    event = AuditEvent.objects.get(action="bulk_create")
    officer_entry = _Presenter(ward_officer_a, [event]).entry(event)
    admin_entry = _Presenter(admin_user, [event]).entry(event)
    assert [(c.label, c.after.text) for c in officer_entry.changes] == [("Number of records", "2")]
    assert any(c.label == "ids" for c in admin_entry.changes)


def test_history_reads_in_vietnamese_with_vietnamese_numbers(household_a, ward_officer_a):
    edit_through_a_request(household_a, ward_officer_a, members=1200)
    with translation.override("vi"):
        entry = readable_history(household_a, ward_officer_a)[0]
        members = next(c for c in entry.changes if c.after.text == "1.200")
    assert members.before.text == "1"


def test_rates_keep_only_their_meaningful_decimals(household_a, ward_officer_a):
    loan = LoanFactory(household=household_a, annual_rate="6.600")
    with translation.override("vi"):
        created = {c.label: c.after.text for c in readable_history(loan, ward_officer_a)[-1].changes}
        label = capfirst(str(type(loan)._meta.get_field("annual_rate").verbose_name))
    assert created[label] == "6,6"
