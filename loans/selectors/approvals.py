"""The district's approval queue of submitted 03/TD lists and the approved requests awaiting disbursement."""

from django.db.models import Count, Q, Sum

from loans.models import LoanApplication
from loans.selectors.requests import applications_for, loan_lists_for


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


def wards_for_queue(user):
    from organizations.selectors.scope import wards_for

    return wards_for(user)


def list_capital(loan_list, applications, *, year):
    """The capital a 03/TD list needs, per program of the list only, against the branch's approved allocation.

    For each program: the allocation, what other requests already hold, this list's requested total and its approved
    (or, while pending, proposed) total, and what would be left once this list is decided as proposed. Approvals of
    this list already charged to the allocation are counted once, as this list's, not as "other requests".
    """
    from loans.models import CapitalAllocation

    Status = LoanApplication.Status
    rows = {}
    for application in applications:
        if application.status in (Status.REJECTED, Status.GROUP_REJECTED, Status.WITHDRAWN):
            continue
        row = rows.setdefault(application.program_id, {
            "program": application.program, "allocation": None, "requested": 0, "this_list": 0, "charged": 0,
        })
        row["requested"] += application.amount_requested
        use = getattr(application, "capital_use", None)
        if use is not None:
            held = use.amount_disbursed or use.amount_approved
            row["this_list"] += held
            row["charged"] += held
        elif application.status == Status.SUBMITTED:
            row["this_list"] += application.amount_group_approved or application.amount_requested
    allocations = CapitalAllocation.objects.filter(
        branch=loan_list.group.branch_id, plan__year=year, plan__program__in=rows.keys(),
        status=CapitalAllocation.Status.APPROVED,
    ).select_related("plan")
    for allocation in allocations:
        row = rows[allocation.plan.program_id]
        row["allocation"] = allocation
        row["committed_other"] = allocation.amount_committed - row["charged"]
        row["left_after"] = allocation.amount - row["committed_other"] - row["this_list"]
    return sorted(rows.values(), key=lambda row: row["program"].code)
