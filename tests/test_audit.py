"""The audit trail records who changed what, before and after, for single saves, deletes and bulk writes."""

from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory

from borrowers.models import Household
from organizations.audit import audit_bulk, audit_context, history_for
from organizations.models import AuditEvent


def test_create_and_change_are_recorded_with_actor_and_before_after(household_a, ward_officer_a):
    created = history_for(household_a)
    assert [e.action for e in created] == ["create"]
    with audit_context(actor=ward_officer_a, source="test"):
        household_a.address = "99 Đường mới"
        household_a.save()
    event = history_for(household_a)[0]
    assert event.action == "update"
    assert event.actor == ward_officer_a
    assert event.changes == {"address": ["12 Đường thử", "99 Đường mới"]}
    assert event.source == "test"


def test_saving_without_a_change_records_nothing(household_a):
    before = AuditEvent.objects.count()
    household_a.save()
    assert AuditEvent.objects.count() == before


def test_delete_is_recorded(group_a):
    from tests.factories import HouseholdFactory

    household = HouseholdFactory(branch=group_a.branch)
    pk = household.pk
    household.delete()
    event = AuditEvent.objects.filter(
        object_id=str(pk), content_type=ContentType.objects.get_for_model(Household)
    ).first()
    assert event.action == "delete" and event.changes["citizen_id"][0] == household.citizen_id


def test_request_path_and_user_are_taken_from_the_request(household_a, ward_officer_a):
    request = RequestFactory().post("/households/1/edit/")
    request.user = ward_officer_a
    with audit_context(request=request):
        household_a.phone = "0912345678"
        household_a.save()
    event = history_for(household_a)[0]
    assert event.actor == ward_officer_a
    assert event.source == "POST /households/1/edit/"


def test_bulk_writes_are_recorded_once_with_their_ids(household_a, household_b):
    audit_bulk(Household, objects=[household_a, household_b], note="import")
    event = AuditEvent.objects.filter(action="bulk_create").get()
    assert event.changes["count"] == 2 and event.changes["ids"] == [household_a.pk, household_b.pk]


def test_household_page_shows_its_history_to_those_who_may_see_it(client_for, ward_officer_a, ward_officer_b, household_a):
    from django.urls import reverse

    with audit_context(actor=ward_officer_a, source="test"):
        household_a.address = "7 Đường đổi"
        household_a.save()
    url = reverse("borrowers:household_detail", args=[household_a.pk])
    body = client_for(ward_officer_a).get(url).content.decode()
    assert 'data-testid="audit-history"' in body and "7 Đường đổi" in body
    assert client_for(ward_officer_b).get(url).status_code == 404
