"""Loan-use checks (06/TD) and group inspections (16/TD)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.models import GroupInspection, Loan, LoanUseCheck
from loans.selectors.loans import loans_for
from organizations.errors import DomainError
from organizations.policy import authorize
from organizations.selectors.scope import groups_for


def loan_use_check_record(*, loan, result, notes, checked_on, actor) -> LoanUseCheck:
    """Phiếu 06/TD: how the household used the money."""
    authorize(actor, "loan_use_check.record", scoped=loans_for, pk=loan.pk)
    if result not in LoanUseCheck.Result.values:
        raise DomainError(_("Choose the result of the check."), field="result")
    if checked_on > timezone.localdate():
        raise DomainError(_("The check date cannot be in the future."), field="checked_on")
    if checked_on < loan.disbursed_on:
        raise DomainError(_("The check date cannot be before the disbursement."), field="checked_on")
    with transaction.atomic():
        loan = Loan.objects.select_for_update().get(pk=loan.pk)
        return LoanUseCheck.objects.create(
            loan=loan, result=result, notes=(notes or "").strip(), checked_on=checked_on, checked_by=actor
        )


def group_inspection_record(*, group, inspected_on, findings, actor) -> GroupInspection:
    """Biên bản 16/TD: the group's yearly inspection."""
    authorize(actor, "group_inspection.record", scoped=groups_for, pk=group.pk)
    if inspected_on > timezone.localdate():
        raise DomainError(_("The inspection date cannot be in the future."), field="inspected_on")
    with transaction.atomic():
        return GroupInspection.objects.create(
            group=group, inspected_on=inspected_on, findings=(findings or "").strip(), inspected_by=actor
        )
