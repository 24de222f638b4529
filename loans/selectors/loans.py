"""Scoped reads of loans and postings, and the portfolio by organization from the ledger."""

from django.db.models import Count, F, Sum

from loans.ledger.balances import with_derived_balances
from loans.models import Loan, Posting
from organizations.selectors.scope import branch_scope


def loans_for(user):
    return Loan.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def postings_for(user):
    return Posting.objects.filter(branch_scope(user, "household__branch")).select_related("loan", "household")


#: How many later corrections a past report names; the count is always exact.
CORRECTIONS_LISTED = 20


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


def disbursed_between(user, start, end):
    totals = loans_for(user).filter(disbursed_on__gte=start, disbursed_on__lte=end).aggregate(
        count=Count("pk"), amount=Sum("amount")
    )
    return {"count": totals["count"], "amount": totals["amount"] or 0}
