"""What an officer sees around logging in: the lockout, changing a password, the admins' login log, and pages that
load under the Content-Security-Policy without a single violation."""

import re

import pytest

from tests.browser.conftest import login_with_form

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def csp_violations(page):
    """Console messages in which Chromium reports a blocked script, style or other resource."""
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(str(error)))
    return violations


def test_login_and_home_load_without_any_csp_violation(page, csp_violations, admin_user):
    page.goto(f"{page.base_url}/accounts/login/")
    login_with_form(page, "admin")
    page.wait_for_selector("[data-testid=officer]")
    # Bootstrap's dropdown works under the policy: the user menu opens.
    page.click("[data-testid=officer]")
    page.wait_for_selector("text=Đổi mật khẩu", state="visible")
    page.goto(f"{page.base_url}/logins/")
    page.wait_for_selector("[data-testid=login-event]")
    page.goto(f"{page.base_url}/admin/")
    page.wait_for_selector("#content")
    assert csp_violations == []


def test_an_inline_script_would_be_blocked(page, csp_violations, admin_user):
    page.goto(f"{page.base_url}/accounts/login/")
    page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.injected = true';
        document.body.appendChild(script);
    }""")
    assert page.evaluate("() => window.injected === true") is False
    assert any("script-src" in text for text in csp_violations)


def test_five_wrong_passwords_lock_the_login(page, screenshot, ward_officer_a):
    for _ in range(5):
        login_with_form(page, "ward_a", "wrong-password")
        page.wait_for_load_state()
    message = page.locator("[data-testid=lockout-message]")
    assert "đã bị tạm khóa" in message.inner_text()
    assert "15 phút" in message.inner_text()
    screenshot("login-locked")
    screenshot("login-locked-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})
    page.click("text=Quay lại trang đăng nhập")
    page.wait_for_selector("input[name=username]")
    login_with_form(page, "ward_a")
    page.wait_for_selector("[data-testid=lockout-message]")
    assert page.locator("[data-testid=officer]").count() == 0


def test_officer_changes_the_password_from_the_user_menu(page, screenshot, ward_officer_a):
    login_with_form(page, "ward_a")
    page.click("[data-testid=officer]")
    page.click("text=Đổi mật khẩu")
    page.wait_for_selector("h1:has-text('Đổi mật khẩu')")
    page.fill("input[name=old_password]", "uythac-test")
    page.fill("input[name=new_password1]", "12345678")
    page.fill("input[name=new_password2]", "12345678")
    with page.expect_navigation():
        page.click("button[type=submit]:has-text('Đổi mật khẩu')")
    # Once under the field, once in the error summary at the top (linked to the field).
    assert page.locator(".invalid-feedback:has-text('Mật khẩu này hoàn toàn là số.')").count() == 1
    assert page.locator("[data-error-summary] a:has-text('Mật khẩu này hoàn toàn là số.')").count() == 1
    screenshot("password-change")
    screenshot("password-change-phone", width=390)
    page.set_viewport_size({"width": 1366, "height": 860})
    page.fill("input[name=old_password]", "uythac-test")
    page.fill("input[name=new_password1]", "Tiet-kiem-Vay-von-26")
    page.fill("input[name=new_password2]", "Tiet-kiem-Vay-von-26")
    page.click("button[type=submit]:has-text('Đổi mật khẩu')")
    page.wait_for_selector("text=Đã đổi mật khẩu.")
    assert re.search(r"/$", page.url)
    page.click("button:has-text('Đăng xuất')")
    login_with_form(page, "ward_a", "Tiet-kiem-Vay-von-26")
    page.wait_for_selector("[data-testid=officer]")


def test_admin_reads_the_login_log(page, screenshot, admin_user, ward_officer_a):
    login_with_form(page, "ward_a", "wrong-password")
    page.wait_for_selector(".invalid-feedback, .alert-danger, .errorlist")
    login_with_form(page, "admin")
    page.wait_for_selector("[data-testid=officer]")
    page.click("[data-testid=officer]")
    page.click("text=Nhật ký đăng nhập")
    rows = page.locator("[data-testid=login-event]")
    assert rows.count() == 2
    assert "Đăng nhập thành công" in rows.nth(0).inner_text()
    assert "ward_a" in rows.nth(1).inner_text() and "Sai mật khẩu" in rows.nth(1).inner_text()
    screenshot("login-log")
    screenshot("login-log-phone", width=390)
