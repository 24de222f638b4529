"""Writes about loan requests: form 01/TD, the group review meeting (bình xét), the 03/TD list and its way upwards.

Every status move goes through `LoanApplication.transition_to`, which records who, when, from, to and a note.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.interest import loan_period_interest
from loans.ledger import ZERO, net_amount, refresh_household_savings, refresh_loan_balances, with_derived_balances
from loans.models import (
    AllocationEvent,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    CapitalUse,
    CollectionItem,
    CollectionLine,
    CollectionSheet,
    Loan,
    LoanApplication,
    LoanList,
    LoanProgram,
    LoanStatusChange,
    Posting,
    RepaymentInstalment,
    ReviewMeeting,
    add_months,
    loan_number_validator,
)
from loans.money import format_vnd, is_whole_dong, to_decimal
from organizations.errors import DomainError
from organizations.models import GroupMembership, Organization, SavingsGroup

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


"""Writes that move money: the monthly collection sheet (13/TD), reversals, and the end-of-day overdue run."""


Kind = Posting.Kind
MIN_SAVINGS_DEPOSIT = Decimal(5_000)
COLLECTED_LOAN_STATUSES = (Loan.Status.ACTIVE, Loan.Status.FROZEN)
INTEREST_KINDS = (Kind.INTEREST, Kind.OVERDUE_INTEREST)
#: Due figures that, when they change between filling and posting, make the officer look again.
DUE_FIELDS = ("overdue_interest_due", "current_interest_due", "principal_due")
ITEM_DUE_FIELDS = (
    "period_start",
    "days",
    "outstanding",
    "overdue_principal",
    "arrears_before",
    "overdue_interest_accrued",
    "current_interest_due",
    "principal_due",
)


# ---------------------------------------------------------------------------------------------------------------
# What a group owes on a collection day
# ---------------------------------------------------------------------------------------------------------------


def _collected_loans(group, on):
    """Open loans of the group's current members, with the day their interest was last settled."""
    members = GroupMembership.objects.filter(group=group, left_on__isnull=True).values("household")
    last_sheet = (
        CollectionItem.objects.filter(loan=OuterRef("pk"), line__sheet__status=CollectionSheet.Status.POSTED)
        .exclude(line__status=CollectionLine.Status.OPEN)
        .order_by()
        .values("loan")
        .annotate(last=Max("line__sheet__collection_on"))
        .values("last")
    )
    last_interest = (
        Posting.objects.filter(loan=OuterRef("pk"), kind__in=INTEREST_KINDS)
        .order_by()
        .values("loan")
        .annotate(last=Max("on"))
        .values("last")
    )
    loans = (
        Loan.objects.filter(household__in=members, status__in=COLLECTED_LOAN_STATUSES, disbursed_on__lt=on)
        .filter(Q(principal_outstanding__gt=0) | Q(interest_arrears__gt=0))
        .annotate(last_sheet_on=Subquery(last_sheet), last_interest_on=Subquery(last_interest))
        .select_related("household")
        .order_by("household__search_name", "household_id", "disbursed_on", "number")
    )
    return list(loans)


def _loan_histories(loan_ids, on):
    """Per loan: signed principal movements before `on`, overdue marks, and the schedule up to `on`."""
    movements = defaultdict(list)
    rows = (
        Posting.objects.filter(loan_id__in=loan_ids, on__lt=on)
        .filter(
            Q(kind__in=[Kind.DISBURSEMENT, Kind.PRINCIPAL])
            | Q(kind=Kind.REVERSAL, reverses__kind__in=[Kind.DISBURSEMENT, Kind.PRINCIPAL])
        )
        .values_list("loan_id", "kind", "reverses__kind", "amount", "on")
    )
    for loan_id, kind, reversed_kind, amount, day in rows:
        sign = -1 if kind == Kind.REVERSAL else 1
        base = reversed_kind if kind == Kind.REVERSAL else kind
        if base == Kind.DISBURSEMENT:
            movements[loan_id].append((day, sign * amount, 0))
        else:
            movements[loan_id].append((day, 0, sign * amount))
    marks, scheduled_due = defaultdict(list), defaultdict(Decimal)
    cumulative = defaultdict(Decimal)
    instalments = RepaymentInstalment.objects.filter(loan_id__in=loan_ids).order_by("loan_id", "seq")
    for loan_id, principal, due_on, overdue_since in instalments.values_list(
        "loan_id", "principal", "due_on", "overdue_since"
    ):
        cumulative[loan_id] += principal
        if overdue_since is not None:
            marks[loan_id].append((overdue_since, cumulative[loan_id]))
        if due_on <= on:
            scheduled_due[loan_id] = cumulative[loan_id]
    paid = defaultdict(Decimal)
    totals = (
        Posting.objects.filter(loan_id__in=loan_ids)
        .order_by()
        .values("loan_id")
        .annotate(total=Sum(net_amount(Kind.PRINCIPAL)))
    )
    for row in totals:
        paid[row["loan_id"]] = row["total"] or Decimal(0)
    return movements, marks, scheduled_due, paid


def collection_dues(*, group, on):
    """{household: [CollectionItem (unsaved)]} of what each borrowing household owes on collection day `on`."""
    loans = _collected_loans(group, on)
    movements, marks, scheduled_due, paid = _loan_histories([loan.pk for loan in loans], on)
    dues = {}
    for loan in loans:
        start = max(d for d in (loan.disbursed_on, loan.last_sheet_on, loan.last_interest_on) if d is not None)
        start = min(start, on)
        interest = loan_period_interest(
            loan=loan, start=start, end=on, movements=movements[loan.pk], overdue_marks=marks[loan.pk]
        )
        principal_due = min(max(scheduled_due[loan.pk] - paid[loan.pk], Decimal(0)), loan.principal_outstanding)
        item = CollectionItem(
            loan=loan,
            period_start=start,
            days=interest.days,
            outstanding=loan.principal_outstanding,
            overdue_principal=loan.overdue_principal,
            arrears_before=loan.interest_arrears,
            overdue_interest_accrued=interest.overdue,
            current_interest_due=interest.current,
            principal_due=principal_due,
        )
        dues.setdefault(loan.household, []).append(item)
    return dues


def _sync_lines(sheet):
    """Bring the draft's due figures up to date, keeping what the officer entered. Returns True if any changed."""
    dues = collection_dues(group=sheet.group, on=sheet.collection_on)
    lines = {line.household_id: line for line in sheet.lines.prefetch_related("items")}
    changed = False
    new_lines, stale_items, new_items, updated_lines = [], [], [], []
    for position, (household, items) in enumerate(dues.items(), start=1):
        totals = {
            "overdue_interest_due": sum((i.overdue_interest_due for i in items), Decimal(0)),
            "current_interest_due": sum((i.current_interest_due for i in items), Decimal(0)),
            "principal_due": sum((i.principal_due for i in items), Decimal(0)),
        }
        line = lines.pop(household.pk, None)
        if line is None:
            line = CollectionLine(sheet=sheet, household=household, position=position, **totals)
            line.savings_before = household.savings_balance
            new_lines.append((line, items))
            changed = True
            continue
        old = [tuple(getattr(i, f) for f in ("loan_id", *ITEM_DUE_FIELDS)) for i in line.items.all()]
        new = [tuple(getattr(i, f) for f in ("loan_id", *ITEM_DUE_FIELDS)) for i in items]
        if old != new or line.savings_before != household.savings_balance or line.position != position:
            changed = changed or old != new or line.savings_before != household.savings_balance
            for field, value in totals.items():
                setattr(line, field, value)
            line.savings_before = household.savings_balance
            line.position = position
            updated_lines.append(line)
            if old != new:
                stale_items.append(line.pk)
                for item in items:
                    item.line = line
                    new_items.append(item)
    if lines:
        CollectionLine.objects.filter(pk__in=[line.pk for line in lines.values()]).delete()
        changed = True
    if new_lines:
        CollectionLine.objects.bulk_create([line for line, _items in new_lines])
        for line, items in new_lines:
            for item in items:
                item.line = line
                new_items.append(item)
    if updated_lines:
        CollectionLine.objects.bulk_update(updated_lines, [*DUE_FIELDS, "savings_before", "position"])
    CollectionItem.objects.filter(line_id__in=stale_items).delete()
    CollectionItem.objects.bulk_create(new_items)
    return changed


# ---------------------------------------------------------------------------------------------------------------
# The sheet: prepare, fill, post
# ---------------------------------------------------------------------------------------------------------------


def collection_sheet_create(*, group, on, actor):
    """A draft 13/TD for `group` on collection day `on`, prefilled with what every borrowing household owes."""
    today = timezone.localdate()
    if on > today:
        raise DomainError(_("The collection day cannot be in the future."), field="collection_on")
    with transaction.atomic():
        # One preparation at a time per group, so that two clicks cannot both pass the checks below.
        SavingsGroup.objects.select_for_update().filter(pk=group.pk).first()
        last = (
            CollectionSheet.objects.filter(group=group)
            .order_by("-collection_on")
            .values_list("collection_on", "status")
            .first()
        )
        if CollectionSheet.objects.filter(group=group, collection_on=on).exists():
            raise DomainError(
                _("This group already has a collection sheet for %(date)s.") % {"date": f"{on:%d/%m/%Y}"},
                field="collection_on",
            )
        if last is not None and last[0] > on and last[1] == CollectionSheet.Status.POSTED:
            raise DomainError(
                _("The group's last posted sheet is dated %(date)s; a new sheet must come after it.")
                % {"date": f"{last[0]:%d/%m/%Y}"},
                field="collection_on",
            )
        sheet = CollectionSheet.objects.create(group=group, collection_on=on, created_by=actor)
        _sync_lines(sheet)
    return sheet


def _amount(value):
    amount = to_decimal(value or 0)
    if amount < 0:
        raise DomainError(_("Amounts cannot be negative."))
    if amount != amount.to_integral_value():
        raise DomainError(_("Amounts are in whole đồng: %(value)s is not.") % {"value": value})
    return amount


def collection_sheet_save(*, sheet, entries, actor):
    """Store what the officer entered: {line id: (paid towards loans, savings deposit, savings withdrawal)}."""
    with transaction.atomic():
        sheet = CollectionSheet.objects.select_for_update().get(pk=sheet.pk)
        if not sheet.is_draft:
            raise DomainError(_("This sheet is already posted; correct it with a reversal."))
        lines = list(sheet.lines.filter(pk__in=list(entries)))
        for line in lines:
            paid, savings_in, savings_out = entries[line.pk]
            line.amount_paid = _amount(paid)
            line.savings_in, line.savings_out = _amount(savings_in), _amount(savings_out)
        CollectionLine.objects.bulk_update(lines, ["amount_paid", "savings_in", "savings_out"])
    return sheet


def _line_errors(line, items, loans, household):
    errors = []
    name = household.head_name
    if 0 < line.savings_in < MIN_SAVINGS_DEPOSIT:
        errors.append(
            _("%(name)s: a savings deposit is at least %(min)s.")
            % {"name": name, "min": format_vnd(MIN_SAVINGS_DEPOSIT)}
        )
    if line.savings_out > household.savings_balance + line.savings_in:
        errors.append(
            _("%(name)s: the withdrawal of %(amount)s is more than the savings balance of %(balance)s.")
            % {
                "name": name,
                "amount": format_vnd(line.savings_out),
                "balance": format_vnd(household.savings_balance + line.savings_in),
            }
        )
    most = sum(
        (i.overdue_interest_due + i.current_interest_due + loans[i.loan_id].principal_outstanding for i in items),
        Decimal(0),
    )
    if line.amount_paid > most:
        errors.append(
            _("%(name)s: %(amount)s is more than all the interest due and the outstanding principal (%(most)s).")
            % {"name": name, "amount": format_vnd(line.amount_paid), "most": format_vnd(most)}
        )
    return errors


def _allocate(line, items, loans):
    """Apply the payment: overdue interest, then current interest, then principal due, then early principal."""
    remaining = line.amount_paid
    for item in items:
        item.overdue_interest_paid = item.current_interest_paid = item.principal_paid = Decimal(0)

    def take(item, field, limit):
        nonlocal remaining
        share = min(remaining, max(limit, Decimal(0)))
        setattr(item, field, getattr(item, field) + share)
        remaining -= share

    for item in items:
        take(item, "overdue_interest_paid", item.overdue_interest_due)
    for item in items:
        take(item, "current_interest_paid", item.current_interest_due)
    for item in items:
        take(item, "principal_paid", item.principal_due)
    for item in items:
        take(item, "principal_paid", loans[item.loan_id].principal_outstanding - item.principal_paid)
    line.overdue_interest_paid = sum((i.overdue_interest_paid for i in items), Decimal(0))
    line.current_interest_paid = sum((i.current_interest_paid for i in items), Decimal(0))
    line.principal_paid = sum((i.principal_paid for i in items), Decimal(0))


def collection_sheet_post(*, sheet, actor):
    """Post a filled draft once: every line's postings, interest arrears and balances, all or nothing.

    A second submit finds the sheet posted and is refused. If what is due changed since the sheet was filled (a
    payment at the bank's desk, close_day), the new figures are saved and the officer is asked to look again.
    """
    with transaction.atomic():
        locked = CollectionSheet.objects.select_for_update().select_related("group").get(pk=sheet.pk)
        if not locked.is_draft:
            raise DomainError(_("This sheet was already posted; nothing was posted twice."))
        changed = _sync_lines(locked)
    if changed:
        raise DomainError(
            _("What is due changed since the sheet was filled (a payment or an overdue instalment). The new figures "
              "are shown; check the amounts and post again.")
        )
    with transaction.atomic():
        sheet = CollectionSheet.objects.select_for_update().select_related("group").get(pk=sheet.pk)
        if not sheet.is_draft:
            raise DomainError(_("This sheet was already posted; nothing was posted twice."))
        if _sync_lines(sheet):
            raise DomainError(_("What is due changed while posting; post again."))
        lines = list(sheet.lines.all())
        items = list(
            CollectionItem.objects.filter(line__sheet=sheet).order_by("line_id", "loan__disbursed_on", "loan__number")
        )
        loans = Loan.objects.select_for_update().in_bulk([item.loan_id for item in items])
        households = Household.objects.select_for_update().in_bulk([line.household_id for line in lines])
        by_line = defaultdict(list)
        for item in items:
            by_line[item.line_id].append(item)
        errors = []
        for line in lines:
            errors += _line_errors(line, by_line[line.pk], loans, households[line.household_id])
        if errors:
            raise DomainError(" ".join(errors))
        note = _("13/TD %(group)s %(date)s") % {"group": sheet.group.code, "date": f"{sheet.collection_on:%d/%m/%Y}"}
        postings, owners = [], []
        for line in lines:
            line_items = by_line[line.pk]
            _allocate(line, line_items, loans)
            line.status = CollectionLine.Status.POSTED
            for item in line_items:
                loan = loans[item.loan_id]
                for kind, amount in (
                    (Kind.OVERDUE_INTEREST, item.overdue_interest_paid),
                    (Kind.INTEREST, item.current_interest_paid),
                    (Kind.PRINCIPAL, item.principal_paid),
                ):
                    if amount > 0:
                        postings.append(Posting(kind=kind, household_id=line.household_id, loan=loan, amount=amount,
                                                on=sheet.collection_on, note=note, created_by=actor))
                        owners.append(line)
                loan.interest_arrears = (
                    item.overdue_interest_due + item.current_interest_due
                    - item.overdue_interest_paid - item.current_interest_paid
                )
            for kind, amount in ((Kind.SAVINGS_IN, line.savings_in), (Kind.SAVINGS_OUT, line.savings_out)):
                if amount > 0:
                    postings.append(Posting(kind=kind, household_id=line.household_id, amount=amount,
                                            on=sheet.collection_on, note=note, created_by=actor))
                    owners.append(line)
        Posting.objects.bulk_create(postings)
        through = CollectionLine.postings.through
        through.objects.bulk_create(
            [through(collectionline_id=line.pk, posting_id=p.pk) for p, line in zip(postings, owners, strict=True)]
        )
        CollectionItem.objects.bulk_update(items, ["overdue_interest_paid", "current_interest_paid", "principal_paid"])
        CollectionLine.objects.bulk_update(
            lines, ["status", "overdue_interest_paid", "current_interest_paid", "principal_paid"]
        )
        Loan.objects.bulk_update(list(loans.values()), ["interest_arrears"])
        refresh_loan_balances(list(loans))
        refresh_household_savings(list(households))
        for loan in Loan.objects.filter(
            pk__in=list(loans), status=Loan.Status.ACTIVE, principal_outstanding=0, interest_arrears=0
        ):
            loan.transition_to(Loan.Status.CLOSED, actor=actor, note=note, on=sheet.collection_on)
        sheet.status = CollectionSheet.Status.POSTED
        sheet.posted_by = actor
        sheet.posted_at = timezone.now()
        sheet.save(update_fields=["status", "posted_by", "posted_at"])
    return sheet


# ---------------------------------------------------------------------------------------------------------------
# Corrections: reversals, never edits
# ---------------------------------------------------------------------------------------------------------------


def _reverse(posting, reason, actor, on):
    if posting.kind == Kind.REVERSAL:
        raise DomainError(_("A reversal cannot itself be reversed; enter the correct amount again instead."))
    if Posting.objects.filter(reverses=posting).exists():
        raise DomainError(_("This posting was already reversed."))
    loan = Loan.objects.select_for_update().get(pk=posting.loan_id) if posting.loan_id else None
    household = Household.objects.select_for_update().get(pk=posting.household_id)
    if posting.kind == Kind.SAVINGS_IN and household.savings_balance < posting.amount:
        raise DomainError(
            _("%(name)s has only %(balance)s of savings left; the deposit of %(amount)s cannot be reversed.")
            % {"name": household.head_name, "balance": format_vnd(household.savings_balance),
               "amount": format_vnd(posting.amount)}
        )
    if posting.kind == Kind.DISBURSEMENT and loan.principal_outstanding < posting.amount:
        raise DomainError(_("Part of this disbursement was already repaid; reverse the repayments first."))
    reversal = Posting.objects.create(
        kind=Kind.REVERSAL,
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
        if posting.kind in (Kind.PRINCIPAL, *INTEREST_KINDS) and loan.status == Loan.Status.CLOSED:
            Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.ACTIVE, updated_at=timezone.now())
            LoanStatusChange.objects.create(
                loan=loan, from_status=Loan.Status.CLOSED, to_status=Loan.Status.ACTIVE, actor=actor, on=on,
                note=_("Reopened: a repayment was reversed (%(reason)s).") % {"reason": reason},
            )
        refresh_loan_balances([loan.pk])
    refresh_household_savings([household.pk])
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
        standing = line.postings.filter(reversed_by__isnull=True).exclude(kind=Kind.REVERSAL).values("pk")
        postings = list(Posting.objects.select_for_update().filter(pk__in=standing).order_by("pk"))
        # Withdrawals first, so that undoing a deposit never looks like it empties the account.
        postings.sort(key=lambda p: p.kind != Kind.SAVINGS_OUT)
        for posting in postings:
            _reverse(posting, reason, actor, on)
        line.status = CollectionLine.Status.REVERSED
        line.reversal_reason = reason[:300]
        line.reversed_by = actor
        line.reversed_at = timezone.now()
        line.save(update_fields=["status", "reversal_reason", "reversed_by", "reversed_at"])
    return line


# ---------------------------------------------------------------------------------------------------------------
# End of day: missed instalments become overdue
# ---------------------------------------------------------------------------------------------------------------


def missed_instalments(on):
    """Instalments due before `on`, not yet marked, that the loan's repayments (FIFO by seq) do not cover."""
    scheduled_through = (
        RepaymentInstalment.objects.filter(loan=OuterRef("loan"), seq__lte=OuterRef("seq"))
        .order_by()
        .values("loan")
        .annotate(total=Sum("principal"))
        .values("total")
    )
    repaid = (
        Posting.objects.filter(loan=OuterRef("loan"), on__lte=on)
        .order_by()
        .values("loan")
        .annotate(total=Sum(net_amount(Kind.PRINCIPAL)))
        .values("total")
    )
    return (
        RepaymentInstalment.objects.filter(due_on__lt=on, overdue_since__isnull=True, loan__status=Loan.Status.ACTIVE)
        .annotate(scheduled_through=Subquery(scheduled_through), repaid=Coalesce(Subquery(repaid), ZERO))
        .filter(scheduled_through__gt=F("repaid"))
    )


def overdue_close_day(*, on):
    """Mark missed instalments overdue as of `on` and bring cached balances in line; returns what changed.

    Two statements do the work whatever the number of loans; a second run for the same day finds nothing.
    """
    with transaction.atomic():
        missed = missed_instalments(on)
        marked = list(
            missed.order_by("loan__number", "seq").values(
                "pk", "loan__number", "loan__household__head_name", "seq", "due_on", "principal", "scheduled_through",
                "repaid",
            )
        )
        RepaymentInstalment.objects.filter(pk__in=missed.values("pk")).update(overdue_since=on)
        stale = with_derived_balances(Loan.objects.all()).filter(
            ~Q(principal_outstanding=F("derived_outstanding")) | ~Q(overdue_principal=F("derived_overdue"))
        )
        stale_ids = list(stale.values_list("pk", flat=True))
        refresh_loan_balances(stale_ids)
    return marked, stale_ids
