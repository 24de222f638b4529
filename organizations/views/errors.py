"""Error pages in the app's layout and the viewer's language, each with a way back (config/urls.py handlers).

The 500 page is rendered without context processors or the database: whatever failed may be one of them.
"""

from django.http import HttpResponseForbidden, HttpResponseNotFound, HttpResponseServerError
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme


def _back_url(request):
    """The page the officer came from, if it is one of ours (never an outside address)."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        if referer != request.build_absolute_uri():
            return referer
    return ""


def _render(request, template_name, response_class, **context):
    template = loader.get_template(template_name)
    return response_class(template.render({"back_url": _back_url(request), **context}, request))


def permission_denied(request, exception=None):
    return _render(request, "403.html", HttpResponseForbidden)


def page_not_found(request, exception=None):
    return _render(request, "404.html", HttpResponseNotFound)


def csrf_failure(request, reason=""):
    return _render(request, "403_csrf.html", HttpResponseForbidden)


def server_error(request):
    return HttpResponseServerError(loader.get_template("500.html").render({}))
