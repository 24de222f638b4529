"""Who may do what: one table of named actions that views, services, commands and scheduled jobs all read.

A view is guarded with `@allowed("collection.post")`; the service it calls starts with
`authorize(actor, "collection.post", scoped=collection_sheets_for, pk=sheet.pk)`, which refuses an actor without one
of the action's roles, then an object outside the actor's scope (the same selector the view looks the object up
with). So a command, a job or a future API that calls the service directly meets the same rule as the page.

The roles are access.py's building blocks (WARD_WORK, DISTRICT_WORK); what a user may *see* stays in the selectors.

Commands and scheduled jobs that act on no one's behalf (the day close ending freezes, `merge_wards`) pass the
`SYSTEM` actor, explicitly. SYSTEM may do only the actions marked `system=True` below, everywhere (it has no scope),
and is recorded as nobody (`person(SYSTEM)` is None). Any other action needs a person: `seed_demo` and `import_bank`
act as a named user, who must hold the role. An actor of None (a caller that forgot to say who acts) is refused
everything.
"""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from organizations.access import DISTRICT_WORK, WARD_WORK, Role, role_of
from organizations.errors import DomainError


class _System:
    """The actor of a command or scheduled job acting on no one's behalf; see the module's docstring."""

    is_authenticated = False

    def __repr__(self):
        return "SYSTEM"


SYSTEM = _System()


@dataclass(frozen=True)
class Rule:
    #: Roles that may do it (access.py's tuples).
    roles: tuple
    #: What it does, as a refusal says it: "Your role does not allow you to <label>."
    label: str
    #: A command or scheduled job may do it as SYSTEM.
    system: bool = False
    #: A Django permission that lets a user without one of the roles do it too.
    permission: str = ""


def _either(*groups):
    return tuple(dict.fromkeys(role for roles in groups for role in roles))


#: Every action that changes money, capital or a decision, and who may do it.
POLICY = {
    # Capital: the district total and adjustments come from district staff; a branch's share from the ward branch
    # or the district. A second district officer decides every one of them.
    "capital.propose": Rule(DISTRICT_WORK, gettext_lazy("propose capital for the area")),
    "allocation.propose": Rule(_either(WARD_WORK, DISTRICT_WORK), gettext_lazy("propose a capital allocation")),
    "capital.decide": Rule(DISTRICT_WORK, gettext_lazy("decide on capital")),
    # Requests (01/TD), the group review meeting (10A/TD) and list 03/TD: the ward's work.
    "application.create": Rule(WARD_WORK, gettext_lazy("record a loan request")),
    "application.withdraw": Rule(WARD_WORK, gettext_lazy("withdraw a loan request")),
    "review.record": Rule(WARD_WORK, gettext_lazy("record a group review meeting")),
    "loan_list.certify": Rule(WARD_WORK, gettext_lazy("record the ward's certification of a 03/TD list")),
    "loan_list.submit": Rule(WARD_WORK, gettext_lazy("submit a 03/TD list")),
    # The district decides the requests and pays out.
    "application.decide": Rule(DISTRICT_WORK, gettext_lazy("decide loan requests")),
    "loan.disburse": Rule(DISTRICT_WORK, gettext_lazy("disburse loans")),
    # The collection day (13/TD).
    "collection.create": Rule(WARD_WORK, gettext_lazy("prepare a collection sheet")),
    "collection.save": Rule(WARD_WORK, gettext_lazy("enter amounts on a collection sheet")),
    "collection.post": Rule(WARD_WORK, gettext_lazy("post a collection sheet")),
    "collection.discard": Rule(WARD_WORK, gettext_lazy("delete a collection sheet")),
    # Reversals: asked by the ward or the district, decided by the district; a disbursement only by the district.
    "reversal.request": Rule(_either(WARD_WORK, DISTRICT_WORK), gettext_lazy("ask for a reversal")),
    "reversal.decide": Rule(DISTRICT_WORK, gettext_lazy("decide on a reversal")),
    "disbursement_reversal.request": Rule(DISTRICT_WORK, gettext_lazy("ask for a disbursement to be reversed")),
    # Loan changes (08/TD, extension, freeze, write-off): asked by the ward, decided by the district. The day close
    # lifts freezes whose period is over.
    "loan_change.request": Rule(WARD_WORK, gettext_lazy("ask for a change to a loan")),
    "loan_change.decide": Rule(DISTRICT_WORK, gettext_lazy("decide on a change to a loan")),
    "freeze.end": Rule(DISTRICT_WORK, gettext_lazy("lift a freeze"), system=True),
    # Checks (06/TD, 16/TD).
    "loan_use_check.record": Rule(WARD_WORK, gettext_lazy("record a loan-use check")),
    "group_inspection.record": Rule(WARD_WORK, gettext_lazy("record a group inspection")),
    # The bank's spreadsheets write postings; ward mergers move capital. `merge_wards` runs as SYSTEM.
    "bank_import.run": Rule(
        (Role.ADMIN,), gettext_lazy("import the bank's files"), permission="loans.import_bank_files"
    ),
    "ward.merge": Rule((Role.ADMIN,), gettext_lazy("merge wards"), system=True),
}


def may(user, action):
    """Whether `user` (or SYSTEM) holds the right to `action` at all; the scope is the selectors' business."""
    rule = POLICY[action]
    if user is SYSTEM:
        return rule.system
    if user is None or not user.is_authenticated:
        return False
    return role_of(user) in rule.roles or bool(rule.permission and user.has_perm(rule.permission))


def authorize(actor, action, *, scoped=None, pk=None):
    """Refuse, with a DomainError in the user's language, an actor without the right to `action`, or one whose
    `scoped(actor)` (the selector of what they may see) does not hold the object `pk`. SYSTEM has no scope."""
    rule = POLICY[action]
    if actor is SYSTEM:
        if not rule.system:
            raise DomainError(
                _("A command or scheduled job cannot %(action)s on its own; it must act as a person who may.")
                % {"action": rule.label}
            )
        return
    if not may(actor, action):
        raise DomainError(_("Your role does not allow you to %(action)s.") % {"action": rule.label})
    if scoped is not None and not scoped(actor).filter(pk=pk).exists():
        raise DomainError(
            _("You cannot %(action)s here: it belongs to a ward branch or organization you do not work for.")
            % {"action": rule.label}
        )


def person(actor):
    """Who is recorded as having acted: the user, or nobody for SYSTEM."""
    return None if actor is SYSTEM else actor


def allowed(action):
    """The view's side of `authorize`: log in first; then a user without the right to `action` gets 403."""
    if action not in POLICY:  # a misspelt action fails when the views are imported, not when someone clicks
        raise KeyError(f"No action {action!r} in organizations.policy.POLICY")

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not may(request.user, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
