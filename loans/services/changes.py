"""Changes to a loan: 08/TD term adjustment, extension, freeze (and its end), write-off."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.calendar import working_days_before
from loans.ledger.summaries import refresh_group_balances
from loans.models import Loan, LoanChange, RepaymentInstalment, add_months
from loans.selectors.changes import changes_for
from loans.selectors.loans import loans_for
from organizations.errors import DomainError
from organizations.policy import authorize, person

ChangeKind = LoanChange.Kind


#: The defaults of the change rules; each program carries its own, editable (LoanProgram's change-rule fields).
#: A term adjustment is asked at least this many working days (weekends, holidays and days off skipped, see
#: loans/calendar.py) before the instalment is due.
TERM_ADJUSTMENT_NOTICE_DAYS = 5
#: A freeze lasts three to five years.
MIN_FREEZE_MONTHS = 36
MAX_FREEZE_MONTHS = 60


def extension_limit_months(loan):
    """Up to 12 months for loans of 12 months or less, otherwise up to half the term (the program's bounds)."""
    return loan.program.extension_limit_months(loan.term_months)


def notice_days(loan):
    return loan.program.term_adjustment_notice_days


def freeze_bounds(loan):
    """(shortest, longest) freeze in months for this loan's program."""
    return loan.program.min_freeze_months, loan.program.max_freeze_months


def extension_months_used(loan, changes=None):
    """Months of approved extensions; `changes`, the loan's changes when the caller has already read them."""
    if changes is not None:
        return sum(
            c.months or 0 for c in changes if c.kind == ChangeKind.EXTENSION and c.status == LoanChange.Status.APPROVED
        )
    used = loan.changes.filter(kind=ChangeKind.EXTENSION, status=LoanChange.Status.APPROVED).aggregate(m=Sum("months"))
    return used["m"] or 0


def unpaid_instalments(loan, instalments=None):
    """Instalments not yet covered by the principal repaid, earliest first (repayments settle the earliest due).

    `instalments`, the loan's schedule in due order, when the caller has already read it."""
    paid = loan.amount - loan.principal_outstanding
    unpaid = []
    for instalment in instalments if instalments is not None else loan.instalments.order_by("due_on", "seq"):
        if paid >= instalment.principal:
            paid -= instalment.principal
        else:
            unpaid.append(instalment)
            paid = 0
    return unpaid


def adjustable_instalments(loan, on):
    """Unpaid, not overdue instalments still far enough away to be adjusted, except the one at maturity."""
    return [
        i
        for i in unpaid_instalments(loan)
        if i.overdue_since is None
        and i.due_on < loan.maturity_on
        and on <= working_days_before(i.due_on, notice_days(loan))
    ]


def _check_term_adjustment(loan, instalment, new_due_on, on):
    if instalment is None or instalment.loan_id != loan.pk:
        raise DomainError(_("Choose an instalment of this loan."), field="instalment")
    if instalment.overdue_since is not None:
        raise DomainError(_("This instalment is already overdue; it can no longer be adjusted."), field="instalment")
    if instalment.pk not in {i.pk for i in unpaid_instalments(loan)}:
        raise DomainError(_("This instalment has already been repaid."), field="instalment")
    deadline = working_days_before(instalment.due_on, notice_days(loan))
    if on > deadline:
        raise DomainError(
            _(
                "A term adjustment must be asked at least %(days)s working days before the instalment is due: "
                "for the instalment of %(due)s, by %(deadline)s at the latest."
            )
            % {"days": notice_days(loan), "due": f"{instalment.due_on:%d/%m/%Y}",
               "deadline": f"{deadline:%d/%m/%Y}"},
            field="instalment",
        )
    if new_due_on is None or new_due_on <= instalment.due_on:
        raise DomainError(_("The new due date must be later than the current one."), field="new_due_on")
    if new_due_on > loan.maturity_on:
        raise DomainError(
            _("A term adjustment does not change the maturity date (%(maturity)s); choose a date on or before it.")
            % {"maturity": f"{loan.maturity_on:%d/%m/%Y}"},
            field="new_due_on",
        )


def _check_extension(loan, months, on):
    if not months or months < 1:
        raise DomainError(_("Give the number of months of the extension."), field="months")
    limit = extension_limit_months(loan)
    used = extension_months_used(loan)
    if used + months > limit:
        raise DomainError(
            _(
                "A loan of %(term)s months may be extended by at most %(limit)s months in all; "
                "%(used)s already granted, %(left)s left."
            )
            % {"term": loan.term_months, "limit": limit, "used": used, "left": max(0, limit - used)},
            field="months",
        )
    if on > loan.maturity_on:
        raise DomainError(_("The loan has already matured; an extension must be asked before maturity."))
    if loan.instalments.filter(due_on=loan.maturity_on, overdue_since__isnull=False).exists():
        raise DomainError(_("The last instalment is already overdue; it can no longer be extended."))


def _check_freeze(loan, months):
    shortest, longest = freeze_bounds(loan)
    if not months or months < shortest or months > longest:
        raise DomainError(
            _("Under program %(program)s a freeze lasts from %(min)s to %(max)s months (%(min_years)s to "
              "%(max_years)s years); %(months)s months were asked.")
            % {"program": loan.program.code, "min": shortest, "max": longest,
               "min_years": _years(shortest), "max_years": _years(longest), "months": months or 0},
            field="months",
        )


def _years(months):
    """36 -> "3", 42 -> "3.5": freeze bounds read as years in the message."""
    return f"{months // 12}" if months % 12 == 0 else f"{Decimal(months) / 12:.1f}".replace(".", ",")


def _check_loan_open(loan, kind):
    allowed = (Loan.Status.ACTIVE, Loan.Status.FROZEN) if kind == ChangeKind.WRITE_OFF else (Loan.Status.ACTIVE,)
    if loan.status not in allowed:
        raise DomainError(
            _("A %(change)s is not possible for a loan that is “%(status)s”.")
            % {"change": ChangeKind(kind).label.lower(), "status": loan.get_status_display()}
        )
    if loan.principal_outstanding <= 0:
        raise DomainError(_("This loan has nothing outstanding."))


def loan_change_request(
    *, loan, kind, reason, actor, on=None, instalment=None, new_due_on=None, months=None
) -> LoanChange:
    """The ward branch asks for a change; nothing about the loan changes until district staff approve it."""
    authorize(actor, "loan_change.request", scoped=loans_for, pk=loan.pk)
    on = on or timezone.localdate()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for the change."), field="reason")
    if kind not in ChangeKind.values:
        raise DomainError(_("Unknown kind of change."))
    with transaction.atomic():
        loan = Loan.objects.select_for_update().get(pk=loan.pk)
        _check_loan_open(loan, kind)
        if loan.changes.filter(status=LoanChange.Status.REQUESTED).exists():
            raise DomainError(_("This loan already has a change awaiting approval."))
        change = LoanChange(loan=loan, kind=kind, reason=reason, requested_on=on, requested_by=actor)
        if kind == ChangeKind.TERM_ADJUSTMENT:
            _check_term_adjustment(loan, instalment, new_due_on, on)
            change.instalment, change.old_due_on, change.new_due_on = instalment, instalment.due_on, new_due_on
        elif kind == ChangeKind.EXTENSION:
            _check_extension(loan, months, on)
            change.months = months
            change.old_maturity_on = loan.maturity_on
            change.new_maturity_on = add_months(loan.maturity_on, months)
        elif kind == ChangeKind.FREEZE:
            _check_freeze(loan, months)
            change.months = months
        change.save()
        return change


def loan_change_decide(*, change, approve, actor, note="", on=None) -> LoanChange:
    """District staff approve (and the change is applied) or reject with a reason. The requester cannot decide."""
    on = on or timezone.localdate()
    note = (note or "").strip()
    with transaction.atomic():
        change = LoanChange.objects.select_for_update().get(pk=change.pk)
        authorize(actor, "loan_change.decide", scoped=changes_for, pk=change.pk)
        loan = Loan.objects.select_for_update().get(pk=change.loan_id)
        if change.status != LoanChange.Status.REQUESTED:
            raise DomainError(_("This change has already been decided."))
        if change.requested_by_id == actor.pk:
            raise DomainError(_("Whoever asked for a change cannot also approve or reject it."))
        if not approve and not note:
            raise DomainError(_("Give the reason for the rejection."), field="note")
        if approve:
            _apply(change, loan, actor, on)
        change.status = LoanChange.Status.APPROVED if approve else LoanChange.Status.REJECTED
        change.decided_by, change.decided_on, change.decision_note = actor, on, note
        change.save()
        return change


def _apply(change, loan, actor, on):
    _check_loan_open(loan, change.kind)
    if change.kind == ChangeKind.TERM_ADJUSTMENT:
        instalment = RepaymentInstalment.objects.select_for_update().get(pk=change.instalment_id)
        if instalment.overdue_since is not None or instalment.due_on != change.old_due_on:
            raise DomainError(_("The instalment has changed since the request (it is overdue or already moved)."))
        if instalment.pk not in {i.pk for i in unpaid_instalments(loan)}:
            raise DomainError(_("This instalment has already been repaid."))
        if change.new_due_on > loan.maturity_on:
            raise DomainError(_("The new due date is after the loan's maturity date."))
        instalment.due_on = change.new_due_on
        instalment.save(update_fields=["due_on"])
    elif change.kind == ChangeKind.EXTENSION:
        # Re-check against what was granted since the request was made.
        used = extension_months_used(loan)
        if used + change.months > extension_limit_months(loan):
            raise DomainError(_("Approving this would extend the loan beyond its limit."))
        if loan.instalments.filter(due_on__gte=loan.maturity_on, overdue_since__isnull=False).exists():
            raise DomainError(_("The last instalment is already overdue; it can no longer be extended."))
        new_maturity = add_months(loan.maturity_on, change.months)
        loan.instalments.filter(due_on__gte=loan.maturity_on).update(due_on=new_maturity)
        change.old_maturity_on, change.new_maturity_on = loan.maturity_on, new_maturity
        loan.maturity_on = new_maturity
        loan.save(update_fields=["maturity_on", "updated_at"])
    elif change.kind == ChangeKind.FREEZE:
        # Re-check against the program's bounds as they are on the day of the decision.
        _check_freeze(loan, change.months)
        # The freeze runs from the day it is approved; frozen loans accrue no interest.
        change.frozen_from, change.frozen_until = on, add_months(on, change.months)
        loan.transition_to(Loan.Status.FROZEN, actor=actor, note=change.reason, on=on)
    elif change.kind == ChangeKind.WRITE_OFF:
        # Recorded on the change; the ledger's principal stays as posted so check_ledger keeps agreeing.
        change.principal_written_off = loan.principal_outstanding
        change.interest_written_off = loan.interest_arrears
        loan.transition_to(Loan.Status.WRITTEN_OFF, actor=actor, note=change.reason, on=on)
    # The frozen balance and the maturity profile that dashboards read are kept per group.
    refresh_group_balances([loan.group_id])


def loan_freeze_end(*, change, actor, on=None) -> LoanChange:
    """Lift a freeze (early, or when its period is over): the loan is active again.

    A freeze lifted on or after its end date (the job running late, or an officer lifting it late) ends on that end
    date, not on `on`: the loan accrues interest again from it, and the schedule moves by the freeze's own length.
    The day close lifts the freezes whose period is over as SYSTEM (`freezes_end_due`)."""
    on = on or timezone.localdate()
    with transaction.atomic():
        change = LoanChange.objects.select_for_update().get(pk=change.pk)
        authorize(actor, "freeze.end", scoped=changes_for, pk=change.pk)
        loan = Loan.objects.select_for_update().get(pk=change.loan_id)
        if change.kind != ChangeKind.FREEZE or change.status != LoanChange.Status.APPROVED:
            raise DomainError(_("Only an approved freeze can be lifted."))
        if loan.status != Loan.Status.FROZEN:
            raise DomainError(_("This loan is not frozen."))
        # `frozen_until` is add_months(frozen_from, months): the day after the last frozen day, the first day the
        # loan is active again (frozen 16/03/2026 for 60 months: frozen through 15/03/2031, active from 16/03/2031).
        # Ended late, the status change back to active and `ended_on` are dated on it and the schedule moves by the
        # freeze's own months; the row's `at` still says when it was recorded, and nothing recorded before it
        # (postings, posted sheets, earlier status changes) is rewritten.
        if change.frozen_until is not None and change.frozen_until < on:
            on = change.frozen_until
        loan.transition_to(Loan.Status.ACTIVE, actor=person(actor), note_code="freeze_ended", on=on)
        change.old_maturity_on = loan.maturity_on
        change.new_maturity_on = _move_schedule_past_freeze(loan, change.frozen_from, on)
        change.status, change.ended_on = LoanChange.Status.ENDED, on
        change.save(update_fields=["status", "ended_on", "old_maturity_on", "new_maturity_on"])
        refresh_group_balances([loan.group_id])
        return change


def _move_schedule_past_freeze(loan, frozen_from, ended_on):
    """Nothing falls due while a loan is frozen: the instalments still to come when the freeze began move later by the
    freeze's length in months (a part month counts as a whole one), and so does maturity. Returns the new maturity."""
    months = (ended_on.year - frozen_from.year) * 12 + ended_on.month - frozen_from.month
    if ended_on.day > frozen_from.day:
        months += 1
    if months <= 0:
        return loan.maturity_on
    moved = [i for i in unpaid_instalments(loan) if i.overdue_since is None and i.due_on >= frozen_from]
    for instalment in moved:
        instalment.due_on = add_months(instalment.due_on, months)
    RepaymentInstalment.objects.bulk_update(moved, ["due_on"])
    loan.maturity_on = add_months(loan.maturity_on, months)
    loan.save(update_fields=["maturity_on", "updated_at"])
    return loan.maturity_on


def freezes_end_due(*, on=None, actor):
    """End every freeze whose period is over as of `on`, each on its own end date however late this runs (see
    loan_freeze_end). The day close and `end_freezes` act as SYSTEM. Returns the changes ended."""
    on = on or timezone.localdate()
    due = LoanChange.objects.filter(
        kind=ChangeKind.FREEZE, status=LoanChange.Status.APPROVED, frozen_until__lte=on, loan__status=Loan.Status.FROZEN
    )
    return [loan_freeze_end(change=change, actor=actor, on=on) for change in due]
