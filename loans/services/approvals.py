"""District approval of submitted requests and 03/TD lists, against the ward's capital allocation."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.models import CapitalAllocation, CapitalUse, LoanApplication, LoanList
from loans.models.pipeline import note_params
from loans.money import format_vnd
from loans.selectors.requests import applications_for, loan_lists_for
from loans.services.common import _require_reason, _whole_positive, waits_for_the_write_lock
from organizations.area import area_label, level_display
from organizations.errors import DomainError
from organizations.policy import authorize

AppStatus = LoanApplication.Status


# --- District approval of submitted requests ---------------------------------------------------------------------


def allocation_for(application, year):
    return (
        CapitalAllocation.objects.filter(
            plan__program=application.program_id,
            plan__year=year,
            branch=application.group.branch_id,
            status=CapitalAllocation.Status.APPROVED,
        )
        .select_related("plan__program", "branch")
        .first()
    )


def _check_decider(actor, scoped, pk):
    """Only district staff (or an admin) decide 03/TD requests, and only within their scope: the same rule as the
    approval pages ("application.decide" in organizations/policy.py, the requests selectors), so that a command, a
    task or a future API calling these services cannot skip it. `scoped`: the selector of what is decided
    (applications_for, loan_lists_for)."""
    authorize(actor, "application.decide", scoped=scoped, pk=pk)


def _check_checker(application, actor):
    _check_decider(actor, applications_for, application.pk)
    loan_list = application.loan_list
    if loan_list is not None and loan_list.submitted_by_id == actor.pk:
        raise DomainError(_("You submitted this 03/TD list, so someone else must approve it."))


def _close_list_if_decided(loan_list):
    if loan_list is None:
        return
    if not loan_list.applications.filter(status=AppStatus.SUBMITTED).exists():
        LoanList.objects.filter(pk=loan_list.pk, status=LoanList.Status.SUBMITTED).update(
            status=LoanList.Status.DECIDED
        )


def _check_within_meeting(application, amount, name):
    """The district decides within what the group meeting put on list 03/TD, never above it.

    The meeting may have approved less than was asked; the request itself is the outer bound only for a request that
    never went through a meeting (which the pipeline does not allow, but old rows may exist).
    """
    ceiling = application.amount_group_approved
    if ceiling is None:
        ceiling = application.amount_requested
    if amount > ceiling:
        if application.amount_group_approved is not None and ceiling < application.amount_requested:
            message = _(
                "%(name)s asked for %(requested)s, but the group meeting approved %(approved)s on list 03/TD; "
                "%(area)s cannot approve more than %(approved)s."
            ) % {"name": name, "requested": format_vnd(application.amount_requested), "approved": format_vnd(ceiling),
                 "area": area_label()}
        elif application.amount_group_approved is not None:
            message = _(
                "The group meeting approved %(approved)s for %(name)s on list 03/TD; the approved amount cannot be more."
            ) % {"name": name, "approved": format_vnd(ceiling)}
        else:
            message = _("%(name)s asked for %(requested)s; the approved amount cannot be more.") % {
                "name": name, "requested": format_vnd(ceiling)}
        raise DomainError(message, field="amount")


def amount_refusal(*, application, amount):
    """Why `amount` cannot be approved for `application` within what its group meeting put on list 03/TD, or "".
    The list review form asks it for every row at once; _approve refuses with the same rule."""
    try:
        _check_within_meeting(application, amount, application.household.head_name)
    except DomainError as error:
        return error.message
    return ""


def _approve(application, amount, actor, today):
    application = LoanApplication.objects.select_for_update(of=("self",)).select_related("group", "loan_list").get(
        pk=application.pk
    )
    _check_checker(application, actor)
    name = application.household.head_name
    if application.status != AppStatus.SUBMITTED:
        raise DomainError(
            _("The request of %(name)s is “%(status)s”; only submitted requests can be approved.")
            % {"name": name, "status": level_display(application)}
        )
    amount = _whole_positive(amount)
    _check_within_meeting(application, amount, name)
    found = allocation_for(application, today.year)
    if found is None:
        raise DomainError(
            _("%(branch)s has no approved %(year)s allocation for program %(program)s.")
            % {"branch": application.group.branch, "year": today.year, "program": application.program.code}
        )
    # The row lock serialises approvals against one allocation: the second waits and sees the first's charge.
    allocation = CapitalAllocation.objects.select_for_update(of=("self",)).get(pk=found.pk)
    if amount > allocation.remaining:
        raise DomainError(
            _("Approving %(amount)s for %(name)s would exceed the allocation of %(branch)s: only %(free)s is left.")
            % {"amount": format_vnd(amount), "name": name, "branch": found.branch,
               "free": format_vnd(allocation.remaining)},
            field="amount",
        )
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=F("amount_committed") + amount)
    CapitalUse.objects.create(application=application, allocation=allocation, amount_approved=amount, approved_by=actor)
    application.amount_approved = amount
    application.save(update_fields=["amount_approved", "updated_at"])
    application.transition_to(
        AppStatus.APPROVED, actor=actor, on=today,
        note_code="approved", note_params=note_params(amount=amount),
    )
    return application


@waits_for_the_write_lock
def application_approve(*, application, amount, actor):
    """District staff approve one submitted request, charging the branch's allocation for the program and year."""
    today = timezone.localdate()
    with transaction.atomic():
        application = _approve(application, amount, actor, today)
        _close_list_if_decided(application.loan_list)
        return application


def application_reject(*, application, reason, actor):
    reason = _require_reason(reason)
    with transaction.atomic():
        application = (
            LoanApplication.objects.select_for_update(of=("self",)).select_related("loan_list").get(pk=application.pk)
        )
        _check_checker(application, actor)
        if application.status != AppStatus.SUBMITTED:
            raise DomainError(_("Only submitted requests can be rejected."))
        application.rejection_reason = reason
        application.save(update_fields=["rejection_reason", "updated_at"])
        application.transition_to(AppStatus.REJECTED, actor=actor, note=reason)
        _close_list_if_decided(application.loan_list)
        return application


@waits_for_the_write_lock
def loan_list_approve(*, loan_list, amounts, actor, rejections=None):
    """Decide a whole 03/TD list at once: `amounts` {application id: amount}, `rejections` {application id: reason}.

    All or nothing: one refusal leaves every request of the list as it was.
    """
    rejections = rejections or {}
    today = timezone.localdate()
    with transaction.atomic():
        loan_list = LoanList.objects.select_for_update(of=("self",)).get(pk=loan_list.pk)
        _check_decider(actor, loan_lists_for, loan_list.pk)
        if loan_list.status != LoanList.Status.SUBMITTED:
            raise DomainError(_("Only a submitted 03/TD list can be approved."))
        if loan_list.submitted_by_id == actor.pk:
            raise DomainError(_("You submitted this 03/TD list, so someone else must approve it."))
        pending = list(
            loan_list.applications.filter(status=AppStatus.SUBMITTED)
            .select_related("household", "program", "group")
            .order_by("pk")
        )
        if not pending:
            raise DomainError(_("No request on this list is waiting for a decision."))
        for application in pending:
            if application.pk in rejections:
                reason = _require_reason(rejections[application.pk], field=f"reason_{application.pk}")
                application.rejection_reason = reason
                application.save(update_fields=["rejection_reason", "updated_at"])
                application.transition_to(AppStatus.REJECTED, actor=actor, note=reason, on=today)
            elif application.pk in amounts:
                try:
                    _approve(application, amounts[application.pk], actor, today)
                except DomainError as error:
                    error.field = f"amount_{application.pk}"
                    raise
        _close_list_if_decided(loan_list)
        loan_list.refresh_from_db()
        return loan_list
