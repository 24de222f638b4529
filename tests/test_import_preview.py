"""The bank-file preview shows what it read: the first rows, the file's Tổng cộng against the rows, the right column
names for transactions, and no stale 'being checked' message once the check is over."""

from datetime import date

import pytest
import time_machine
from django.urls import reverse

from loans.models import ImportBatch, Loan
from tests.test_bank_import import loan_row, loans_file, run_import, tx_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_pages")]


@pytest.fixture
def english_pages(client, settings):
    """Pages in English, so that assertions read the rule's own words whatever the catalogue holds."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture(autouse=True)
def inline_jobs(settings):
    settings.IMPORT_RUN_MODE = "inline"


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(date(2026, 11, 10), tick=False):
        yield


@pytest.fixture
def imported_loan(admin_user, group_a):
    run_import("loans", loans_file([loan_row(1, outstanding=50_000_000, savings=0)]), admin_user, name="loans.xlsx")
    return Loan.objects.get(number="7800000000000001")


def upload(client, kind, content, name="bank.xlsx"):
    import io

    file = io.BytesIO(content)
    file.name = name
    return client.post(reverse("loans:bank_import_list"), {"kind": kind, "file": file}, follow=True)


def test_loans_preview_shows_sample_rows_and_the_total_check(client_for, english, admin_user, group_a):
    response = upload(client_for(admin_user), "loans", loans_file([loan_row(1), loan_row(2, outstanding=30_000_000)]))
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.PREVIEWED
    check = {c["column"]: c for c in batch.summary["total_check"]}
    assert check["Dư nợ"] == {"column": "Dư nợ", "file": 70_000_000, "rows": 70_000_000}
    assert batch.summary["samples"]["rows"][0][0] == 5  # Excel row of the first data row
    page = response.content.decode()
    assert 'data-testid="samples"' in page and "Khách hàng 2" in page and "7800000000000001" in page
    assert 'data-testid="total-check"' in page and "70.000.000" in page


def test_a_file_without_a_total_row_says_so(client_for, english, admin_user, group_a):
    response = upload(client_for(admin_user), "loans", loans_file([loan_row(1)], total=False))
    assert "has no Tổng cộng row" in response.content.decode()


def test_no_stale_checking_message_after_the_check(client_for, english, admin_user, group_a):
    response = upload(client_for(admin_user), "loans", loans_file([loan_row(1)]))
    page = response.content.decode()
    assert ImportBatch.objects.get().status == ImportBatch.Status.PREVIEWED
    assert "being checked" not in page and "is stored" in page


def test_transactions_preview_names_the_loan_number_column(client_for, english, admin_user, imported_loan):
    rows = [["20/10/2026", "GD001", "7800000000000001", "6100000001", "Thu lãi", 220_000, ""]]
    response = upload(client_for(admin_user), "transactions", tx_file(rows), name="tx.xlsx")
    page = response.content.decode()
    changes = page[page.index('data-testid="changes"'):]
    header = changes[: changes.index("</thead>")]
    assert "Loan number" in header and "Voucher number" in header and ">Name<" not in header
