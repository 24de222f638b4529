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


# --- Supervision work --------------------------------------------------------------------------------------------


def unit_scope(user, prefix):
    """A Q() over a field path ending at any Organization unit, district body or ward branch.

    District staff see their district body and its branches; a ward officer their own branch; the Front and admins
    everything.
    """
    role = role_of(user)
    if role in (Role.ADMIN, Role.FRONT_SUPERVISOR):
        return Q()
    profile = profile_of(user)
    if profile is None:
        return Q(pk__in=[])
    path = prefix.rstrip("_")
    own, parent = (f"{path}", f"{path}__parent") if path else ("pk", "parent")
    if role == Role.DISTRICT_STAFF:
        return Q(**{own: profile.organization_id}) | Q(**{parent: profile.organization_id})
    return Q(**{own: profile.organization_id})


def units_for(user):
    """Organization units the user may record supervision work for (and read it of)."""
    return Organization.objects.filter(unit_scope(user, "")).select_related("ward").order_by(
        "kind", "level", "ward__code"
    )


def inspections_for(user):
    """Inspections the user led (through their units) or whose inspected unit is in their scope."""
    from organizations.models import Inspection

    scope = (
        unit_scope(user, "lead_unit")
        | branch_scope(user, "inspected_branch")
        | branch_scope(user, "inspected_group__branch")
    )
    return Inspection.objects.filter(scope).select_related(
        "lead_unit", "inspected_branch__ward", "inspected_group__branch__ward"
    )


def recording_units_for(user):
    """Units the user may record work for. The Front supervisor reads every unit but records for the Front only."""
    if role_of(user) == Role.FRONT_SUPERVISOR:
        return units_for(user).filter(kind=Organization.Kind.FRONT)
    return units_for(user)


def editable_inspections_for(user):
    """Of those, the ones the user's units led: a unit corrects only its own records."""
    if role_of(user) == Role.FRONT_SUPERVISOR:
        return inspections_for(user).filter(lead_unit__kind=Organization.Kind.FRONT)
    return inspections_for(user).filter(unit_scope(user, "lead_unit"))


def training_classes_for(user):
    from organizations.models import TrainingClass

    return TrainingClass.objects.filter(unit_scope(user, "organization")).select_related("organization__ward")


def outreach_sessions_for(user):
    from organizations.models import OutreachSession

    return OutreachSession.objects.filter(unit_scope(user, "organization")).select_related("organization__ward")


def agreements_for(user):
    from organizations.models import CooperationAgreement

    return CooperationAgreement.objects.filter(branch_scope(user, "branch")).select_related("branch__ward")


def economic_models_for(user):
    from organizations.models import EconomicModel

    return EconomicModel.objects.filter(unit_scope(user, "organization")).select_related("organization__ward")


def awards_for(user):
    from organizations.models import Award

    return Award.objects.filter(unit_scope(user, "organization")).select_related("organization__ward")


def supervision_summary(user, year, *, kind=None, today=None):
    """One row per organization (Front, 11–14) of the year's supervision work within the user's scope.

    A fixed number of aggregate queries whatever the amount of data. `kind` keeps one organization only.
    """
    from datetime import date

    from django.db.models import Count, Sum
    from django.utils import timezone

    from organizations.models import Inspection

    today = today or timezone.localdate()
    start, end = date(year, 1, 1), date(year, 12, 31)
    kinds = [k for k in Organization.Kind if kind in (None, "", k)]
    rows = {
        k: {
            "kind": k,
            "name": k.label,
            "inspections": 0,
            "groups_inspected": 0,
            "follow_ups_overdue": 0,
            "classes": 0,
            "participants": 0,
            "attendances": 0,
            "outreach": 0,
            "audience": 0,
            "wards_with_agreement": 0,
            "wards": 0,
            "models": 0,
            "model_households": 0,
            "awards": 0,
        }
        for k in kinds
    }

    def fill(queryset, kind_path, **aggregates):
        for values in queryset.values(kind_path).annotate(**aggregates).order_by():
            row = rows.get(values.pop(kind_path))
            if row is not None:
                row.update({key: value or 0 for key, value in values.items()})

    open_states = [Inspection.FollowUp.OPEN, Inspection.FollowUp.IN_PROGRESS]
    fill(
        inspections_for(user).filter(inspected_on__range=(start, end)),
        "lead_unit__kind",
        inspections=Count("pk"),
        groups_inspected=Count("inspected_group", distinct=True),
        follow_ups_overdue=Count(
            "pk", filter=Q(follow_up_status__in=open_states, follow_up_deadline__lt=today)
        ),
    )
    fill(
        training_classes_for(user).filter(held_on__range=(start, end)),
        "organization__kind",
        classes=Count("pk"),
        participants=Sum("participants"),
        attendances=Sum("attendances"),
    )
    fill(
        outreach_sessions_for(user).filter(held_on__range=(start, end)),
        "organization__kind",
        outreach=Count("pk"),
        audience=Sum("audience"),
    )
    in_force = (
        Q(signed_on__lte=end)
        & (Q(valid_until__isnull=True) | Q(valid_until__gte=start))
        & (Q(terminated_on__isnull=True) | Q(terminated_on__gte=start))
    )
    fill(
        agreements_for(user).filter(in_force),
        "branch__kind",
        wards_with_agreement=Count("branch__ward", distinct=True),
    )
    fill(branches_for(user).filter(ward__merged_into__isnull=True), "kind", wards=Count("ward", distinct=True))
    fill(
        economic_models_for(user).filter(started_on__range=(start, end)),
        "organization__kind",
        models=Count("pk", distinct=True),
        model_households=Count("households", distinct=True),
    )
    fill(awards_for(user).filter(awarded_on__range=(start, end)), "organization__kind", awards=Count("pk"))
    result = list(rows.values())
    totals = {key: sum(row[key] for row in result) for key in result[0] if key not in ("kind", "name")}
    return result, totals
