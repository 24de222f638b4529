"""The history of interest arrears: one entry per change, and the check that entries and loans agree."""

from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from loans.ledger.balances import ZERO
from loans.models import InterestArrearsEntry, Loan


def record_arrears_changes(changes, *, on, source):
    """Write one InterestArrearsEntry per loan whose arrears moved: `changes` is {loan id: signed change}."""
    InterestArrearsEntry.objects.bulk_create(
        [
            InterestArrearsEntry(loan_id=loan_id, on=on, amount=amount, source=source)
            for loan_id, amount in changes.items()
            if amount
        ],
        batch_size=5000,
    )


def arrears_differences():
    """Loans whose arrears entries add up to more than their arrears: on a day before them it would be negative."""
    entries = (
        InterestArrearsEntry.objects.filter(loan=OuterRef("pk"))
        .order_by()
        .values("loan")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return list(
        Loan.objects.annotate(entries=Coalesce(Subquery(entries), ZERO))
        .filter(entries__gt=F("interest_arrears"))
        .values_list("number", "interest_arrears", "entries")
    )
