"""Logins: lockout after repeated failures, idle sessions expiring, password changes and the admins' login log."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import SESSION_KEY
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from config.security import client_ip

PASSWORD = "uythac-test"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Dozens of logins per test: the production hasher's deliberate slowness would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def attempt(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


# Lockout -----------------------------------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_with_a_vietnamese_page(client, ward_officer_a):
    for _ in range(4):
        response = attempt(client, "ward_a", "wrong")
        assert response.status_code == 200
        assert response.context["form"].errors
    response = attempt(client, "ward_a", "wrong")
    assert response.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    assert 'name="password"' not in response.content.decode()
    page = response.content.decode()
    assert "đã bị tạm khóa" in page
    assert "5 lần" in page and "15 phút" in page
    # The right password does not help while locked.
    response = attempt(client, "ward_a", PASSWORD)
    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_lockout_is_per_username_and_address(client, ward_officer_a, ward_officer_b):
    for _ in range(5):
        attempt(client, "ward_a", "wrong")
    assert attempt(client, "ward_a", PASSWORD).status_code == 429
    # Another officer on the same computer, and the same officer elsewhere, can still log in.
    assert attempt(client, "ward_b", PASSWORD).status_code == 302
    client.logout()
    assert attempt(client, "ward_a", PASSWORD, REMOTE_ADDR="10.20.30.40").status_code == 302


def test_the_lock_lifts_after_fifteen_minutes(client, ward_officer_a):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            attempt(client, "ward_a", "wrong")
        traveller.shift(timedelta(minutes=14))
        assert attempt(client, "ward_a", PASSWORD).status_code == 429
        # A try during the lock restarts the wait.
        traveller.shift(timedelta(minutes=14))
        assert attempt(client, "ward_a", PASSWORD).status_code == 429
        traveller.shift(timedelta(minutes=16))
        response = attempt(client, "ward_a", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("organizations:home")
    assert client.session[SESSION_KEY] == str(ward_officer_a.pk)


def test_a_successful_login_clears_earlier_failures(client, ward_officer_a):
    for _ in range(4):
        attempt(client, "ward_a", "wrong")
    assert attempt(client, "ward_a", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="ward_a").exists()
    client.logout()
    for _ in range(4):
        assert attempt(client, "ward_a", "wrong").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_limit_comes_from_settings(client, ward_officer_a):
    attempt(client, "ward_a", "wrong")
    response = attempt(client, "ward_a", "wrong")
    assert response.status_code == 429
    assert "2 lần" in response.content.decode()


def test_client_address_behind_the_proxy_is_the_hop_it_appended():
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    with override_settings(BEHIND_PROXY=True):
        assert client_ip(request) == "203.0.113.9"
    with override_settings(BEHIND_PROXY=False):
        assert client_ip(request) == "127.0.0.1"


# Idle sessions -----------------------------------------------------------------------------------------------------


def test_a_session_idle_for_thirty_minutes_expires(client_for, ward_officer_a):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(ward_officer_a)
        assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=31))
        response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_activity_keeps_the_session_alive(client_for, ward_officer_a):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(ward_officer_a)
        for _ in range(3):
            traveller.shift(timedelta(minutes=25))
            assert client.get("/").status_code == 200


# Password change ---------------------------------------------------------------------------------------------------

CHANGE = "/accounts/password/"


def test_password_change_page_is_in_the_user_menu(client_for, ward_officer_a):
    response = client_for(ward_officer_a).get("/")
    assert f'href="{CHANGE}"' in response.content.decode()
    response = client_for(ward_officer_a).get(CHANGE)
    assert response.status_code == 200
    assert "base.html" in [t.name for t in response.templates]
    assert "Mật khẩu cũ" in response.content.decode()


def test_password_change_happy_path(client_for, ward_officer_a):
    client = client_for(ward_officer_a)
    response = client.post(CHANGE, {"old_password": PASSWORD, "new_password1": "Ngan-hang-CSXH-2026",
                                     "new_password2": "Ngan-hang-CSXH-2026"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("organizations:home")
    assert "Đã đổi mật khẩu" in response.content.decode()
    ward_officer_a.refresh_from_db()
    assert ward_officer_a.check_password("Ngan-hang-CSXH-2026")
    # Still logged in on this computer.
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(("password", "message"), [
    ("12345678", "Mật khẩu này hoàn toàn là số."),
    ("password", "Mật khẩu này quá phổ biến."),
    ("x7Q", "Mật khẩu quá ngắn: cần ít nhất 8 ký tự."),
])
def test_a_weak_password_is_refused_in_vietnamese(client_for, ward_officer_a, password, message):
    response = client_for(ward_officer_a).post(CHANGE, {"old_password": PASSWORD, "new_password1": password,
                                                       "new_password2": password})
    assert response.status_code == 200
    assert message in response.content.decode()
    ward_officer_a.refresh_from_db()
    assert ward_officer_a.check_password(PASSWORD)


def test_a_wrong_old_password_is_refused(client_for, ward_officer_a):
    response = client_for(ward_officer_a).post(CHANGE, {"old_password": "nope", "new_password1": "Ngan-hang-CSXH-2026",
                                                       "new_password2": "Ngan-hang-CSXH-2026"})
    assert "Mật khẩu cũ không chính xác" in response.content.decode()
    ward_officer_a.refresh_from_db()
    assert ward_officer_a.check_password(PASSWORD)


def test_wrong_old_passwords_count_toward_the_lockout_and_sign_the_user_out(client_for, ward_officer_a):
    client = client_for(ward_officer_a)
    wrong = {"old_password": "nope", "new_password1": "Ngan-hang-CSXH-2026", "new_password2": "Ngan-hang-CSXH-2026"}
    for _ in range(4):
        assert client.post(CHANGE, wrong).status_code == 200
    response = client.post(CHANGE, wrong)
    assert response.status_code == 429 and "đã bị tạm khóa" in response.content.decode()
    assert SESSION_KEY not in client.session
    # The same lock holds at the login page, right password or not.
    assert attempt(client, "ward_a", PASSWORD).status_code == 429
    ward_officer_a.refresh_from_db()
    assert ward_officer_a.check_password(PASSWORD)


def test_password_change_needs_a_login_and_refuses_other_methods(client, client_for, ward_officer_a):
    response = client.get(CHANGE)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client_for(ward_officer_a).delete(CHANGE).status_code == 405


# Login log ---------------------------------------------------------------------------------------------------------

LOG = "/logins/"


def test_admin_sees_logins_and_failures(client, admin_user, ward_officer_a, django_assert_max_num_queries):
    attempt(client, "ward_a", "wrong")
    attempt(client, "ward_a", PASSWORD)
    client.logout()
    for _ in range(5):
        attempt(client, "ward_b_typo", "wrong")
    assert AccessLog.objects.filter(username="ward_a").count() == 1
    assert AccessFailureLog.objects.count() == 6
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        response = client.get(LOG)
    page = response.content.decode()
    assert response.status_code == 200
    rows = [row["outcome"] for row in response.context["page"]]
    # Newest first; the first row is the admin's own login.
    assert rows == ["success", "locked", "failed", "failed", "failed", "failed", "success", "failed"]
    assert "Đăng nhập thành công" in page and "Sai mật khẩu" in page
    assert "ward_b_typo" in page and 'data-testid="locked-logins"' in page
    assert 'href="/logins/"' in client.get("/").content.decode()


def test_login_log_filters_by_username(client, admin_user, ward_officer_a):
    attempt(client, "ward_a", "wrong")
    attempt(client, "someone", "wrong")
    client.force_login(admin_user)
    response = client.get(LOG, {"username": "WARD_A"})
    assert [row["username"] for row in response.context["page"]] == ["ward_a"]


def test_login_log_pages_fifty_rows(client, admin_user):
    AccessFailureLog.objects.bulk_create(
        AccessFailureLog(username=f"user{n}", ip_address="127.0.0.1", user_agent="x", http_accept="x", path_info=LOGIN)
        for n in range(60)
    )
    client.force_login(admin_user)
    assert len(client.get(LOG).context["page"]) == 50
    assert len(client.get(LOG, {"page": 2}).context["page"]) == 11  # 60 failures and the admin's own login


@pytest.mark.parametrize("persona", ["ward_officer_a", "district_staff", "front_supervisor"])
def test_login_log_is_for_admins_only(client_for, persona, request):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    assert client.get(LOG).status_code == 403
    assert 'href="/logins/"' not in client.get("/").content.decode()


def test_login_log_needs_a_login_and_get(client, client_for, admin_user):
    response = client.get(LOG)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client_for(admin_user).post(LOG).status_code == 405


def test_login_records_are_in_the_django_admin(client_for, admin_user):
    client = client_for(admin_user)
    for name in ("accesslog", "accessfailurelog", "accessattempt"):
        assert client.get(f"/admin/axes/{name}/").status_code == 200


# Headers -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/accounts/login/", "/"])
def test_every_page_has_a_strict_content_security_policy(client_for, admin_user, client, url):
    response = client.get(url) if url == LOGIN else client_for(admin_user).get(url)
    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_templates_have_no_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    for template in root.rglob("*.html"):
        text = template.read_text()
        assert "style=" not in text, template
        assert "<script>" not in text and "javascript:" not in text and " onclick=" not in text, template
