"""A ward officer asks for an extension, district staff approve it, and the loan's history shows it."""

from datetime import date

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


def logout(page):
    page.click("nav form[action$='/accounts/logout/'] button")
    page.wait_for_url("**/accounts/login/**")


def test_extension_requested_approved_and_shown_in_history(page, screenshot, ward_officer_a, district_staff,
                                                           household_a):
    from loans.models import LoanChange
    from loans.services.checks import loan_use_check_record
    from tests.factories import LoanFactory

    loan = LoanFactory(household=household_a, amount=40_000_000, disbursed_on=date(2026, 1, 15))
    loan_use_check_record(loan=loan, result="as_planned", notes="Đã mua 2 con bò giống", checked_on=date(2026, 2, 1),
                          actor=ward_officer_a)

    login(page, "ward_a")
    page.goto(f"{page.base_url}/loans/changes/")
    page.fill("input[name=number]", loan.number)
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector("[data-testid=schedule]")
    assert page.inner_text("[data-testid=maturity]").strip() == "15/01/2029"
    screenshot("loan-detail")
    page.click(f"a[href='/loans/{loan.pk}/changes/extension/']")
    page.fill("input[name=months]", "6")
    page.fill("textarea[name=reason]", "Nhà bị ngập sau bão, chưa bán được heo")
    screenshot("loan-extension-form")
    page.click("form[data-once] button[type=submit]")
    page.wait_for_selector("[data-testid=pending-change]")
    assert "Gia hạn" in page.inner_text("[data-testid=pending-change]")
    # The officer who asked cannot approve: no decision form for a ward officer.
    assert page.locator("[data-testid=decide-form]").count() == 0
    logout(page)

    login(page, "district")
    page.goto(f"{page.base_url}/loans/changes/")
    page.wait_for_selector("[data-testid=pending-changes]")
    assert loan.number in page.inner_text("[data-testid=pending-changes]")
    screenshot("loan-changes-pending")
    screenshot("loan-changes-pending-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})
    page.click("[data-testid=decide-form] button[value=approve]")
    page.wait_for_selector(".alert-success")
    page.click(f"a[href='/loans/{loan.pk}/']")
    page.wait_for_selector("[data-testid=loan-history]")
    history = page.inner_text("[data-testid=loan-history]")
    assert "Gia hạn" in history and "15/01/2029 → 15/07/2029" in history and "Nhà bị ngập" in history
    assert page.inner_text("[data-testid=maturity]").strip() == "15/07/2029"
    screenshot("loan-detail-after-extension")
    screenshot("loan-detail-after-extension-phone", width=390)
    assert LoanChange.objects.get().status == LoanChange.Status.APPROVED


def test_other_pages_render(page, screenshot, ward_officer_a, district_staff, household_a):
    """Screenshots of the to-do list, the fee statements and the group grades for a person to look at."""
    from loans.models import Posting
    from organizations.grading import grade_groups
    from tests.factories import LoanFactory

    loan = LoanFactory(household=household_a, amount=40_000_000, disbursed_on=date(2026, 1, 15))
    Posting.objects.create(kind=Posting.Kind.INTEREST, household=household_a, loan=loan, amount=220_000,
                           on=date(2026, 10, 20))
    group = household_a.current_membership.group
    group.leader = household_a
    group.save()
    grade_groups(month=date(2026, 10, 1))

    login(page, "district")
    page.goto(f"{page.base_url}/loans/use-checks/")
    page.wait_for_selector("[data-testid=todo-groups]")
    screenshot("use-checks")
    screenshot("use-checks-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})
    page.goto(f"{page.base_url}/loans/statements/?month=10/2026")
    page.wait_for_selector("[data-testid=group-statement]")
    assert "22.000" in page.inner_text("[data-testid=group-statement]")  # 10 % example commission on 220.000
    screenshot("fee-statements")
    screenshot("fee-statements-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})
    page.goto(f"{page.base_url}/groups/grades/")
    page.wait_for_selector("[data-testid=group-grades]")
    assert "10/2026" in page.inner_text("[data-testid=group-grades]")
    screenshot("group-grades")
    screenshot("group-grades-phone", width=390)
