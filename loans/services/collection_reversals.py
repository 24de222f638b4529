"""Corrections to posted collections: reversals, never edits."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.ledger.arrears import record_arrears_changes
from loans.ledger.balances import refresh_balances
from loans.models import (
    CollectionItem,
    CollectionLine,
    CollectionSheet,
    InterestArrearsEntry,
    Loan,
    LoanStatusChange,
    Posting,
)
from loans.models.pipeline import note_params
from loans.money import format_vnd
from loans.services.collection import INTEREST_KINDS, ITEM_DUE_FIELDS, _amount, _post_lines
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
        _mark_line_reversed(line, reason, actor)
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


def _mark_line_reversed(line, reason, actor):
    """A row with a reversed posting no longer stands as posted: reversed when nothing of it stands any more,
    partly reversed otherwise (the rest can still be reversed, then the row corrected)."""
    standing = line.postings.filter(reversed_by__isnull=True).exclude(kind=PostingKind.REVERSAL).exists()
    line.status = CollectionLine.Status.PARTLY_REVERSED if standing else CollectionLine.Status.REVERSED
    line.reversal_reason = reason[:300]
    line.reversed_by = actor
    line.reversed_at = timezone.now()
    line.save(update_fields=["status", "reversal_reason", "reversed_by", "reversed_at"])


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
        if line.status not in (CollectionLine.Status.POSTED, CollectionLine.Status.PARTLY_REVERSED):
            raise DomainError(_("Only a posted line can be reversed."))
        standing = line.postings.filter(reversed_by__isnull=True).exclude(kind=PostingKind.REVERSAL).values("pk")
        postings = list(Posting.objects.select_for_update().filter(pk__in=standing).order_by("pk"))
        # Withdrawals first, so that undoing a deposit never looks like it empties the account.
        postings.sort(key=lambda p: p.kind != PostingKind.SAVINGS_OUT)
        for posting in postings:
            _reverse(posting, reason, actor, on)
        # A row with no posting (nothing paid) is reversed all the same.
        _mark_line_reversed(line, reason, actor)
        line.refresh_from_db()
    return line


# ---------------------------------------------------------------------------------------------------------------
# Corrections: the right amounts for a reversed row, same household, group and day
# ---------------------------------------------------------------------------------------------------------------


def _check_nothing_moved_since(line, loans):
    """A correction replays the reversed row's dues. That is only right while the household's loans stand as the
    reversal left them: same principal, same arrears, no later sheet. Otherwise the next sheet collects it."""
    sheet = line.sheet
    later = CollectionItem.objects.filter(
        loan__in=list(loans), line__sheet__group=sheet.group_id, line__sheet__collection_on__gt=sheet.collection_on,
        line__sheet__status=CollectionSheet.Status.POSTED,
    ).exclude(line__status=CollectionLine.Status.OPEN)
    changed = later.exists()
    for item in line.items.all():
        loan = loans[item.loan_id]
        if (loan.principal_outstanding != item.outstanding
                or loan.interest_arrears != item.overdue_interest_due + item.current_interest_due):
            changed = True
    if changed:
        raise DomainError(
            _("The loans of %(name)s changed after this row was posted (a later sheet or a payment at the bank's "
              "desk); record the right amount on the next collection sheet instead.")
            % {"name": line.household.head_name}
        )


def collection_line_correct(*, line, amount_paid, savings_in=0, savings_out=0, actor):
    """Record the right amounts for a reversed 13/TD row: a correction row on the same sheet, for the same household
    and day, with the dues the reversed row had, posted at once. The original and its reversal stay as they are."""
    with transaction.atomic():
        sheet = CollectionSheet.objects.select_for_update().select_related("group").get(pk=line.sheet_id)
        line = CollectionLine.objects.select_for_update().select_related("household").get(pk=line.pk)
        if line.status != CollectionLine.Status.REVERSED:
            raise DomainError(
                _("Only a reversed row can be corrected; reverse what still stands of this row first.")
                if line.status == CollectionLine.Status.PARTLY_REVERSED
                else _("Only a reversed row can be corrected.")
            )
        if CollectionLine.objects.filter(corrects=line).exists():
            raise DomainError(_("This row was already corrected; to change it again, reverse the correction."))
        items = list(line.items.all())
        loans = Loan.objects.select_for_update().in_bulk([item.loan_id for item in items])
        household = Household.objects.get(pk=line.household_id)
        _check_nothing_moved_since(line, loans)
        correction = CollectionLine.objects.create(
            sheet=sheet, household=household, position=line.position, corrects=line,
            overdue_interest_due=line.overdue_interest_due, current_interest_due=line.current_interest_due,
            principal_due=line.principal_due, savings_before=household.savings_balance,
            amount_paid=_amount(amount_paid), savings_in=_amount(savings_in), savings_out=_amount(savings_out),
        )
        CollectionItem.objects.bulk_create([
            CollectionItem(line=correction, **{field: getattr(item, field) for field in ("loan_id", *ITEM_DUE_FIELDS)})
            for item in items
        ])
        _post_lines(sheet, actor, lines=[correction])
        correction.refresh_from_db()
        return correction
