"""Vietnamese unless the user chose otherwise: the browser's Accept-Language is ignored.

Office computers often run an English browser; officers switch language with the VI/EN buttons, which set the
language cookie that LocaleMiddleware reads.

A database too busy to answer gets a clear "try again" page (503), not a 500. A session that ended never leaves the
officer on a bare error page: the login leads back to the page the officer was on, and a wrong method gets a page in
the app's layout.
"""

import logging
import sys
from urllib.parse import urlencode, urlsplit

from django.core.signals import got_request_exception
from django.http import HttpResponse
from django.utils.translation import gettext_lazy

logger = logging.getLogger(__name__)


class IgnoreBrowserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


# --- A database too busy to answer --------------------------------------------------------------------------------

LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED = "55P03", "40P01"  # PostgreSQL's codes for a lock it would not wait for


def is_database_busy(error):
    """Whether `error` says the database was locked by someone else's work, rather than that something is wrong."""
    from django.db import OperationalError

    if not isinstance(error, OperationalError):
        return False
    if getattr(error.__cause__, "pgcode", None) in (LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED):
        return True
    return "database is locked" in str(error) or "database table is locked" in str(error)


def _remember_exception(sender, request=None, **kwargs):
    # Sent while the exception is being handled: keep it, so that the middleware can tell a busy database from a bug
    # even when it happened in another middleware (saving the session) and became a 500 before reaching it.
    if request is not None:
        request._uncaught_exception = sys.exc_info()[1]


got_request_exception.connect(_remember_exception, dispatch_uid="config.middleware.remember_exception")


def database_busy_response(request):
    from django.shortcuts import render

    try:
        response = render(request, "busy.html", status=503)
    except Exception:  # the page itself needs the database; say it in plain words then
        response = HttpResponse(BUSY_MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "5"
    return response


BUSY_MESSAGE = gettext_lazy(
    "The database is busy with other officers' work and could not finish your request. Wait a few seconds, check "
    "whether your change is there, and try again."
)


class DatabaseBusyMiddleware:
    """The last line of defence when the database stays locked longer than its timeout: a page that says so, with
    the status 503 and Retry-After, never a 500. The services refuse a colleague's simultaneous work clearly first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 500 and is_database_busy(getattr(request, "_uncaught_exception", None)):
            logger.warning("Database busy (answered 503): %s %s", request.method, request.path)
            return database_busy_response(request)
        return response

    def process_exception(self, request, exception):
        if not is_database_busy(exception):
            return None
        logger.warning("Database busy (answered 503): %s %s", request.method, request.path)
        return database_busy_response(request)


# --- A session that ended while the officer was working -----------------------------------------------------------


def _wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


def _safe_referer(request):
    """The page the request was sent from, when it is this site's: where to come back to after signing in."""
    from django.utils.http import url_has_allowed_host_and_scheme

    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return None


class SignInAgainMiddleware:
    """When the session has ended, the login page never sends the officer on to an address that only takes a POST.

    A form sent after the session expired (Lưu nháp, an hour into collection day) is redirected to the login page
    with the page it came from as `next`, so that signing in leads back to that page, where the sheet's script sends
    what is still waiting on the device. A request of the page's script (Accept: application/json) gets 401 with the
    login address instead of a login page it cannot show.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 302 or request.method in ("GET", "HEAD") and not _wants_json(request):
            return response
        from django.conf import settings
        from django.http import JsonResponse
        from django.shortcuts import resolve_url
        from django.utils.translation import gettext

        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response["Location"]).path != login:
            return response
        back = _safe_referer(request) or resolve_url(settings.LOGIN_REDIRECT_URL)
        url = f"{login}?{urlencode({'next': back})}"
        if _wants_json(request):
            return JsonResponse({"state": "login", "login_url": url, "message": gettext(
                "Your session has ended. Sign in again: what you typed is kept on this device and sent afterwards.")},
                status=401)
        response["Location"] = url
        return response


# --- A page that does not take this method ------------------------------------------------------------------------


class MethodNotAllowedPageMiddleware:
    """Django answers a GET to a POST-only address with an empty 405, which browsers show as their own bare English
    error. This gives it the app's layout and language, with the way back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.content or _wants_json(request):
            return response
        from django.template.loader import render_to_string

        page = HttpResponse(render_to_string("405.html", {"back_url": _safe_referer(request)}, request=request),
                            status=405)
        page["Allow"] = response.get("Allow", "")
        return page
