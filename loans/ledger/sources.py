"""Money rows the ledger cannot account for: every loan, posted collection line and capital movement must come with
the postings, or the decision, that made it. A row written around the services (the database shell, an old admin, a
bad script) leaves one of these gaps, and the balance checks alone cannot see it: a loan added with no disbursement
posting and a zero cache agrees with its (empty) ledger.

Each check is one set-based query; `LIMIT` rows are listed, the count is always exact."""

from django.db.models import Exists, F, OuterRef, Q

from loans.ledger.balances import _posting_sum
from loans.models import AllocationEvent, CapitalUse, CollectionLine, Loan, LoanApplication, Posting

LIMIT = 50
Kind = Posting.Kind


def _listed(queryset, *fields, limit):
    return queryset.count(), list(queryset.order_by("pk").values_list(*fields)[:limit])


def disbursement_differences(limit=LIMIT):
    """Loans whose disbursement postings (less their reversals) are not the loan's amount, unless the disbursement
    was reversed in full by an approved request: (number, amount, posted)."""
    reversed_by_decision = Exists(
        Posting.objects.filter(
            loan=OuterRef("pk"), kind=Kind.REVERSAL, reverses__kind=Kind.DISBURSEMENT, request__status="approved"
        )
    )
    loans = (
        Loan.objects.annotate(disbursed=_posting_sum(Kind.DISBURSEMENT, "loan"))
        .exclude(disbursed=F("amount"))
        .exclude(Q(disbursed=0) & reversed_by_decision)
    )
    return _listed(loans, "number", "amount", "disbursed", limit=limit)


def corrections_without_decision(limit=LIMIT):
    """Reversals, and reversals undone, that no second person approved: written around the services, since the only
    others come from the bank's files (reconciliation). (pk, kind, loan number, amount)"""
    postings = Posting.objects.filter(Q(kind=Kind.REVERSAL) | Q(restores__isnull=False), import_batch__isnull=True).exclude(
        request__status="approved"
    )
    return _listed(postings, "pk", "kind", "loan__number", "amount", limit=limit)


def _line_postings(**filters):
    return CollectionLine.postings.through.objects.filter(collectionline=OuterRef("pk"), **filters)


def collection_lines_without_postings(limit=LIMIT):
    """Lines that moved money (paid, deposited or withdrew) but lack the postings that say so: a posted line
    without postings, or a reversed one without its reversal; or a correction of a row that was not reversed.
    (pk, sheet date, group code, household, status)"""
    moved = Q(amount_paid__gt=0) | Q(savings_in__gt=0) | Q(savings_out__gt=0)
    reversed_statuses = [CollectionLine.Status.REVERSED, CollectionLine.Status.PARTLY_REVERSED]
    lines = CollectionLine.objects.filter(
        (moved & Q(status=CollectionLine.Status.POSTED) & ~Exists(_line_postings()))
        | (moved & Q(status__in=reversed_statuses) & ~Exists(_line_postings(posting__kind=Kind.REVERSAL)))
        # A correction replaces a row that was reversed in full, never one that still stands.
        | (Q(corrects__isnull=False) & ~Q(corrects__status=CollectionLine.Status.REVERSED))
    )
    return _listed(lines, "pk", "sheet__collection_on", "sheet__group__code", "household__head_name", "status",
                   limit=limit)


def capital_without_source(limit=LIMIT):
    """Capital movements with nothing behind them: (what, pk, detail).

    - an allocation's "capital added / moved out" entry that names no adjustment;
    - a charge on an allocation (CapitalUse) for a request that district never approved;
    - a charge marked disbursed with no loan of that amount for its request."""
    Status = LoanApplication.Status
    events = AllocationEvent.objects.filter(
        kind__in=[AllocationEvent.Kind.ADJUSTED_IN, AllocationEvent.Kind.ADJUSTED_OUT], adjustment__isnull=True
    )
    unapproved = CapitalUse.objects.exclude(
        application__status__in=[Status.APPROVED, Status.DISBURSED, Status.WITHDRAWN]
    )
    unpaid = CapitalUse.objects.filter(amount_disbursed__isnull=False).exclude(
        Exists(Loan.objects.filter(application=OuterRef("application"), amount=OuterRef("amount_disbursed")))
    )
    found, rows = 0, []
    for what, queryset, fields in (
        ("allocation entry without adjustment", events, ("pk", "allocation_id", "kind", "amount")),
        ("capital charged for an unapproved request", unapproved, ("pk", "application_id", "amount_approved")),
        ("capital marked disbursed without its loan", unpaid, ("pk", "application_id", "amount_disbursed")),
    ):
        count, listed = _listed(queryset, *fields, limit=limit)
        found += count
        rows.extend((what, row[0], row[1:]) for row in listed)
    return found, rows
