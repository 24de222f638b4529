"""Roles and the role tuples that organizations/policy.py builds its table of actions from; role checks for the
pages that only show. Who may change money, capital or a decision is the policy table's (`allowed`, `authorize`);
what a user may *see* is decided in the selectors."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from organizations.models import OfficerProfile

Role = OfficerProfile.Role

#: Roles that may change data in the ward's daily work (households, groups, requests, collections).
WARD_WORK = (Role.WARD_OFFICER, Role.ADMIN)
#: Roles that approve: allocations, loan lists, disbursements, loan changes.
DISTRICT_WORK = (Role.DISTRICT_STAFF, Role.ADMIN)
#: Roles that record supervision work.
SUPERVISION_WORK = (Role.FRONT_SUPERVISOR, Role.DISTRICT_STAFF, Role.ADMIN)
#: Everyone with a profile may read within their scope.
ALL_ROLES = tuple(Role)


def profile_of(user):
    if not user.is_authenticated:
        return None
    return getattr(user, "officer", None)


def role_of(user):
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    profile = profile_of(user)
    return profile.role if profile else None


def has_role(user, *roles):
    return role_of(user) in roles


def role_required(*roles):
    """Log in first; then a user without one of `roles` gets 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


#: Roles that work with households directly and see citizen IDs and phone numbers in full. Everyone else (district
#: staff, the Front) sees them masked everywhere: lists, detail pages, prints (03/TD, 10A/TD, 04/TD), spreadsheets and
#: the bank's layouts. No form shown to those roles needs the full number: the 03/TD and 10A/TD are made and signed by
#: the ward, the 04/TD names each household by its head and its request, and the files exchanged with the bank are
#: exported by admins (see loans/bankfiles/export.py). This is the only place the rule is decided.
PERSONAL_DATA_ROLES = (Role.WARD_OFFICER, Role.ADMIN)


def sees_personal_data(user):
    return has_role(user, *PERSONAL_DATA_ROLES)


def mask(value, keep=3):
    """'079123456789' -> '079******789': enough to tell records apart, not enough to misuse."""
    value = str(value or "")
    if len(value) <= keep * 2:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def personal(value, user):
    """The value in full for roles that need it, masked for everyone else (lists, pages and exports)."""
    return value if sees_personal_data(user) else mask(value)


#: Fields holding personal data wherever they are shown by name (the history of changes, for one).
PERSONAL_FIELDS = frozenset({"citizen_id", "phone"})
