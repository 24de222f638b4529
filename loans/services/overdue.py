"""The end-of-day run: instalments missed become overdue."""

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loans.ledger.balances import ZERO, net_amount, refresh_loan_balances, with_derived_balances
from loans.ledger.snapshots import snapshots_close_months
from loans.models import Loan, Posting, RepaymentInstalment

PostingKind = Posting.Kind


# ---------------------------------------------------------------------------------------------------------------
# End of day: missed instalments become overdue
# ---------------------------------------------------------------------------------------------------------------


def missed_instalments(on):
    """Instalments due before `on`, not yet marked, that the loan's repayments (FIFO by seq) do not cover."""
    scheduled_through = (
        RepaymentInstalment.objects.filter(loan=OuterRef("loan"), seq__lte=OuterRef("seq"))
        .order_by()
        .values("loan")
        .annotate(total=Sum("principal"))
        .values("total")
    )
    repaid = (
        Posting.objects.filter(loan=OuterRef("loan"), on__lte=on)
        .order_by()
        .values("loan")
        .annotate(total=Sum(net_amount(PostingKind.PRINCIPAL)))
        .values("total")
    )
    return (
        RepaymentInstalment.objects.filter(due_on__lt=on, overdue_since__isnull=True, loan__status=Loan.Status.ACTIVE)
        .annotate(scheduled_through=Subquery(scheduled_through), repaid=Coalesce(Subquery(repaid), ZERO))
        .filter(scheduled_through__gt=F("repaid"))
    )


def overdue_close_day(*, on):
    """Mark missed instalments overdue as of `on` and bring cached balances in line; returns what changed.

    Two statements do the work whatever the number of loans; a second run for the same day finds nothing.
    """
    with transaction.atomic():
        missed = missed_instalments(on)
        marked = list(
            missed.order_by("loan__number", "seq").values(
                "pk", "loan__number", "loan__household__head_name", "seq", "due_on", "principal", "scheduled_through",
                "repaid",
            )
        )
        RepaymentInstalment.objects.filter(pk__in=missed.values("pk")).update(overdue_since=on)
        stale = with_derived_balances(Loan.objects.all()).filter(
            ~Q(principal_outstanding=F("derived_outstanding")) | ~Q(overdue_principal=F("derived_overdue"))
        )
        stale_ids = list(stale.values_list("pk", flat=True))
        refresh_loan_balances(stale_ids, since=on)
        snapshots_close_months(max(on, timezone.localdate()))
    return marked, stale_ids
