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


def household_search(households, *, query="", group=None, policy_status="", outstanding=""):
    """The household list's search: accent-free name, citizen ID or customer code, plus its filters."""
    from django.db.models import Exists, OuterRef, Q

    from borrowers.models import fold_name
    from loans.models import Loan
    from organizations.models import GroupMembership

    query = (query or "").strip()
    if query:
        digits = query.replace(" ", "")
        condition = Q(search_name__contains=fold_name(query))
        if digits.isdigit():
            condition |= Q(citizen_id__startswith=digits) | Q(customer_code__startswith=digits)
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
