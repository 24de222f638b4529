"""Collection day, server side: each row saved on its own with a version, rules checked at the draft save, posting
that asks before it takes empty rows as paying nothing, a session that ends without losing the way back, and the
pages that lead to today's sheet (tests/browser/test_collection_day.py walks the same on a phone)."""

import json
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from loans.models import CollectionLine, CollectionSheet, InterestArrearsEntry
from loans.services.collection import (
    Entry,
    RowProblems,
    UnenteredRows,
    collection_line_save,
    collection_sheet_create,
    collection_sheet_post,
)
from organizations.models import OfficerProfile
from tests.factories import HouseholdFactory, LoanFactory, officer, post_sheet

pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-11-16")]
DAY = date(2026, 11, 16)


@pytest.fixture
def sheet(group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 10, 16))
    LoanFactory(household=HouseholdFactory(group=group_a, head_name="Lê Thị Bé"), amount=20_000_000,
                disbursed_on=date(2026, 10, 16))
    return collection_sheet_create(group=group_a, on=DAY, actor=ward_officer_a)


def line_of(sheet, name):
    return sheet.lines.get(household__head_name=name)


def entry_url(line):
    return reverse("loans:collection_line_entry", args=[line.sheet_id, line.pk])


def post_row(client, line, **data):
    return client.post(entry_url(line), data, HTTP_ACCEPT="application/json")


# --- One row at a time --------------------------------------------------------------------------------------------


def test_a_row_is_saved_with_its_version_and_who_entered_it(client_for, sheet, ward_officer_a):
    line = line_of(sheet, "Lê Thị Bé")
    response = post_row(client_for(ward_officer_a), line, paid="113.667", savings_in="50.000", savings_out="",
                        version="0")
    assert response.status_code == 200
    data = response.json()
    assert data["state"] == "saved" and data["version"] == 1 and data["values"]["paid"] == 113_667
    line.refresh_from_db()
    assert (line.amount_paid, line.savings_in, line.version, line.entered_by) == (113_667, 50_000, 1, ward_officer_a)


def test_empty_boxes_are_not_entered_and_zero_is_paid_nothing(client_for, sheet, ward_officer_a):
    line = line_of(sheet, "Lê Thị Bé")
    client = client_for(ward_officer_a)
    post_row(client, line, paid="", savings_in="", savings_out="", version="0")
    line.refresh_from_db()
    assert not line.is_entered
    assert post_row(client, line, nothing="1", version="0").json()["state"] == "saved"
    line.refresh_from_db()
    assert line.paid_nothing and line.version == 1


def test_a_rule_refuses_the_row_under_its_field_and_stores_nothing(client_for, sheet, ward_officer_a):
    line = line_of(sheet, "Lê Thị Bé")
    response = post_row(client_for(ward_officer_a), line, paid="", savings_in="", savings_out="10.000", version="0")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["savings_out"] and "lớn hơn số dư tiết kiệm" in errors["savings_out"][0]
    line.refresh_from_db()
    assert not line.is_entered and line.savings_out == 0


def test_a_malformed_amount_is_refused_in_the_users_language(client_for, sheet, ward_officer_a):
    line = line_of(sheet, "Lê Thị Bé")
    response = post_row(client_for(ward_officer_a), line, paid="-5", savings_in="", savings_out="", version="0")
    assert response.status_code == 400 and "paid" in response.json()["errors"]
    assert not CollectionLine.objects.get(pk=line.pk).is_entered


def test_a_row_saved_by_someone_else_meanwhile_is_not_overwritten(client_for, sheet, ward_officer_a, branch_a):
    colleague = officer("ward_a2", branch_a, OfficerProfile.Role.WARD_OFFICER)
    line = line_of(sheet, "Lê Thị Bé")
    assert post_row(client_for(colleague), line, paid="100.000", version="0").json()["state"] == "saved"
    # This officer typed over version 0 too.
    response = post_row(client_for(ward_officer_a), line, paid="113.667", version="0")
    assert response.status_code == 409
    theirs = response.json()["theirs"]
    assert theirs["values"]["paid"] == 100_000 and theirs["version"] == 1 and theirs["by"]
    assert CollectionLine.objects.get(pk=line.pk).amount_paid == 100_000
    # Sent again over the version shown: this officer's amount is kept, on purpose.
    assert post_row(client_for(ward_officer_a), line, paid="113.667", version="1").json()["state"] == "saved"
    assert CollectionLine.objects.get(pk=line.pk).amount_paid == 113_667


def test_a_row_of_a_sheet_posted_meanwhile_is_refused_clearly(client_for, sheet, ward_officer_a):
    post_sheet_as_is = collection_sheet_post(sheet=sheet, actor=ward_officer_a, nothing_paid=2)
    line = line_of(post_sheet_as_is, "Lê Thị Bé")
    response = post_row(client_for(ward_officer_a), line, paid="113.667", version="0")
    assert response.status_code == 409 and response.json()["state"] == "closed"
    assert "ghi sổ" in response.json()["message"]


def test_an_ended_session_answers_the_script_with_the_way_back(client, sheet):
    line = line_of(sheet, "Lê Thị Bé")
    response = client.post(entry_url(line), {"paid": "1"}, HTTP_ACCEPT="application/json",
                           HTTP_REFERER=f"http://testserver/loans/collections/{sheet.pk}/")
    assert response.status_code == 401
    assert response.json()["login_url"] == f"/accounts/login/?next=%2Floans%2Fcollections%2F{sheet.pk}%2F"


def test_a_form_sent_after_the_session_ended_signs_in_back_to_its_page(client, sheet):
    url = reverse("loans:collection_sheet_fill", args=[sheet.pk])
    response = client.post(url, {"action": "save"}, HTTP_REFERER=f"http://testserver/loans/collections/{sheet.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=%2Floans%2Fcollections%2F{sheet.pk}%2F"
    # Never back to the POST-only address; a referer from elsewhere goes to the home page.
    response = client.post(url, {"action": "save"}, HTTP_REFERER="https://elsewhere.example/")
    assert response["Location"] == "/accounts/login/?next=%2F"


def test_an_address_that_only_takes_a_form_has_a_page_in_the_apps_language(client_for, sheet, ward_officer_a):
    response = client_for(ward_officer_a).get(reverse("loans:collection_sheet_fill", args=[sheet.pk]))
    assert response.status_code == 405 and "POST" in response["Allow"]
    html = response.content.decode()
    assert "Không mở trực tiếp được địa chỉ này" in html and 'data-testid="error-page"' in html


# --- Posting asks before it assumes -------------------------------------------------------------------------------


def test_posting_names_the_empty_rows_and_the_arrears_they_would_create(sheet, ward_officer_a):
    collection_line_save(line=line_of(sheet, "Nguyễn Thị Ánh"), entry=Entry(284_167), actor=ward_officer_a)
    with pytest.raises(UnenteredRows) as asked:
        collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    assert [line.household.head_name for line in asked.value.lines] == ["Lê Thị Bé"]
    assert asked.value.arrears == 113_667  # 20,000,000 × 0.55 % / 30 × 31 days
    assert "113.667 ₫" in asked.value.message
    # A confirmation that names another count is not the officer's confirmation of this one.
    with pytest.raises(UnenteredRows):
        collection_sheet_post(sheet=sheet, actor=ward_officer_a, nothing_paid=2)
    assert CollectionSheet.objects.get(pk=sheet.pk).is_draft and not InterestArrearsEntry.objects.exists()
    collection_sheet_post(sheet=sheet, actor=ward_officer_a, nothing_paid=1)
    assert not CollectionSheet.objects.get(pk=sheet.pk).is_draft


def test_rows_marked_paid_nothing_post_without_a_question(sheet, ward_officer_a):
    collection_line_save(line=line_of(sheet, "Nguyễn Thị Ánh"), entry=Entry(284_167), actor=ward_officer_a)
    collection_line_save(line=line_of(sheet, "Lê Thị Bé"), entry=Entry(0, 0, 0), actor=ward_officer_a)
    collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    assert not CollectionSheet.objects.get(pk=sheet.pk).is_draft


def test_the_page_lists_the_empty_rows_and_posts_once_confirmed(client_for, sheet, ward_officer_a):
    client = client_for(ward_officer_a)
    first, second = line_of(sheet, "Nguyễn Thị Ánh"), line_of(sheet, "Lê Thị Bé")
    url = reverse("loans:collection_sheet_fill", args=[sheet.pk])
    data = {f"paid_{first.pk}": "284.167", f"version_{first.pk}": "0", f"version_{second.pk}": "0", "action": "post"}
    response = client.post(url, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="unentered"' in html and "Lê Thị Bé" in html and "113.667 ₫" in html
    # What was typed is kept: in its box, and saved.
    assert response.context["form"][f"paid_{first.pk}"].value() == "284.167"
    assert CollectionLine.objects.get(pk=first.pk).amount_paid == 284_167
    data[f"version_{first.pk}"] = "1"
    response = client.post(url, {**data, "nothing_paid": "1"})
    assert response.status_code == 302 and not CollectionSheet.objects.get(pk=sheet.pk).is_draft


def test_the_whole_page_save_never_overwrites_a_colleagues_newer_row(client_for, sheet, ward_officer_a, branch_a):
    colleague = officer("ward_a2", branch_a, OfficerProfile.Role.WARD_OFFICER)
    line = line_of(sheet, "Lê Thị Bé")
    collection_line_save(line=line, entry=Entry(100_000, version=0), actor=colleague)
    url = reverse("loans:collection_sheet_fill", args=[sheet.pk])
    response = client_for(ward_officer_a).post(
        url, {f"paid_{line.pk}": "90.000", f"version_{line.pk}": "0", "action": "save"})
    assert response.status_code == 400
    assert "row-conflict" in response.content.decode()
    assert CollectionLine.objects.get(pk=line.pk).amount_paid == 100_000
    # The page now carries the newer version: sending it again keeps this officer's amount.
    assert response.context["form"].data[f"version_{line.pk}"] == "1"


def test_services_refuse_rows_typed_over_an_old_version(sheet, ward_officer_a):
    line = line_of(sheet, "Lê Thị Bé")
    collection_line_save(line=line, entry=Entry(10_000, version=0), actor=ward_officer_a)
    with pytest.raises(RowProblems) as refused:
        collection_line_save(line=line, entry=Entry(20_000, version=0), actor=ward_officer_a)
    assert list(refused.value.conflicts) == [line.pk]


# --- Getting there ------------------------------------------------------------------------------------------------


def test_the_sheet_list_is_newest_first_with_pages(client_for, group_a, household_a, ward_officer_a):
    LoanFactory(household=household_a, disbursed_on=date(2025, 1, 2))
    for month in range(2, 12):
        post_sheet(group_a, date(2026, month, 16 if month != 11 else 16), ward_officer_a, {})
    page = client_for(ward_officer_a).get(reverse("loans:collection_sheet_list"))
    days = [sheet.collection_on for sheet in page.context["page"]]
    assert days == sorted(days, reverse=True) and days[0] == date(2026, 11, 16)
    assert page.context["page"].paginator.per_page == 20


def test_the_home_page_leads_to_this_months_sheets(client_for, sheet, ward_officer_a, district_staff):
    html = client_for(ward_officer_a).get(reverse("organizations:home")).content.decode()
    assert 'data-testid="collection-day"' in html
    assert reverse("loans:collection_sheet_detail", args=[sheet.pk]) in html
    assert "Đã nhập 0/2 hộ" in html
    # Those who do not collect do not get the card.
    assert 'data-testid="collection-day"' not in client_for(district_staff).get("/").content.decode()


def served(url):
    """The file behind a static URL, as the app serves it (config/vendor.py for the npm packages)."""
    return finders.find(url.removeprefix(settings.STATIC_URL))


def test_the_app_installs_with_a_manifest_icons_and_a_service_worker(client):
    manifest = json.loads(client.get(reverse("organizations:manifest")).content)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert Path(served(icon["src"])).read_bytes()[:4] == b"\x89PNG"
    worker = client.get(reverse("organizations:service_worker"))
    assert worker["Content-Type"].startswith("application/javascript")
    body = worker.content.decode()
    assert "workbox-sw.js" in body and "storage.googleapis.com" not in body
    for path in json.loads(body.split("const MODULES = ", 1)[1].split(";\n", 1)[0]).values():
        assert served(path), path
