"""Collection day on a phone (390 × 844): nothing typed is lost, online or offline, and nothing is posted by accident.

Each test walks one of the ways an officer loses work at the transaction point: the signal drops (the service worker
opens the sheet again and the rows wait on the device), the session ends (sign in again, come back, the rows are
sent), a colleague saves the same row (both amounts are shown), a refused amount (the error under its box, inside the
screen, linked from the summary), and rows left empty at posting.
"""

from datetime import date
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session

from loans.models import CollectionLine, CollectionSheet
from loans.services.collection import collection_sheet_create
from organizations.models import OfficerProfile
from tests.browser.conftest import SCREENSHOTS, login
from tests.factories import HouseholdFactory, LoanFactory, officer

# A working Monday, so that the collection day is an ordinary one on any run date.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.today("2026-11-16", tick=True)]

PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.js"


@pytest.fixture
def phone(browser, live_server):
    """A phone's browser: 390 px wide, touch, Vietnamese; the CSP is bypassed only so that axe can be injected."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN",
                                      bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.base_url = live_server.url
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def sheet(group_a, household_a, ward_officer_a):
    """A draft 13/TD of three households for today, 16/11/2026."""
    LoanFactory(household=household_a, disbursed_on=date(2026, 10, 16))
    for name in ("Lê Thị Bé", "Trần Văn Cường"):
        LoanFactory(household=HouseholdFactory(group=group_a, head_name=name), amount=20_000_000,
                    disbursed_on=date(2026, 10, 16))
    return collection_sheet_create(group=group_a, on=date(2026, 11, 16), actor=ward_officer_a)


def shot(page, name):
    """tests/screenshots/<name>.png of the phone's page, for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def row_of(page, name):
    return page.locator("tr[data-line]", has_text=name)


def open_sheet(page, sheet, username="ward_a"):
    login(page, username)
    page.goto(f"{page.base_url}/loans/collections/{sheet.pk}/")
    page.wait_for_selector("#collection-form")


def stored(sheet, name):
    return CollectionLine.objects.get(sheet=sheet, household__head_name=name)


def axe_serious(page):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: "
                           "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']}" for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_a_row_is_saved_when_the_officer_leaves_it(phone, sheet):
    page = phone()
    open_sheet(page, sheet)
    row = row_of(page, "Lê Thị Bé")
    row.locator("input[data-column=paid]").fill("150000")
    # Formatted as typed, on the numeric keypad.
    assert row.locator("input[data-column=paid]").input_value() == "150.000"
    assert row.locator("input[data-column=paid]").get_attribute("inputmode") == "numeric"
    row.locator("input[data-column=savings_in]").focus()  # still in the row: nothing sent yet
    assert row.get_attribute("data-state") == "waiting"
    row_of(page, "Trần Văn Cường").locator("input[data-column=paid]").focus()
    page.wait_for_selector("tr[data-state=saved]")
    assert row.locator("[data-row-state]").inner_text() == "Đã lưu"
    line = stored(sheet, "Lê Thị Bé")
    assert line.amount_paid == 150_000 and line.is_entered and line.version == 1
    # The sticky bar keeps the running totals and the households not entered yet.
    bar = page.locator("[data-testid=sheet-bar]")
    assert bar.locator("[data-total=paid]").inner_text() == "150.000"
    assert bar.locator("[data-unentered-count]").inner_text() == "2"
    # "Lưu nháp" sends what waits and stays on the page, at the same row.
    row_of(page, "Trần Văn Cường").locator("input[data-column=paid]").fill("20.000")
    page.evaluate("window.stillHere = true")
    bar.locator("button[data-save]").click()
    page.wait_for_function("document.querySelectorAll('tr[data-state=saved]').length === 2")
    assert page.evaluate("window.stillHere === true")  # no reload, no jump back to the top
    assert row_of(page, "Trần Văn Cường").locator("input[data-column=paid]").is_visible()
    assert stored(sheet, "Trần Văn Cường").amount_paid == 20_000
    # Find a household by name, accents or not.
    page.fill("[data-row-search]", "cuong")
    assert page.locator("tr[data-line]:visible").count() == 1
    shot(page, "collection-day-phone-saved")
    assert axe_serious(page) == []


def test_offline_the_sheet_opens_again_and_rows_wait_on_the_device(phone, sheet):
    page = phone()
    open_sheet(page, sheet)
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now under the service worker, which keeps the sheet
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_selector("#collection-form")
    for _attempt in range(50):  # the worker stores the page just after handing it over
        if page.evaluate("caches.open('uythac-sheets').then((cache) => cache.keys()).then((keys) => keys.length)"):
            break
        page.wait_for_timeout(100)

    page.context.set_offline(True)
    row = row_of(page, "Lê Thị Bé")
    row.locator("input[data-column=paid]").fill("113.667")
    row.locator("input[data-column=savings_in]").fill("50.000")
    row_of(page, "Trần Văn Cường").locator("input[data-column=paid]").focus()
    banner = page.locator("[data-offline-banner]")
    banner.wait_for()
    assert banner.inner_text().strip() == "Mất kết nối – 1 dòng đang chờ gửi"
    assert row.get_attribute("data-state") == "waiting"
    shot(page, "collection-day-offline")

    # The tab is reloaded without a connection: the service worker serves the sheet, the device gives the row back.
    page.reload()
    page.wait_for_selector("#collection-form")
    row = row_of(page, "Lê Thị Bé")
    page.wait_for_function("document.querySelector('tr[data-state=waiting]') !== null")
    assert row.locator("input[data-column=paid]").input_value() == "113.667"
    assert not stored(sheet, "Lê Thị Bé").is_entered

    # Posting needs a connection, and says so instead of failing.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=sheet-bar] button[data-post]").click()
    assert "kết nối" in page.locator("[data-sync-state]").inner_text()
    assert CollectionSheet.objects.get(pk=sheet.pk).is_draft

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("tr[data-state=saved]")
    line = stored(sheet, "Lê Thị Bé")
    assert (line.amount_paid, line.savings_in) == (113_667, 50_000)
    assert page.locator("[data-offline-banner]").is_hidden()


def test_an_ended_session_signs_in_again_and_sends_what_waits(phone, sheet, ward_officer_a):
    ward_officer_a.set_password("uythac-test")
    ward_officer_a.save()
    page = phone()
    open_sheet(page, sheet)
    Session.objects.all().delete()  # the session ended while the officer typed
    row = row_of(page, "Lê Thị Bé")
    row.locator("input[data-column=paid]").fill("113.667")
    row_of(page, "Trần Văn Cường").locator("input[data-column=paid]").focus()
    banner = page.locator("[data-login-banner]")
    banner.wait_for()
    assert "đăng nhập" in banner.inner_text().lower()
    assert not stored(sheet, "Lê Thị Bé").is_entered

    # "Lưu nháp" sent as a plain form would also come back here: the login page never leads to a POST-only address.
    with page.expect_navigation():
        banner.locator("[data-login-link]").click()
    assert "/accounts/login/" in page.url and f"next=/loans/collections/{sheet.pk}/" in page.url
    page.fill("input[name=username]", "ward_a")
    page.fill("input[name=password]", "uythac-test")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/loans/collections/{sheet.pk}/")
    page.wait_for_selector("tr[data-state=saved]")
    assert stored(sheet, "Lê Thị Bé").amount_paid == 113_667


def test_two_officers_on_one_sheet_never_overwrite_each_other(phone, sheet, branch_a):
    colleague = officer("ward_a2", branch_a, OfficerProfile.Role.WARD_OFFICER)
    mine, theirs = phone(), phone()
    open_sheet(mine, sheet)
    open_sheet(theirs, sheet, username=colleague.username)

    row = row_of(theirs, "Lê Thị Bé")
    row.locator("input[data-column=paid]").fill("100.000")
    row_of(theirs, "Trần Văn Cường").locator("input[data-column=paid]").focus()
    theirs.wait_for_selector("tr[data-state=saved]")

    # This officer's page was opened before the colleague saved: typing over it shows both amounts.
    row = row_of(mine, "Lê Thị Bé")
    row.locator("input[data-column=paid]").fill("113.667")
    row_of(mine, "Trần Văn Cường").locator("input[data-column=paid]").focus()
    mine.wait_for_selector("tr[data-state=conflict]")
    message = row.locator("[data-row-message]").inner_text()
    assert "100.000" in message and colleague.get_full_name() in message
    assert row.locator("input[data-column=paid]").input_value() == "113.667"
    assert stored(sheet, "Lê Thị Bé").amount_paid == 100_000
    shot(mine, "collection-day-conflict")

    row.get_by_role("button", name="Giữ số của tôi").click()
    mine.wait_for_selector(f"tr[data-line='{row.get_attribute('data-line')}'][data-state=saved]")
    line = stored(sheet, "Lê Thị Bé")
    assert (line.amount_paid, line.version, line.entered_by.username) == (113_667, 2, "ward_a")

    # The colleague now types over the newer amount: shown both again, and takes the saved one.
    row = row_of(theirs, "Lê Thị Bé")
    row.locator("input[data-column=paid]").fill("90.000")
    row_of(theirs, "Trần Văn Cường").locator("input[data-column=paid]").focus()
    theirs.wait_for_selector("tr[data-state=conflict]")
    row.get_by_role("button", name="Dùng số đã lưu").click()
    assert row.locator("input[data-column=paid]").input_value() == "113.667"
    assert stored(sheet, "Lê Thị Bé").amount_paid == 113_667


def test_a_refused_amount_is_shown_under_its_box_inside_the_screen(phone, sheet):
    page = phone()
    open_sheet(page, sheet)
    row = row_of(page, "Lê Thị Bé")
    withdrawal = row.locator("input[data-column=savings_out]")
    withdrawal.fill("1.000.000")
    row_of(page, "Trần Văn Cường").locator("input[data-column=paid]").focus()
    page.wait_for_selector("tr[data-state=refused]")
    error = row.locator("[data-error-for=savings_out]")
    assert "lớn hơn số dư tiết kiệm" in error.inner_text()
    box, field = error.bounding_box(), withdrawal.bounding_box()
    assert box["y"] >= field["y"] + field["height"] - 1  # under its box
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]  # inside the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not stored(sheet, "Lê Thị Bé").is_entered
    # The summary at the top names the household and links to the box.
    summary = page.locator("[data-testid=row-summary]")
    assert "Lê Thị Bé" in summary.inner_text()
    summary.locator("a").first.click()
    assert page.evaluate("document.activeElement.dataset.column") == "savings_out"
    shot(page, "collection-day-refused")
    assert axe_serious(page) == []


def test_posting_lists_the_empty_rows_and_asks_before_it_assumes(phone, sheet):
    page = phone()
    open_sheet(page, sheet)
    row_of(page, "Nguyễn Thị Ánh").locator("button[data-fill]").click()
    row_of(page, "Trần Văn Cường").locator("button[data-nothing]").click()
    page.wait_for_function("document.querySelectorAll('tr[data-state=saved], tr[data-state=nothing]').length === 2")
    assert stored(sheet, "Trần Văn Cường").paid_nothing

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("[data-testid=sheet-bar] button[data-post]").click()
    panel = page.locator("[data-testid=unentered]")
    assert "Lê Thị Bé" in panel.inner_text() and "Trần Văn Cường" not in panel.inner_text()
    assert CollectionSheet.objects.get(pk=sheet.pk).is_draft
    shot(page, "collection-day-unentered")
    assert axe_serious(page) == []

    # Marked as paying nothing from the list, the sheet posts without a second question.
    panel.locator("button[data-nothing]").click()
    page.wait_for_function("document.querySelectorAll('tr[data-state=nothing]').length === 2")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("[data-testid=sheet-bar] button[data-post]").click()
    page.wait_for_selector("text=Đã ghi sổ bảng kê")
    assert not CollectionSheet.objects.get(pk=sheet.pk).is_draft
    # Each posted row offers "Sửa sai".
    assert page.locator("[data-testid=row-correct]").count() == 3
