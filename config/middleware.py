"""Vietnamese unless the user chose otherwise: the browser's Accept-Language is ignored.

Office computers often run an English browser; officers switch language with the VI/EN buttons, which set the
language cookie that LocaleMiddleware reads.

A database too busy to answer gets a clear "try again" page (503), not a 500.
"""

import logging
import sys

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
