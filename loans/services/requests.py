"""Loan requests: form 01/TD, the group review meeting (bình xét), the 03/TD list's certification and
submission. Every status move goes through `LoanApplication.transition_to`, which records who, when, from, to and a note."""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from borrowers.selectors import households_for
from loans.models import (
    AllocationEvent,
    CapitalAllocation,
    CapitalUse,
    LoanApplication,
    LoanList,
    LoanProgram,
    ReviewMeeting,
)
from loans.models.pipeline import note_params
from loans.money import format_vnd, is_whole_dong, to_decimal
from loans.selectors.requests import applications_for, loan_lists_for
from organizations.area import level_display
from organizations.errors import DomainError
from organizations.models import SavingsGroup
from organizations.policy import authorize
from organizations.selectors.scope import groups_for

Status = LoanApplication.Status


def _policy_label(code):
    return Household.PolicyStatus(code).label if code in Household.PolicyStatus.values else code


def application_refusals(*, household, program, amount, term_months):
    """Every rule of `program` that a 01/TD request of `household` breaks, as [(field or None, message)], in the order
    an officer reads the form. The 01/TD form shows them all at once; application_create refuses with all of them.
    A missing amount or term is not checked here (the form asks for it)."""
    refusals = []
    if not program.is_active:
        refusals.append(("program", _("Program %(program)s no longer takes requests.") % {"program": program}))
    if amount is not None and (amount <= 0 or not is_whole_dong(amount)):
        refusals.append(("amount", _("The amount must be a positive number of whole đồng.")))
        amount = None
    if term_months is not None and term_months < 1:
        refusals.append(("term_months", _("The term must be at least one month.")))
        term_months = None
    if household.policy_status not in (program.eligible_statuses or []):
        refusals.append((
            "program",
            _("Program %(program)s lends only to: %(allowed)s. This household is: %(status)s.")
            % {
                "program": program.code,
                "allowed": ", ".join(str(_policy_label(code)) for code in program.eligible_statuses) or "—",
                "status": household.get_policy_status_display(),
            },
        ))
    limit_errors = program.request_limit_errors(amount=amount, term_months=term_months)
    refusals.extend((field, limit_errors[field]) for field in ("term_months", "amount") if field in limit_errors)
    if program.escaped_within_years is not None:
        years_ago = timezone.localdate().year - (household.escaped_year or 0)
        if household.escaped_year is None or years_ago > program.escaped_within_years:
            refusals.append((
                "program",
                _("Program %(program)s lends only to households that left the poor list at most %(years)s years "
                  "ago; this one left in %(year)s.")
                % {"program": program.code, "years": program.escaped_within_years,
                   "year": household.escaped_year or "—"},
            ))
    open_request = household.applications.filter(program=program, status__in=LoanApplication.OPEN_STATUSES).first()
    if open_request is not None:
        refusals.append((
            "program",
            _("The household already has an open request for program %(program)s (%(status)s).")
            % {"program": program.code, "status": level_display(open_request)},
        ))
    membership = household.memberships.filter(left_on__isnull=True).select_related("group").first()
    if membership is None:
        refusals.append((None, _("The household is not in a savings group; a request goes through its group.")))
    elif membership.group.status != SavingsGroup.Status.ACTIVE:
        refusals.append((None, _("The household's group is not active.")))
    return refusals


@transaction.atomic
def application_create(*, household, program, amount, term_months, purpose, planned_use="", actor):
    """Record a 01/TD request, checked against the program's rules; a refusal names every rule it breaks."""
    authorize(actor, "application.create", scoped=households_for, pk=household.pk)
    household = Household.objects.select_for_update().get(pk=household.pk)
    program = LoanProgram.objects.get(pk=program.pk)
    amount = to_decimal(amount)
    if term_months is None:
        raise DomainError(_("The term must be at least one month."), field="term_months")
    refusals = application_refusals(household=household, program=program, amount=amount, term_months=term_months)
    if refusals:
        raise DomainError.of(refusals)
    membership = household.memberships.filter(left_on__isnull=True).select_related("group").first()
    return LoanApplication.objects.create(
        household=household,
        group=membership.group,
        program=program,
        amount_requested=amount,
        term_months=term_months,
        purpose=purpose,
        planned_use=planned_use,
        created_by=actor,
    )


@transaction.atomic
def application_withdraw(*, application, reason, actor):
    """The household gives up its request; allowed from every open status until disbursement."""
    authorize(actor, "application.withdraw", scoped=applications_for, pk=application.pk)
    application = LoanApplication.objects.select_for_update().get(pk=application.pk)
    if not reason.strip():
        raise DomainError(_("Give the reason for withdrawing the request."), field="reason")
    change = application.transition_to(Status.WITHDRAWN, actor=actor, note=reason.strip())
    _release_capital(application, actor=actor, reason=reason.strip())
    return change


def _release_capital(application, *, actor, reason):
    """Give an approved but undisbursed request's charge back to the allocation it was taken from."""
    use = CapitalUse.objects.select_for_update(of=("self",)).filter(
        application=application, amount_disbursed__isnull=True
    ).first()
    if use is None:
        return
    allocation = CapitalAllocation.objects.select_for_update(of=("self",)).get(pk=use.allocation_id)
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=F("amount_committed") - use.amount_approved)
    AllocationEvent.objects.create(
        allocation=allocation, kind=AllocationEvent.Kind.RELEASED, amount=use.amount_approved, actor=actor,
        note=_("%(name)s withdrew the request: %(reason)s")
        % {"name": application.household.head_name, "reason": reason},
    )


@dataclass
class ReviewResult:
    """One request's outcome at the meeting: approve with an amount, reject with a reason, or leave it for later."""

    APPROVE = "approve"
    REJECT = "reject"
    DEFER = "defer"

    application: LoanApplication
    decision: str
    amount: Decimal | None = None
    reason: str = ""


@dataclass
class Quorum:
    """How many of the group's member households a review meeting on a given day needs present."""

    members: int
    required: int


def review_quorum(*, group, on):
    """Members on the meeting day, and the share of them settings.REVIEW_MEETING_MIN_ATTENDANCE asks for."""
    members = group.memberships.filter(Q(left_on__isnull=True) | Q(left_on__gt=on), joined_on__lte=on).count()
    share = settings.REVIEW_MEETING_MIN_ATTENDANCE
    return Quorum(members=members, required=math.ceil(members * share.numerator / share.denominator))


@transaction.atomic
def application_review(
    *,
    group,
    held_on,
    results,
    actor,
    attendee_count=0,
    attendees="",
    neighbourhood_head="",
    branch_officer="",
    note="",
    attendance_confirmed=False,
):
    """Record a group review meeting (minutes 10A/TD) and build its list of approved requests (03/TD).

    The minutes need who was there: the ward branch officer, the attendees and their count. A meeting with fewer
    households than the quorum is recorded only when the officer confirms it (`attendance_confirmed`).
    """
    authorize(actor, "review.record", scoped=groups_for, pk=group.pk)
    group = SavingsGroup.objects.select_for_update().get(pk=group.pk)
    today = timezone.localdate()
    if held_on > today:
        raise DomainError(_("The meeting date cannot be in the future."), field="held_on")
    if not (branch_officer or "").strip():
        raise DomainError(_("Name the ward branch officer who attended the meeting."), field="branch_officer")
    if not (attendees or "").strip():
        raise DomainError(_("List who attended the meeting."), field="attendees")
    if not attendee_count or attendee_count < 1:
        raise DomainError(_("Give the number of households that attended."), field="attendee_count")
    quorum = review_quorum(group=group, on=held_on)
    if attendee_count < quorum.required and not attendance_confirmed:
        raise DomainError(
            _("Only %(count)s of the group's %(members)s member households attended; the group's rules ask for at "
              "least %(required)s. Tick the box to record the meeting anyway.")
            % {"count": attendee_count, "members": quorum.members, "required": quorum.required},
            field="confirm_low_attendance",
        )
    decided = [r for r in results if r.decision != ReviewResult.DEFER]
    if not decided:
        raise DomainError(_("Decide at least one request at the meeting."))
    ids = [r.application.pk for r in decided]
    if len(ids) != len(set(ids)):
        raise DomainError(_("A request is decided only once at a meeting."))
    locked = {a.pk: a for a in LoanApplication.objects.select_for_update().filter(pk__in=ids)}
    for result in decided:
        application = locked.get(result.application.pk)
        name = result.application.household.head_name
        if application is None or application.group_id != group.pk:
            raise DomainError(_("The request of %(name)s does not belong to this group.") % {"name": name})
        if application.status != Status.DRAFT:
            raise DomainError(
                _("The request of %(name)s was already reviewed (%(status)s).")
                % {"name": name, "status": level_display(application)}
            )
        if held_on < timezone.localtime(application.created_at).date():
            raise DomainError(
                _("The meeting cannot be before the request of %(name)s was made.") % {"name": name}, field="held_on"
            )
        if result.decision == ReviewResult.APPROVE:
            amount = result.amount
            if amount is None or amount <= 0 or not is_whole_dong(amount):
                raise DomainError(_("Give the approved amount for %(name)s in whole đồng.") % {"name": name})
            if amount > application.amount_requested:
                raise DomainError(
                    _("The approved amount for %(name)s cannot exceed the %(amount)s requested.")
                    % {"name": name, "amount": format_vnd(application.amount_requested)}
                )
        elif result.decision == ReviewResult.REJECT:
            if not (result.reason or "").strip():
                raise DomainError(_("Give the reason for rejecting the request of %(name)s.") % {"name": name})
        else:
            raise DomainError(_("Unknown decision for the request of %(name)s.") % {"name": name})
    meeting = ReviewMeeting.objects.create(
        group=group,
        held_on=held_on,
        attendee_count=attendee_count or 0,
        attendees=attendees.strip(),
        neighbourhood_head=neighbourhood_head,
        branch_officer=branch_officer.strip(),
        note=note,
        recorded_by=actor,
    )
    approved = [r for r in decided if r.decision == ReviewResult.APPROVE]
    loan_list = LoanList.objects.create(meeting=meeting, group=group) if approved else None
    for result in decided:
        application = locked[result.application.pk]
        application.meeting = meeting
        if result.decision == ReviewResult.APPROVE:
            application.amount_group_approved = result.amount
            application.loan_list = loan_list
            application.save(update_fields=["meeting", "amount_group_approved", "loan_list", "updated_at"])
            application.transition_to(
                Status.GROUP_APPROVED,
                actor=actor,
                on=held_on,
                note_code="group_approved", note_params=note_params(date=held_on, amount=result.amount),
            )
        else:
            application.rejection_reason = result.reason.strip()
            application.save(update_fields=["meeting", "rejection_reason", "updated_at"])
            application.transition_to(Status.GROUP_REJECTED, actor=actor, on=held_on, note=result.reason.strip())
    return meeting


@transaction.atomic
def loan_list_certify(*, loan_list, certified_on, signer, reference, actor):
    """The ward People's Committee certified the 03/TD list: its approved requests become certified."""
    authorize(actor, "loan_list.certify", scoped=loan_lists_for, pk=loan_list.pk)
    loan_list = LoanList.objects.select_for_update().select_related("meeting").get(pk=loan_list.pk)
    if loan_list.status != LoanList.Status.DRAFT:
        raise DomainError(_("This list was already certified."))
    if certified_on > timezone.localdate():
        raise DomainError(_("The certification date cannot be in the future."), field="certified_on")
    if certified_on < loan_list.meeting.held_on:
        raise DomainError(_("The ward cannot certify the list before the group meeting."), field="certified_on")
    if not signer.strip():
        raise DomainError(_("Say who signed for the ward."), field="signer")
    if not reference.strip():
        raise DomainError(_("Give the reference number of the certification."), field="reference")
    applications = list(
        loan_list.applications.select_for_update().filter(status=Status.GROUP_APPROVED).order_by("pk")
    )
    if not applications:
        raise DomainError(_("No request on this list is waiting for certification."))
    loan_list.status = LoanList.Status.CERTIFIED
    loan_list.certified_on = certified_on
    loan_list.certified_signer = signer.strip()
    loan_list.certification_ref = reference.strip()
    loan_list.certified_by = actor
    loan_list.save()
    note = _("Certified by the ward on %(date)s, ref. %(ref)s, signed by %(signer)s") % {
        "date": certified_on.strftime("%d/%m/%Y"),
        "ref": loan_list.certification_ref,
        "signer": loan_list.certified_signer,
    }
    for application in applications:
        application.transition_to(Status.CERTIFIED, actor=actor, on=certified_on, note=note)
    return loan_list


@transaction.atomic
def loan_list_submit(*, loan_list, actor):
    """Send a certified 03/TD list to district staff for approval."""
    authorize(actor, "loan_list.submit", scoped=loan_lists_for, pk=loan_list.pk)
    loan_list = LoanList.objects.select_for_update().get(pk=loan_list.pk)
    if loan_list.status != LoanList.Status.CERTIFIED:
        raise DomainError(
            _("Only a list certified by the ward can be submitted; this one is: %(status)s.")
            % {"status": level_display(loan_list)}
        )
    applications = list(loan_list.applications.select_for_update().filter(status=Status.CERTIFIED).order_by("pk"))
    if not applications:
        raise DomainError(_("No certified request is left on this list."))
    loan_list.status = LoanList.Status.SUBMITTED
    loan_list.submitted_by = actor
    loan_list.submitted_at = timezone.now()
    loan_list.save(update_fields=["status", "submitted_by", "submitted_at"])
    for application in applications:
        application.transition_to(Status.SUBMITTED, actor=actor, note_code="submitted")
    return loan_list
