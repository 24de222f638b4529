"""Error pages are in the app's layout and the viewer's language, with a way back; the favicon exists (issue 16,
finding 4). DEBUG is off here, as in production, or Django would show its technical pages instead."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation


@pytest.fixture(autouse=True)
def keep_language():
    """Pages asked for in English switch this thread's language; the next test starts from the language it had."""
    with translation.override(translation.get_language()):
        yield

pytestmark = pytest.mark.usefixtures("db")


def english(client):
    client.cookies["django_language"] = "en"
    return client


@override_settings(DEBUG=False)
def test_404_is_in_the_layout_with_a_way_home(client_for, ward_officer_a):
    client = english(client_for(ward_officer_a))
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'data-testid="error-page"' in body and "Page not found" in body
    assert 'id="main-nav"' in body  # the officer keeps the navigation bar
    assert f'href="{reverse("organizations:home")}" data-testid="error-home"' in body


@override_settings(DEBUG=False)
def test_404_is_vietnamese_by_default(client_for, ward_officer_a):
    body = client_for(ward_officer_a).get("/no-such-page/").content.decode()
    assert '<html lang="vi">' in body and "Page not found" not in body and 'data-testid="error-page"' in body


@override_settings(DEBUG=False)
def test_an_out_of_scope_object_gets_the_same_page(client_for, ward_officer_b, household_a):
    response = english(client_for(ward_officer_b)).get(reverse("borrowers:household_detail", args=[household_a.pk]))
    assert response.status_code == 404 and "Page not found" in response.content.decode()


@override_settings(DEBUG=False)
def test_403_explains_and_offers_the_page_the_officer_came_from(client_for, front_supervisor):
    client = english(client_for(front_supervisor))
    came_from = "http://testserver" + reverse("organizations:home")
    response = client.get(reverse("borrowers:household_create"), HTTP_REFERER=came_from)
    body = response.content.decode()
    assert response.status_code == 403
    assert "You are not allowed to open this page" in body and "403 Forbidden" not in body
    assert f'href="{came_from}" data-testid="error-back"' in body


@override_settings(DEBUG=False)
def test_the_back_link_never_points_outside(client_for, front_supervisor):
    client = english(client_for(front_supervisor))
    body = client.get(reverse("borrowers:household_create"), HTTP_REFERER="https://evil.example/").content.decode()
    assert "evil.example" not in body and 'data-testid="error-back"' not in body


@override_settings(DEBUG=False, ROOT_URLCONF="tests.error_urls")
def test_500_is_a_page_of_the_app_even_without_context_processors(client_for, ward_officer_a):
    client = english(client_for(ward_officer_a))
    client.raise_request_exception = False
    response = client.get("/broken/")
    body = response.content.decode()
    assert response.status_code == 500
    assert 'data-testid="error-page"' in body and "Something went wrong" in body
    assert 'href="/" data-testid="error-home"' in body and "css/app.css" in body


@override_settings(DEBUG=False)
def test_csrf_failure_explains_in_the_viewers_language(ward_officer_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ward_officer_a)
    client.cookies["django_language"] = "en"
    response = client.post(reverse("logout"))
    body = response.content.decode()
    assert response.status_code == 403
    assert "The form has expired" in body and "Nothing was saved" in body and "CSRF" not in body


def test_pages_link_a_favicon_and_favicon_ico_exists(client_for, ward_officer_a, client):
    body = client_for(ward_officer_a).get(reverse("organizations:home")).content.decode()
    assert 'rel="icon" href="/static/img/favicon.svg"' in body
    client.logout()
    response = client.get("/favicon.ico")  # asked for by browsers before any login
    assert response.status_code == 200 and b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"
