"""Scoped reads of the organization tree: which branches, groups and wards each user may see."""

from django.db.models import Q, Value

from organizations.access import Role, profile_of, role_of
from organizations.models import Organization, SavingsGroup, Ward


def branch_scope(user, prefix=""):
    """A Q() over a field path ending at a ward-branch Organization (e.g. "branch", "household__branch").

    A ward officer sees their own branch and the branches merged into it (their history); district staff all
    branches of their organization; the Front and admins everything. A user without a profile sees nothing.
    """
    role = role_of(user)
    if role in (Role.ADMIN, Role.FRONT_SUPERVISOR):
        return Q()
    profile = profile_of(user)
    if profile is None:
        return Q(pk__in=[])
    path = prefix.rstrip("_")
    if role == Role.DISTRICT_STAFF:
        return Q(**{f"{path}__parent": profile.organization_id})
    return Q(**{path: profile.organization_id}) | Q(**{f"{path}__merged_into": profile.organization_id})


def branches_for(user, in_being=False):
    """The ward branches in the user's scope; with `in_being`, only those not merged into another (for new work)."""
    qs = Organization.objects.filter(level=Organization.Level.WARD).select_related("ward", "parent")
    if in_being:
        qs = qs.filter(merged_into__isnull=True)
    role = role_of(user)
    if role in (Role.ADMIN, Role.FRONT_SUPERVISOR):
        return qs
    profile = profile_of(user)
    if profile is None:
        return qs.none()
    if role == Role.DISTRICT_STAFF:
        return qs.filter(parent=profile.organization_id)
    return qs.filter(Q(pk=profile.organization_id) | Q(merged_into=profile.organization_id))


def groups_for(user):
    return SavingsGroup.objects.filter(branch_scope(user, "branch")).select_related("branch", "branch__ward")


def wards_for(user):
    return Ward.objects.filter(pk__in=branches_for(user).values("ward")).order_by("code")


def with_group_figures(groups):
    """Annotate member count, open requests and outstanding balance of each group, with one subquery each."""
    from django.db.models import Count, DecimalField, IntegerField, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce

    from loans.models import Loan, LoanApplication
    from organizations.models import GroupMembership

    def scalar(queryset, aggregate, output):
        return Coalesce(
            Subquery(queryset.values("group").annotate(value=aggregate).values("value")[:1]),
            Value(0),
            output_field=output,
        )

    return groups.annotate(
        member_count=scalar(
            GroupMembership.objects.filter(group=OuterRef("pk"), left_on__isnull=True), Count("pk"), IntegerField()
        ),
        open_requests=scalar(
            LoanApplication.objects.filter(group=OuterRef("pk"), status__in=LoanApplication.OPEN_STATUSES),
            Count("pk"),
            IntegerField(),
        ),
        pending_requests=scalar(
            LoanApplication.objects.filter(group=OuterRef("pk"), status=LoanApplication.Status.DRAFT),
            Count("pk"),
            IntegerField(),
        ),
        outstanding=scalar(
            Loan.objects.filter(group=OuterRef("pk")),
            Sum("principal_outstanding"),
            DecimalField(max_digits=18, decimal_places=0),
        ),
        overdue=scalar(
            Loan.objects.filter(group=OuterRef("pk")),
            Sum("overdue_principal"),
            DecimalField(max_digits=18, decimal_places=0),
        ),
    )
