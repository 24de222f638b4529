"""Corrections to posted collections: reversals, never edits."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.ledger.arrears import record_arrears_changes
from loans.ledger.balances import refresh_balances
from loans.models import CollectionLine, InterestArrearsEntry, Loan, LoanStatusChange, Posting
from loans.models.pipeline import note_params
from loans.money import format_vnd
from loans.services.collection import INTEREST_KINDS
from organizations.errors import DomainError

PostingKind = Posting.Kind


# ---------------------------------------------------------------------------------------------------------------
# Corrections: reversals, never edits
# ---------------------------------------------------------------------------------------------------------------


def _reverse(posting, reason, actor, on):
    if posting.kind == PostingKind.REVERSAL:
        raise DomainError(_("A reversal cannot itself be reversed; enter the correct amount again instead."))
    if Posting.objects.filter(reverses=posting).exists():
        raise DomainError(_("This posting was already reversed."))
    loan = Loan.objects.select_for_update().get(pk=posting.loan_id) if posting.loan_id else None
    household = Household.objects.select_for_update().get(pk=posting.household_id)
    if posting.kind == PostingKind.SAVINGS_IN and household.savings_balance < posting.amount:
        raise DomainError(
            _("%(name)s has only %(balance)s of savings left; the deposit of %(amount)s cannot be reversed.")
            % {"name": household.head_name, "balance": format_vnd(household.savings_balance),
               "amount": format_vnd(posting.amount)}
        )
    if posting.kind == PostingKind.DISBURSEMENT and loan.principal_outstanding < posting.amount:
        raise DomainError(_("Part of this disbursement was already repaid; reverse the repayments first."))
    reversal = Posting.objects.create(
        kind=PostingKind.REVERSAL,
        household=household,
        loan=loan,
        amount=posting.amount,
        on=on,
        reverses=posting,
        note=reason[:300],
        created_by=actor,
    )
    for line in posting.collection_lines.all():
        line.postings.add(reversal)
    if loan is not None:
        if posting.kind in INTEREST_KINDS:
            # The interest is owed again: it goes back to the arrears the next sheet collects.
            Loan.objects.filter(pk=loan.pk).update(interest_arrears=F("interest_arrears") + posting.amount)
            record_arrears_changes({loan.pk: posting.amount}, on=on, source=InterestArrearsEntry.Source.REVERSAL)
        if posting.kind in (PostingKind.PRINCIPAL, *INTEREST_KINDS) and loan.status == Loan.Status.CLOSED:
            Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.ACTIVE, updated_at=timezone.now())
            LoanStatusChange.objects.create(
                loan=loan, from_status=Loan.Status.CLOSED, to_status=Loan.Status.ACTIVE, actor=actor, on=on,
                note_code="reopened", note_params=note_params(reason=reason),
            )
    refresh_balances(loan_ids=[loan.pk] if loan else [], household_ids=[household.pk], since=min(on, posting.on))
    return reversal


def _clean_reason(reason):
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for the reversal."), field="reason")
    return reason


def posting_reverse(*, posting, reason, actor, on=None):
    """Undo one posting with a REVERSAL that points at it; the original stays in the ledger."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        posting = Posting.objects.select_for_update().get(pk=posting.pk)
        return _reverse(posting, reason, actor, on or timezone.localdate())


def collection_line_reverse(*, line, reason, actor, on=None):
    """Undo a posted sheet line: every posting of it still standing is reversed, all or nothing."""
    reason = _clean_reason(reason)
    on = on or timezone.localdate()
    with transaction.atomic():
        line = CollectionLine.objects.select_for_update().get(pk=line.pk)
        if line.status != CollectionLine.Status.POSTED:
            raise DomainError(_("Only a posted line can be reversed."))
        standing = line.postings.filter(reversed_by__isnull=True).exclude(kind=PostingKind.REVERSAL).values("pk")
        postings = list(Posting.objects.select_for_update().filter(pk__in=standing).order_by("pk"))
        # Withdrawals first, so that undoing a deposit never looks like it empties the account.
        postings.sort(key=lambda p: p.kind != PostingKind.SAVINGS_OUT)
        for posting in postings:
            _reverse(posting, reason, actor, on)
        line.status = CollectionLine.Status.REVERSED
        line.reversal_reason = reason[:300]
        line.reversed_by = actor
        line.reversed_at = timezone.now()
        line.save(update_fields=["status", "reversal_reason", "reversed_by", "reversed_at"])
    return line
