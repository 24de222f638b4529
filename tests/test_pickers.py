"""Ward and group pickers that search as the user types: the select keeps its choices (it works without
JavaScript) and carries the URL of its suggestions; the suggestions are scoped like the choices, match names
without accents and codes by their start, are few, and cost a bounded number of queries."""

import re
from datetime import date

import pytest
from django.urls import reverse

from borrowers.forms import HouseholdFilterForm
from loans.reports.forms import ReportScopeForm
from organizations.forms import SupervisionFilterForm
from organizations.pickers import LIMIT, SearchSelect, group_suggestions, ward_suggestions
from organizations.policy import SYSTEM
from organizations.selectors.scope import groups_for, wards_for
from organizations.services.mergers import wards_merge
from tests.factories import SavingsGroupFactory

pytestmark = [pytest.mark.today("2026-11-20"), pytest.mark.usefixtures("english")]


def options(response):
    """[(id, label)] of the suggestions in a picker's answer."""
    html = response.content.decode()
    return [(int(value), label) for value, label in re.findall(r'data-value="(\d+)"[^>]*>([^<]*)</li>', html)]


def test_the_report_ward_filter_is_a_select_with_its_suggestions_url(front_supervisor, ward_a, ward_b, branch_a,
                                                                     branch_b):
    form = ReportScopeForm(user=front_supervisor)
    html = str(form["ward"])
    assert html.startswith("<select") and f'data-picker-url="{reverse("organizations:picker_wards")}"' in html
    assert f'value="{ward_a.pk}"' in html and f'value="{ward_b.pk}"' in html  # still a working select
    assert isinstance(form.fields["ward"].widget, SearchSelect)
    # A past date asks for the wards in being then; the class-level widget is not changed for the next form.
    past = ReportScopeForm({"on": "10/02/2026"}, user=front_supervisor)
    assert "on=2026-02-10" in str(past["ward"]) and "on=" not in str(ReportScopeForm(user=front_supervisor)["ward"])


def test_the_households_group_filter_is_a_picker(ward_officer_a, group_a):
    form = HouseholdFilterForm(groups=groups_for(ward_officer_a))
    html = str(form["group"])
    assert reverse("organizations:picker_groups") in html and f'value="{group_a.pk}"' in html


def test_ward_suggestions_match_names_without_accents_and_codes_by_their_start(client, front_supervisor, ward_a,
                                                                            ward_b, branch_a, branch_b):
    client.force_login(front_supervisor)
    url = reverse("organizations:picker_wards")
    assert options(client.get(url, {"q": "phuong b"})) == [(ward_b.pk, "Phường B")]
    assert options(client.get(url, {"q": "900001"})) == [(ward_a.pk, "Phường A")]
    assert {pk for pk, _label in options(client.get(url, {"q": ""}))} == {ward_a.pk, ward_b.pk}
    empty = client.get(url, {"q": "zzz"})
    assert options(empty) == [] and "data-empty" in empty.content.decode()
    assert 'role="option"' in client.get(url, {"q": "a"}).content.decode()


def test_ward_suggestions_are_scoped_to_the_user(client, ward_officer_a, ward_a, ward_b, branch_b):
    client.force_login(ward_officer_a)
    found = options(client.get(reverse("organizations:picker_wards"), {"q": "phuong"}))
    assert found == [(ward_a.pk, "Phường A")]


def test_old_wards_are_suggested_only_for_a_past_date(front_supervisor, household_a, household_b):
    ward_a, ward_b = household_a.ward, household_b.ward
    merger = wards_merge(sources=[ward_a, ward_b], code="900009", name="Phường Mới", merged_on=date(2026, 7, 1),
                         actor=SYSTEM)
    today = dict(ward_suggestions(front_supervisor, "phuong"))
    assert set(today) == {merger.ward.pk}
    then = dict(ward_suggestions(front_supervisor, "phuong", on=date(2026, 3, 1)))
    assert {ward_a.pk, ward_b.pk} <= set(then)
    assert "01/07/2026" in then[ward_a.pk]  # labelled with the date it ceased


def test_group_suggestions_by_code_name_and_ward_within_scope(client, ward_officer_a, group_a, group_b):
    client.force_login(ward_officer_a)
    url = reverse("organizations:picker_groups")
    assert options(client.get(url, {"q": "8100"})) == [(group_a.pk, f"8100001 – Tổ A1 ({group_a.branch.ward.name})")]
    assert [pk for pk, _ in options(client.get(url, {"q": "to a1"}))] == [group_a.pk]
    assert options(client.get(url, {"q": "tổ b1"})) == []  # another ward's group
    assert [pk for pk, _ in options(client.get(url, {"q": "phuong a"}))] == [group_a.pk]


def test_group_suggestions_are_few_and_cost_a_bounded_number_of_queries(
    client, front_supervisor, branch_a, django_assert_max_num_queries
):
    SavingsGroupFactory.create_batch(LIMIT + 15, branch=branch_a)
    assert len(group_suggestions(front_supervisor, "")) == LIMIT
    client.force_login(front_supervisor)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("organizations:picker_groups"), {"q": ""})
    assert len(options(response)) == LIMIT


def test_the_suggestions_are_read_only_and_need_a_login(client, front_supervisor):
    url = reverse("organizations:picker_wards")
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(front_supervisor)
    assert client.post(url).status_code == 405
    assert client.get(url, {"on": "not a date", "q": "x" * 500}).status_code == 200
    assert client.get(url, {"on": "2999-01-01"}).status_code == 200


def test_the_chosen_id_is_what_the_filter_submits(client, front_supervisor, ward_a, ward_b, branch_a, branch_b):
    client.force_login(front_supervisor)
    page = client.get(reverse("organizations:home"), {"ward": ward_b.pk})
    assert page.context["form"].cleaned_data["ward"] == ward_b
    assert re.search(rf'<option value="{ward_b.pk}" selected>', page.content.decode())


def test_the_group_list_ward_filter_suggests_ward_codes(client, front_supervisor, ward_a, branch_a, branch_b):
    client.force_login(front_supervisor)
    page = client.get(reverse("organizations:group_list")).content.decode()
    assert f'data-picker-url="{reverse("organizations:picker_wards")}?value=code"' in page
    found = options(client.get(reverse("organizations:picker_wards"), {"q": "phuong a", "value": "code"}))
    assert found == [(int(ward_a.code), "Phường A")]



def test_the_inspections_ward_filter_is_a_picker_that_asks_for_the_years_wards(front_supervisor, ward_a, branch_a):
    form = SupervisionFilterForm({"year": "2025"}, wards=wards_for(front_supervisor))
    html = str(form["ward"])
    assert reverse("organizations:picker_wards") in html and "on=2025-01-01" in html and f'value="{ward_a.pk}"' in html
