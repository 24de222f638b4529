"""Importing and exporting the bank's spreadsheets: layouts, errors, all-or-nothing, idempotency, reconciliation."""

import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from borrowers.models import Household
from loans.bankfiles.importing import import_confirm, import_upload
from loans.bankfiles.layouts import fold, parse_sheet
from loans.bankfiles.reader import SpreadsheetError, read_rows
from loans.bankfiles.reconciliation import reconciliation_accept
from loans.models import BankGroupGrade, ImportBatch, Loan, Posting, ReconciliationItem
from organizations.errors import DomainError
from organizations.models import AuditEvent, SavingsGroup
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db

LOAN_HEADER = [
    "STT",
    "Mã phường",
    "Tên phường",
    "Mã hội",
    "Mã tổ",
    "Tên tổ trưởng",
    "Mã khách hàng",
    "Tên khách hàng",
    "Số CCCD",
    "Mã chương trình",
    "Số khế ước",
    "Ngày giải ngân",
    "Ngày đến hạn",
    "Số tiền giải ngân",
    "Dư nợ",
    "Nợ quá hạn",
    "Nợ khoanh",
    "Lãi tồn",
    "Số dư tiết kiệm",
]
AMOUNTS = slice(13, 19)


@pytest.fixture(autouse=True)
def inline_jobs(settings):
    settings.IMPORT_RUN_MODE = "inline"


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(date(2026, 11, 10), tick=False):
        yield


def workbook(
    header,
    rows,
    *,
    title=("NGÂN HÀNG CHÍNH SÁCH XÃ HỘI", "PHÒNG GIAO DỊCH QUẬN THỬ", "ĐẾN NGÀY 31/10/2026"),
    total=None,
):
    wb = openpyxl.Workbook()
    ws = wb.active
    for line in title:
        ws.append([line])
    ws.append(header)
    for row in rows:
        ws.append(row)
    if total is not None:
        ws.append(total)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def loan_row(
    n,
    *,
    ward="900001",
    org="12",
    group="8100001",
    customer=None,
    cid=None,
    program="01",
    number=None,
    amount=50_000_000,
    outstanding=40_000_000,
    overdue=0,
    frozen=0,
    arrears=0,
    savings=250_000,
):
    return [
        n,
        ward,
        "Phường A",
        org,
        group,
        "Trần Thị Tổ",
        customer or f"61000000{n:02d}",
        f"Khách hàng {n}",
        cid or f"0795725052{n:02d}",
        program,
        number or f"78000000000000{n:02d}",
        "20/03/2024",
        "20/03/2029",
        amount,
        outstanding,
        overdue,
        frozen,
        arrears,
        savings,
    ]


def loans_file(rows, *, header=LOAN_HEADER, total=True):
    total_row = None
    if total:
        total_row = ["Tổng cộng"] + [None] * 12 + [sum(_amount(r[i]) for r in rows) for i in range(13, 19)]
    return workbook(header, rows, total=total_row)


def _amount(value):
    return int(str(value).replace(".", "")) if isinstance(value, str) else value


def run_import(kind, content, actor, name="bank.xlsx"):
    batch = import_upload(kind=kind, file_name=name, content=content, actor=actor)
    batch.refresh_from_db()
    if batch.status == ImportBatch.Status.PREVIEWED:
        import_confirm(batch=batch, actor=actor)
        batch.refresh_from_db()
    return batch


def ledger_ok():
    call_command("check_ledger", stdout=io.StringIO())
    return True


# ---- loan balances ----------------------------------------------------------------------------------------------


def test_loan_balances_with_title_block_total_row_and_text_amounts(admin_user, branch_a, group_a):
    rows = [
        loan_row(1),
        loan_row(2, outstanding="45.000.000", savings="100.000"),
        loan_row(3, outstanding=40_000_000, overdue="5.000.000", arrears="137.500", savings=0),
    ]
    batch = run_import("loans", loans_file(rows), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert batch.summary["new"] == 3
    loans = {loan.number: loan for loan in Loan.objects.filter(import_batch=batch)}
    assert len(loans) == 3
    assert loans["7800000000000002"].principal_outstanding == 45_000_000
    third = loans["7800000000000003"]
    assert third.overdue_principal == 5_000_000 and third.interest_arrears == 137_500
    assert Household.objects.filter(import_batch=batch).count() == 3
    assert Household.objects.get(customer_code="6100000002").savings_balance == 100_000
    assert Posting.objects.filter(import_batch=batch, kind=Posting.Kind.DISBURSEMENT).count() == 3
    assert Posting.objects.filter(import_batch=batch).exclude(import_batch=batch).count() == 0
    assert all(h.current_membership.group == group_a for h in Household.objects.filter(import_batch=batch))
    # The opening entries follow from each row: the repaid principal, the opening savings, and the overdue principal
    # as an instalment already missed.
    postings = Posting.objects.filter(import_batch=batch)
    assert sorted(postings.filter(kind=Posting.Kind.PRINCIPAL).values_list("amount", flat=True)) == [
        5_000_000,
        10_000_000,
        10_000_000,
    ]
    assert sorted(postings.filter(kind=Posting.Kind.SAVINGS_IN).values_list("amount", flat=True)) == [100_000, 250_000]
    assert batch.summary["written"]["postings"] == postings.count() == 8
    schedule = list(
        third.instalments.order_by("seq").values_list("due_on", "principal", "overdue_since", "scheduled_through")
    )
    assert schedule == [
        (date(2026, 11, 10), 15_000_000, date(2026, 11, 10), 15_000_000),
        (date(2029, 3, 20), 35_000_000, None, 50_000_000),
    ]
    assert list(loans["7800000000000001"].instalments.values_list("due_on", "principal", "scheduled_through")) == [
        (date(2029, 3, 20), 50_000_000, 50_000_000)
    ]
    audited = AuditEvent.objects.filter(import_batch_id=batch.pk, action="bulk_create")
    assert {event.changes["count"] for event in audited if event.content_type.model == "posting"} == {8}
    assert {event.changes["count"] for event in audited if event.content_type.model == "household"} == {3}
    assert ledger_ok()


def test_header_variants_and_codes_that_lost_their_zeros(admin_user, ward_a, women_district):
    header = [
        "stt",
        "MÃ PHƯỜNG/XÃ",
        "Tên phường",
        "Mã ĐVUT",
        "Mã tổ TK&VV",
        "Tổ trưởng",
        "Mã KH",
        "Họ và tên",
        "Số CMND/CCCD",
        "Mã CT",
        "Số KU",
        "Ngày GN",
        "Hạn trả",
        "Số tiền vay",
        "Dư nợ ",
        "NQH",
        "Dư nợ khoanh",
        "Lãi tồn",
        "Tiết kiệm",
    ]
    ward_a.code = "026764"
    ward_a.save()
    row = [
        1,
        26764,
        "Thạnh Xuân",
        12,
        7100000,
        "Bùi Ngọc Trang",
        610000000,
        "Nguyễn Thanh Mai",
        79572505234,
        1,
        780000000000000,
        date(2024, 3, 20),
        "20/03/2029",
        50_000_000,
        50_000_000,
        0,
        0,
        0,
        0,
    ]
    batch = run_import("loans", loans_file([row], header=header), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    loan = Loan.objects.get(import_batch=batch)
    assert loan.number == "0780000000000000"
    assert loan.household.customer_code == "0610000000"
    assert loan.household.citizen_id == "079572505234"
    assert loan.program.code == "01"
    assert loan.group.code == "7100000" and loan.group.branch.ward == ward_a and loan.group.branch.kind == "12"
    assert loan.disbursed_on == date(2024, 3, 20)
    assert ledger_ok()


def test_signature_lines_under_the_data_are_not_rows(admin_user, group_a):
    footer = [None, None, None, None, None, "Người lập biểu", None, "Giám đốc"]
    content = workbook(LOAN_HEADER, [loan_row(1), [], footer])
    batch = run_import("loans", content, admin_user)
    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert batch.summary["rows"] == 1


def test_header_folding():
    assert fold("Mã  Khách-Hàng") == fold("ma khach hang") == "makhachhang"
    assert fold("Mã ĐVUT") == "madvut"


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({9: "77"}, "Mã chương trình", "program"),
        ({11: "31/02/2024"}, "Ngày giải ngân", "real date"),
        ({14: -5}, "Dư nợ", "negative"),
        ({8: "07957250521"}, "Số CCCD", "11 digits"),
        ({3: "99"}, "Mã hội", "direct lending"),
        ({1: "999999"}, "Mã phường", "no ward"),
    ],
)
def test_each_row_error_names_row_column_value_and_reason(admin_user, group_a, change, column, reason):
    bad = loan_row(2)
    for index, value in change.items():
        bad[index] = value
    batch = run_import("loans", loans_file([loan_row(1), bad], total=False), admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    error = batch.errors[0]
    assert error["row"] == 6  # three title lines, the header on row 4, data from row 5
    assert error["column"] == column
    assert error["message"]
    assert not Loan.objects.exists() and not Household.objects.filter(import_batch__isnull=False).exists()


def test_reasons_are_vietnamese(admin_user, group_a):
    from django.utils import translation

    bad = loan_row(1)
    bad[11] = "31/02/2024"
    with translation.override("vi"):
        batch = run_import("loans", loans_file([bad], total=False), admin_user)
    assert batch.errors[0]["message"] == "không phải là ngày có thật"


def test_loan_number_owned_by_another_customer(admin_user, household_a):
    LoanFactory(household=household_a, number="7800000000000001")
    batch = run_import("loans", loans_file([loan_row(1)]), admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    assert batch.errors[0]["column"] == "Số khế ước" and batch.errors[0]["value"] == "7800000000000001"
    assert "customer" in batch.errors[0]["message"] or "khách hàng" in batch.errors[0]["message"]


def test_total_row_mismatch_refuses_the_file(admin_user, group_a):
    content = workbook(
        LOAN_HEADER,
        [loan_row(1), loan_row(2)],
        total=["Tổng cộng"] + [None] * 12 + [100_000_000, 79_000_000, 0, 0, 0, 500_000],
    )
    batch = run_import("loans", content, admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    assert [e["column"] for e in batch.errors] == ["Dư nợ"]
    assert batch.errors[0]["row"] == 7
    assert not Loan.objects.exists()


def test_missing_required_column_is_named(admin_user, group_a):
    header = [h for h in LOAN_HEADER if h != "Số khế ước"]
    rows = [[v for i, v in enumerate(loan_row(1)) if i != 10]]
    batch = run_import("loans", workbook(header, rows), admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    assert batch.errors[0]["column"] == "Số khế ước"


def test_one_bad_row_imports_nothing(admin_user, group_a):
    rows = [loan_row(n) for n in range(1, 30)]
    rows[17][14] = "abc"
    batch = run_import("loans", loans_file(rows, total=False), admin_user)

    assert batch.status == ImportBatch.Status.FAILED and batch.error_count == 1
    assert Loan.objects.count() == 0 and Posting.objects.count() == 0
    assert Household.objects.filter(customer_code__startswith="61000000").count() == 0


def test_reimporting_the_same_file_says_when_and_by_whom_and_changes_nothing(admin_user, group_a):
    content = loans_file([loan_row(1)])
    run_import("loans", content, admin_user)
    postings = Posting.objects.count()

    with pytest.raises(DomainError) as refusal:
        import_upload(kind="loans", file_name="again.xlsx", content=content, actor=admin_user)

    assert "admin" in str(refusal.value) or admin_user.get_full_name() in str(refusal.value)
    assert Posting.objects.count() == postings


def test_exported_loan_balances_import_back_without_changes(admin_user, client_for, group_a):
    run_import(
        "loans", loans_file([loan_row(1), loan_row(2, overdue=5_000_000), loan_row(3, frozen=40_000_000)]), admin_user
    )
    response = client_for(admin_user).get(reverse("loans:bank_export", args=["loans", "xlsx"]))
    batch = import_upload(kind="loans", file_name="export.xlsx", content=response.content, actor=admin_user)
    batch.refresh_from_db()

    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    assert (batch.summary["new"], batch.summary["changed"], batch.summary["unchanged"]) == (0, 0, 3)


# ---- transactions ------------------------------------------------------------------------------------------------

TX_HEADER = ["Ngày giao dịch", "Số chứng từ", "Số khế ước", "Mã khách hàng", "Loại giao dịch", "Số tiền", "Ghi chú"]


def tx_file(rows):
    return workbook(
        TX_HEADER, rows, total=["Tổng cộng", None, None, None, None, sum(_amount(r[5]) for r in rows), None]
    )


@pytest.fixture
def imported_loan(admin_user, group_a):
    run_import("loans", loans_file([loan_row(1, outstanding=50_000_000, savings=0)]), admin_user, name="loans.xlsx")
    return Loan.objects.get(number="7800000000000001")


def test_transactions_and_an_overlapping_file(admin_user, imported_loan):
    first = [
        ["20/10/2026", "GD001", "7800000000000001", "6100000001", "Thu lãi", 220_000, "Tại điểm giao dịch"],
        ["20/10/2026", "GD002", "7800000000000001", "6100000001", "Gửi tiết kiệm", "50.000", ""],
        ["20/10/2026", "GD003", "7800000000000001", "6100000001", "Thu nợ gốc", "1.000.000", ""],
    ]
    batch = run_import("transactions", tx_file(first), admin_user)
    assert batch.status == ImportBatch.Status.DONE, batch.errors
    imported_loan.refresh_from_db()
    assert imported_loan.principal_outstanding == 49_000_000
    imported_loan.household.refresh_from_db()
    assert imported_loan.household.savings_balance == 50_000

    second = first[1:] + [["21/10/2026", "GD004", "7800000000000001", "6100000001", "Rút tiết kiệm", 20_000, ""]]
    batch = run_import("transactions", tx_file(second), admin_user)
    assert batch.status == ImportBatch.Status.DONE
    assert (batch.summary["new"], batch.summary["unchanged"]) == (1, 2)
    assert Posting.objects.filter(voucher__startswith="GD").count() == 4
    assert Posting.objects.get(voucher="GD004").import_batch == batch
    assert ledger_ok()


def test_unknown_loan_in_a_transaction_file(admin_user, imported_loan):
    rows = [["20/10/2026", "GD001", "7800000000000099", "6100000001", "Thu lãi", 220_000, ""]]
    batch = run_import("transactions", tx_file(rows), admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    assert (batch.errors[0]["row"], batch.errors[0]["column"]) == (5, "Số khế ước")
    assert not Posting.objects.filter(voucher="GD001").exists()


def test_transaction_kinds_are_mapped(admin_user, imported_loan):
    labels = ["Giải ngân", "Thu nợ gốc", "Thu lãi", "Thu lãi quá hạn", "Gửi tiết kiệm", "Rút tiết kiệm"]
    rows = [
        ["20/10/2026", f"V{i}", "7800000000000001", "6100000001", label, 10_000, ""] for i, label in enumerate(labels)
    ]
    batch = run_import("transactions", tx_file(rows), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    kinds = [Posting.objects.get(voucher=f"V{i}").kind for i in range(6)]
    assert kinds == ["disbursement", "principal", "interest", "overdue_interest", "savings_in", "savings_out"]


# ---- groups -------------------------------------------------------------------------------------------------------


def test_groups_file_creates_and_updates_groups(admin_user, group_a):
    header = ["Mã tổ", "Tên tổ", "Mã phường", "Mã hội", "Tổ trưởng", "Số thành viên", "Điểm", "Xếp loại"]
    rows = [
        ["8100001", "Tổ A1 mới", "900001", "12", "X", 6, 91, "Tốt"],
        [8100009, "Tổ A9", 900001, 11, "Y", 5, 64, "Trung bình"],
    ]
    batch = run_import("groups", workbook(header, rows), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert (batch.summary["new"], batch.summary["changed"]) == (1, 1)
    group_a.refresh_from_db()
    assert group_a.name == "Tổ A1 mới"
    created = SavingsGroup.objects.get(code="8100009")
    assert created.branch.kind == "11" and created.branch.ward.code == "900001"
    assert BankGroupGrade.objects.get(group=created).grade == "average"


# ---- reconciliation --------------------------------------------------------------------------------------------


def test_reconciliation_lists_differences_and_accepting_writes_adjustments(admin_user, household_a):
    loan = LoanFactory(household=household_a, number="7800000000000001", amount=Decimal(50_000_000))
    Posting.objects.create(
        kind=Posting.Kind.PRINCIPAL, household=household_a, loan=loan, amount=5_000_000, on=date(2026, 6, 1)
    )
    from loans.ledger.balances import refresh_loan_balances

    refresh_loan_balances([loan.pk])
    row = loan_row(
        1,
        customer=household_a.customer_code,
        cid=household_a.citizen_id,
        number=loan.number,
        outstanding=42_000_000,
        overdue=2_000_000,
        savings=300_000,
    )
    batch = run_import("loans", loans_file([row]), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert batch.summary["changed"] == 1
    items = {i.figure: i for i in ReconciliationItem.objects.filter(batch=batch)}
    assert set(items) == {"outstanding", "overdue", "savings"}
    assert (items["outstanding"].ledger_value, items["outstanding"].bank_value) == (45_000_000, 42_000_000)
    loan.refresh_from_db()
    assert loan.principal_outstanding == 45_000_000  # nothing is changed before an admin accepts

    reconciliation_accept(batch=batch, item_ids=[i.pk for i in items.values()], actor=admin_user)

    loan.refresh_from_db()
    household_a.refresh_from_db()
    assert (loan.principal_outstanding, loan.overdue_principal) == (42_000_000, 2_000_000)
    assert household_a.savings_balance == 300_000
    adjustments = Posting.objects.filter(import_batch=batch, note="Đối chiếu với ngân hàng")
    assert adjustments.count() == 2
    assert ledger_ok()
    with pytest.raises(DomainError):
        reconciliation_accept(batch=batch, item_ids=[i.pk for i in items.values()], actor=admin_user)


def test_accepting_a_higher_outstanding_reverses_repayments(admin_user, household_a):
    loan = LoanFactory(household=household_a, number="7800000000000001", amount=Decimal(50_000_000))
    Posting.objects.create(
        kind=Posting.Kind.PRINCIPAL, household=household_a, loan=loan, amount=5_000_000, on=date(2026, 6, 1)
    )
    from loans.ledger.balances import refresh_loan_balances

    refresh_loan_balances([loan.pk])
    row = loan_row(
        1,
        customer=household_a.customer_code,
        cid=household_a.citizen_id,
        number=loan.number,
        outstanding=48_000_000,
        savings=0,
    )
    batch = run_import("loans", loans_file([row]), admin_user)
    item = ReconciliationItem.objects.get(batch=batch, figure="outstanding")

    reconciliation_accept(batch=batch, item_ids=[item.pk], actor=admin_user)

    loan.refresh_from_db()
    assert loan.principal_outstanding == 48_000_000
    assert Posting.objects.filter(loan=loan, kind=Posting.Kind.REVERSAL, import_batch=batch).count() == 1
    assert ledger_ok()


# ---- safety -------------------------------------------------------------------------------------------------------


def test_upload_cap(settings, admin_user, group_a, client_for):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    content = loans_file([loan_row(1)])
    with pytest.raises(DomainError, match="MB"):
        import_upload(kind="loans", file_name="big.xlsx", content=content, actor=admin_user)
    upload = io.BytesIO(content)
    upload.name = "big.xlsx"
    response = client_for(admin_user).post(reverse("loans:bank_import_list"), {"kind": "loans", "file": upload})
    assert response.status_code == 200
    assert "MB" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_crafted_oversized_archive_is_refused_before_parsing(settings, admin_user):
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 5 * 1024 * 1024
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<row>" + b" " * (20 * 1024 * 1024) + b"</row>")
    assert len(buffer.getvalue()) < 100_000
    batch = run_import("loans", buffer.getvalue(), admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    assert "MB" in batch.errors[0]["message"]


def test_archive_with_too_many_entries_is_refused(settings):
    settings.IMPORT_MAX_XLSX_ENTRIES = 10
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(20):
            archive.writestr(f"x{n}.xml", "<a/>")
    with pytest.raises(SpreadsheetError):
        list(read_rows(buffer.getvalue(), "many.xlsx"))


def test_xml_entities_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "xl/workbook.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><workbook>&a;</workbook>'
        )
    with pytest.raises(SpreadsheetError):
        list(read_rows(buffer.getvalue(), "bomb.xlsx"))


def test_formulas_are_read_as_their_values_never_run():
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Số tiền</t></is></c></row>'
        '<row r="2"><c r="A2"><f>SUM(1,2)</f><v>3</v></c></row>'
        '<row r="1000000"><c r="A1000000" t="str"><f>CMD|calc</f><v>=cmd</v></c></row>'
        "</sheetData></worksheet>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "xl/workbook.xml",
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="a" sheetId="1"/></sheets></workbook>',  # noqa: E501
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    rows = list(read_rows(buffer.getvalue(), "f.xlsx"))
    assert rows == [(1, ["Số tiền"]), (2, [3]), (1000000, ["=cmd"])]


def test_a_sheet_claiming_a_million_rows_costs_what_it_holds(admin_user, group_a):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(LOAN_HEADER)
    ws.append(loan_row(1))
    ws.cell(row=1_000_000, column=1).value = None  # stretches the declared dimension
    buffer = io.BytesIO()
    wb.save(buffer)
    sheet = parse_sheet(read_rows(buffer.getvalue(), "x.xlsx"), "loans")
    assert sheet.data_rows == 1 and not sheet.errors


def test_csv_with_bom_and_semicolons(admin_user, group_a):
    lines = [";".join(LOAN_HEADER)] + [";".join(str(v) for v in loan_row(1))]
    content = ("\ufeff" + "\n".join(lines)).encode()
    batch = run_import("loans", content, admin_user, name="du-no.csv")
    assert batch.status == ImportBatch.Status.DONE, batch.errors


def test_not_a_spreadsheet_is_a_clear_refusal(admin_user):
    batch = run_import("loans", b"PK\x03\x04garbage", admin_user)
    assert batch.status == ImportBatch.Status.FAILED
    assert batch.errors[0]["message"]


# ---- exports and formula escaping ----------------------------------------------------------------------------------


def test_export_escapes_formulas_and_keeps_to_the_users_scope(client_for, ward_officer_a, household_a, household_b):
    household_a.head_name = '=HYPERLINK("http://x")'
    household_a.save()
    response = client_for(ward_officer_a).get(reverse("loans:bank_export", args=["households", "xlsx"]))
    assert response.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(response.content)).active
    names = [row[2] for row in ws.iter_rows(values_only=True)]
    assert '\'=HYPERLINK("http://x")' in names
    assert household_b.head_name not in names

    response = client_for(ward_officer_a).get(reverse("loans:bank_export", args=["households", "csv"]))
    text = response.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and household_b.head_name not in text


def test_export_command_writes_the_layout(tmp_path, admin_user, group_a):
    run_import("loans", loans_file([loan_row(1)]), admin_user)
    out = tmp_path / "loans.xlsx"
    call_command("export_bank", str(out), kind="loans", stdout=io.StringIO())
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert "Số khế ước" in rows[3] and rows[4][10] == "7800000000000001" and rows[-1][0] == "Tổng cộng"


def test_import_command_dry_run_and_import(tmp_path, admin_user, group_a):
    path = tmp_path / "du-no.xlsx"
    path.write_bytes(loans_file([loan_row(1), loan_row(2)]))
    out = io.StringIO()
    call_command("import_bank", str(path), kind="loans", dry_run=True, stdout=out)
    assert "2 new" in out.getvalue() and not Loan.objects.exists()
    call_command("import_bank", str(path), kind="loans", stdout=out)
    assert Loan.objects.count() == 2
    assert ledger_ok()


# ---- pages and permissions ------------------------------------------------------------------------------------


def test_upload_preview_confirm_through_the_pages(client_for, admin_user, group_a):
    client = client_for(admin_user)
    upload = io.BytesIO(loans_file([loan_row(1), loan_row(2)]))
    upload.name = "du-no.xlsx"
    response = client.post(reverse("loans:bank_import_list"), {"kind": "loans", "file": upload})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("loans:bank_import_detail", args=[batch.pk])

    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="confirm"' in page and not Loan.objects.exists()

    assert client.get(reverse("loans:bank_import_confirm", args=[batch.pk])).status_code == 405
    client.post(reverse("loans:bank_import_confirm", args=[batch.pk]))
    page = client.get(reverse("loans:bank_import_detail", args=[batch.pk])).content.decode()
    assert 'data-testid="households"' in page and "Khách hàng 2" in page
    assert Loan.objects.count() == 2


def test_errors_download_as_xlsx(client_for, admin_user, group_a):
    bad = loan_row(1)
    bad[11] = "31/02/2024"
    batch = run_import("loans", loans_file([bad], total=False), admin_user)
    response = client_for(admin_user).get(reverse("loans:bank_import_errors", args=[batch.pk]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [5, "Ngày giải ngân", "31/02/2024"] == list(rows[3][:3])


def test_progress_partial_polls_until_done(client_for, admin_user, group_a):
    batch = import_upload(
        kind="loans", file_name="a.xlsx", content=loans_file([loan_row(1)]), actor=admin_user, run=False
    )
    response = client_for(admin_user).get(reverse("loans:bank_import_progress", args=[batch.pk]))
    assert 'hx-trigger="every 1s"' in response.content.decode() and "HX-Refresh" not in response
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.PREVIEWED)
    response = client_for(admin_user).get(reverse("loans:bank_import_progress", args=[batch.pk]))
    assert response["HX-Refresh"] == "true"


@pytest.mark.parametrize("persona", ["ward_officer_a", "district_staff", "front_supervisor"])
def test_only_admins_and_permitted_users_import(request, client_for, persona, admin_user):
    user = request.getfixturevalue(persona)
    batch = ImportBatch.objects.create(
        kind="loans", file_name="x.xlsx", sha256="0" * 64, content=b"", created_by=admin_user
    )
    client = client_for(user)
    for url in (
        reverse("loans:bank_import_list"),
        reverse("loans:bank_import_detail", args=[batch.pk]),
        reverse("loans:bank_import_errors", args=[batch.pk]),
    ):
        assert client.get(url).status_code == 403
    assert client.post(reverse("loans:bank_import_confirm", args=[batch.pk])).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="import_bank_files"))
    client.force_login(type(user).objects.get(pk=user.pk))
    assert client.get(reverse("loans:bank_import_list")).status_code == 200
    assert client.get(reverse("loans:bank_import_detail", args=[batch.pk + 1])).status_code == 404


def test_import_list_query_count(client_for, admin_user, django_assert_max_num_queries):
    for n in range(5):
        ImportBatch.objects.create(
            kind="loans", file_name=f"{n}.xlsx", sha256=str(n) * 64, content=b"", created_by=admin_user
        )
    client = client_for(admin_user)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("loans:bank_import_list"))
    assert response.content.decode().count("bank_import") >= 0 and "4.xlsx" in response.content.decode()
    assert client.delete(reverse("loans:bank_import_list")).status_code == 405


def test_export_page_for_every_role(client_for, ward_officer_b):
    client = client_for(ward_officer_b)
    assert client.get(reverse("loans:bank_export_page")).status_code == 200
    assert client.get(reverse("loans:bank_export", args=["nothing", "xlsx"])).status_code == 404
    assert client.post(reverse("loans:bank_export", args=["loans", "xlsx"])).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_runs_the_job(settings, admin_user, group_a):
    import time

    settings.IMPORT_RUN_MODE = "thread"
    from loans.defaults import install_default_programs
    from loans.models import LoanProgram

    install_default_programs(LoanProgram)
    batch = import_upload(kind="loans", file_name="a.xlsx", content=loans_file([loan_row(1)]), actor=admin_user)
    for _ in range(100):
        batch.refresh_from_db()
        if batch.status != ImportBatch.Status.UPLOADED:
            break
        time.sleep(0.1)
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors


# ---- a job that died with its process ----------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["check", "apply"])
def test_a_job_that_died_is_marked_refused_and_the_file_can_be_imported_again(
    settings, client_for, admin_user, group_a, step
):
    settings.IMPORT_STALE_SECONDS = 300
    content = loans_file([loan_row(1)])
    batch = import_upload(kind="loans", file_name="a.xlsx", content=content, actor=admin_user, run=False)
    if step == "apply":
        from loans.bankfiles.importing import run_job

        batch = run_job(batch.pk, "check")
        import_confirm(batch=batch, actor=admin_user, run=False)  # the process dies before the job starts
    client = client_for(admin_user)
    progress = reverse("loans:bank_import_progress", args=[batch.pk])
    with time_machine.travel(batch.created_at + timedelta(minutes=4), tick=False):
        # Recently started: still waiting for the job.
        assert "HX-Refresh" not in client.get(progress)
    with time_machine.travel(batch.created_at + timedelta(minutes=6), tick=False):
        response = client.get(progress)
    assert response["HX-Refresh"] == "true"
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED
    assert "kết thúc" in batch.errors[0]["message"] and "tải tệp lên lại" in batch.errors[0]["message"]
    assert not Loan.objects.exists()
    # A job that comes back late does not write over the refusal.
    if step == "apply":
        from loans.bankfiles.importing import run_job

        assert run_job(batch.pk, "apply").status == ImportBatch.Status.FAILED
        assert not Loan.objects.exists()
    # The same file can be imported again.
    again = run_import("loans", content, admin_user)
    assert again.status == ImportBatch.Status.DONE and Loan.objects.count() == 1


def test_a_job_that_shows_progress_is_not_taken_for_dead(settings, admin_user, group_a):
    from loans.bankfiles.importing import Progress, import_recover_stale

    settings.IMPORT_STALE_SECONDS = 300
    batch = import_upload(kind="loans", file_name="a.xlsx", content=loans_file([loan_row(1)]), actor=admin_user, run=False)
    start = batch.created_at
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        Progress(batch).phase("Đang đọc tệp", done=0)
    batch.refresh_from_db()
    with time_machine.travel(start + timedelta(minutes=33), tick=False):
        assert import_recover_stale(batch=batch).status == ImportBatch.Status.UPLOADED
    with time_machine.travel(start + timedelta(minutes=36), tick=False):
        assert import_recover_stale(batch=batch).status == ImportBatch.Status.FAILED


# ---- the old .xls format ------------------------------------------------------------------------------------------

XLS_FIXTURE = Path(__file__).parent / "fixtures" / "loan-balances.xls"  # written by fixtures/make_bank_xls.py


def test_xls_with_title_block_total_row_numeric_codes_and_dates(admin_user, group_a):
    content = XLS_FIXTURE.read_bytes()
    assert content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a real Excel 97-2003 workbook
    sheet = parse_sheet(read_rows(content, "du-no.xls"), "loans")
    assert not sheet.errors
    assert (sheet.header_row, sheet.total_row, sheet.data_rows) == (6, 9, 2)

    batch = run_import("loans", content, admin_user, name="du-no.xls")

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    first = Household.objects.get(import_batch=batch, head_name="Nguyễn Thị Lành")
    assert (first.customer_code, first.citizen_id, first.savings_balance) == ("0610000001", "079572505201", 250_000)
    loans = {loan.number: loan for loan in Loan.objects.filter(import_batch=batch)}
    assert loans["7800000000000001"].disbursed_on == date(2024, 3, 20)  # a date cell
    assert loans["7800000000000001"].program.code == "01"  # the program code 1 as a number
    second = loans["7800000000000002"]
    assert (second.disbursed_on, second.maturity_on) == (date(2024, 7, 5), date(2027, 7, 5))  # dd/mm/yyyy text
    assert (second.principal_outstanding, second.overdue_principal, second.interest_arrears) == (
        25_000_000,
        5_000_000,
        137_500,
    )
    assert second.household.customer_code == "0610000002"
    assert ledger_ok()


def test_xls_that_is_not_a_workbook_is_refused(admin_user):
    with pytest.raises(SpreadsheetError):
        list(read_rows(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "du-no.xls"))
