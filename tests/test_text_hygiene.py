"""Text hygiene: a control character typed, pasted or imported never reaches the database, and one already stored
never breaks an export.

Finding 1 of the hostile-input review: a household named "Nguyễn\\x01Văn A" (a name pasted from Word is enough) made
every .xlsx export answer 500, for every user.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from borrowers.models import Household
from loans.bankfiles.layouts import parse_sheet
from loans.models import LoanList
from loans.services.collection import collection_sheet_create
from organizations.models import Area, SavingsGroup
from organizations.text import clean_text
from tests.factories import LoanFactory, submitted_loan_list

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BAD_NAME = "Nguyễn\x01Văn A"


# The helper -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "single_line", "multiline"),
    [
        ("Nguyễn\x01Văn A", "NguyễnVăn A", "NguyễnVăn A"),
        ("Nguyễn\x00Văn\x7fA\x9b", "NguyễnVănA", "NguyễnVănA"),
        ("dòng 1\r\ndòng 2\rdòng 3\x0bdòng 4", "dòng 1 dòng 2 dòng 3 dòng 4", "dòng 1\ndòng 2\ndòng 3\ndòng 4"),
        ("cột\tcột", "cột cột", "cột\tcột"),
        ("Word\u2028line\u2029para\x85end\x0cpage", "Word line para end page", "Word\nline\npara\nend\npage"),
        ("lone \ud800 surrogate \udfff", "lone  surrogate ", "lone  surrogate "),
        ("not a character \ufffe\uffff", "not a character ", "not a character "),
        # Vietnamese typed with combining marks (Unikey's "tổ hợp") is stored composed, so the two spellings match.
        ("Nguye\u0302\u0303n", "Nguyễn", "Nguyễn"),
        # What is fine stays: emoji, right-to-left marks, markup (templates escape it), quotes.
        ("😀 \u200fمرحبا\u200e <b>\"x\"</b> 'y'", "😀 \u200fمرحبا\u200e <b>\"x\"</b> 'y'", None),
    ],
)
def test_clean_text(raw, single_line, multiline):
    assert clean_text(raw) == single_line
    assert clean_text(raw, multiline=True) == (single_line if multiline is None else multiline)


def test_clean_text_leaves_other_values_alone():
    assert clean_text(None) is None
    assert clean_text(12) == 12
    assert clean_text("") == ""
    assert clean_text("Nguyễn Văn A") == "Nguyễn Văn A"


# The collection sheet and loans below are dated "today": a working Monday, whatever day the suite runs.
pytestmark = pytest.mark.today("2026-11-16")


# Finding 1: one stored bad name broke every export ------------------------------------------------------------------


@pytest.fixture
def bad_ward_a(group_a, household_a, ward_officer_a, district_staff):
    """Ward A with a loan, a collection sheet and a decided 03/TD list, every household named with a control
    character stored behind the forms' back (as rows saved before the cleaning existed)."""
    today = timezone.localdate()
    LoanFactory(household=household_a, disbursed_on=today - timedelta(days=60))
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a)
    sheet = collection_sheet_create(group=group_a, on=today, actor=ward_officer_a)
    Household.objects.update(head_name=BAD_NAME, address="Số 1\x02 đường \x1bA")
    SavingsGroup.objects.filter(pk=group_a.pk).update(name="Tổ\x03 A1")
    return {"group": group_a, "sheet": sheet, "loan_list": loan_list, "ward": group_a.branch.ward}


def xlsx_text(response):
    assert response["Content-Type"].startswith(XLSX), response["Content-Type"]
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    return "\n".join(str(v) for sheet in workbook for row in sheet.iter_rows(values_only=True) for v in row if v)


def export_paths(objects):
    yield reverse("loans:meeting_xlsx", args=[objects["loan_list"].meeting_id])
    yield reverse("loans:list03_xlsx", args=[objects["loan_list"].pk])
    yield reverse("loans:approval_notice", args=[objects["loan_list"].pk]) + "?format=xlsx"
    yield reverse("loans:collection_sheet_xlsx", args=[objects["sheet"].pk])
    for kind in ("loans", "transactions", "groups", "households"):
        yield reverse("loans:bank_export", kwargs={"kind": kind, "fmt": "xlsx"})
    for layout in ("bctd_01_1", "bctd_01_2", "bc0438", "len_31"):
        yield reverse("loans:report", kwargs={"layout": layout}) + "?format=xlsx"
    yield reverse("loans:fee_statements") + "?download=groups"
    yield reverse("loans:fee_statements") + "?download=units"
    yield reverse("organizations:supervision_summary_xlsx")


@pytest.mark.django_db
def test_a_stored_control_character_exports_cleanly(bad_ward_a, district_staff, client_for):
    client = client_for(district_staff)
    LoanList.objects.filter(pk=bad_ward_a["loan_list"].pk).update(status=LoanList.Status.DECIDED)
    seen_name = False
    for path in export_paths(bad_ward_a):
        response = client.get(path)
        assert response.status_code == 200, path
        if not response["Content-Type"].startswith(XLSX):
            continue  # a page that offers the spreadsheet elsewhere
        text = xlsx_text(response)
        assert "\x01" not in text and "\x02" not in text and "\x03" not in text, path
        seen_name = seen_name or "NguyễnVăn A" in text
    assert seen_name


@pytest.mark.django_db
def test_a_stored_control_character_exports_cleanly_from_the_command(bad_ward_a, admin_user, tmp_path):
    for kind in ("loans", "transactions", "groups", "households"):
        path = tmp_path / f"{kind}.xlsx"
        call_command("export_bank", str(path), kind=kind, user=admin_user.username, stdout=io.StringIO())
        workbook = load_workbook(path, read_only=True)
        text = "\n".join(str(v) for row in workbook.active.iter_rows(values_only=True) for v in row if v)
        assert "\x01" not in text and "\x03" not in text
    csv_path = tmp_path / "households.csv"
    call_command("export_bank", str(csv_path), kind="households", user=admin_user.username, stdout=io.StringIO())
    text = csv_path.read_text(encoding="utf-8-sig")
    assert "NguyễnVăn A" in text and "\x01" not in text


@pytest.mark.django_db
def test_a_stored_control_character_leaves_csv_exports_clean(bad_ward_a, district_staff, client_for):
    client = client_for(district_staff)
    response = client.get(reverse("loans:bank_export", kwargs={"kind": "households", "fmt": "csv"}))
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "NguyễnVăn A" in text and "\x01" not in text and "\x02" not in text



# Text coming in: forms, the admin, the login form, the models, bank files ------------------------------------------


def household_data(group, **changes):
    data = {
        "head_name": "Lê Văn Mới",
        "citizen_id": "079199000123",
        "address": "1 Đường thử",
        "members": 3,
        "policy_status": "poor",
        "policy_list_year": 2025,
        "group": group.pk,
    }
    return {**data, **changes}


@pytest.mark.django_db
def test_the_household_form_cleans_a_pasted_name(group_a, ward_officer_a, client_for):
    client = client_for(ward_officer_a)
    data = household_data(group_a, head_name="Lê\x01 Văn\x0bMới", address="Số 1\x1b đường\tthử")
    response = client.post(reverse("borrowers:household_create"), data)
    assert response.status_code == 302, response.context["form"].errors
    household = Household.objects.get(citizen_id="079199000123")
    assert household.head_name == "Lê Văn Mới"
    assert household.address == "Số 1 đường thử"


@pytest.mark.django_db
def test_a_name_made_only_of_control_characters_is_refused(group_a, ward_officer_a, client_for):
    client = client_for(ward_officer_a)
    response = client.post(reverse("borrowers:household_create"), household_data(group_a, head_name="\x01\x02 \x7f"))
    assert response.status_code == 200
    assert response.context["form"].has_error("head_name", "required")
    assert not Household.objects.filter(citizen_id="079199000123").exists()


def test_a_text_area_keeps_its_lines_and_tabs():
    from loans.forms.requests import ApplicationForm

    field = ApplicationForm.base_fields["planned_use"]
    assert field.clean("Mua heo giống\r\n\tHai con\x07\r\nThức ăn\x0c") == "Mua heo giống\n\tHai con\nThức ăn"
    purpose = ApplicationForm.base_fields["purpose"]
    assert purpose.clean("Chăn nuôi\r\nheo\x01") == "Chăn nuôi heo"


def test_a_password_is_taken_as_typed():
    from organizations.forms import LoginForm

    assert LoginForm.base_fields["password"].clean(" mật\x01khẩu ") == " mật\x01khẩu "


@pytest.mark.django_db
def test_the_login_form_reads_a_pasted_username(ward_officer_a, client):
    response = client.post(reverse("login"), {"username": "ward_a\x01\r\n", "password": "uythac-test"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ward_officer_a.pk)


@pytest.mark.django_db
def test_the_admin_cleans_what_it_saves(admin_user, client_for):
    client = client_for(admin_user)
    response = client.post(
        reverse("admin:organizations_area_add"),
        {"code": "Q\x01T", "name": "Quận\x1b thử\r\nmới", "kind_label": "Quận\x00"},
    )
    assert response.status_code == 302
    area = Area.objects.get(code="QT")
    assert (area.name, area.kind_label) == ("Quận thử mới", "Quận")


@pytest.mark.django_db
def test_no_path_around_the_forms_stores_a_control_character(household_a, ward_officer_a):
    """Services and the admin save through the models, which clean their text columns whatever the caller."""
    household_a.head_name = "Nguyễn\x01Văn\ud800 A"
    household_a.address = "Dòng 1\r\nDòng 2\x02"
    household_a.save()
    household_a.refresh_from_db()
    assert household_a.head_name == "NguyễnVăn A"
    assert household_a.address == "Dòng 1\nDòng 2"  # the model keeps lines; a single-line form has removed them
    area = Area.objects.create(code="Q\x027", name="Quận\x1f 7")
    assert Area.objects.filter(pk=area.pk, code="Q7", name="Quận 7").exists()


def test_bank_file_text_cells_are_cleaned():
    rows = iter(
        [
            (1, ["STT", "Mã tổ", "Tên tổ", "Mã phường", "Mã hội", "Tên tổ trưởng\x01", "Số thành viên", "Xếp loại"]),
            (2, [1, "8100001", "Tổ\x02 A1", "900001", "12", "Trần\x0bThị\x00 Tổ", 10, "Tốt"]),
            (3, [2, "81000\x0102", "Tổ A2", "900001", "12", "Lê Văn Hai", 8, "Khá"]),
        ]
    )
    sheet = parse_sheet(rows, "groups")
    assert not sheet.errors
    (_n, first), (_m, second) = sheet.rows
    assert (first["group_name"], first["leader_name"]) == ("Tổ A1", "Trần Thị Tổ")
    assert second["group_code"] == "8100002"  # an invisible character inside a code is not a digit of it
    assert all("\x01" not in label for label in sheet.labels.values())


def test_a_bad_bank_cell_is_named_without_its_control_characters():
    rows = iter([(1, ["Mã tổ", "Tên tổ", "Mã phường", "Mã hội"]), (2, ["81\x0100x", "Tổ", "900001", "12"])])
    sheet = parse_sheet(rows, "groups")
    assert [error["value"] for error in sheet.errors] == ["8100x"]
