"""Accepting the bank's figures where an import showed the ledger differs."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.bankfiles.plans import _money
from loans.ledger.arrears import record_arrears_changes
from loans.ledger.balances import refresh_household_savings, refresh_loan_balances
from loans.models import (
    ImportBatch,
    InterestArrearsEntry,
    Loan,
    Posting,
    ReconciliationItem,
    RepaymentInstalment,
    schedule_instalments,
)
from organizations.errors import DomainError
from organizations.policy import authorize

Figure = ReconciliationItem.Figure
Kind = Posting.Kind


RECONCILE_NOTE = "Đối chiếu với ngân hàng"


def reconciliation_accept(*, batch, item_ids, actor):
    """Write what it takes for the ledger to show the bank's figure for each chosen difference."""
    from loans.bankfiles.selectors import import_batches_for

    authorize(actor, "bank_import.run", scoped=import_batches_for, pk=batch.pk)
    if batch.status != ImportBatch.Status.DONE:
        raise DomainError(_("Only differences of a finished import can be accepted."))
    with transaction.atomic():
        items = list(
            ReconciliationItem.objects.select_for_update(of=("self",))
            .filter(batch=batch, pk__in=item_ids, accepted_at__isnull=True)
            .select_related("loan", "household")
        )
        if not items:
            raise DomainError(_("Choose at least one difference that is not accepted yet."))
        loan_ids = {i.loan_id for i in items if i.loan_id}
        household_ids = {i.household_id for i in items}
        locked_loans = {loan.pk: loan for loan in Loan.objects.select_for_update().filter(pk__in=loan_ids)}
        Household.objects.select_for_update().filter(pk__in=household_ids).exists()
        today, now = timezone.localdate(), timezone.now()
        order = {
            Figure.OUTSTANDING: 0,
            Figure.OVERDUE: 1,
            Figure.FROZEN: 2,
            Figure.INTEREST_ARREARS: 3,
            Figure.SAVINGS: 4,
        }
        for item in sorted(items, key=lambda i: order[i.figure]):
            loan = locked_loans.get(item.loan_id)
            if item.figure == Figure.OUTSTANDING:
                _accept_outstanding(loan, int(item.bank_value), batch, actor, today)
            elif item.figure == Figure.OVERDUE:
                refresh_loan_balances([loan.pk])
                loan.refresh_from_db()
                _accept_overdue(loan, int(item.bank_value), today)
            elif item.figure == Figure.FROZEN:
                want_frozen = item.bank_value > 0
                if want_frozen and loan.status == Loan.Status.ACTIVE:
                    loan.transition_to(Loan.Status.FROZEN, actor=actor, note_code="reconciled")
                elif not want_frozen and loan.status == Loan.Status.FROZEN:
                    loan.transition_to(Loan.Status.ACTIVE, actor=actor, note_code="reconciled")
            elif item.figure == Figure.INTEREST_ARREARS:
                Loan.objects.filter(pk=loan.pk).update(interest_arrears=item.bank_value)
                record_arrears_changes(
                    {loan.pk: item.bank_value - loan.interest_arrears},
                    on=today,
                    source=InterestArrearsEntry.Source.RECONCILIATION,
                )
            elif item.figure == Figure.SAVINGS:
                household = Household.objects.get(pk=item.household_id)
                difference = int(item.bank_value) - int(household.savings_balance)
                if difference:
                    _reconcile_posting(
                        batch,
                        actor,
                        today,
                        kind=Kind.SAVINGS_IN if difference > 0 else Kind.SAVINGS_OUT,
                        household=household,
                        amount=abs(difference),
                    )
                refresh_household_savings([household.pk])
            if loan:
                refresh_loan_balances([loan.pk])
                loan.refresh_from_db()
            item.accepted_by, item.accepted_at = actor, now
        ReconciliationItem.objects.bulk_update(items, ["accepted_by", "accepted_at"])
    return items


def _reconcile_posting(batch, actor, on, **fields):
    """A posting that brings the ledger to the bank's figure, linked to the import batch that showed the difference."""
    return Posting.objects.create(on=on, note=RECONCILE_NOTE, created_by=actor, import_batch=batch, **fields)


def _accept_outstanding(loan, bank, batch, actor, today):
    refresh_loan_balances([loan.pk])
    loan.refresh_from_db()
    difference = bank - int(loan.principal_outstanding)
    if difference < 0:
        _reconcile_posting(
            batch, actor, today, kind=Kind.PRINCIPAL, household_id=loan.household_id, loan=loan, amount=-difference
        )
        return
    # The ledger shows less owed than the bank: reverse principal repayments, newest first, then re-post any excess.
    remaining = difference
    repayments = Posting.objects.filter(loan=loan, kind=Kind.PRINCIPAL, reversed_by__isnull=True).order_by("-on", "-pk")
    for posting in repayments:
        if remaining <= 0:
            break
        _reconcile_posting(
            batch,
            actor,
            today,
            kind=Kind.REVERSAL,
            reverses=posting,
            household_id=loan.household_id,
            loan=loan,
            amount=posting.amount,
        )
        remaining -= int(posting.amount)
    if remaining < 0:
        _reconcile_posting(
            batch, actor, today, kind=Kind.PRINCIPAL, household_id=loan.household_id, loan=loan, amount=-remaining
        )
    elif remaining > 0:
        raise DomainError(
            _(
                "Loan %(number)s: the bank's outstanding %(bank)s is more than the ledger can show "
                "without a new disbursement."
            )
            % {"number": loan.number, "bank": _money(bank)}
        )


def _accept_overdue(loan, bank, today):
    """Re-mark the schedule so that the missed instalments, less principal repaid, equal the bank's overdue figure."""
    if bank > loan.principal_outstanding:
        raise DomainError(
            _("Loan %(number)s: the bank's overdue is more than its outstanding balance.") % {"number": loan.number}
        )
    paid = int(loan.amount) - int(loan.principal_outstanding)
    target = paid + bank if bank else 0
    instalments = list(loan.instalments.order_by("seq"))
    rows, covered = [], 0
    for instalment in instalments:
        principal = int(instalment.principal)
        if covered < target and covered + principal > target:
            first = target - covered
            rows.append((instalment.due_on, first, min(today, instalment.due_on) if bank else None))
            rows.append((instalment.due_on, principal - first, None))
        else:
            overdue = bank and covered < target
            rows.append(
                (
                    instalment.due_on,
                    principal,
                    (instalment.overdue_since or min(today, instalment.due_on)) if overdue else None,
                )
            )
        covered += principal
    loan.instalments.all().delete()  # the schedule is not money; the postings stay untouched
    RepaymentInstalment.objects.bulk_create(
        schedule_instalments(loan, [(seq, *row) for seq, row in enumerate(rows, start=1)])
    )
