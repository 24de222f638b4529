"""Scoped reads: what each user may see of the organization tree. Views look objects up only through these."""

from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone

from organizations.access import Role, profile_of, role_of
from organizations.models import Organization, SavingsGroup, Ward


def branch_scope(user, prefix=""):
    """A Q() over a field path ending at a ward-branch Organization (e.g. "branch", "household__branch").

    A ward officer sees their own branch; district staff all branches of their organization; the Front and admins
    everything. A user without a profile sees nothing.
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
    return Q(**{path: profile.organization_id})


def branches_for(user):
    qs = Organization.objects.filter(level=Organization.Level.WARD).select_related("ward", "parent")
    role = role_of(user)
    if role in (Role.ADMIN, Role.FRONT_SUPERVISOR):
        return qs
    profile = profile_of(user)
    if profile is None:
        return qs.none()
    if role == Role.DISTRICT_STAFF:
        return qs.filter(parent=profile.organization_id)
    return qs.filter(pk=profile.organization_id)


def groups_for(user):
    return SavingsGroup.objects.filter(branch_scope(user, "branch")).select_related("branch", "branch__ward")


def wards_for(user):
    return Ward.objects.filter(pk__in=branches_for(user).values("ward")).order_by("code")


def login_events(*, username=""):
    """Successful and failed logins, newest first: attempt_time, username, ip_address, user_agent and outcome."""
    fields = ("attempt_time", "username", "ip_address", "user_agent", "outcome")
    logins = AccessLog.objects.annotate(outcome=Value("success", output_field=CharField()))
    failures = AccessFailureLog.objects.annotate(
        outcome=Case(When(locked_out=True, then=Value("locked")), default=Value("failed"), output_field=CharField())
    )
    if username:
        logins = logins.filter(username__iexact=username)
        failures = failures.filter(username__iexact=username)
    return logins.values(*fields).union(failures.values(*fields), all=True).order_by("-attempt_time")


def locked_logins():
    """Username and address pairs locked out right now."""
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    cool_off = get_cool_off()
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return attempts.order_by("-attempt_time")


def with_group_figures(groups):
    """Annotate member count, open requests and outstanding balance of each group, with one subquery each."""
    from django.db.models import Count, DecimalField, IntegerField, OuterRef, Subquery, Sum, Value
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
