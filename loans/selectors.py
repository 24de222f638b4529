"""Scoped reads of requests, loans and postings, and the portfolio figures every report starts from."""

from django.db.models import Count, F, Q, Sum

from loans.ledger import with_derived_balances
from loans.models import Loan, LoanApplication, Posting
from organizations.selectors import branch_scope


def loans_for(user):
    return Loan.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def applications_for(user):
    return LoanApplication.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def postings_for(user):
    return Posting.objects.filter(branch_scope(user, "household__branch")).select_related("loan", "household")


def portfolio_by_organization(*, on=None, loans=None):
    """{bank code: {"outstanding", "overdue", "households"}} from the ledger as of `on` (default: everything)."""
    loans = Loan.objects.all() if loans is None else loans
    rows = (
        with_derived_balances(loans, on)
        .filter(derived_outstanding__gt=0)
        .values(kind=F("group__branch__kind"))
        .annotate(
            outstanding=Sum("derived_outstanding"),
            overdue=Sum("derived_overdue"),
            households=Count("household", distinct=True),
        )
        .order_by("kind")
    )
    return {
        row["kind"]: {
            "outstanding": int(row["outstanding"]),
            "overdue": int(row["overdue"]),
            "households": row["households"],
        }
        for row in rows
    }


def review_meetings_for(user):
    from loans.models import ReviewMeeting

    return ReviewMeeting.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "recorded_by"
    )


# --- Capital allocations, approval queue and district overview ----------------------------------------------------


def loan_lists_for(user):
    from loans.models import LoanList

    return LoanList.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "meeting", "submitted_by"
    )


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


def approval_queue(user):
    """Submitted 03/TD lists in scope with their pending requests' count and amounts, by ward and organization."""
    from loans.models import LoanList

    pending = Q(applications__status=LoanApplication.Status.SUBMITTED)
    return (
        loan_lists_for(user)
        .filter(status=LoanList.Status.SUBMITTED)
        .annotate(
            pending_count=Count("applications", filter=pending),
            pending_requested=Sum("applications__amount_requested", filter=pending),
            pending_group_approved=Sum("applications__amount_group_approved", filter=pending),
        )
        .order_by("group__branch__ward__code", "group__branch__kind", "submitted_at", "pk")
    )


def awaiting_disbursement(user):
    return (
        applications_for(user)
        .filter(status=LoanApplication.Status.APPROVED)
        .select_related("group__branch__ward", "loan_list")
        .order_by("group__branch__ward__code", "group__code", "household__search_name", "pk")
    )


def allocation_use(user, year):
    """Approved allocations of `year` in scope, with the district plan's figures."""
    from loans.models import CapitalAllocation

    return (
        allocations_for(user)
        .filter(plan__year=year, status=CapitalAllocation.Status.APPROVED)
        .order_by("branch__ward__code", "branch__kind", "plan__program__code")
    )


def requests_by_status(user):
    rows = (
        applications_for(user)
        .filter(status__in=LoanApplication.OPEN_STATUSES)
        .order_by()
        .values("status")
        .annotate(count=Count("pk"), requested=Sum("amount_requested"))
    )
    found = {row["status"]: row for row in rows}
    return [
        {
            "status": status,
            "label": LoanApplication.Status(status).label,
            "count": found.get(status, {}).get("count", 0),
            "requested": found.get(status, {}).get("requested") or 0,
        }
        for status in LoanApplication.OPEN_STATUSES
    ]


def disbursed_between(user, start, end):
    totals = loans_for(user).filter(disbursed_on__gte=start, disbursed_on__lte=end).aggregate(
        count=Count("pk"), amount=Sum("amount")
    )
    return {"count": totals["count"], "amount": totals["amount"] or 0}


def wards_for_queue(user):
    from organizations.selectors import wards_for

    return wards_for(user)


def collection_sheets_for(user):
    from loans.models import CollectionSheet

    return CollectionSheet.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward"
    )


def group_totals(group):
    """A group's figures from the cached balances of its current members: what the collection day changes."""
    from django.db.models import Q

    from borrowers.models import Household

    members = Household.objects.filter(memberships__group=group, memberships__left_on__isnull=True)
    open_loans = Loan.objects.filter(household__in=members.values("pk")).exclude(
        status__in=[Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF]
    )
    totals = open_loans.aggregate(
        outstanding=Sum("principal_outstanding", default=0),
        overdue=Sum("overdue_principal", default=0),
        arrears=Sum("interest_arrears", default=0),
        households=Count("household", distinct=True, filter=Q(principal_outstanding__gt=0)),
    )
    totals["savings"] = members.aggregate(savings=Sum("savings_balance", default=0))["savings"]
    totals["members"] = members.count()
    outstanding = totals["outstanding"]
    totals["overdue_ratio"] = (totals["overdue"] * 100 / outstanding) if outstanding else 0
    return totals
