"""Today's map in every picker: after wards A and B form a new "Phường A" on 01/07/2026, pickers list today's units
once each, old ones only for a past date and labelled; moved neighbourhoods carry their former ward; the Front
reaches a ward's inspections, those of the branches merged into it included."""

import re
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from borrowers.forms import HouseholdForm
from loans.reports.forms import ReportScopeForm
from organizations.forms import GroupForm, InspectionForm, SupervisionFilterForm
from organizations.models import Inspection, Neighbourhood, Organization, Ward
from organizations.policy import SYSTEM
from organizations.selectors.scope import groups_for, wards_for
from organizations.services.mergers import wards_merge
from tests.factories import BranchFactory

pytestmark = [pytest.mark.today("2026-11-20"), pytest.mark.usefixtures("english")]

MERGED_ON = date(2026, 7, 1)


@pytest.fixture
def merged(household_a, household_b, ward_c, front, ward_officer_a, district_staff, front_supervisor):
    """Wards A and B, a "Khu phố 1" each and an inspection each before the merger, form a new "Phường A"; C stays."""
    BranchFactory(ward=ward_c, kind=household_a.branch.kind, parent=household_a.branch.parent)
    ward_a, ward_b = household_a.ward, household_b.ward
    Neighbourhood.objects.create(ward=ward_a, code="90000101", name="Khu phố 1")
    Neighbourhood.objects.create(ward=ward_b, code="90000201", name="Khu phố 1")
    branch_b, group_a = household_b.branch, household_a.memberships.get().group
    inspections = [
        Inspection.objects.create(inspected_on=date(2026, 3, 2), lead_unit=front, team_members="Đoàn MTTQ", recorded_by=front_supervisor,
                                  inspected_branch=branch_b),
        Inspection.objects.create(inspected_on=date(2026, 4, 6), lead_unit=front, team_members="Đoàn MTTQ", recorded_by=front_supervisor,
                                  inspected_group=group_a),
    ]
    merger = wards_merge(sources=[ward_a, ward_b], code=ward_a.code, name="Phường A", merged_on=MERGED_ON,
                         actor=SYSTEM)
    inspections.append(Inspection.objects.create(
        inspected_on=date(2026, 9, 7), lead_unit=front, team_members="Đoàn MTTQ", recorded_by=front_supervisor, inspected_group=group_a))
    ward_a.refresh_from_db()
    ward_b.refresh_from_db()
    users = get_user_model().objects.in_bulk([ward_officer_a.pk, district_staff.pk, front_supervisor.pk])
    return {"new": merger.ward, "old": [ward_a, ward_b], "ward_c": ward_c, "inspections": inspections,
            "officer": users[ward_officer_a.pk], "district": users[district_staff.pk],
            "front": users[front_supervisor.pk]}


def labels(field):
    """[(optgroup or "", label)] of a form field's choices, without the empty choice."""
    rows = []
    for value, label in field.choices:
        if isinstance(label, list | tuple):
            rows += [(value, inner) for _value, inner in label]
        elif value != "":
            rows.append(("", label))
    return rows


def options(html, name):
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", select)]


def assert_told_apart(rows):
    texts = [label for _group, label in rows]
    assert texts and len(texts) == len(set(texts)), texts


def test_pickers_list_todays_units_once(merged, client_for):
    officer, new = merged["officer"], merged["new"]
    household = HouseholdForm(groups=groups_for(officer))
    group = GroupForm(user=officer)
    scope = ReportScopeForm(user=merged["front"])
    inspection = InspectionForm(user=merged["front"])
    for field in (household.fields["neighbourhood"], group.fields["neighbourhood"], group.fields["branch"],
                  scope.fields["ward"], inspection.fields["inspected_branch"]):
        rows = labels(field)
        assert_told_apart(rows)
        assert all(group == "" and "until" not in label for group, label in rows), rows
    assert [label for _g, label in labels(scope.fields["ward"])] == ["Phường A", "Phường C"]
    assert {unit.ward_id for unit in group.fields["branch"].queryset} == {new.pk}

    front = client_for(merged["front"])
    page = front.get(reverse("organizations:group_list")).content.decode()
    assert options(page, "ward")[1:] == ["Phường A", "Phường C"]
    district = client_for(merged["district"])
    page = district.get(reverse("loans:disbursement_day")).content.decode()
    assert options(page, "ward")[1:] == ["Phường A", "Phường C"]


def test_repeated_names_are_told_apart(merged):
    """Two wards in being of one name (another area's, say) get their codes."""
    twin = Ward.objects.create(area=merged["ward_c"].area, code="900009", name="Phường A")
    BranchFactory(ward=twin, kind=Organization.Kind.FARMERS)
    form = ReportScopeForm(user=merged["front"])
    assert [label for _g, label in labels(form.fields["ward"])] == [
        f"Phường A – {merged['new'].code}", "Phường C", "Phường A – 900009"
    ]
    assert twin.pk in {w.pk for w in form.fields["ward"].queryset}


def test_old_units_only_with_a_past_date_and_labelled(merged):
    before = ReportScopeForm({"on": "01/06/2026"}, user=merged["front"])
    rows = labels(before.fields["ward"])
    assert rows[:2] == [("", "Phường A"), ("", "Phường C")]
    assert rows[2:] == [("Before the ward mergers", "Phường A (until 01/07/2026)"),
                        ("Before the ward mergers", "Phường B (until 01/07/2026)")]
    assert before.is_valid(), before.errors
    old_b = merged["old"][1]
    assert ReportScopeForm({"on": "01/06/2026", "ward": old_b.pk}, user=merged["front"]).is_valid()
    # Today (or after the merger) the old wards are neither offered nor accepted.
    after = ReportScopeForm({"on": "01/08/2026", "ward": old_b.pk}, user=merged["front"])
    assert not after.is_valid() and "ward" in after.errors
    assert all(group == "" for group, _label in labels(after.fields["ward"]))
    # The inspections list: a year before the merger ended offers them; the year of today's only through history.
    assert any("until" in label for _g, label in labels(
        SupervisionFilterForm({"year": "2026"}, wards=wards_for(merged["front"])).fields["ward"]))
    this_year = SupervisionFilterForm({"year": "2027"}, wards=wards_for(merged["front"])).fields["ward"]
    assert not any("until" in label for _g, label in labels(this_year))


def test_moved_neighbourhoods_carry_their_former_ward(merged):
    old_a, old_b = merged["old"]
    moved = {n.code: n for n in Neighbourhood.objects.select_related("ward", "former_ward")}
    assert moved["90000201"].former_ward == old_b and moved["90000201"].ward == merged["new"]
    form = HouseholdForm(groups=groups_for(merged["officer"]))
    assert [label for _g, label in labels(form.fields["neighbourhood"])] == [
        "Khu phố 1", "Khu phố 1 (former Phường B)"
    ]
    # Once an admin renames it, the name tells it apart by itself.
    renamed = moved["90000201"]
    renamed.name, renamed.former_ward = "Khu phố 6", None
    assert renamed.label == "Khu phố 6"


def test_admin_rename_drops_the_former_ward(merged, admin_user, client_for):
    neighbourhood = Neighbourhood.objects.get(code="90000201")
    url = reverse("admin:organizations_neighbourhood_change", args=[neighbourhood.pk])
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    response = client_for(admin_user).post(url, {"ward": merged["new"].pk, "code": "90000201", "name": "Khu phố 6",
                                                 "head_name": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    neighbourhood.refresh_from_db()
    assert (neighbourhood.name, neighbourhood.former_ward) == ("Khu phố 6", None)


def test_inspections_list_filters_by_ward_with_merged_branches(merged, client_for, django_assert_max_num_queries):
    front = client_for(merged["front"])
    url = reverse("organizations:supervision_inspections")
    by_ward = {}
    for ward in (merged["new"], *merged["old"], merged["ward_c"]):
        with django_assert_max_num_queries(20):
            page = front.get(url, {"year": 2026, "ward": ward.pk}).content.decode()
        by_ward[ward.pk] = {pk for pk in map(int, re.findall(r"/supervision/inspections/(\d+)/", page))}
    first, second, later = (inspection.pk for inspection in merged["inspections"])
    old_a, old_b = merged["old"]
    assert by_ward[merged["new"].pk] == {first, second, later}  # old B's branch and A's group, before and after
    assert by_ward[old_b.pk] == {first}
    assert by_ward[old_a.pk] == {second}  # the group was in old A then; its visit after the merger is the new ward's
    assert by_ward[merged["ward_c"].pk] == set()
    everything = front.get(url, {"year": 2026}).content.decode()
    assert {first, second, later} <= set(map(int, re.findall(r"/supervision/inspections/(\d+)/", everything)))


def test_ward_report_shows_its_latest_inspections(merged, client_for):
    front = client_for(merged["front"])
    page = front.get(reverse("loans:report_ward", args=[merged["new"].pk])).content.decode()
    table = re.search(r'data-testid="ward-inspections".*?</table>', page, re.S).group(0)
    linked = re.findall(r"/supervision/inspections/(\d+)/", table)
    assert linked == [str(i.pk) for i in reversed(merged["inspections"])]  # newest first
    for day in range(5):
        Inspection.objects.create(inspected_on=date(2026, 10, 1 + day), lead_unit=merged["inspections"][0].lead_unit,
                                  team_members="Đoàn", recorded_by=merged["front"], inspected_branch=merged["officer"].officer.organization)
    page = front.get(reverse("loans:report_ward", args=[merged["new"].pk])).content.decode()
    table = re.search(r'data-testid="ward-inspections".*?</table>', page, re.S).group(0)
    assert len(re.findall(r"/supervision/inspections/(\d+)/", table)) == 5
    other = front.get(reverse("loans:report_ward", args=[merged["ward_c"].pk])).content.decode()
    assert "Phường này chưa có cuộc kiểm tra nào." in other
