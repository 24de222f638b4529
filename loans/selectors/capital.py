"""Scoped reads of capital plans and ward allocations, and the use of a year's allocations."""

from organizations.selectors.scope import branch_scope


def allocations_for(user):
    from loans.models import CapitalAllocation

    return CapitalAllocation.objects.filter(branch_scope(user, "branch")).select_related(
        "plan", "plan__program", "plan__organization", "branch", "branch__ward", "proposed_by", "decided_by"
    )


def capital_plans_for(user):
    """Plans of the user's organization: district staff their own, ward officers their branch's parent."""
    from loans.models import CapitalPlan
    from organizations.access import Role, profile_of, role_of

    plans = CapitalPlan.objects.select_related("organization", "program")
    role = role_of(user)
    if role in (Role.ADMIN, Role.FRONT_SUPERVISOR):
        return plans
    profile = profile_of(user)
    if profile is None:
        return plans.none()
    if role == Role.DISTRICT_STAFF:
        return plans.filter(organization=profile.organization_id)
    return plans.filter(organization=profile.organization.parent_id)


def allocation_use(user, year):
    """Approved allocations of `year` in scope, with the district plan's figures."""
    from loans.models import CapitalAllocation

    return (
        allocations_for(user)
        .filter(plan__year=year, status=CapitalAllocation.Status.APPROVED)
        .order_by("branch__ward__code", "branch__kind", "plan__program__code")
    )


def plan_changes_for(user):
    """Proposed district totals of the plans the user may see (the same organizations as `capital_plans_for`)."""
    from loans.models import CapitalPlanChange
    from organizations.access import Role, profile_of, role_of

    changes = CapitalPlanChange.objects.select_related("organization", "program", "proposed_by", "decided_by")
    role = role_of(user)
    if role in (Role.ADMIN, Role.FRONT_SUPERVISOR):
        return changes
    profile = profile_of(user)
    if profile is None:
        return changes.none()
    if role == Role.DISTRICT_STAFF:
        return changes.filter(organization=profile.organization_id)
    return changes.filter(organization=profile.organization.parent_id)


def adjustments_for(user):
    """Adjustments that take from or give to an allocation in the user's scope."""
    from django.db.models import Q

    from loans.models import CapitalAdjustment

    in_scope = allocations_for(user).values("pk")
    return CapitalAdjustment.objects.filter(Q(source__in=in_scope) | Q(target__in=in_scope)).select_related(
        "source__branch__ward", "source__plan__program", "target__branch__ward", "target__plan__program",
        "actor", "decided_by",
    )
