"""The admins' ward-merger page and the merge_wards command: preview, confirm, refusals, and who may use them."""

import io
from datetime import date

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.translation import gettext

from organizations.models import AuditEvent, SavingsGroup, Ward, WardMerger

TODAY = date(2026, 11, 20)
URL = "/wards/merge/"


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def form_data(ward_a, ward_b, **overrides):
    return {"sources": [ward_a.pk, ward_b.pk], "code": ward_a.code, "name": "Phường Mới", "merged_on": "01/07/2026",
            "decision": "1685/NQ-UBTVQH15", **overrides}


def test_the_url_is_named():
    assert reverse("organizations:ward_merge") == URL


def test_the_admin_previews_then_carries_out_the_merger(
    ward_a, ward_b, group_a, group_b, household_a, admin_user, client_for
):
    client = client_for(admin_user)
    page = client.get(URL)
    assert page.status_code == 200
    assert f"{ward_a.code} – {ward_a.name}" in page.content.decode()

    preview = client.post(URL, form_data(ward_a, ward_b))
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert plan.can_apply and plan.counts["groups"] == 2 and plan.counts["households"] == 1
    html = preview.content.decode()
    assert 'data-testid="merger-confirm"' in html and 'name="confirm"' in html
    assert 'data-testid="merger-problems"' not in html
    for _kind, old, new in plan.branches:
        assert new in html and all(name in html for name in old)
    assert gettext("Nothing is deleted: the old wards and branches stay as history, and figures as of an earlier "
                   "date still show them. The bank's codes of groups, customers and loans do not change.") in html
    assert not WardMerger.objects.exists()

    unchecked = client.post(URL, {**form_data(ward_a, ward_b), "confirm": "1"})
    assert unchecked.status_code == 200 and not WardMerger.objects.exists()

    done = client.post(URL, {**form_data(ward_a, ward_b), "confirm": "1", "checked": "1"})
    assert done.status_code == 302 and done["Location"] == URL
    merger = WardMerger.objects.get()
    assert merger.ward.name == "Phường Mới" and merger.ward.code == ward_a.code
    assert merger.carried_out_by == admin_user and merger.decision == "1685/NQ-UBTVQH15"
    assert set(Ward.objects.filter(merged_into=merger.ward)) == {ward_a, ward_b}
    assert SavingsGroup.objects.filter(branch__ward=merger.ward).count() == 2
    assert any("Phường Mới" in str(message) for message in get_messages(done.wsgi_request))

    listing = client.get(URL)
    rows = listing.content.decode()
    assert 'data-testid="merger-row"' in rows and ward_b.name in rows and "1685/NQ-UBTVQH15" in rows
    # The merged wards are no longer offered.
    assert list(listing.context["form"].fields["sources"].queryset) == [merger.ward]


def test_a_refused_merger_shows_the_reason_and_writes_nothing(ward_a, ward_b, ward_c, group_a, admin_user, client_for):
    client = client_for(admin_user)
    data = form_data(ward_a, ward_b, code=ward_c.code)
    reason = gettext("The code %(code)s belongs to %(ward)s, which stays in being.") % {
        "code": ward_c.code, "ward": ward_c.name}
    preview = client.post(URL, data)
    html = preview.content.decode()
    assert 'data-testid="merger-problems"' in html and reason in html
    assert 'data-testid="merger-confirm"' not in html

    forced = client.post(URL, {**data, "confirm": "1", "checked": "1"})
    assert forced.status_code == 200 and reason in forced.content.decode()
    assert not WardMerger.objects.exists()
    assert Ward.objects.filter(merged_on__isnull=False).count() == 0


def test_a_date_in_the_future_is_refused_by_the_form(ward_a, ward_b, admin_user, client_for):
    page = client_for(admin_user).post(URL, {**form_data(ward_a, ward_b, merged_on="01/01/2027"), "confirm": "1",
                                             "checked": "1"})
    assert page.status_code == 200 and page.context["form"].errors["merged_on"]
    assert page.context["plan"] is None and not WardMerger.objects.exists()


def test_a_ward_officer_may_not_open_the_page(ward_a, ward_b, ward_officer_a, client_for):
    client = client_for(ward_officer_a)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {**form_data(ward_a, ward_b), "confirm": "1", "checked": "1"}).status_code == 403
    assert not WardMerger.objects.exists()


def test_the_admin_menu_links_the_page(admin_user, ward_officer_a, client_for):
    assert URL in client_for(admin_user).get("/").content.decode()
    assert URL not in client_for(ward_officer_a).get("/").content.decode()


def test_the_command_dry_run_writes_nothing_and_the_real_run_merges(ward_a, ward_b, group_a, group_b, household_a):
    out = io.StringIO()
    arguments = ["merge_wards", "--into-code", "761234", "--name", "Thới An", "--on", "01/07/2026",
                 "--decision", "1685/NQ-UBTVQH15", ward_a.code, ward_b.code]
    call_command(*arguments, "--dry-run", stdout=out)
    assert "Dry run" in out.getvalue() and "groups 2" in out.getvalue()
    assert not WardMerger.objects.exists()

    arguments[6] = "2026-07-01"
    call_command(*arguments, stdout=out)
    merger = WardMerger.objects.get()
    assert (merger.ward.code, merger.ward.name, merger.merged_on) == ("761234", "Thới An", date(2026, 7, 1))
    assert set(Ward.objects.filter(merged_into=merger.ward)) == {ward_a, ward_b}
    assert "761234 Thới An" in out.getvalue()
    assert AuditEvent.objects.filter(source="command: merge_wards").exists()


def test_the_command_refuses_with_the_reasons(ward_a, ward_b, ward_c, group_a):
    reason = gettext("The code %(code)s belongs to %(ward)s, which stays in being.") % {
        "code": ward_c.code, "ward": ward_c.name}
    with pytest.raises(CommandError) as refused:
        call_command("merge_wards", "--into-code", ward_c.code, "--name", "Phường Mới", "--on", "2026-07-01",
                     ward_a.code, ward_b.code, stdout=io.StringIO())
    assert reason in str(refused.value)
    with pytest.raises(CommandError):
        call_command("merge_wards", "--into-code", "761234", "--name", "Phường Mới", "--on", "2026-07-01",
                     ward_a.code, "999999", stdout=io.StringIO())
    assert not WardMerger.objects.exists()
