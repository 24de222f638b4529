"""Discarding a half-entered 13/TD: the service, its page, and the merger preview that links to blocking drafts."""

from datetime import date

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.translation import gettext

from loans.models import CollectionItem, CollectionLine, CollectionSheet, Posting
from loans.services.collection import (
    collection_sheet_create,
    collection_sheet_discard,
    collection_sheet_post,
    collection_sheet_save,
)
from organizations.errors import DomainError
from organizations.models import AuditEvent
from tests.factories import LoanFactory

pytestmark = pytest.mark.today("2026-06-20")
COLLECTION_DAY = date(2026, 6, 20)


@pytest.fixture
def draft(group_a, household_a, ward_officer_a):
    """A half-entered sheet: one household's row with its loan, an amount saved but nothing posted."""
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    sheet = collection_sheet_create(group=group_a, on=COLLECTION_DAY, actor=ward_officer_a)
    (line,) = sheet.lines.all()
    collection_sheet_save(sheet=sheet, entries={line.pk: (100_000, 0, 0)}, actor=ward_officer_a)
    return sheet


@pytest.fixture
def posted(draft, ward_officer_a):
    return collection_sheet_post(sheet=draft, actor=ward_officer_a)


def detail(sheet):
    return reverse("loans:collection_sheet_detail", args=[sheet.pk])


def discard_url(sheet):
    return reverse("loans:collection_sheet_discard", args=[sheet.pk])


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


# ---------------------------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------------------------


def test_a_ward_officer_discards_a_draft_and_the_audit_trail_records_it(draft, group_a, ward_officer_a):
    line_ids = list(draft.lines.values_list("pk", flat=True))
    assert CollectionItem.objects.filter(line__in=line_ids).exists()
    postings = Posting.objects.count()

    collection_sheet_discard(sheet=draft, actor=ward_officer_a)

    assert not CollectionSheet.objects.filter(pk=draft.pk).exists()
    assert not CollectionLine.objects.filter(pk__in=line_ids).exists()
    assert not CollectionItem.objects.filter(line__in=line_ids).exists()
    assert Posting.objects.count() == postings
    (event,) = AuditEvent.objects.filter(content_type__model="collectionsheet", object_id=str(draft.pk),
                                         action=AuditEvent.Action.DELETE)
    assert event.actor == ward_officer_a and event.at is not None
    assert event.changes["group_id"] == [group_a.pk, None]
    assert event.changes["collection_on"] == [COLLECTION_DAY.isoformat(), None]
    deleted_lines = AuditEvent.objects.filter(content_type__model="collectionline", action=AuditEvent.Action.DELETE)
    assert {int(pk) for pk in deleted_lines.values_list("object_id", flat=True)} == set(line_ids)
    # The group may be given a new sheet for the same day.
    again = collection_sheet_create(group=group_a, on=COLLECTION_DAY, actor=ward_officer_a)
    assert again.lines.count() == 1


def test_a_posted_sheet_is_not_discarded(posted, ward_officer_a, english):
    audit_rows = AuditEvent.objects.count()
    with pytest.raises(DomainError, match="posted: it cannot be deleted"):
        collection_sheet_discard(sheet=posted, actor=ward_officer_a)
    assert CollectionSheet.objects.filter(pk=posted.pk, status=CollectionSheet.Status.POSTED).exists()
    assert posted.lines.count() == 1 and AuditEvent.objects.count() == audit_rows


@pytest.mark.parametrize(
    "who, refusal",
    [
        ("ward_officer_b", "You cannot delete a collection sheet here: it belongs to a ward branch"),
        ("district_staff", "Your role does not allow you to delete a collection sheet"),
        ("front_supervisor", "Your role does not allow you to delete a collection sheet"),
    ],
)
def test_only_the_officers_of_the_sheets_branch_may_discard_it(draft, who, refusal, request, english):
    actor = request.getfixturevalue(who)
    with pytest.raises(DomainError, match=refusal):
        collection_sheet_discard(sheet=draft, actor=actor)
    assert CollectionSheet.objects.filter(pk=draft.pk).exists() and draft.lines.count() == 1


def test_an_admin_may_discard_a_draft(draft, admin_user):
    collection_sheet_discard(sheet=draft, actor=admin_user)
    assert not CollectionSheet.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.get(content_type__model="collectionsheet", action="delete").actor == admin_user


# ---------------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------------


def test_the_draft_page_offers_to_delete_it_and_a_posted_one_does_not(draft, ward_officer_a, client_for):
    client = client_for(ward_officer_a)
    html = client.get(detail(draft)).content.decode()
    assert 'data-testid="sheet-discard"' in html and f'action="{discard_url(draft)}"' in html
    assert 'name="confirm"' in html
    collection_sheet_post(sheet=draft, actor=ward_officer_a)
    assert 'data-testid="sheet-discard"' not in client.get(detail(draft)).content.decode()


def test_the_officer_deletes_the_draft_once_confirmed(draft, group_a, ward_officer_a, client_for):
    client = client_for(ward_officer_a)
    response = client.post(discard_url(draft), {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('loans:collection_sheet_list')}?group={group_a.pk}"
    assert not CollectionSheet.objects.filter(pk=draft.pk).exists()
    expected = gettext("The draft collection sheet of %(group)s for %(date)s is deleted.") % {
        "group": group_a, "date": "20/06/2026"}
    assert messages_of(response) == [expected]
    assert AuditEvent.objects.get(content_type__model="collectionsheet", action="delete").actor == ward_officer_a


def test_without_the_box_ticked_nothing_is_deleted(draft, ward_officer_a, client_for):
    response = client_for(ward_officer_a).post(discard_url(draft))
    assert response.status_code == 302 and response["Location"] == detail(draft)
    assert messages_of(response) == [gettext("Tick the box to confirm that the draft is deleted.")]
    assert CollectionSheet.objects.filter(pk=draft.pk).exists() and draft.lines.count() == 1


def test_a_posted_sheet_is_refused_with_a_message(posted, ward_officer_a, client_for):
    response = client_for(ward_officer_a).post(discard_url(posted), {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == detail(posted)
    assert messages_of(response) == [
        gettext("This sheet is posted: it cannot be deleted. Correct its rows with reversals.")]
    assert CollectionSheet.objects.filter(pk=posted.pk).exists()


def test_a_get_is_refused(draft, ward_officer_a, client_for):
    assert client_for(ward_officer_a).get(discard_url(draft)).status_code == 405
    assert CollectionSheet.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize("who", ["district_staff", "front_supervisor"])
def test_a_user_without_the_role_gets_403(draft, who, request, client_for):
    response = client_for(request.getfixturevalue(who)).post(discard_url(draft), {"confirm": "on"})
    assert response.status_code == 403
    assert CollectionSheet.objects.filter(pk=draft.pk).exists()


def test_an_officer_of_another_ward_gets_404(draft, ward_officer_b, client_for):
    response = client_for(ward_officer_b).post(discard_url(draft), {"confirm": "on"})
    assert response.status_code == 404
    assert CollectionSheet.objects.filter(pk=draft.pk).exists()


def test_an_anonymous_visitor_is_sent_to_log_in(draft, client):
    response = client.post(discard_url(draft), {"confirm": "on"})
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert CollectionSheet.objects.filter(pk=draft.pk).exists()


# ---------------------------------------------------------------------------------------------------------------
# The merger preview links to the drafts that block it
# ---------------------------------------------------------------------------------------------------------------


def test_the_merger_preview_links_to_each_blocking_draft_until_it_is_deleted(
    draft, ward_a, ward_b, group_b, admin_user, client_for
):
    client = client_for(admin_user)
    data = {"sources": [ward_a.pk, ward_b.pk], "code": ward_a.code, "name": "Phường Mới",
            "merged_on": "01/06/2026"}
    preview = client.post(reverse("organizations:ward_merge"), data)
    plan = preview.context["plan"]
    assert not plan.can_apply and plan.draft_sheets == [draft]
    html = preview.content.decode()
    assert 'data-testid="merger-draft-sheets"' in html and f'href="{detail(draft)}"' in html

    # The admin opens the sheet from the preview and deletes it; the merger may then go ahead.
    assert client.get(detail(draft)).status_code == 200
    assert client.post(discard_url(draft), {"confirm": "on"}).status_code == 302
    again = client.post(reverse("organizations:ward_merge"), data)
    assert again.context["plan"].can_apply and again.context["plan"].draft_sheets == []
    assert 'data-testid="merger-draft-sheets"' not in again.content.decode()
