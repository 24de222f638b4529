"""Writes about households: registering, editing and moving them between groups of their ward branch."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from borrowers import identity
from borrowers.models import Household
from borrowers.selectors import households_for
from organizations.codes import ascii_code
from organizations.errors import DomainError
from organizations.models import GroupMembership, SavingsGroup
from organizations.validation import domain_error_from

#: Fields an officer may set on a household; the rest (balances, imports, timestamps) belong to other paths.
HOUSEHOLD_FIELDS = (
    "head_name",
    "citizen_id",
    "customer_code",
    "birth_year",
    "phone",
    "address",
    "neighbourhood",
    "members",
    "policy_status",
    "policy_list_year",
    "escaped_year",
)
#: Numbers people type, read the one way borrowers/identity.py reads them (a path without the form gets the same).
TYPED_NUMBERS = {"citizen_id": identity.normalise_citizen_id, "phone": identity.normalise_phone}


class DuplicateHousehold(DomainError):
    """A citizen ID or customer code already registered. `household` is the household holding it when the actor may
    open it (the view links to it), otherwise None, and then the message names no ward: it would tell an officer
    where a person of another ward lives."""

    def __init__(self, message, *, field, household=None):
        super().__init__(message, field=field)
        self.household = household


def _typed_numbers(data):
    data = {**data}
    if data.get("customer_code"):
        # Full-width digits from an imported or pasted list read as the ASCII ones.
        data["customer_code"] = ascii_code(data["customer_code"])
    for name, normalise in TYPED_NUMBERS.items():
        if data.get(name):
            try:
                data[name] = normalise(data[name])
            except ValidationError as error:
                raise DomainError(error.messages[0], field=name) from None
    return data


#: For each unique number: the message naming the ward (to someone who may open the household holding it), and the
#: one that names nothing (to anyone else).
_DUPLICATE_MESSAGES = {
    "citizen_id": (
        gettext_lazy("Citizen ID %(id)s is already registered for a household in ward %(ward)s."),
        gettext_lazy("Citizen ID %(id)s is already registered for another household, outside your ward branch. Check the "
          "number on the card; if it is right, ask the district staff."),
    ),
    "customer_code": (
        gettext_lazy("Customer code %(code)s already belongs to a household in ward %(ward)s."),
        gettext_lazy("Customer code %(code)s already belongs to another household, outside your ward branch. Check the code; "
          "if it is right, ask the district staff."),
    ),
}


def _check_unique_ids(*, citizen_id, customer_code, actor, exclude_pk=None):
    """Clear messages for the two unique numbers. The ward of the household holding the number is named, and the
    household linked, only to someone who may open it."""
    others = Household.objects.exclude(pk=exclude_pk).select_related("ward")
    for field, value, params in (
        ("citizen_id", citizen_id, {"id": citizen_id}),
        ("customer_code", customer_code, {"code": customer_code}),
    ):
        clash = others.filter(**{field: value}).first() if value else None
        if clash is None:
            continue
        named, unnamed = _DUPLICATE_MESSAGES[field]
        if _may_open(actor, clash):
            raise DuplicateHousehold(named % {**params, "ward": clash.ward.name}, field=field, household=clash)
        raise DuplicateHousehold(unnamed % params, field=field)


def _may_open(actor, household):
    return actor is not None and households_for(actor).filter(pk=household.pk).exists()


def _full_clean(household, *, kept=()):
    """Run the model's rules; the first message becomes a DomainError on its field. `kept`: stored numbers left as
    they are, not checked again (see TypedNumberField)."""
    try:
        household.full_clean(exclude=["search_name", *kept], validate_unique=False)
    except ValidationError as error:
        raise domain_error_from(error, Household) from None


def _check_room(group, *, adding=1):
    members = group.memberships.filter(left_on__isnull=True).count()
    if members + adding > SavingsGroup.MAX_MEMBERS:
        raise DomainError(
            _("Group %(group)s already has %(count)s members; a group has at most %(max)s.")
            % {"group": group.code, "count": members, "max": SavingsGroup.MAX_MEMBERS},
            field="group",
        )


def _check_group_open(group):
    if group.status != SavingsGroup.Status.ACTIVE:
        raise DomainError(
            _("Group %(group)s is not active; choose an active group.") % {"group": group.code}, field="group"
        )


@transaction.atomic
def household_create(*, data, actor):
    """Register a household in `data["group"]`, which also decides its ward branch and ward."""
    data = _typed_numbers(data)
    group = SavingsGroup.objects.select_for_update().select_related("branch").get(pk=data["group"].pk)
    _check_group_open(group)
    _check_room(group)
    _check_unique_ids(citizen_id=data["citizen_id"], customer_code=data.get("customer_code"), actor=actor)
    household = Household(branch=group.branch, ward_id=group.branch.ward_id)
    for field in HOUSEHOLD_FIELDS:
        if field in data:
            setattr(household, field, data[field])
    household.customer_code = household.customer_code or None
    if household.policy_status != Household.PolicyStatus.ESCAPED:
        household.escaped_year = None
    if household.neighbourhood_id and household.neighbourhood.ward_id != household.ward_id:
        raise DomainError(_("The neighbourhood must be in the household's ward."), field="neighbourhood")
    _full_clean(household)
    household.save()
    GroupMembership.objects.create(
        group=group,
        household=household,
        joined_on=data.get("joined_on") or timezone.localdate(),
    )
    return household


@transaction.atomic
def household_update(*, household, data, actor):
    """Change a household's own data. Its group changes only through `household_move`."""
    data = _typed_numbers(data)
    household = Household.objects.select_for_update().get(pk=household.pk)
    _check_unique_ids(
        citizen_id=data.get("citizen_id", household.citizen_id),
        customer_code=data.get("customer_code", household.customer_code),
        actor=actor,
        exclude_pk=household.pk,
    )
    stored = {name: getattr(household, name) for name in TYPED_NUMBERS}
    for field in HOUSEHOLD_FIELDS:
        if field in data:
            setattr(household, field, data[field])
    household.customer_code = household.customer_code or None
    if household.policy_status != Household.PolicyStatus.ESCAPED:
        household.escaped_year = None
    if household.neighbourhood_id and household.neighbourhood.ward_id != household.ward_id:
        raise DomainError(_("The neighbourhood must be in the household's ward."), field="neighbourhood")
    _full_clean(household, kept=[name for name, value in stored.items() if getattr(household, name) == value])
    household.save()
    return household


@transaction.atomic
def household_move(*, household, group, on, actor, note=""):
    """Close the household's current membership on `on` and open one in `group`, of the same ward branch."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    group = SavingsGroup.objects.select_for_update().get(pk=group.pk)
    if group.branch_id != household.branch_id:
        raise DomainError(_("A household moves only between groups of its own ward branch."), field="group")
    if on > timezone.localdate():
        raise DomainError(_("The move date cannot be in the future."), field="on")
    _check_group_open(group)
    current = household.memberships.select_for_update().filter(left_on__isnull=True).first()
    if current is not None:
        if current.group_id == group.pk:
            raise DomainError(_("The household is already in this group."), field="group")
        if on < current.joined_on:
            raise DomainError(
                _("The household joined its current group on %(date)s; the move cannot be earlier.")
                % {"date": current.joined_on.strftime("%d/%m/%Y")},
                field="on",
            )
        old_group = SavingsGroup.objects.select_for_update().get(pk=current.group_id)
        if household.pk in (old_group.leader_id, old_group.deputy_id):
            raise DomainError(
                _("This household is the leader or deputy of group %(group)s; appoint someone else first.")
                % {"group": old_group.code}
            )
        pending = household.applications.filter(group_id=old_group.pk, status__in=_unreviewed_statuses())
        if pending.exists():
            raise DomainError(
                _("The household has a request awaiting review in group %(group)s; withdraw it or review it first.")
                % {"group": old_group.code}
            )
        current.left_on = on
        current.note = (current.note + " " + note).strip()[:300] if note else current.note
        current.save(update_fields=["left_on", "note"])
    _check_room(group)
    membership = GroupMembership.objects.create(group=group, household=household, joined_on=on, note=note[:300])
    # A group's savings are its current members' savings, today and in the snapshots of past dates.
    from loans.ledger.summaries import refresh_group_balances

    refresh_group_balances([group.pk, *([current.group_id] if current is not None else [])])
    return membership


def _unreviewed_statuses():
    from loans.models import LoanApplication

    return [LoanApplication.Status.DRAFT]
