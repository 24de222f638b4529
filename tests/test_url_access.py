"""Every page the project defines, discovered from the URL resolver, refuses an anonymous visitor.

A page added later without a login check fails here without anyone having to remember to list it.
"""

import pytest

from tests.url_patterns import PUBLIC, concrete, full_name, patterns

ROUTES = sorted({(ns, name, route) for ns, name, route in patterns() if full_name(ns, name) not in PUBLIC}, key=str)


def test_the_resolver_finds_the_application_pages():
    names = {name for _ns, name, _route in ROUTES}
    assert {"home", "household_list", "collection_sheet_list", "report", "bank_import_list"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("namespace,name,route", ROUTES, ids=[f"{ns}:{name}" for ns, name, _ in ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_log_in(client, namespace, name, route, method):
    path = concrete(route)
    response = getattr(client, method)(path)
    assert response.status_code in (302, 405), f"{method.upper()} {path} answered {response.status_code}"
    if response.status_code == 302:
        assert "/accounts/login/" in response["Location"], f"{path} redirects to {response['Location']}"
