"""Scoped reads of capital plans and ward allocations, and the use of a year's allocations."""

from django.db.models import Q

from organizations.selectors.scope import branch_scope


def allocations_for(user):
    from loans.models import CapitalAllocation

    return CapitalAllocation.objects.filter(branch_scope(user, "branch")).select_related(
        "plan", "plan__program", "plan__organization", "branch", "branch__ward", "proposed_by", "decided_by"
    )


def planning_organizations_for(user):
    """The area-level member organizations whose capital plans the user may propose: district staff their own, admins
    every one (the Front holds no capital)."""
    from organizations.access import Role, profile_of, role_of
    from organizations.models import Organization

    organizations = Organization.objects.filter(level=Organization.Level.DISTRICT).exclude(
        kind=Organization.Kind.FRONT
    )
    if role_of(user) == Role.ADMIN:
        return organizations
    profile = profile_of(user)
    if profile is None:
        return organizations.none()
    return organizations.filter(pk=profile.organization_id)


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


def allocation_usage(allocation):
    """What the allocation's 'approved for requests' figure is made of, so the page can list it and add it up.

    The figure is a counter that district approvals raise and disbursements settle. Requests approved here leave a
    CapitalUse row; loans that reached the product without a request (the bank's files, the opening figures of a
    year) are charged to the allocation of their branch, program and year when the allocation is set up. Both are
    listed; whatever neither explains is returned as `unexplained` so the page says so instead of hiding it.
    """
    from loans.models import Loan

    uses = list(allocation.uses.select_related("application__household", "approved_by").order_by("approved_at"))
    charged_by_requests = sum((use.amount_disbursed or use.amount_approved for use in uses), 0)
    loans = list(
        Loan.objects.filter(
            group__branch=allocation.branch_id, program=allocation.plan.program_id,
            disbursed_on__year=allocation.plan.year,
        )
        .filter(Q(application__isnull=True) | Q(application__capital_use__isnull=True))
        .select_related("household")
        .order_by("disbursed_on", "number")
    )
    carried = allocation.amount_committed - charged_by_requests
    loans_total = sum((loan.amount for loan in loans), 0)
    return {
        "uses": uses,
        "charged_by_requests": charged_by_requests,
        "loans": loans if carried > 0 else [],
        "loans_total": loans_total if carried > 0 else 0,
        "carried": carried,
        "unexplained": carried - loans_total if carried > 0 else carried,
    }


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
