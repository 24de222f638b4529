"""Writes about loan requests: form 01/TD, the group review meeting (bình xét), the 03/TD list and its way upwards.

Every status move goes through `LoanApplication.transition_to`, which records who, when, from, to and a note.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.ledger import refresh_loan_balances
from loans.models import (
    AllocationEvent,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    CapitalUse,
    Loan,
    LoanApplication,
    LoanList,
    LoanProgram,
    Posting,
    ReviewMeeting,
    add_months,
    loan_number_validator,
)
from loans.money import format_vnd, is_whole_dong, to_decimal
from organizations.errors import DomainError
from organizations.models import Organization, SavingsGroup

Status = LoanApplication.Status


def _policy_label(code):
    return Household.PolicyStatus(code).label if code in Household.PolicyStatus.values else code


@transaction.atomic
def application_create(*, household, program, amount, term_months, purpose, planned_use="", actor):
    """Record a 01/TD request, checked against the program's rules; a refusal names the rule."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    program = LoanProgram.objects.get(pk=program.pk)
    amount = to_decimal(amount)
    if not program.is_active:
        raise DomainError(_("Program %(program)s no longer takes requests.") % {"program": program}, field="program")
    if amount <= 0 or not is_whole_dong(amount):
        raise DomainError(_("The amount must be a positive number of whole đồng."), field="amount")
    if term_months is None or term_months < 1:
        raise DomainError(_("The term must be at least one month."), field="term_months")
    if household.policy_status not in (program.eligible_statuses or []):
        raise DomainError(
            _("Program %(program)s lends only to: %(allowed)s. This household is: %(status)s.")
            % {
                "program": program.code,
                "allowed": ", ".join(str(_policy_label(code)) for code in program.eligible_statuses) or "—",
                "status": household.get_policy_status_display(),
            },
            field="program",
        )
    if term_months > program.max_term_months:
        raise DomainError(
            _("The longest term of program %(program)s is %(max)s months.")
            % {"program": program.code, "max": program.max_term_months},
            field="term_months",
        )
    ceiling = program.ceiling_for(term_months)
    if amount > ceiling:
        raise DomainError(
            _("Program %(program)s lends at most %(max)s for this term.")
            % {"program": program.code, "max": format_vnd(ceiling)},
            field="amount",
        )
    if program.escaped_within_years is not None:
        years_ago = timezone.localdate().year - (household.escaped_year or 0)
        if household.escaped_year is None or years_ago > program.escaped_within_years:
            raise DomainError(
                _("Program %(program)s lends only to households that left the poor list at most %(years)s years "
                  "ago; this one left in %(year)s.")
                % {"program": program.code, "years": program.escaped_within_years,
                   "year": household.escaped_year or "—"},
                field="program",
            )
    open_request = household.applications.filter(program=program, status__in=LoanApplication.OPEN_STATUSES).first()
    if open_request is not None:
        raise DomainError(
            _("The household already has an open request for program %(program)s (%(status)s).")
            % {"program": program.code, "status": open_request.get_status_display()},
            field="program",
        )
    membership = household.memberships.filter(left_on__isnull=True).select_related("group").first()
    if membership is None:
        raise DomainError(_("The household is not in a savings group; a request goes through its group."))
    if membership.group.status != SavingsGroup.Status.ACTIVE:
        raise DomainError(_("The household's group is not active."))
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
    application = LoanApplication.objects.select_for_update().get(pk=application.pk)
    if not reason.strip():
        raise DomainError(_("Give the reason for withdrawing the request."), field="reason")
    return application.transition_to(Status.WITHDRAWN, actor=actor, note=reason.strip())


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
):
    """Record a group review meeting (minutes 10A/TD) and build its list of approved requests (03/TD)."""
    group = SavingsGroup.objects.select_for_update().get(pk=group.pk)
    today = timezone.localdate()
    if held_on > today:
        raise DomainError(_("The meeting date cannot be in the future."), field="held_on")
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
                % {"name": name, "status": application.get_status_display()}
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
        attendees=attendees,
        neighbourhood_head=neighbourhood_head,
        branch_officer=branch_officer,
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
                note=_("Approved at the group meeting of %(date)s: %(amount)s")
                % {"date": held_on.strftime("%d/%m/%Y"), "amount": format_vnd(result.amount)},
            )
        else:
            application.rejection_reason = result.reason.strip()
            application.save(update_fields=["meeting", "rejection_reason", "updated_at"])
            application.transition_to(Status.GROUP_REJECTED, actor=actor, on=held_on, note=result.reason.strip())
    return meeting


@transaction.atomic
def loan_list_certify(*, loan_list, certified_on, signer, reference, actor):
    """The ward People's Committee certified the 03/TD list: its approved requests become certified."""
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
    loan_list = LoanList.objects.select_for_update().get(pk=loan_list.pk)
    if loan_list.status != LoanList.Status.CERTIFIED:
        raise DomainError(
            _("Only a list certified by the ward can be submitted; this one is: %(status)s.")
            % {"status": loan_list.get_status_display()}
        )
    applications = list(loan_list.applications.select_for_update().filter(status=Status.CERTIFIED).order_by("pk"))
    if not applications:
        raise DomainError(_("No certified request is left on this list."))
    loan_list.status = LoanList.Status.SUBMITTED
    loan_list.submitted_by = actor
    loan_list.submitted_at = timezone.now()
    loan_list.save(update_fields=["status", "submitted_by", "submitted_at"])
    for application in applications:
        application.transition_to(Status.SUBMITTED, actor=actor, note=_("Submitted to district"))
    return loan_list


"""Writes that span models: capital allocations, district approval of 03/TD lists and disbursement."""


AppStatus = LoanApplication.Status


def _whole_positive(amount, field="amount"):
    try:
        amount = to_decimal(amount)
    except (TypeError, ValueError):
        raise DomainError(_("Enter an amount in whole đồng."), field=field) from None
    if amount <= 0 or not is_whole_dong(amount):
        raise DomainError(_("Enter an amount greater than zero, in whole đồng."), field=field)
    return amount


def _require_reason(reason, field="reason"):
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason."), field=field)
    return reason


# --- Capital plans and allocations -------------------------------------------------------------------------------


def capital_plan_set(*, organization, program, year, amount, actor, note=""):
    """Record the district total the bank entrusts for a program and year. It may not fall below what is allocated."""
    amount = _whole_positive(amount)
    if organization.level != Organization.Level.DISTRICT or organization.kind == Organization.Kind.FRONT:
        raise DomainError(_("Capital is entrusted to a member organization at district level."))
    with transaction.atomic():
        plan = (
            CapitalPlan.objects.select_for_update(of=("self",))
            .filter(organization=organization, program=program, year=year)
            .first()
        )
        if plan is None:
            return CapitalPlan.objects.create(
                organization=organization, program=program, year=year, amount=amount, note=note, created_by=actor
            )
        allocated = plan.allocations.aggregate(total=Sum("amount"))["total"] or 0
        if amount < allocated:
            raise DomainError(
                _("The ward branches already hold %(allocated)s of this plan; the total cannot be lower.")
                % {"allocated": format_vnd(allocated)},
                field="amount",
            )
        plan.amount = amount
        plan.note = note or plan.note
        plan.save(update_fields=["amount", "note"])
        return plan


def proposal_suggestion(*, branch, program, year):
    """What a branch needs: requests on its certified or submitted 03/TD lists plus principal maturing in `year`."""
    from loans.models import RepaymentInstalment

    listed = LoanApplication.objects.filter(
        group__branch=branch,
        program=program,
        status__in=[AppStatus.CERTIFIED, AppStatus.SUBMITTED],
    ).aggregate(total=Sum("amount_group_approved"))["total"] or Decimal(0)
    maturing = RepaymentInstalment.objects.filter(
        loan__group__branch=branch,
        loan__program=program,
        loan__status=Loan.Status.ACTIVE,
        due_on__year=year,
    ).aggregate(total=Sum("principal"))["total"] or Decimal(0)
    return {"listed": listed, "maturing": maturing, "total": listed + maturing}


def allocation_propose(*, plan, branch, amount, actor, note=""):
    """A ward branch proposes its need for a plan. A proposal not yet decided may be replaced by a new figure."""
    amount = _whole_positive(amount)
    if branch.parent_id != plan.organization_id:
        raise DomainError(_("This branch does not belong to the plan's organization."), field="branch")
    with transaction.atomic():
        allocation = CapitalAllocation.objects.select_for_update(of=("self",)).filter(plan=plan, branch=branch).first()
        if allocation is None:
            allocation = CapitalAllocation.objects.create(
                plan=plan, branch=branch, amount_proposed=amount, proposal_note=note, proposed_by=actor
            )
        elif allocation.status == CapitalAllocation.Status.PROPOSED:
            allocation.amount_proposed = amount
            allocation.proposal_note = note
            allocation.proposed_by = actor
            allocation.proposed_at = timezone.now()
            allocation.save(update_fields=["amount_proposed", "proposal_note", "proposed_by", "proposed_at"])
        else:
            raise DomainError(
                _("This branch's allocation for the year is already decided; change it with an adjustment.")
            )
        AllocationEvent.objects.create(
            allocation=allocation, kind=AllocationEvent.Kind.PROPOSED, amount=amount, actor=actor, note=note
        )
        return allocation


def _unallocated(plan):
    allocated = plan.allocations.aggregate(total=Sum("amount"))["total"] or 0
    return plan.amount - allocated


def allocation_decide(*, allocation, approve, amount=None, reason="", actor):
    """Approve (in full or cut) or reject a proposal. The proposer cannot decide; the plan total is never exceeded."""
    with transaction.atomic():
        allocation = CapitalAllocation.objects.select_for_update(of=("self",)).get(pk=allocation.pk)
        plan = CapitalPlan.objects.select_for_update(of=("self",)).get(pk=allocation.plan_id)
        if allocation.status != CapitalAllocation.Status.PROPOSED:
            raise DomainError(_("This proposal is already decided."))
        if allocation.proposed_by_id == actor.pk:
            raise DomainError(_("You proposed this allocation, so someone else must decide it."))
        now = timezone.now()
        if not approve:
            reason = _require_reason(reason)
            allocation.status = CapitalAllocation.Status.REJECTED
            kind, amount = AllocationEvent.Kind.REJECTED, Decimal(0)
        else:
            amount = allocation.amount_proposed if amount in (None, "") else _whole_positive(amount)
            if amount > allocation.amount_proposed:
                raise DomainError(
                    _("The approved amount cannot exceed the %(proposed)s proposed.")
                    % {"proposed": format_vnd(allocation.amount_proposed)},
                    field="amount",
                )
            cut = amount < allocation.amount_proposed
            if cut:
                reason = _require_reason(reason)
            free = _unallocated(plan)
            if amount > free:
                raise DomainError(
                    _("Only %(free)s of the district total is still unallocated.") % {"free": format_vnd(free)},
                    field="amount",
                )
            allocation.status = CapitalAllocation.Status.APPROVED
            allocation.amount = amount
            kind = AllocationEvent.Kind.CUT if cut else AllocationEvent.Kind.APPROVED
        allocation.decided_by, allocation.decided_at, allocation.decision_reason = actor, now, reason
        allocation.save(update_fields=["status", "amount", "decided_by", "decided_at", "decision_reason"])
        AllocationEvent.objects.create(
            allocation=allocation, kind=kind, amount=amount, actor=actor, note=reason, at=now
        )
        return allocation


def allocation_adjust(*, source=None, target=None, amount, reason, actor):
    """Move capital out of `source` and/or into `target` (approved allocations of one organization and year).

    Nothing is overwritten: an adjustment row and a history entry on each side record it.
    """
    amount = _whole_positive(amount)
    reason = _require_reason(reason)
    if source is None and target is None:
        raise DomainError(_("Choose the allocation to take capital from or to give it to."))
    if source is not None and target is not None and source.pk == target.pk:
        raise DomainError(_("Capital must move between two different allocations."), field="target")
    with transaction.atomic():
        ids = sorted(a.pk for a in (source, target) if a is not None)
        rows = CapitalAllocation.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
        locked = {a.pk: a for a in rows}
        source = locked.get(source.pk) if source else None
        target = locked.get(target.pk) if target else None
        plans = {a.plan_id for a in locked.values()}
        plan_rows = CapitalPlan.objects.select_for_update(of=("self",)).filter(pk__in=plans).order_by("pk")
        plan_rows = {p.pk: p for p in plan_rows.select_related("program")}
        for allocation in locked.values():
            if allocation.status != CapitalAllocation.Status.APPROVED:
                raise DomainError(_("Only approved allocations can be adjusted."))
        if len({p.organization_id for p in plan_rows.values()}) > 1 or len({p.year for p in plan_rows.values()}) > 1:
            raise DomainError(_("Capital moves only within one organization and one plan year."), field="target")
        if source is not None and amount > source.remaining:
            raise DomainError(
                _("Only %(free)s of %(branch)s's allocation is not yet approved for requests.")
                % {"free": format_vnd(source.remaining), "branch": source.branch},
                field="amount",
            )
        if target is not None:
            # Capital coming from another plan (another program) or from the unallocated pool raises the
            # target plan's allocated sum, which must stay within its total.
            same_plan = source is not None and source.plan_id == target.plan_id
            if not same_plan:
                free = _unallocated(plan_rows[target.plan_id])
                if amount > free:
                    raise DomainError(
                        _("The %(program)s plan has only %(free)s unallocated.")
                        % {"program": plan_rows[target.plan_id].program.code, "free": format_vnd(free)},
                        field="amount",
                    )
        adjustment = CapitalAdjustment.objects.create(
            source=source, target=target, amount=amount, reason=reason, actor=actor
        )
        if source is not None:
            CapitalAllocation.objects.filter(pk=source.pk).update(amount=F("amount") - amount)
            AllocationEvent.objects.create(
                allocation=source, kind=AllocationEvent.Kind.ADJUSTED_OUT, amount=amount, adjustment=adjustment,
                actor=actor, note=reason, at=adjustment.at,
            )
        if target is not None:
            CapitalAllocation.objects.filter(pk=target.pk).update(amount=F("amount") + amount)
            AllocationEvent.objects.create(
                allocation=target, kind=AllocationEvent.Kind.ADJUSTED_IN, amount=amount, adjustment=adjustment,
                actor=actor, note=reason, at=adjustment.at,
            )
        return adjustment


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


def _check_checker(application, actor):
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


def _approve(application, amount, actor, today):
    application = LoanApplication.objects.select_for_update(of=("self",)).select_related("group", "loan_list").get(
        pk=application.pk
    )
    name = application.household.head_name
    if application.status != AppStatus.SUBMITTED:
        raise DomainError(
            _("The request of %(name)s is “%(status)s”; only submitted requests can be approved.")
            % {"name": name, "status": application.get_status_display()}
        )
    _check_checker(application, actor)
    amount = _whole_positive(amount)
    if amount > application.amount_requested:
        raise DomainError(
            _("%(name)s asked for %(requested)s; the approved amount cannot be more.")
            % {"name": name, "requested": format_vnd(application.amount_requested)},
            field="amount",
        )
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
        note=_("Approved %(amount)s") % {"amount": format_vnd(amount)},
    )
    return application


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
        if application.status != AppStatus.SUBMITTED:
            raise DomainError(_("Only submitted requests can be rejected."))
        _check_checker(application, actor)
        application.rejection_reason = reason
        application.save(update_fields=["rejection_reason", "updated_at"])
        application.transition_to(AppStatus.REJECTED, actor=actor, note=reason)
        _close_list_if_decided(application.loan_list)
        return application


def loan_list_approve(*, loan_list, amounts, actor, rejections=None):
    """Decide a whole 03/TD list at once: `amounts` {application id: amount}, `rejections` {application id: reason}.

    All or nothing: one refusal leaves every request of the list as it was.
    """
    rejections = rejections or {}
    today = timezone.localdate()
    with transaction.atomic():
        loan_list = LoanList.objects.select_for_update(of=("self",)).get(pk=loan_list.pk)
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


# --- Disbursement --------------------------------------------------------------------------------------------------


def loan_disburse(*, application, loan_number, on, amount, term_months, frequency, actor):
    """Giải ngân: create the loan with its schedule and disbursement posting, and close the request."""
    loan_number = (loan_number or "").strip()
    try:
        loan_number_validator(loan_number)
    except Exception:
        raise DomainError(_("A bank loan number (số khế ước) has exactly 16 digits."), field="loan_number") from None
    amount = _whole_positive(amount)
    if on is None:
        raise DomainError(_("Enter the disbursement date."), field="on")
    if on > timezone.localdate():
        raise DomainError(_("The disbursement date cannot be in the future."), field="on")
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
                % {"name": name, "status": application.get_status_display()}
            )
        if amount > application.amount_approved:
            raise DomainError(
                _("%(name)s was approved for %(approved)s; the disbursement cannot be more.")
                % {"name": name, "approved": format_vnd(application.amount_approved)},
                field="amount",
            )
        program = application.program
        term_months = int(term_months or 0)
        if not 1 <= term_months <= program.max_term_months:
            raise DomainError(
                _("The term is 1 to %(max)s months for this program.") % {"max": program.max_term_months},
                field="term_months",
            )
        if Loan.objects.filter(number=loan_number).exists():
            raise DomainError(
                _("Loan number %(number)s is already used by another loan.") % {"number": loan_number},
                field="loan_number",
            )
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
                    annual_rate=program.annual_rate,
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
            note=_("Loan %(number)s, %(amount)s") % {"number": loan_number, "amount": format_vnd(amount)},
        )
        refresh_loan_balances([loan.pk])
        loan.refresh_from_db()
        return loan


def loans_disburse(*, items, on, actor):
    """Disburse several approved requests of one transaction day, all or nothing.

    `items` is a list of dicts with application, loan_number, amount, term_months, frequency. A refusal names the
    row it concerns in `DomainError.field` as "<index>-<field>".
    """
    if not items:
        raise DomainError(_("Choose at least one request to disburse."))
    numbers = [item["loan_number"].strip() for item in items]
    for index, number in enumerate(numbers):
        if numbers.index(number) != index:
            raise DomainError(
                _("Loan number %(number)s is entered twice.") % {"number": number}, field=f"{index}-loan_number"
            )
    loans = []
    with transaction.atomic():
        for index, item in enumerate(items):
            try:
                loans.append(loan_disburse(on=on, actor=actor, **item))
            except DomainError as error:
                error.field = f"{index}-{error.field or '__all__'}"
                raise
    return loans
