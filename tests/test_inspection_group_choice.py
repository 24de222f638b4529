"""The inspection form lists groups under their ward branch, only those in the recorder's scope."""

import pytest

from organizations.forms import InspectionForm
from tests.factories import SavingsGroupFactory

pytestmark = pytest.mark.django_db


def test_groups_come_under_one_heading_per_ward_branch(front_supervisor, group_a, group_b, branch_a):
    second = SavingsGroupFactory(branch=branch_a)
    choices = list(InspectionForm(user=front_supervisor).fields["inspected_group"].choices)
    headings = [heading for heading, _options in choices[1:]]
    assert headings == [str(group_a.branch), str(group_b.branch)]
    assert sorted(int(str(value)) for value, _label in choices[1][1]) == sorted([group_a.pk, second.pk])
    html = InspectionForm(user=front_supervisor)["inspected_group"].as_widget()
    assert "<optgroup" in html and "data-filter" in html


def test_a_district_officer_sees_only_the_groups_in_scope(farmers_district_staff, group_a):
    choices = list(InspectionForm(user=farmers_district_staff).fields["inspected_group"].choices)
    assert choices[1:] == []
