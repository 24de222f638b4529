"""Scoped reads of requests, loans and postings, and the portfolio figures every report starts from."""

from django.db.models import Count, F, Sum

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
