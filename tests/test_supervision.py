"""The supervision record: inspections with 16/TD findings, classes, outreach, agreements, economic models, awards."""

import io
from datetime import date

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from openpyxl import load_workbook

from organizations.errors import DomainError
from organizations.models import (
    Award,
    ChecklistItem,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    InspectionFinding,
    Organization,
    TrainingClass,
)
from organizations.selectors.supervision import supervision_summary
from organizations.services.supervision import (
    agreement_record,
    award_record,
    economic_model_record,
    inspection_record,
    outreach_session_record,
    training_class_record,
)
from tests.factories import HouseholdFactory, SavingsGroupFactory, UserFactory

TODAY = date(2026, 11, 20)
pytestmark = pytest.mark.django_db


def ensure_checklist():
    """The checklist comes with a data migration; tests that flush the database (browser tests) remove it."""
    from django.apps import apps

    from organizations.defaults import install_checklist

    install_checklist(apps.get_model("organizations", "ChecklistItem"))


@pytest.fixture(autouse=True)
def frozen_today():
    ensure_checklist()
    with time_machine.travel("2026-11-20 09:00 +07:00", tick=False):
        yield


def items():
    return list(ChecklistItem.objects.order_by("position"))


def findings(*results):
    """findings("ok", "not_ok") -> [(item1, "ok", ""), (item2, "not_ok", "…")]."""
    return [
        (item, result, "" if result == "ok" else "Thiếu biên bản họp tổ")
        for item, result in zip(items(), results, strict=False)
    ]


def inspect(actor, *, lead_unit, group=None, branch=None, on=date(2026, 10, 1), results=("ok", "ok"), **extra):
    kwargs = {
        "recommendations": "",
        "follow_up_status": Inspection.FollowUp.DONE,
        "follow_up_deadline": None,
    }
    kwargs.update(extra)
    return inspection_record(
        actor=actor, inspected_on=on, lead_unit=lead_unit, team_members="Trần Văn A (trưởng đoàn)",
        inspected_branch=branch, inspected_group=group, findings=findings(*results), **kwargs,
    )


def training(actor, unit, *, on=date(2026, 5, 4), participants=40, attendances=120):
    return training_class_record(
        actor=actor,
        values={"held_on": on, "topic": "Nghiệp vụ ủy thác", "organization": unit,
                "participants": participants, "attendances": attendances},
    )


def outreach(actor, unit, *, on=date(2026, 6, 1), audience=60):
    return outreach_session_record(
        actor=actor,
        values={"held_on": on, "topic": "Vay vốn giải quyết việc làm", "organization": unit, "place": "",
                "audience": audience},
    )


def agreement(actor, branch, *, reference="01/TT", signed_on=date(2024, 3, 1), terminated_on=None, record=None):
    return agreement_record(
        actor=actor,
        agreement=record,
        values={"branch": branch, "reference": reference, "signed_on": signed_on, "valid_until": date(2028, 12, 31),
                "terminated_on": terminated_on, "note": ""},
    )


def award(actor, unit, *, person_name="", on=date(2026, 9, 2)):
    return award_record(
        actor=actor,
        values={"awarded_on": on, "organization": unit, "person_name": person_name, "level": Award.Level.AREA,
                "title": "Giấy khen", "reason": "Làm tốt công tác ủy thác"},
    )


# --- The checklist and the database rules --------------------------------------------------------------------------


def test_the_16td_checklist_ships_as_data():
    codes = list(ChecklistItem.objects.values_list("code", flat=True))
    for code in ("group_meetings", "minutes_kept", "list_03td", "loan_use_checked", "collections_on_schedule",
                 "savings_recorded", "leader_records"):
        assert code in codes


def test_database_refuses_an_inspection_of_both_or_neither_unit(front_supervisor, front, group_a, branch_a):
    for branch, group in ((branch_a, group_a), (None, None)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Inspection.objects.create(inspected_on=TODAY, lead_unit=front, team_members="A",
                                      recorded_by=front_supervisor, inspected_branch=branch, inspected_group=group)


def test_database_rules_of_findings_classes_agreements_awards(front_supervisor, front, group_a, branch_a):
    inspection = inspect(front_supervisor, lead_unit=front, group=group_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        InspectionFinding.objects.create(inspection=inspection, item=items()[5], result="not_ok", note="")
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingClass.objects.create(held_on=TODAY, topic="T", organization=branch_a, participants=10, attendances=9,
                                     recorded_by=front_supervisor)
    CooperationAgreement.objects.create(branch=branch_a, reference="1", signed_on=TODAY, recorded_by=front_supervisor)
    with pytest.raises(IntegrityError), transaction.atomic():
        CooperationAgreement.objects.create(branch=branch_a, reference="2", signed_on=TODAY,
                                            recorded_by=front_supervisor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Award.objects.create(awarded_on=TODAY, organization=branch_a, level="area", title="X", reason="",
                             recorded_by=front_supervisor)


# --- Services ------------------------------------------------------------------------------------------------------


def test_front_supervisor_records_an_inspection_with_findings(front_supervisor, front, group_a):
    inspection = inspect(
        front_supervisor, lead_unit=front, group=group_a, results=("ok", "not_ok", "ok"),
        recommendations="Bổ sung biên bản họp tổ", follow_up_status="open", follow_up_deadline=date(2026, 11, 1),
    )
    assert inspection.recorded_by == front_supervisor
    assert inspection.inspected_unit == group_a
    assert inspection.inspected_branch_of_unit == group_a.branch
    assert [f.result for f in inspection.findings.all()] == ["ok", "not_ok", "ok"]
    assert inspection.is_overdue(TODAY)
    assert not inspection.is_overdue(date(2026, 10, 31))


def test_correcting_an_inspection_replaces_its_findings(front_supervisor, front, group_a):
    inspection = inspect(front_supervisor, lead_unit=front, group=group_a, results=("ok", "ok", "ok"))
    inspect(front_supervisor, lead_unit=front, group=group_a, results=("ok",), inspection=inspection)
    assert inspection.findings.count() == 1
    assert Inspection.objects.count() == 1


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"results": ()}, "ít nhất một nội dung kiểm tra"),
        ({"results": ("not_ok",)}, "viết kiến nghị"),
        ({"results": ("not_ok",), "recommendations": "Khắc phục", "follow_up_status": "open"}, "Nhập hạn khắc phục"),
        ({"follow_up_deadline": date(2026, 9, 1)}, "trước ngày kiểm tra"),
    ],
)
def test_inspection_refusals(front_supervisor, front, group_a, changes, message):
    with pytest.raises(DomainError, match=message):
        inspect(front_supervisor, lead_unit=front, group=group_a, **changes)
    assert not Inspection.objects.exists()


def test_an_unsatisfactory_item_needs_a_note(front_supervisor, front, group_a):
    with pytest.raises(DomainError, match="Ghi rõ nội dung chưa đạt"):
        inspection_record(
            actor=front_supervisor, inspected_on=TODAY, lead_unit=front, team_members="A", inspected_branch=None,
            inspected_group=group_a, findings=[(items()[0], "not_ok", " ")], recommendations="R",
            follow_up_deadline=TODAY,
        )


def test_inspections_stay_within_the_recorders_scope(farmers_district_staff, ward_officer_a, district_staff,
                                                     front, group_a, branch_a, women_district):
    # Farmers' staff cannot inspect a Women's Union group, nor lead as the Front.
    with pytest.raises(DomainError, match="Tổ TK&VV này nằm ngoài"):
        inspect(farmers_district_staff, lead_unit=farmers_district_staff.officer.organization, group=group_a)
    with pytest.raises(DomainError, match="Đơn vị này nằm ngoài"):
        inspect(district_staff, lead_unit=front, group=group_a)
    with pytest.raises(DomainError, match="không có quyền ghi"):
        inspect(ward_officer_a, lead_unit=branch_a, group=group_a)
    inspection = inspect(district_staff, lead_unit=women_district, branch=branch_a)
    assert inspection.inspected_unit == branch_a


def test_training_class_rules(ward_officer_a, ward_officer_b, front_supervisor, branch_a):
    record = training(ward_officer_a, branch_a)
    assert (record.participants, record.attendances, record.recorded_by) == (40, 120, ward_officer_a)
    with pytest.raises(DomainError, match="ít hơn số học viên"):
        training(ward_officer_a, branch_a, participants=50, attendances=49)
    with pytest.raises(DomainError, match="ngoài phạm vi"):
        training(ward_officer_b, branch_a)
    with pytest.raises(DomainError, match="không có quyền ghi"):
        training(front_supervisor, branch_a)
    assert TrainingClass.objects.count() == 1


def test_outreach_needs_an_audience(ward_officer_a, branch_a):
    with pytest.raises(DomainError):
        outreach(ward_officer_a, branch_a, audience=0)
    assert outreach(ward_officer_a, branch_a).audience == 60


def test_one_agreement_in_force_per_branch(district_staff, branch_a, ward_officer_a):
    first = agreement(district_staff, branch_a)
    with pytest.raises(DomainError, match="đang có văn bản thỏa thuận 01/TT còn hiệu lực"):
        agreement(district_staff, branch_a, reference="02/TT")
    agreement(district_staff, branch_a, reference="01/TT", terminated_on=date(2026, 1, 31), record=first)
    second = agreement(district_staff, branch_a, reference="02/TT", signed_on=date(2026, 2, 1))
    assert list(CooperationAgreement.objects.filter(terminated_on__isnull=True)) == [second]
    with pytest.raises(DomainError, match="không có quyền ghi"):
        agreement(ward_officer_a, branch_a, reference="03/TT")
    with pytest.raises(DomainError):
        agreement(district_staff, branch_a, reference="04/TT", signed_on=date(2026, 3, 1),
                  terminated_on=date(2026, 2, 1))


def test_economic_model_households_belong_to_its_unit(district_staff, branch_a, branch_b, household_a, household_b):
    values = {"name": "Nuôi gà thả vườn", "organization": branch_a, "description": "", "started_on": date(2026, 4, 1)}
    with pytest.raises(DomainError, match="Trần Văn Bình không do"):
        economic_model_record(actor=district_staff, values=values, households=[household_a, household_b])
    model = economic_model_record(actor=district_staff, values=values, households=[household_a])
    assert list(model.households.all()) == [household_a]
    # The district body's model may gather households of all its branches.
    values["organization"] = branch_a.parent
    model = economic_model_record(actor=district_staff, values=values, households=[household_a, household_b])
    assert model.households.count() == 2


def test_awards_go_to_a_unit_or_a_person(district_staff, branch_a, ward_officer_a):
    assert award(district_staff, branch_a).recipient == branch_a.name
    assert award(district_staff, branch_a, person_name="Nguyễn Thị Hoa").recipient == "Nguyễn Thị Hoa"
    with pytest.raises(DomainError, match="không có quyền ghi"):
        award(ward_officer_a, branch_a)


# --- Yearly summary ------------------------------------------------------------------------------------------------


@pytest.fixture
def year_of_work(front_supervisor, district_staff, ward_officer_a, front, women_district, branch_a, branch_b, group_a,
                 group_b, household_a):
    inspect(front_supervisor, lead_unit=front, group=group_a)
    inspect(front_supervisor, lead_unit=front, group=group_b, results=("not_ok",), recommendations="R",
            follow_up_status="open", follow_up_deadline=date(2026, 10, 15))
    inspect(front_supervisor, lead_unit=front, group=group_a, on=date(2025, 6, 1))  # another year
    inspect(district_staff, lead_unit=women_district, branch=branch_b)
    training(ward_officer_a, branch_a, participants=100, attendances=400)
    training(district_staff, women_district, participants=200, attendances=600)
    training(district_staff, women_district, on=date(2025, 12, 31))
    outreach(ward_officer_a, branch_a, audience=70)
    outreach(district_staff, branch_b, audience=30)
    agreement(district_staff, branch_a, signed_on=date(2023, 5, 1))
    agreement(district_staff, branch_b, signed_on=date(2022, 5, 1), terminated_on=date(2025, 12, 31))
    economic_model_record(
        actor=district_staff, households=[household_a],
        values={"name": "May gia công", "organization": branch_a, "description": "", "started_on": date(2026, 3, 1)},
    )
    award(district_staff, branch_a)
    award(district_staff, branch_b, person_name="Lê Thị Quận", on=date(2025, 1, 5))


def row_of(rows, kind):
    return next(row for row in rows if row["kind"] == kind)


def test_yearly_summary_per_organization(year_of_work, front_supervisor):
    rows, totals = supervision_summary(front_supervisor, 2026)
    front_row, women = row_of(rows, Organization.Kind.FRONT), row_of(rows, Organization.Kind.WOMEN)
    assert (front_row["inspections"], front_row["groups_inspected"], front_row["follow_ups_overdue"]) == (2, 2, 1)
    assert women["inspections"] == 1
    assert (women["classes"], women["participants"], women["attendances"]) == (2, 300, 1000)
    assert (women["outreach"], women["audience"]) == (2, 100)
    # Branch B's agreement ended on 31/12/2025: in 2026 one ward of two is covered.
    assert (women["wards_with_agreement"], women["wards"]) == (1, 2)
    assert (women["models"], women["model_households"], women["awards"]) == (1, 1, 1)
    assert totals["inspections"] == 3 and totals["classes"] == 2
    last_year = row_of(supervision_summary(front_supervisor, 2025)[0], Organization.Kind.WOMEN)
    assert (last_year["classes"], last_year["wards_with_agreement"], last_year["awards"]) == (1, 2, 1)


def test_yearly_summary_is_scoped_and_filtered(year_of_work, ward_officer_a, front_supervisor):
    women = row_of(supervision_summary(ward_officer_a, 2026)[0], Organization.Kind.WOMEN)
    # Ward A's own branch only: its class and session, its agreement, no inspection led by it.
    assert (women["classes"], women["attendances"], women["outreach"]) == (1, 400, 1)
    assert (women["wards_with_agreement"], women["wards"], women["inspections"]) == (1, 1, 0)
    rows, totals = supervision_summary(front_supervisor, 2026, kind=Organization.Kind.WOMEN)
    assert [row["kind"] for row in rows] == [Organization.Kind.WOMEN]
    assert totals["inspections"] == 1


def test_summary_uses_a_fixed_number_of_queries(year_of_work, front_supervisor, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        supervision_summary(front_supervisor, 2026)


# --- Pages ---------------------------------------------------------------------------------------------------------


def url(name, *args, **query):
    from urllib.parse import urlencode

    return reverse(f"organizations:{name}", args=args) + (f"?{urlencode(query)}" if query else "")


def test_inspection_list_highlights_overdue_follow_ups(year_of_work, client_for, front_supervisor):
    response = client_for(front_supervisor).get(url("supervision_inspections"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="inspection-row"') == 3
    assert html.count("table-danger overdue") == 1
    assert 'data-testid="overdue-badge"' in html
    only_overdue = client_for(front_supervisor).get(url("supervision_inspections", overdue=1))
    assert only_overdue.content.decode().count('data-testid="inspection-row"') == 1
    last_year = client_for(front_supervisor).get(url("supervision_inspections", year=2025))
    assert last_year.content.decode().count('data-testid="inspection-row"') == 1
    women = client_for(front_supervisor).get(url("supervision_inspections", org=Organization.Kind.WOMEN))
    assert women.content.decode().count('data-testid="inspection-row"') == 1


def test_front_supervisor_records_an_inspection_through_the_form(client_for, front_supervisor, front, group_a):
    first, second = items()[:2]
    data = {
        "inspected_on": "15/11/2026", "lead_unit": front.pk, "team_members": "Trần Văn A – trưởng đoàn",
        "inspected_group": group_a.pk, "inspected_branch": "", "recommendations": "Bổ sung biên bản",
        "follow_up_status": "open", "follow_up_deadline": "30/11/2026",
        f"item_{first.pk}": "ok", f"item_{second.pk}": "not_ok", f"note_{second.pk}": "Thiếu biên bản tháng 9",
    }
    response = client_for(front_supervisor).post(url("supervision_inspections_new"), data)
    inspection = Inspection.objects.get()
    assert response.status_code == 302 and response["Location"] == url("inspection_detail", inspection.pk)
    assert inspection.inspected_on == date(2026, 11, 15) and inspection.follow_up_deadline == date(2026, 11, 30)
    assert {(f.item_id, f.result, f.note) for f in inspection.findings.all()} == {
        (first.pk, "ok", ""), (second.pk, "not_ok", "Thiếu biên bản tháng 9")
    }
    detail = client_for(front_supervisor).get(url("inspection_detail", inspection.pk))
    assert "Thiếu biên bản tháng 9" in detail.content.decode()


def test_inspection_form_errors_are_vietnamese_and_keep_the_input(client_for, front_supervisor, front, group_a):
    second = items()[1]
    data = {
        "inspected_on": "31/02/2026", "lead_unit": front.pk, "team_members": "Đoàn kiểm tra MTTQ",
        "inspected_group": group_a.pk, "follow_up_status": "open", f"item_{second.pk}": "not_ok",
    }
    response = client_for(front_supervisor).post(url("supervision_inspections_new"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nhập ngày theo dạng dd/mm/yyyy." in html
    assert "Ghi rõ nội dung chưa đạt." in html
    assert "Đoàn kiểm tra MTTQ" in html
    assert not Inspection.objects.exists()


def test_a_domain_refusal_becomes_a_form_error(client_for, front_supervisor, front, group_a):
    second = items()[1]
    data = {
        "inspected_on": "15/11/2026", "lead_unit": front.pk, "team_members": "Đoàn kiểm tra",
        "inspected_group": group_a.pk, "follow_up_status": "open", f"item_{second.pk}": "not_ok",
        f"note_{second.pk}": "Chưa họp", "recommendations": "",
    }
    response = client_for(front_supervisor).post(url("supervision_inspections_new"), data)
    assert response.status_code == 200
    assert "viết kiến nghị" in response.content.decode()
    assert not Inspection.objects.exists()


def test_ward_officer_records_a_training_class(client_for, ward_officer_a, branch_a):
    data = {"held_on": "04/05/2026", "topic": "Kỹ năng tổ trưởng", "organization": branch_a.pk,
            "participants": "35", "attendances": "70"}
    response = client_for(ward_officer_a).post(url("supervision_training_new"), data)
    assert response.status_code == 302 and response["Location"] == url("supervision_training")
    record = TrainingClass.objects.get()
    assert (record.held_on, record.attendances, record.organization) == (date(2026, 5, 4), 70, branch_a)
    data["attendances"] = "20"
    response = client_for(ward_officer_a).post(url("supervision_training_edit", record.pk), data)
    assert "Số lượt tham dự không thể ít hơn số học viên." in response.content.decode()
    record.refresh_from_db()
    assert record.attendances == 70


def test_district_staff_edits_an_agreement_and_the_one_in_force_rule_shows(client_for, district_staff, branch_a):
    first = agreement(district_staff, branch_a)
    data = {"branch": branch_a.pk, "reference": "02/TT", "signed_on": "01/02/2026", "valid_until": "",
            "terminated_on": "", "note": ""}
    response = client_for(district_staff).post(url("supervision_agreements_new"), data)
    assert response.status_code == 200
    assert "01/TT" in response.content.decode() and CooperationAgreement.objects.count() == 1
    edit = dict(data, reference="01/TT", signed_on="01/03/2024", terminated_on="31/01/2026")
    response = client_for(district_staff).post(url("supervision_agreements_edit", first.pk), edit)
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.terminated_on == date(2026, 1, 31)
    assert client_for(district_staff).post(url("supervision_agreements_new"), data).status_code == 302


def test_economic_model_and_award_pages(client_for, district_staff, branch_a, household_a):
    data = {"name": "May gia công", "organization": branch_a.pk, "started_on": "01/03/2026", "description": "",
            "households": [household_a.pk]}
    assert client_for(district_staff).post(url("supervision_models_new"), data).status_code == 302
    assert list(EconomicModel.objects.get().households.all()) == [household_a]
    data = {"awarded_on": "02/09/2026", "organization": branch_a.pk, "person_name": "", "level": "area",
            "title": "Giấy khen", "reason": "Làm tốt"}
    assert client_for(district_staff).post(url("supervision_awards_new"), data).status_code == 302
    page = client_for(district_staff).get(url("supervision_awards")).content.decode()
    assert "Giấy khen" in page and branch_a.name in page


def test_form_choices_offer_only_units_and_households_in_scope(client_for, ward_officer_a, district_staff, branch_a,
                                                                farmers_branch_a, household_a, household_b, group_a):
    farmers_group = SavingsGroupFactory(branch=farmers_branch_a)
    farmers_household = HouseholdFactory(group=farmers_group)
    form = client_for(ward_officer_a).get(url("supervision_training_new")).context["form"]
    assert list(form.fields["organization"].queryset) == [branch_a]
    form = client_for(district_staff).get(url("supervision_inspections_new")).context["form"]
    assert farmers_group not in form.fields["inspected_group"].queryset
    assert group_a in form.fields["inspected_group"].queryset
    assert farmers_branch_a not in form.fields["inspected_branch"].queryset
    form = client_for(district_staff).get(url("supervision_models_new")).context["form"]
    households = set(form.fields["households"].queryset)
    assert {household_a, household_b} <= households and farmers_household not in households
    # An out-of-scope id posted anyway is refused by the form.
    data = {"name": "X", "organization": branch_a.pk, "started_on": "01/03/2026", "households": [farmers_household.pk]}
    response = client_for(district_staff).post(url("supervision_models_new"), data)
    assert response.status_code == 200 and not EconomicModel.objects.exists()


def test_summary_page_and_xlsx(year_of_work, client_for, front_supervisor):
    response = client_for(front_supervisor).get(url("supervision_summary", year=2026))
    assert response.status_code == 200
    women = next(r for r in response.context["rows"] if r["kind"] == Organization.Kind.WOMEN)
    assert women["attendances"] == 1000
    assert "1 trên 2 phường" in response.content.decode()
    download = client_for(front_supervisor).get(url("supervision_summary_xlsx", year=2026))
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(download.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "Kết quả kiểm tra, giám sát của Mặt trận và các tổ chức chính trị – xã hội"
    header = next(row for row in rows if row[0] == "Tổ chức hội")
    women_row = next(row for row in rows if row[0] == str(Organization.Kind.WOMEN.label))
    assert women_row[header.index("Lượt tham dự")] == 1000
    assert rows[-1][0] == "Tổng cộng" and rows[-1][header.index("Số cuộc kiểm tra chủ trì")] == 3


# --- Permissions: wrong method, wrong role, wrong ward -------------------------------------------------------------


@pytest.mark.parametrize("name", ["supervision_summary", "supervision_inspections", "supervision_training",
                                  "supervision_summary_xlsx"])
def test_read_pages_refuse_post(client_for, front_supervisor, name):
    assert client_for(front_supervisor).post(url(name)).status_code == 405


def test_form_pages_refuse_other_methods(client_for, front_supervisor, district_staff, branch_a):
    assert client_for(front_supervisor).put(url("supervision_inspections_new")).status_code == 405
    record = training(district_staff, branch_a)
    assert client_for(district_staff).delete(url("supervision_training_edit", record.pk)).status_code == 405


def test_read_only_roles_get_403_on_changes(client_for, ward_officer_a, front_supervisor, district_staff, branch_a):
    record = training(district_staff, branch_a)
    assert client_for(ward_officer_a).get(url("supervision_inspections_new")).status_code == 403
    assert client_for(ward_officer_a).get(url("supervision_agreements_new")).status_code == 403
    assert client_for(front_supervisor).get(url("supervision_training_new")).status_code == 403
    assert client_for(front_supervisor).post(url("supervision_training_edit", record.pk), {}).status_code == 403
    assert client_for(front_supervisor).get(url("supervision_awards_new")).status_code == 403
    nobody = UserFactory(username="no_profile")
    nobody.save()
    assert client_for(nobody).get(url("supervision_summary")).status_code == 403


def test_records_of_another_ward_or_organization_are_404(client_for, ward_officer_b, farmers_district_staff,
                                                          district_staff, front_supervisor, front, branch_a, group_a):
    record = training(district_staff, branch_a)
    inspection = inspect(front_supervisor, lead_unit=front, group=group_a)
    assert client_for(ward_officer_b).get(url("supervision_training_edit", record.pk)).status_code == 404
    assert client_for(farmers_district_staff).get(url("supervision_training_edit", record.pk)).status_code == 404
    assert client_for(ward_officer_b).get(url("inspection_detail", inspection.pk)).status_code == 404
    # District staff read the Front's inspection of their group but cannot correct it.
    assert client_for(district_staff).get(url("inspection_detail", inspection.pk)).status_code == 200
    assert client_for(district_staff).get(url("supervision_inspections_edit", inspection.pk)).status_code == 404
    listing = client_for(ward_officer_b).get(url("supervision_training"))
    assert list(listing.context["records"]) == []


def test_front_supervisor_records_for_the_front_and_corrects_only_the_fronts_inspections(
    client_for, front_supervisor, district_staff, front, women_district, branch_a
):
    theirs = inspect(district_staff, lead_unit=women_district, branch=branch_a)
    form = client_for(front_supervisor).get(url("supervision_inspections_new")).context["form"]
    assert list(form.fields["lead_unit"].queryset) == [front]
    assert client_for(front_supervisor).get(url("inspection_detail", theirs.pk)).status_code == 200
    assert client_for(front_supervisor).get(url("supervision_inspections_edit", theirs.pk)).status_code == 404
    with pytest.raises(DomainError, match="Đơn vị này nằm ngoài"):
        inspect(front_supervisor, lead_unit=women_district, branch=branch_a)


# --- Query bounds --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["inspections", "training", "outreach", "agreements", "models", "awards"])
def test_lists_use_a_bounded_number_of_queries(name, client_for, front_supervisor, district_staff, front,
                                               women_district, branch_a, ward_b, household_a,
                                               django_assert_max_num_queries):
    from tests.factories import BranchFactory, WardFactory

    for n in range(12):
        group = SavingsGroupFactory(branch=branch_a)
        inspect(front_supervisor, lead_unit=front, group=group, results=("ok", "not_ok"), recommendations="R",
                follow_up_status="open", follow_up_deadline=date(2026, 11, 1))
        training(district_staff, branch_a)
        outreach(district_staff, branch_a)
        branch = BranchFactory(ward=WardFactory(), kind=Organization.Kind.WOMEN, parent=women_district)
        agreement(district_staff, branch, reference=f"{n}/TT")
        economic_model_record(
            actor=district_staff, households=[household_a],
            values={"name": f"Mô hình {n}", "organization": branch_a, "description": "", "started_on": TODAY},
        )
        award(district_staff, branch_a)
    client = client_for(front_supervisor)
    # The inspections list also reads its ward filter's choices: one query, whatever the number of wards.
    with django_assert_max_num_queries(13 if name == "inspections" else 12):
        response = client.get(url(f"supervision_{name}"))
    assert len(response.context["records"]) >= 12
