"""Scoped reads of 01/TD requests, review meetings and 03/TD lists, and the open requests by status."""

from django.db.models import Count, Sum

from loans.models import LoanApplication
from organizations.selectors.scope import branch_scope


def applications_for(user):
    return LoanApplication.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def application_search(applications, *, query, user):
    """The request list's search: the household's accent-free name, citizen ID or phone (by the whole number for
    roles that see them masked: borrowers.selectors.number_match), or the start of the group code."""
    from django.db.models import Q

    from borrowers.models import fold_name
    from borrowers.selectors import number_match

    condition = Q(household__search_name__contains=fold_name(query)) | Q(group__code__startswith=query)
    numbers = number_match(query, user, prefix="household__")
    if numbers is not None:
        condition |= numbers
    return applications.filter(condition)


def review_meetings_for(user):
    from loans.models import ReviewMeeting

    return ReviewMeeting.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "recorded_by"
    )


def loan_lists_for(user):
    from loans.models import LoanList

    return LoanList.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "meeting", "submitted_by"
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
