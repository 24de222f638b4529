"""The officers' pages read right: job statuses and subjects, the bình xét form without a preselected decision,
translated history labels, no fixed "quận", a bank file of the wrong kind, the groups file's leader, real dates in
the statement's .xlsx and the loan page's next steps."""

import io
from datetime import datetime, timedelta

import openpyxl
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from loans.bankfiles.importing import import_confirm, import_upload
from loans.forms.requests import ReviewDecisionForm
from loans.models import CollectionSheet, ImportBatch
from organizations.jobs import duration_words, job_subjects
from organizations.models import GroupMembership, JobRun
from organizations.selectors.audit import FIELD_LABELS, field_label
from tests.factories import LoanFactory
from tests.test_review_meeting_guards import make_request, meeting_post

pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-11-16")]


def in_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# ---- 1. jobs page -----------------------------------------------------------------------------------------------

def test_job_status_has_its_own_context_not_the_inspection_follow_ups():
    with translation.override("vi"):
        assert str(JobRun.Status.DONE.label) != translation.gettext("Done")
        assert str(JobRun.Status.DONE.label) == translation.pgettext("job status", "Done")


def test_durations_read_in_words(english):
    assert duration_words(timedelta(seconds=125)) == "2 minutes 5 seconds"
    assert duration_words(timedelta(seconds=45)) == "45 seconds"
    assert duration_words(timedelta(hours=1, minutes=3, seconds=9)) == "1 hour 3 minutes"
    assert duration_words(None) == ""


def test_jobs_page_names_the_subject_with_a_link_and_dates_dd_mm_yyyy(client_for, admin_user, english,
                                                                     django_assert_max_num_queries):
    batch = ImportBatch.objects.create(kind="groups", file_name="to-8100001.xlsx", sha256="x", content=b"",
                                       created_by=admin_user)
    start = timezone.make_aware(datetime(2026, 12, 6, 9, 30))
    JobRun.objects.create(name="import_check", key=str(batch.pk), status="done", enqueued_at=start,
                          started_at=start, finished_at=start + timedelta(seconds=125))
    JobRun.objects.create(name="close_day", key="2026-12-05", status="done", enqueued_at=start,
                          started_at=start, finished_at=start + timedelta(seconds=45))
    with django_assert_max_num_queries(40):  # the schedule reads each periodic job's last run; subjects cost one
        html = in_english(client_for(admin_user)).get(reverse("organizations:job_list")).content.decode()
    detail = reverse("loans:bank_import_detail", args=[batch.pk])
    assert f'<a href="{detail}">Groups – to-8100001.xlsx</a>' in html
    assert "05/12/2026" in html and "2026-12-05" not in html and "06/12/2026 09:30" in html
    assert "2 minutes 5 seconds" in html and "45 seconds" in html


def test_export_subjects_name_the_file_and_its_owner(admin_user, english):
    run = JobRun(name="bank_export", key=f"{admin_user.pk}:loans:xlsx")
    job_subjects([run])
    assert run.subject.startswith("Loan balances (.xlsx) for ") and run.subject_url == ""


# ---- 2. no preselected decision at the bình xét ------------------------------------------------------------------

def test_review_form_preselects_nothing_and_shows_the_requested_amount(household_a, ward_officer_a, english):
    application = make_request(household_a, ward_officer_a)
    form = ReviewDecisionForm(application=application)
    assert form["decision"].value() is None and form["amount"].value() is None
    html = str(form["amount"])
    assert 'placeholder="30.000.000"' in html
    assert "30.000.000 ₫" in str(form.fields["amount"].help_text)


def test_a_row_without_a_decision_is_refused(client_for, ward_officer_a, group_a, household_a, english):
    application = make_request(household_a, ward_officer_a)
    before = application.status
    data = meeting_post([application])
    del data[f"r{application.pk}-decision"]
    response = in_english(client_for(ward_officer_a)).post(reverse("loans:meeting_create", args=[group_a.pk]), data)
    assert response.status_code == 200
    assert "Choose approve, reject or not decided today" in response.content.decode()
    application.refresh_from_db()
    assert application.status == before and not application.meeting_id


def test_the_meeting_page_checks_no_radio(client_for, ward_officer_a, group_a, household_a):
    make_request(household_a, ward_officer_a)
    html = client_for(ward_officer_a).get(reverse("loans:meeting_create", args=[group_a.pk])).content.decode()
    assert "checked" not in html.split("review-row", 1)[1]


# ---- 3. words ------------------------------------------------------------------------------------------------------

def test_history_labels_are_translated_and_the_request_reads_well(household_a, ward_officer_a):
    from loans.models import Loan

    with translation.override("vi"):
        # Declared without a verbose_name: the label comes from a gettext msgid, not the field's English default.
        label = field_label(Loan._meta.get_field("created_by"), "created_by_id")
        assert FIELD_LABELS["created_by_id"] is not None and label == translation.gettext("created by").capitalize()
        assert field_label(Loan._meta.get_field("application"), "application_id") == "Giấy đề nghị vay vốn"
    application = make_request(household_a, ward_officer_a, amount=50_000_000)
    assert str(application).endswith(f"– {application.program.name} – 50.000.000 ₫")


@pytest.mark.parametrize("msgid", ["Submitted to district", "Approved by district", "Decided by district",
                                   "District staff", "Only submitted requests can be rejected.",
                                   "Only a submitted 03/TD list can be approved."])
def test_no_level_is_called_quan(msgid):
    with translation.override("vi"):
        assert "quận" not in translation.gettext(msgid).lower()


# ---- 4. imports and statements -------------------------------------------------------------------------------------

def _workbook(header, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["NGÂN HÀNG CHÍNH SÁCH XÃ HỘI"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


GROUP_HEADER = ["Mã tổ", "Tên tổ", "Mã phường", "Mã hội", "Tổ trưởng", "Số thành viên", "Điểm", "Xếp loại"]


def test_a_file_of_another_kind_says_what_it_looks_like(settings, admin_user, english):
    settings.IMPORT_RUN_MODE = "inline"
    content = _workbook(GROUP_HEADER, [["8100001", "Tổ A1", "900001", "12", "X", 6, 91, "Tốt"]])
    batch = import_upload(kind="loans", file_name="to.xlsx", content=content, actor=admin_user)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED
    assert len(batch.errors) == 1
    assert "looks like a “Groups” file" in batch.errors[0]["message"]


def test_the_groups_file_saves_its_leader(settings, admin_user, group_a, household_a):
    settings.IMPORT_RUN_MODE = "inline"
    assert GroupMembership.objects.filter(group=group_a, household=household_a).exists()
    content = _workbook(GROUP_HEADER, [[group_a.code, group_a.name, group_a.branch.ward.code, group_a.branch.kind,
                                        household_a.head_name.upper(), 6, 91, "Tốt"]])
    batch = import_upload(kind="groups", file_name="to.xlsx", content=content, actor=admin_user)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    import_confirm(batch=batch, actor=admin_user)
    group_a.refresh_from_db()
    assert group_a.leader_id == household_a.pk


def test_loan_page_offers_each_role_its_next_steps(client_for, ward_officer_a, district_staff, household_a,
                                                   english):
    loan = LoanFactory(household=household_a)
    url = reverse("loans:loan_detail", args=[loan.pk])
    officer = in_english(client_for(ward_officer_a)).get(url).content.decode()
    block = officer.split('data-testid="next-steps"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "Request a change" in block and reverse("loans:loan_use_check_record", args=[loan.pk]) in block
    assert "Prepare today&#x27;s collection sheet" in block
    sheet = CollectionSheet.objects.create(group=loan.group, collection_on=timezone.localdate(),
                                           created_by=ward_officer_a)
    officer = client_for(ward_officer_a).get(url).content.decode()
    assert reverse("loans:collection_sheet_detail", args=[sheet.pk]) in officer
    district = in_english(client_for(district_staff)).get(url).content.decode()
    block = district.split('data-testid="next-steps"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "Ask to reverse the disbursement" in block and "Request a change" not in block
