"""Scoped reads of the supervision record, and the yearly summary by organization."""

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from organizations.access import Role, profile_of, role_of
from organizations.models import Organization
from organizations.selectors.scope import branch_scope, branches_for


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


def inspections_of_ward(inspections, ward):
    """Of `inspections`, those of the ward's branches and groups, the branches and groups of the wards merged into it
    included. For a ward merged away: what was inspected in it before it merged."""
    from organizations.models import GroupTransfer, Ward

    wards = [ward.pk, *Ward.objects.filter(Q(merged_into=ward) | Q(merged_into__merged_into=ward)).values_list(
        "pk", flat=True)]
    inspected = Q(inspected_branch__ward__in=wards)
    if ward.merged_on is None:
        inspected |= Q(inspected_group__branch__ward__in=wards)
    else:
        # Its groups have moved on: those that left it, inspected while they were still there.
        left = GroupTransfer.objects.filter(
            from_branch__ward__in=wards, group=OuterRef("inspected_group"), moved_on__gt=OuterRef("inspected_on")
        )
        inspected |= Q(Exists(left)) | Q(inspected_group__branch__ward__in=wards)
    return inspections.filter(inspected)
