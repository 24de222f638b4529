"""Every page the project defines, discovered from the URL resolver, refuses an anonymous visitor.

A page added later without a login check fails here without anyone having to remember to list it.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"login", "logout", "set_language", "password_change_done"}
SKIPPED_NAMESPACES = {"admin"}  # Django's admin has its own login


def patterns(resolver=None, prefix="", namespace=None):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in SKIPPED_NAMESPACES:
                continue
            yield from patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield namespace, entry.name, prefix + str(entry.pattern)


def concrete(route):
    """A real path for a route: every converter gets a value that parses (objects need not exist)."""
    route = re.sub(r"<int:[^>]+>", "1", route)
    route = re.sub(r"<(?:slug|str):[^>]+>", "x", route)
    route = re.sub(r"<path:[^>]+>", "x", route)
    return "/" + route.replace("^", "").replace("$", "")


ROUTES = sorted({(ns, name, route) for ns, name, route in patterns() if name not in PUBLIC}, key=str)


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
