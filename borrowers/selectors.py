"""Scoped reads of households."""

from borrowers.models import Household
from organizations.selectors.scope import branch_scope


def households_for(user):
    return Household.objects.filter(branch_scope(user, "branch")).select_related("ward", "branch")


def with_current_group(households):
    """Annotate each household with its current group (id, code, name) in one query."""
    from django.db.models import OuterRef, Subquery

    from organizations.models import GroupMembership

    current = GroupMembership.objects.filter(household=OuterRef("pk"), left_on__isnull=True)
    return households.annotate(
        current_group_id=Subquery(current.values("group_id")[:1]),
        current_group_code=Subquery(current.values("group__code")[:1]),
        current_group_name=Subquery(current.values("group__name")[:1]),
    )


def with_outstanding(households):
    """Annotate the household's cached outstanding and overdue principal over its loans."""
    from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
    from django.db.models.functions import Coalesce

    from loans.models import Loan

    def total(field):
        return Coalesce(
            Subquery(
                Loan.objects.filter(household=OuterRef("pk"))
                .values("household")
                .annotate(total=Sum(field))
                .values("total")[:1]
            ),
            Value(0),
            output_field=DecimalField(max_digits=18, decimal_places=0),
        )

    return households.annotate(outstanding=total("principal_outstanding"), overdue=total("overdue_principal"))


def number_match(query, user, prefix=""):
    """A Q() over households (through `prefix`, e.g. "household__") whose citizen ID or phone is the number typed in a
    search box, or None when the text is not a number.

    Roles that see these numbers in full may type the start of one. Roles that see them masked find a household by
    the whole number only, read as borrowers/identity.py reads it: a search by the start would show, by what it
    finds, the masked digits one at a time."""
    from django.db.models import Q

    from borrowers import identity
    from organizations.access import sees_personal_data

    digits = identity.searched_number(query)
    if digits is None:
        return None
    phone = identity.normalise_phone(digits)
    if sees_personal_data(user):
        return Q(**{f"{prefix}citizen_id__startswith": digits}) | Q(**{f"{prefix}phone__startswith": phone})
    condition = Q(pk__in=[])
    if len(digits) == identity.CITIZEN_ID_LENGTH:
        condition |= Q(**{f"{prefix}citizen_id": digits})
    if len(phone) == identity.MOBILE_LENGTH:
        condition |= Q(**{f"{prefix}phone": phone})
    return condition


def household_search(households, *, user, query="", group=None, policy_status="", outstanding=""):
    """The household list's search: accent-free name, citizen ID, phone or customer code, plus its filters."""
    from django.db.models import Exists, OuterRef, Q

    from borrowers import identity
    from borrowers.models import fold_name
    from loans.models import Loan
    from organizations.models import GroupMembership

    query = (query or "").strip()
    if query:
        condition = Q(search_name__contains=fold_name(query))
        numbers = number_match(query, user)
        if numbers is not None:
            # The customer code is not masked for anyone: its start finds it.
            condition |= numbers | Q(customer_code__startswith=identity.searched_number(query))
        households = households.filter(condition)
    if group is not None:
        households = households.filter(
            Exists(GroupMembership.objects.filter(household=OuterRef("pk"), group=group, left_on__isnull=True))
        )
    if policy_status:
        households = households.filter(policy_status=policy_status)
    if outstanding in ("yes", "no"):
        has_loan = Exists(Loan.objects.filter(household=OuterRef("pk"), principal_outstanding__gt=0))
        households = households.filter(has_loan if outstanding == "yes" else ~has_loan)
    return households


def identity_problems(*, limit, this_year=None):
    """Stored households whose citizen ID or phone breaks the rule of borrowers/identity.py (from the bank's files, or
    saved before the rule): how many, and the first `limit` as (pk, ward, field, value, message). One streamed read."""
    from django.utils import timezone

    from borrowers import identity

    this_year = this_year or timezone.localdate().year
    count, found = 0, []
    rows = Household.objects.order_by("pk").values_list("pk", "ward__name", "citizen_id", "birth_year", "phone")
    for pk, ward, citizen_id, birth_year, phone in rows.iterator(chunk_size=5000):
        citizen_id_error = identity.citizen_id_error(citizen_id, this_year=this_year)
        if citizen_id_error is None and birth_year:
            citizen_id_error = identity.citizen_id_error(citizen_id, birth_year=birth_year)
        errors = (("citizen_id", citizen_id, citizen_id_error), ("phone", phone, phone and identity.phone_error(phone)))
        for field, value, error in errors:
            if error:
                count += 1
                if len(found) < limit:
                    found.append((pk, ward, field, value, error.messages[0]))
    return count, found
