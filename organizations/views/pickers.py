"""Suggestions for the ward and group pickers (organizations.pickers), as options of a listbox for htmx."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from organizations.pickers import group_suggestions, parse_on, ward_suggestions


def _options(request, suggestions):
    return render(request, "organizations/_picker_options.html", {"suggestions": suggestions,
                                                                  "q": request.GET.get("q", "")})


@require_GET
@login_required
def ward_options(request):
    """The user's wards matching `q` (name or code), in being on `on` (ISO date; default today); value=code gives
    each ward's code as the value to submit instead of its id."""
    value = "code" if request.GET.get("value") == "code" else "pk"
    on = parse_on(request.GET.get("on"))
    return _options(request, ward_suggestions(request.user, request.GET.get("q"), on, value=value))


@require_GET
@login_required
def group_options(request):
    """The user's groups matching `q` (code, name or ward)."""
    return _options(request, group_suggestions(request.user, request.GET.get("q")))
