import pytest

from tests.browser.conftest import login_with_form

pytestmark = pytest.mark.django_db(transaction=True)


def test_officer_logs_in_and_sees_home_page(page, screenshot, ward_officer_a, household_a):
    from tests.factories import LoanFactory

    LoanFactory(household=household_a, amount=40_000_000)
    page.goto(f"{page.base_url}/")
    assert "/accounts/login/" in page.url
    screenshot("login")
    login_with_form(page, "ward_a")
    page.wait_for_selector("[data-testid=officer]")
    assert "Cán bộ" in page.inner_text("[data-testid=officer]")
    assert "Phường A" in page.inner_text("[data-testid=officer]")
    assert page.inner_text("[data-testid=total-outstanding]").strip() == "40.000.000 ₫"
    screenshot("home")
    screenshot("home-phone", width=390)


def test_wrong_password_shows_a_message(page, ward_officer_a):
    login_with_form(page, "ward_a", "wrong-password")
    assert "/accounts/login/" in page.url
    assert page.locator(".alert-danger, .invalid-feedback, .errorlist").count() >= 1
