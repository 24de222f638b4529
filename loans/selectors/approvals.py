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
