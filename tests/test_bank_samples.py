"""The bank's own sample files (shared/samples beside the project) import as the bank meant them.

They were laid out by the bank, not by these tests: a title block, a Vietnamese header row, text amounts on some rows,
a *Tổng cộng* row. Groups come first, then loan balances that create the households and loans, then the month's
transactions, which must find those loans.
"""

import io
import os
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum

from borrowers.models import Household
from loans.bankfiles.importing import import_confirm, import_upload
from loans.models import BankGroupGrade, ImportBatch, Loan, Posting
from organizations.errors import DomainError
from organizations.models import Organization, SavingsGroup
from tests.factories import BranchFactory, WardFactory

pytestmark = pytest.mark.django_db

def _samples_folder():
    """`shared/samples` beside the project (or beside any folder above it), or where UYTHAC_SAMPLES points."""
    if os.environ.get("UYTHAC_SAMPLES"):
        return Path(os.environ["UYTHAC_SAMPLES"])
    for folder in Path(__file__).resolve().parents[1:]:
        if (folder / "shared" / "samples").is_dir():
            return folder / "shared" / "samples"
    return Path(__file__).resolve().parents[2] / "shared" / "samples"


SAMPLES = _samples_folder()


@pytest.fixture(autouse=True)
def inline_jobs(settings):
    settings.IMPORT_RUN_MODE = "inline"


@pytest.fixture(autouse=True)
def after_the_files_date():
    with time_machine.travel(date(2026, 11, 10), tick=False):
        yield


def sample(kind):
    path = SAMPLES / f"bank-{kind}-sample.xlsx"
    if not path.exists():
        pytest.skip(f"the bank's sample files are not beside the project ({SAMPLES})")
    return path.read_bytes()


def total_row(kind):
    """The figures of the file's own Tổng cộng row, by header."""
    sheet = openpyxl.load_workbook(io.BytesIO(sample(kind)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header = next(row for row in rows if row[0] in ("STT", "Ngày giao dịch", "Mã tổ"))
    total = next(row for row in rows if row[0] == "Tổng cộng")
    return {name: value for name, value in zip(header, total, strict=True) if value not in (None, "Tổng cộng")}


@pytest.fixture
def district_wards():
    """The two wards of the demo district the samples use, each with the branches their rows name."""
    thanh_xuan = WardFactory(code="026764", name="Thạnh Xuân")
    hiep_thanh = WardFactory(code="026770", name="Hiệp Thành", area=thanh_xuan.area)
    for ward in (thanh_xuan, hiep_thanh):
        for kind in (Organization.Kind.WOMEN, Organization.Kind.FARMERS):
            BranchFactory(ward=ward, kind=kind)


def run(kind, actor):
    batch = import_upload(kind=kind, file_name=f"bank-{kind}-sample.xlsx", content=sample(kind), actor=actor)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.get_status_display()
    import_confirm(batch=batch, actor=actor)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE
    return batch


@pytest.mark.usefixtures("district_wards")
def test_groups_then_loans_then_transactions(admin_user):
    groups = run("groups", admin_user)
    assert SavingsGroup.objects.count() == 4
    assert dict(BankGroupGrade.objects.filter(batch=groups).values_list("group__code", "score")) == {
        "7100000": 91, "7100001": 78, "7100010": 64, "7100011": 88,
    }

    loans = run("loans", admin_user)
    totals = total_row("loans")
    created = Loan.objects.filter(import_batch=loans)
    assert created.count() == Household.objects.filter(import_batch=loans).count() == 24
    assert created.aggregate(s=Sum("amount"))["s"] == totals["Số tiền giải ngân"]
    assert created.aggregate(s=Sum("principal_outstanding"))["s"] == totals["Dư nợ"]
    assert created.aggregate(s=Sum("overdue_principal"))["s"] == totals["Nợ quá hạn"]
    assert Household.objects.aggregate(s=Sum("savings_balance"))["s"] == totals["Số dư tiết kiệm"]
    # Codes that arrive as text keep their leading zeros; the ward comes from the file.
    loan = Loan.objects.select_related("group__branch__ward", "household").get(number="7800000000000000")
    assert (loan.group.code, loan.household.customer_code, loan.group.branch.ward.code) == (
        "7100000", "6100000000", "026764",
    )

    transactions = run("transactions", admin_user)
    posted = Posting.objects.filter(import_batch=transactions)
    assert posted.count() == 25
    assert posted.aggregate(s=Sum("amount"))["s"] == total_row("transactions")["Số tiền"]

    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert "passed" in out.getvalue()


@pytest.mark.usefixtures("district_wards")
def test_importing_the_samples_again_changes_nothing(admin_user):
    for kind in ("groups", "loans", "transactions"):
        run(kind, admin_user)
    postings = Posting.objects.count()
    for kind in ("groups", "loans", "transactions"):
        with pytest.raises(DomainError, match="đã được nhập"):
            import_upload(kind=kind, file_name="again.xlsx", content=sample(kind), actor=admin_user)
    assert Posting.objects.count() == postings
