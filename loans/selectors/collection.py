"""Scoped reads of 13/TD collection sheets and a group's figures for the collection day."""

from django.db.models import Count, Q, Sum

from loans.models import Loan
from organizations.selectors.scope import branch_scope


def collection_sheets_for(user):
    from loans.models import CollectionSheet

    return CollectionSheet.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward"
    )


def collection_lines_for(user):
    from loans.models import CollectionLine

    return CollectionLine.objects.filter(branch_scope(user, "sheet__group__branch"))


def reversal_requests_for(user):
    """Reversal requests about money in the user's scope: of a posting by its household, of a row by its group."""
    from loans.models import ReversalRequest

    return ReversalRequest.objects.filter(
        branch_scope(user, "posting__household__branch") | branch_scope(user, "line__sheet__group__branch")
    ).select_related(
        "posting__loan", "posting__household", "posting__reverses", "line__household", "line__sheet__group",
        "requested_by", "decided_by",
    )


def group_totals(group):
    """A group's figures from the cached balances of its current members: what the collection day changes."""
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
