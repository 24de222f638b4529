"""Disbursing approved requests: the loan, its schedule and its disbursement posting."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.ledger.balances import refresh_loan_balances
from loans.models import (
    CapitalAllocation,
    CapitalUse,
    Loan,
    LoanApplication,
    Posting,
    add_months,
    loan_number_validator,
)
from loans.models.pipeline import note_params
from loans.money import format_vnd
from loans.selectors.requests import applications_for
from loans.services.common import _whole_positive
from organizations.area import level_display
from organizations.codes import ascii_code
from organizations.dates import check_business_date
from organizations.errors import DomainError
from organizations.policy import authorize

AppStatus = LoanApplication.Status


# --- Disbursement --------------------------------------------------------------------------------------------------


def _valid_loan_number(loan_number):
    """The bank's 16-digit loan number, typed digits normalized, or None when it is not one."""
    loan_number = ascii_code((loan_number or "").strip())
    try:
        loan_number_validator(loan_number)
    except Exception:
        return None
    return loan_number if loan_number.isascii() else None


def disbursement_refusals(*, application, loan_number, amount, term_months):
    """What stops `application` being disbursed with these terms, as {field: message}: the disbursement day form
    shows them all at once, and loan_disburse refuses on the first. A missing value is not checked here."""
    errors = {}
    name = application.household.head_name
    if amount is not None and application.amount_approved is not None and amount > application.amount_approved:
        errors["amount"] = _("%(name)s was approved for %(approved)s; the disbursement cannot be more.") % {
            "name": name, "approved": format_vnd(application.amount_approved),
        }
    longest = application.program.max_term_months
    if term_months is not None and not 1 <= int(term_months) <= longest:
        errors["term_months"] = _("The term is 1 to %(max)s months for this program.") % {"max": longest}
    if loan_number not in (None, ""):
        number = _valid_loan_number(loan_number)
        if number is None:
            errors["loan_number"] = _("A bank loan number (số khế ước) has exactly 16 digits.")
        elif Loan.objects.filter(number=number).exists():
            errors["loan_number"] = _("Loan number %(number)s is already used by another loan.") % {"number": number}
    return errors


def repeated_loan_numbers(numbers):
    """{index: message} for each loan number of one transaction day that an earlier row already gave."""
    seen = set()
    repeated = {}
    for index, number in enumerate(ascii_code((n or "").strip()) for n in numbers):
        if number and number in seen:
            repeated[index] = _("Loan number %(number)s is entered twice.") % {"number": number}
        seen.add(number)
    return repeated


def loan_disburse(*, application, loan_number, on, amount, term_months, frequency, actor):
    """Giải ngân: create the loan with its schedule and disbursement posting, and close the request."""
    authorize(actor, "loan.disburse", scoped=applications_for, pk=application.pk)
    loan_number = _valid_loan_number(loan_number)
    if loan_number is None:
        raise DomainError(_("A bank loan number (số khế ước) has exactly 16 digits."), field="loan_number")
    amount = _whole_positive(amount)
    if on is None:
        raise DomainError(_("Enter the disbursement date."), field="on")
    if on > timezone.localdate():
        raise DomainError(_("The disbursement date cannot be in the future."), field="on")
    check_business_date(on, field="on")
    frequency = int(frequency)
    if frequency not in Loan.Frequency.values:
        raise DomainError(_("Choose a repayment frequency."), field="frequency")
    with transaction.atomic():
        application = (
            LoanApplication.objects.select_for_update(of=("self",))
            .select_related("household", "program", "group")
            .get(pk=application.pk)
        )
        name = application.household.head_name
        if application.status == AppStatus.DISBURSED or Loan.objects.filter(application=application).exists():
            raise DomainError(_("The loan of %(name)s is already disbursed.") % {"name": name})
        if application.status != AppStatus.APPROVED:
            raise DomainError(
                _("The request of %(name)s is “%(status)s”; only approved requests are disbursed.")
                % {"name": name, "status": level_display(application)}
            )
        program = application.program
        term_months = int(term_months or 0)
        refusals = disbursement_refusals(
            application=application, loan_number=loan_number, amount=amount, term_months=term_months
        )
        for field in ("amount", "term_months", "loan_number"):
            if field in refusals:
                raise DomainError(refusals[field], field=field)
        try:
            with transaction.atomic():
                loan = Loan.objects.create(
                    number=loan_number,
                    household=application.household,
                    program=program,
                    group=application.group,
                    application=application,
                    amount=amount,
                    disbursed_on=on,
                    maturity_on=add_months(on, term_months),
                    term_months=term_months,
                    frequency=frequency,
                    # The rate in force on the disbursement day, from the rate history: the cached current rate
                    # still shows the old one on a decision's first day, until the day close.
                    annual_rate=program.rate_on(on),
                    overdue_multiplier=program.overdue_multiplier,
                    created_by=actor,
                )
        except IntegrityError:
            raise DomainError(
                _("Loan number %(number)s is already used by another loan.") % {"number": loan_number},
                field="loan_number",
            ) from None
        loan.instalments.bulk_create(loan.build_schedule())
        Posting.objects.create(
            kind=Posting.Kind.DISBURSEMENT, household=application.household, loan=loan, amount=amount, on=on,
            created_by=actor, note=_("Disbursement of loan %(number)s") % {"number": loan_number},
        )
        use = CapitalUse.objects.select_for_update(of=("self",)).filter(application=application).first()
        if use is not None:
            allocation = CapitalAllocation.objects.select_for_update(of=("self",)).get(pk=use.allocation_id)
            released = use.amount_approved - amount
            CapitalAllocation.objects.filter(pk=allocation.pk).update(
                amount_committed=F("amount_committed") - released, amount_disbursed=F("amount_disbursed") + amount
            )
            use.amount_disbursed = amount
            use.save(update_fields=["amount_disbursed"])
        application.transition_to(
            AppStatus.DISBURSED, actor=actor, on=on,
            note_code="disbursed", note_params=note_params(number=loan_number, amount=amount),
        )
        refresh_loan_balances([loan.pk])
        loan.refresh_from_db()
        return loan


def loans_disburse(*, items, on, actor):
    """Disburse several approved requests of one transaction day, all or nothing.

    `items` is a list of dicts with application, loan_number, amount, term_months, frequency. A refusal names the
    row it concerns in `DomainError.field` as "<index>-<field>".
    """
    authorize(actor, "loan.disburse")
    if not items:
        raise DomainError(_("Choose at least one request to disburse."))
    for index, message in repeated_loan_numbers([item["loan_number"] for item in items]).items():
        raise DomainError(message, field=f"{index}-loan_number")
    loans = []
    with transaction.atomic():
        for index, item in enumerate(items):
            try:
                loans.append(loan_disburse(on=on, actor=actor, **item))
            except DomainError as error:
                error.field = f"{index}-{error.field or '__all__'}"
                raise
    return loans
