"""Security plumbing that Django lacks: the Content-Security-Policy header and the client address for login lockouts.

A fixed policy with no nonces is all the app needs (no inline script or style anywhere), so a few lines here
replace a dependency.
"""

import logging

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


def client_ip(request):
    """The address failed logins are counted against. Behind the proxy, the hop the proxy itself appended."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")


class ForbiddenAsOneLine(logging.Filter):
    """A refused request (403) is an everyday event, not an error: one warning line with the user and the path,
    without the traceback Django attaches to PermissionDenied."""

    def filter(self, record):
        if getattr(record, "status_code", None) != 403:
            return True
        request = getattr(record, "request", None)
        user = getattr(request, "user", None)
        who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
        path = request.get_full_path() if request is not None else ""
        record.msg, record.args = "Forbidden: %s %s (user %s)", (getattr(request, "method", ""), path, who)
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
