from functools import cache

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from organizations.access import Role, profile_of, role_of
from organizations.area import area_label
from organizations.models import Area


def officer(request):
    """The signed-in officer's profile and role, for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"officer": profile_of(user), "role": role_of(user), "Role": Role}


def area(request):
    """`area_label` and `area_name` for every template; lazy, so only a page that shows them reads the Area, once."""

    @cache
    def top():
        return Area.objects.only("name", "kind_label").first()

    return {
        # The setting first, so that a configured label costs no query.
        "area_label": SimpleLazyObject(lambda: settings.AREA_LABEL or area_label(top() or Area(kind_label=""))),
        "area_name": SimpleLazyObject(lambda: top().name if top() is not None else ""),
    }


def inbox(request):
    """`inbox_count` for the main menu: lazy, so a page without the menu costs nothing, and one query when shown."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from organizations.inbox import count_for

    return {"inbox_count": SimpleLazyObject(lambda: count_for(user))}
