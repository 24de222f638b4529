"""An admin imports the bank's loan-balance file: upload, preview, confirm, and the new households."""

import pytest

from loans.defaults import install_default_programs
from loans.models import LoanProgram
from tests.browser.conftest import login
from tests.test_bank_import import loan_row, loans_file

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_uploads_previews_confirms_and_sees_households(page, screenshot, tmp_path, admin_user, group_a):
    install_default_programs(LoanProgram)  # a transactional test may have flushed the programs' data migration
    path = tmp_path / "du-no-thang-10.xlsx"
    path.write_bytes(loans_file([loan_row(1), loan_row(2, overdue=5_000_000), loan_row(3, outstanding="45.000.000")]))

    login(page, "admin")
    page.click("[data-testid=menu-reports]")
    page.click("text=Tệp ngân hàng")
    page.wait_for_selector("input[type=file]")
    page.select_option("select[name=kind]", "loans")
    page.set_input_files("input[type=file]", str(path))
    screenshot("bank-import-upload")
    page.click("button[type=submit]:has-text('Tải lên')")

    # The check runs in the background; the page polls and then shows the preview.
    page.wait_for_selector("[data-testid=confirm]", timeout=30_000)
    counts = page.inner_text("[data-testid=counts]")
    assert "Mới" in counts and "3" in counts
    screenshot("bank-import-preview")
    screenshot("bank-import-preview-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})

    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=done]", timeout=30_000)
    households = page.inner_text("[data-testid=households]")
    assert "Khách hàng 1" in households and "Khách hàng 3" in households
    assert "6100000002" in households
    screenshot("bank-import-done")
    screenshot("bank-import-done-phone", width=390)


def test_a_broken_file_shows_its_errors(page, screenshot, tmp_path, admin_user, group_a):
    install_default_programs(LoanProgram)
    bad = loan_row(2)
    bad[11] = "31/02/2024"
    path = tmp_path / "hong.xlsx"
    path.write_bytes(loans_file([loan_row(1), bad], total=False))

    login(page, "admin")
    page.goto(f"{page.base_url}/loans/imports/")
    page.set_input_files("input[type=file]", str(path))
    page.click("button[type=submit]:has-text('Tải lên')")
    page.wait_for_selector("[data-testid=refused]", timeout=30_000)
    errors = page.inner_text("[data-testid=errors]")
    assert "31/02/2024" in errors and "Ngày giải ngân" in errors and "không phải là ngày có thật" in errors
    screenshot("bank-import-errors")
    screenshot("bank-import-errors-phone", width=390)
