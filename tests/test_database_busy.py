"""The last line of defence: a database locked past its timeout gets a "try again" page (503), never a 500."""

import sqlite3

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import OperationalError
from django.test import RequestFactory

from config.middleware import DatabaseBusyMiddleware, is_database_busy


class LockNotAvailable(Exception):
    pgcode = "55P03"


def locked(message="database is locked"):
    try:
        raise OperationalError(message) from sqlite3.OperationalError(message)
    except OperationalError as error:
        return error


def test_only_a_locked_database_counts_as_busy():
    assert is_database_busy(locked())
    pg = OperationalError("could not obtain lock on row")
    pg.__cause__ = LockNotAvailable()
    assert is_database_busy(pg)
    assert not is_database_busy(locked("no such table: loans_loan"))
    assert not is_database_busy(ValueError("database is locked"))
    assert not is_database_busy(None)


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_a_view_that_finds_the_database_locked_answers_503_with_the_layout():
    request = RequestFactory().post("/loans/capital/plan/")
    request.user = AnonymousUser()
    middleware = DatabaseBusyMiddleware(lambda request: None)
    response = middleware.process_exception(request, locked())
    assert response.status_code == 503 and response["Retry-After"] == "5"
    content = response.content.decode()
    assert "could not finish your request" in content and "<main" in content  # the app's layout
    assert middleware.process_exception(request, locked("no such table: x")) is None


@pytest.mark.django_db
def test_a_500_caused_elsewhere_by_a_locked_database_becomes_503():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()

    class ServerError:
        status_code = 500

    def inner(request):  # as Django's handler does when a middleware below raised: the signal, then a 500
        request._uncaught_exception = locked()
        return ServerError()

    response = DatabaseBusyMiddleware(inner)(request)
    assert response.status_code == 503
    assert DatabaseBusyMiddleware(lambda request: ServerError())(RequestFactory().get("/")).status_code == 500
