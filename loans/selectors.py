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


def review_meetings_for(user):
    from loans.models import ReviewMeeting

    return ReviewMeeting.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "recorded_by"
    )


def loan_lists_for(user):
    from loans.models import LoanList

    return LoanList.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "meeting"
    )
