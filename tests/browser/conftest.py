"""Headless Chromium for end-to-end tests, driven by Playwright against the live test server.

Without /usr/bin/chromium these tests are skipped with a plain notice, unless REQUIRE_BROWSER=1 (as in CI), where
a missing browser is a failure.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
# Playwright's sync API runs an event loop in this thread; the test still talks to the database synchronously.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"BROWSER TESTS SKIPPED: Chromium not found at {CHROMIUM} (apt-get install chromium)."
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """screenshot("name") saves tests/screenshots/name.png for a person to look at."""

    def take(name, *, width=None):
        SCREENSHOTS.mkdir(exist_ok=True)
        if width:
            page.set_viewport_size({"width": width, "height": 860})
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


def login(page, username):
    """Sign in as `username` by handing the browser a session cookie, and open the home page. The login form itself
    is walked in test_login.py and test_logins.py (login_with_form)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": page.base_url}])
    page.goto(f"{page.base_url}/")


def login_with_form(page, username, password="uythac-test"):
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


MENUS = {"ward": "menu-ward", "district": "menu-district", "reports": "menu-reports"}


def open_menu(page, menu, link_text):
    """Open one of the main menu's drop-downs ("ward", "district", "reports") and follow the link named link_text."""
    toggle = page.locator(f"[data-testid={MENUS[menu]}]")
    toggle.click()
    # Wait for the new page, so that what the test does next happens on it and not on the page being left.
    with page.expect_navigation(wait_until="domcontentloaded"):
        toggle.locator("xpath=following-sibling::ul").get_by_role("link", name=link_text).first.click()
