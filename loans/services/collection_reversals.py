"""Corrections to posted money: reversals, never edits, each asked by one person and decided by another; and the\nright amounts for a reversed 13/TD row."""

from django.db import transaction
from django.db.models import F, Q
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
    ReversalRequest,
)
from loans.models.pipeline import note_params
from loans.money import format_vnd
from loans.selectors.collection import collection_lines_for
from loans.selectors.loans import postings_for
from loans.services.collection import INTEREST_KINDS, ITEM_DUE_FIELDS, _amount, _post_lines
from loans.services.common import _require_reason
from organizations.audit import audit_context
from organizations.errors import DomainError
from organizations.policy import authorize

PostingKind = Posting.Kind


# ---------------------------------------------------------------------------------------------------------------
# Corrections: reversals, never edits; asked by one person, decided by another
# ---------------------------------------------------------------------------------------------------------------


def _check_reversible(posting):
    """Why `posting` cannot be reversed (or, for a reversal, undone) as the ledger stands, or nothing."""
    if posting.kind == PostingKind.REVERSAL:
        if Posting.objects.filter(restores=posting).exists():
            raise DomainError(_("This reversal was already undone."))
        if CollectionLine.objects.filter(corrects__postings=posting).exists():
            raise DomainError(_("The row was corrected after this reversal; reverse the correction instead."))
        return
    if Posting.objects.filter(reverses=posting).exists():
        raise DomainError(_("This posting was already reversed."))


def _reverse(posting, reason, actor, request):
    """Undo one posting with a REVERSAL that points at it, on the original's value date; the original stays."""
    loan, household = _locked_parties(posting)
    _check_amounts(posting, household, loan)
    return _enter(posting, -1, posting.collection_lines.all(), reason, actor, request,
                  kind=PostingKind.REVERSAL, reverses=posting)


def _restore(reversal, reason, actor, request):
    """Undo a reversal: the original is entered again, on its own value date, pointing at the reversal it undoes."""
    original = reversal.reverses
    loan, household = _locked_parties(original)
    _check_amounts(reversal, household, loan)
    return _enter(original, +1, reversal.collection_lines.all(), reason, actor, request,
                  kind=original.kind, restores=reversal)


#: What taking a posting of a kind out of the books (-1) or putting it back (+1) does to its loan's status:
#: (kinds, sign) -> (statuses it applies to, the new status, the note's code).
_STATUS_AFTER = {
    ((PostingKind.PRINCIPAL, *INTEREST_KINDS), -1): ({Loan.Status.CLOSED}, Loan.Status.ACTIVE, "reopened"),
    ((PostingKind.DISBURSEMENT,), -1): (set(Loan.Status) - {Loan.Status.CLOSED}, Loan.Status.CLOSED,
                                        "disbursement_reversed"),
    ((PostingKind.DISBURSEMENT,), +1): ({Loan.Status.CLOSED}, Loan.Status.ACTIVE, "disbursement_restored"),
}


def _enter(original, sign, lines, reason, actor, request, **link):
    """Write the posting that takes `original` out of the books (sign -1: its reversal) or puts it back (+1), on its
    value date, on the rows it belongs to, with what follows for the loan's interest arrears and status."""
    loan, household, on = original.loan, original.household, original.on
    entry = Posting.objects.create(
        household=household, loan=loan, amount=original.amount, on=on, note=reason[:300], created_by=actor,
        request=request, **link,
    )
    for line in list(lines):
        line.postings.add(entry)
        _mark_line(line, reason, actor)
    if loan is not None:
        loan.refresh_from_db(fields=["status"])
        if original.kind in INTEREST_KINDS:
            # Interest taken out is owed again, in the arrears the next sheet collects; put back, it is paid.
            owed = -sign * original.amount
            Loan.objects.filter(pk=loan.pk).update(interest_arrears=F("interest_arrears") + owed)
            record_arrears_changes({loan.pk: owed}, on=on, source=InterestArrearsEntry.Source.REVERSAL)
        for (kinds, direction), (statuses, status, note_code) in _STATUS_AFTER.items():
            if original.kind in kinds and direction == sign and loan.status in statuses:
                _move_loan(loan, status, actor, on, note_code, reason)
    refresh_balances(loan_ids=[loan.pk] if loan else [], household_ids=[household.pk], since=on)
    return entry


def _locked_parties(posting):
    loan = Loan.objects.select_for_update().get(pk=posting.loan_id) if posting.loan_id else None
    return loan, Household.objects.select_for_update().get(pk=posting.household_id)


def _check_amounts(posting, household, loan):
    """Refuse a reversal (or, for a reversal, its undoing) that the balances as they stand cannot take: checked when
    it is asked for, and again when it is decided."""
    if posting.kind == PostingKind.REVERSAL:
        original = posting.reverses
        if original.kind == PostingKind.SAVINGS_OUT and household.savings_balance < original.amount:
            raise DomainError(
                _("%(name)s has only %(balance)s of savings left; the withdrawal of %(amount)s cannot be entered "
                  "again.")
                % {"name": household.head_name, "balance": format_vnd(household.savings_balance),
                   "amount": format_vnd(original.amount)}
            )
        if original.kind == PostingKind.PRINCIPAL and loan.principal_outstanding < original.amount:
            raise DomainError(_("The loan owes less than this repayment now; it cannot be entered again."))
        if original.kind in INTEREST_KINDS and loan.interest_arrears < original.amount:
            raise DomainError(
                _("This interest was collected again since it was reversed; it cannot be entered a second time.")
            )
        return
    if posting.kind == PostingKind.SAVINGS_IN and household.savings_balance < posting.amount:
        raise DomainError(
            _("%(name)s has only %(balance)s of savings left; the deposit of %(amount)s cannot be reversed.")
            % {"name": household.head_name, "balance": format_vnd(household.savings_balance),
               "amount": format_vnd(posting.amount)}
        )
    if posting.kind == PostingKind.DISBURSEMENT and loan.principal_outstanding < posting.amount:
        raise DomainError(_("Part of this disbursement was already repaid; reverse the repayments first."))


def _move_loan(loan, status, actor, on, note_code, reason):
    Loan.objects.filter(pk=loan.pk).update(status=status, updated_at=timezone.now())
    LoanStatusChange.objects.create(
        loan=loan, from_status=loan.status, to_status=status, actor=actor, on=on,
        note_code=note_code, note_params=note_params(reason=reason),
    )


def _mark_line(line, reason, actor):
    """A row stands as posted while none of its postings is reversed (or every reversal was undone); reversed when
    nothing of it stands any more; partly reversed otherwise (the rest can still be reversed, then the row
    corrected)."""
    postings = line.postings.all()
    reversals = postings.filter(kind=PostingKind.REVERSAL)
    if not reversals.filter(restored_by__isnull=True).exists():
        line.status = CollectionLine.Status.POSTED
        line.save(update_fields=["status"])
        return
    standing = postings.filter(reversed_by__isnull=True).exclude(kind=PostingKind.REVERSAL).exists()
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


def _standing_postings(line):
    """The postings of a row that still stand, withdrawals first, so that undoing a deposit never looks like it
    empties the account."""
    standing = line.postings.filter(reversed_by__isnull=True).exclude(kind=PostingKind.REVERSAL).values("pk")
    postings = list(Posting.objects.select_for_update().filter(pk__in=standing).order_by("pk"))
    postings.sort(key=lambda p: p.kind != PostingKind.SAVINGS_OUT)
    return postings


def _check_line_reversible(line):
    if line.status not in (CollectionLine.Status.POSTED, CollectionLine.Status.PARTLY_REVERSED):
        raise DomainError(_("Only a posted line can be reversed."))


def _request_action(posting):
    """Reversing a disbursement (or undoing that) is a district decision from the start; the rest a ward asks for."""
    original = posting.reverses if posting.kind == PostingKind.REVERSAL else posting
    return "disbursement_reversal.request" if original.kind == PostingKind.DISBURSEMENT else "reversal.request"


def reversal_request(*, reason, actor, posting=None, line=None):
    """Ask for one posting, or a whole posted 13/TD row, to be reversed (a reversal posting: to be undone). Nothing
    moves until someone else decides (`reversal_decide`)."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        if line is not None:
            line = CollectionLine.objects.select_for_update().get(pk=line.pk)
            authorize(actor, "reversal.request", scoped=collection_lines_for, pk=line.pk)
            _check_line_reversible(line)
            target = {"line": line}
        else:
            posting = Posting.objects.select_for_update().get(pk=posting.pk)
            authorize(actor, _request_action(posting), scoped=postings_for, pk=posting.pk)
            _check_reversible(posting)
            loan, household = _locked_parties(posting)
            _check_amounts(posting, household, loan)
            target = {"posting": posting}
        pending = ReversalRequest.objects.filter(status=ReversalRequest.Status.PROPOSED)
        # One question at a time about the same money: a row, or one of its postings.
        overlapping = (
            pending.filter(Q(line=line) | Q(posting__collection_lines=line)) if line is not None
            else pending.filter(Q(posting=posting) | Q(line__postings=posting))
        )
        if overlapping.exists():
            raise DomainError(_("A reversal of this is already waiting for a decision."))
        with audit_context(actor=actor):
            return ReversalRequest.objects.create(reason=reason, requested_by=actor, **target)


def reversal_decide(*, request, approve, reason="", actor):
    """Approve or refuse a reversal request. The decider is district staff in whose scope the money lies, and never
    the requester. On approval the reversal is posted on the original's value date, all or nothing."""
    with transaction.atomic(), audit_context(actor=actor):
        request = ReversalRequest.objects.select_for_update(of=("self",)).select_related("posting", "line").get(
            pk=request.pk
        )
        posting, line = request.posting, request.line
        if line is not None:
            authorize(actor, "reversal.decide", scoped=collection_lines_for, pk=line.pk)
        else:
            authorize(actor, "reversal.decide", scoped=postings_for, pk=posting.pk)
        if request.status != ReversalRequest.Status.PROPOSED:
            raise DomainError(_("This request is already decided."))
        if request.requested_by_id == actor.pk:
            raise DomainError(_("You asked for this reversal, so someone else must decide it."))
        if approve:
            decision_reason = (reason or "").strip()
            _carry_out(request, actor)
        else:
            decision_reason = _require_reason(reason)
        request.status = ReversalRequest.Status.APPROVED if approve else ReversalRequest.Status.REJECTED
        request.decided_by, request.decided_at, request.decision_reason = actor, timezone.now(), decision_reason
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        return request


def _carry_out(request, actor):
    if request.line_id is not None:
        line = CollectionLine.objects.select_for_update().get(pk=request.line_id)
        _check_line_reversible(line)
        for posting in _standing_postings(line):
            _reverse(posting, request.reason, actor, request)
        # A row with no posting (nothing paid) is reversed all the same.
        _mark_line(line, request.reason, actor)
        return
    posting = Posting.objects.select_for_update().get(pk=request.posting_id)
    _check_reversible(posting)
    if posting.kind == PostingKind.REVERSAL:
        _restore(posting, request.reason, actor, request)
    else:
        _reverse(posting, request.reason, actor, request)


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
        authorize(actor, "collection.post", scoped=collection_lines_for, pk=line.pk)
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
