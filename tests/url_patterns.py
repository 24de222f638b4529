"""The project's URL patterns, discovered from the resolver, for the tests that walk every page.

A page added later is found here without anyone having to remember to list it.
"""

import re

from django.urls import URLPattern, URLResolver, get_resolver

#: Pages anyone may open: logging in and out, choosing the language.
#: The web app manifest and the service worker are fetched by the browser itself, signed in or not; they hold nothing
#: of anyone's.
PUBLIC = {"login", "logout", "set_language", "password_change_done", "organizations:manifest",
          "organizations:service_worker"}
#: Django's admin has its own login and its own permission checks.
SKIPPED_NAMESPACES = {"admin"}


def patterns(resolver=None, prefix="", namespace=None):
    """(namespace, name, route) of every URL pattern outside the skipped namespaces."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in SKIPPED_NAMESPACES:
                continue
            yield from patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield namespace, entry.name, prefix + str(entry.pattern)


def full_name(namespace, name):
    return f"{namespace}:{name}" if namespace else name


def route_kwargs(route):
    """The names of the converters in a route: "loans/<int:pk>/lines/<int:line_pk>/" -> ["pk", "line_pk"]."""
    return re.findall(r"<(?:\w+:)?(\w+)>", route)


def concrete(route):
    """A real path for a route: every converter gets a value that parses (objects need not exist)."""
    route = re.sub(r"<int:[^>]+>", "1", route)
    route = re.sub(r"<(?:slug|str):[^>]+>", "x", route)
    route = re.sub(r"<path:[^>]+>", "x", route)
    return "/" + route.replace("^", "").replace("$", "")
