"""Writes about loan requests: form 01/TD, the group review meeting (bình xét), the 03/TD list and its way upwards.

Every status move goes through `LoanApplication.transition_to`, which records who, when, from, to and a note.
"""

import hashlib
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, OperationalError, close_old_connections, connection, transaction
from django.db.models import F, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from borrowers.models import Household, fold_name
from loans.interest import loan_period_interest
from loans.ledger import (
    ZERO,
    net_amount,
    record_arrears_changes,
    refresh_balances,
    refresh_group_balances,
    refresh_household_savings,
    refresh_loan_balances,
    refresh_portfolio_summary,
    snapshots_close_months,
    with_derived_balances,
)
from loans.models import (
    AllocationEvent,
    BankGroupGrade,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    CapitalUse,
    CollectionItem,
    CollectionLine,
    CollectionSheet,
    GroupInspection,
    ImportBatch,
    InterestArrearsEntry,
    Loan,
    LoanApplication,
    LoanChange,
    LoanList,
    LoanProgram,
    LoanStatusChange,
    LoanUseCheck,
    Posting,
    ReconciliationItem,
    RepaymentInstalment,
    ReviewMeeting,
    add_months,
    loan_number_validator,
)
from loans.money import format_vnd, is_whole_dong, to_decimal
from loans.resources import GRADES, fold, parse_sheet
from loans.spreadsheets import SpreadsheetError, read_rows
from organizations.audit import audit_bulk, audit_context
from organizations.errors import DomainError
from organizations.models import GroupMembership, Organization, SavingsGroup, Ward

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


PostingKind = Posting.Kind
MIN_SAVINGS_DEPOSIT = Decimal(5_000)
COLLECTED_LOAN_STATUSES = (Loan.Status.ACTIVE, Loan.Status.FROZEN)
INTEREST_KINDS = (PostingKind.INTEREST, PostingKind.OVERDUE_INTEREST)
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
        .annotate(last_interest_on=Subquery(last_interest))
        .select_related("household")
        .order_by("household__search_name", "household_id", "disbursed_on", "number")
    )
    loans = list(loans)
    # A separate query keyed by the loans found, rather than a correlated subquery: with a subquery PostgreSQL may
    # walk every posted sheet per loan when its statistics lag behind a busy collection day (250 ms instead of 2).
    last_sheet = dict(
        CollectionItem.objects.filter(
            loan__in=[loan.pk for loan in loans], line__sheet__status=CollectionSheet.Status.POSTED
        )
        .exclude(line__status=CollectionLine.Status.OPEN)
        .order_by()
        .values("loan")
        .annotate(last=Max("line__sheet__collection_on"))
        .values_list("loan", "last")
    )
    for loan in loans:
        loan.last_sheet_on = last_sheet.get(loan.pk)
    return loans


def _loan_histories(loan_ids, on):
    """Per loan: signed principal movements before `on`, overdue marks, and the schedule up to `on`."""
    movements = defaultdict(list)
    rows = (
        Posting.objects.filter(loan_id__in=loan_ids, on__lt=on)
        .filter(
            Q(kind__in=[PostingKind.DISBURSEMENT, PostingKind.PRINCIPAL])
            | Q(kind=PostingKind.REVERSAL, reverses__kind__in=[PostingKind.DISBURSEMENT, PostingKind.PRINCIPAL])
        )
        .values_list("loan_id", "kind", "reverses__kind", "amount", "on")
    )
    for loan_id, kind, reversed_kind, amount, day in rows:
        sign = -1 if kind == PostingKind.REVERSAL else 1
        base = reversed_kind if kind == PostingKind.REVERSAL else kind
        if base == PostingKind.DISBURSEMENT:
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
        .annotate(total=Sum(net_amount(PostingKind.PRINCIPAL)))
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


def _store_entries(sheet, entries):
    changed = []
    for line in sheet.lines.filter(pk__in=list(entries)):
        paid, savings_in, savings_out = entries[line.pk]
        entered = (_amount(paid), _amount(savings_in), _amount(savings_out))
        if entered != (line.amount_paid, line.savings_in, line.savings_out):
            line.amount_paid, line.savings_in, line.savings_out = entered
            changed.append(line)
    CollectionLine.objects.bulk_update(changed, ["amount_paid", "savings_in", "savings_out"])


def collection_sheet_save(*, sheet, entries, actor):
    """Store what the officer entered: {line id: (paid towards loans, savings deposit, savings withdrawal)}."""
    with transaction.atomic():
        sheet = CollectionSheet.objects.select_for_update().get(pk=sheet.pk)
        if not sheet.is_draft:
            raise DomainError(_("This sheet is already posted; correct it with a reversal."))
        _store_entries(sheet, entries)
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


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's error code for SELECT … FOR UPDATE NOWAIT on a locked row


def _lock_sheet_for_posting(sheet):
    """The sheet, locked. A colleague posting it at this moment holds the lock for a second or more: say so at once
    instead of keeping a web worker (and the officer) waiting for a post that will then be refused anyway."""
    try:
        return CollectionSheet.objects.select_for_update(nowait=True).select_related("group").get(pk=sheet.pk)
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        raise DomainError(_("Another officer is saving or posting this sheet right now. Open it again in a moment.")) from None


def collection_sheet_post(*, sheet, actor, entries=None):
    """Post a filled draft once: every line's postings, interest arrears and balances, all or nothing.

    A second submit finds the sheet posted and is refused. If what is due changed since the sheet was filled (a
    payment at the bank's desk, close_day), the new figures are saved and the officer is asked to look again.
    `entries` (as for collection_sheet_save) are stored under the same lock as the posting, so the amounts posted
    are this officer's even if a colleague saves other amounts on the same sheet in between.
    """
    with transaction.atomic():
        sheet = _lock_sheet_for_posting(sheet)
        if not sheet.is_draft:
            raise DomainError(_("This sheet was already posted; nothing was posted twice."))
        if entries is not None:
            _store_entries(sheet, entries)
        # When what is due changed, the new figures are kept (the block commits) for the officer to check, and
        # nothing is posted. A refused posting is undone to its savepoint; the amounts entered stay saved.
        changed = _sync_lines(sheet)
        refusal = None
        if not changed:
            try:
                with transaction.atomic():
                    _post_lines(sheet, actor)
            except DomainError as error:
                refusal = error
    if changed:
        raise DomainError(
            _("What is due changed since the sheet was filled (a payment or an overdue instalment). The new figures "
              "are shown; check the amounts and post again.")
        )
    if refusal is not None:
        raise refusal
    return sheet


def _post_lines(sheet, actor):
    """Write the postings of a locked, synced draft sheet and mark it posted."""
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
    arrears_before = {pk: loan.interest_arrears for pk, loan in loans.items()}
    postings, owners = [], []
    for line in lines:
        line_items = by_line[line.pk]
        _allocate(line, line_items, loans)
        line.status = CollectionLine.Status.POSTED
        for item in line_items:
            loan = loans[item.loan_id]
            for kind, amount in (
                (PostingKind.OVERDUE_INTEREST, item.overdue_interest_paid),
                (PostingKind.INTEREST, item.current_interest_paid),
                (PostingKind.PRINCIPAL, item.principal_paid),
            ):
                if amount > 0:
                    postings.append(Posting(kind=kind, household_id=line.household_id, loan=loan, amount=amount,
                                            on=sheet.collection_on, note=note, created_by=actor))
                    owners.append(line)
            loan.interest_arrears = (
                item.overdue_interest_due + item.current_interest_due
                - item.overdue_interest_paid - item.current_interest_paid
            )
        for kind, amount in ((PostingKind.SAVINGS_IN, line.savings_in), (PostingKind.SAVINGS_OUT, line.savings_out)):
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
    record_arrears_changes(
        {pk: loan.interest_arrears - arrears_before[pk] for pk, loan in loans.items()},
        on=sheet.collection_on,
        source=InterestArrearsEntry.Source.COLLECTION,
    )
    # A sheet may be dated before today: the snapshots of past dates are corrected from its day on.
    refresh_balances(loan_ids=loans, household_ids=households, since=sheet.collection_on)
    for loan in Loan.objects.filter(
        pk__in=list(loans), status=Loan.Status.ACTIVE, principal_outstanding=0, interest_arrears=0
    ):
        loan.transition_to(Loan.Status.CLOSED, actor=actor, note=note, on=sheet.collection_on)
    sheet.status = CollectionSheet.Status.POSTED
    sheet.posted_by = actor
    sheet.posted_at = timezone.now()
    sheet.save(update_fields=["status", "posted_by", "posted_at"])


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
    if loan is not None:
        if posting.kind in INTEREST_KINDS:
            # The interest is owed again: it goes back to the arrears the next sheet collects.
            Loan.objects.filter(pk=loan.pk).update(interest_arrears=F("interest_arrears") + posting.amount)
            record_arrears_changes({loan.pk: posting.amount}, on=on, source=InterestArrearsEntry.Source.REVERSAL)
        if posting.kind in (PostingKind.PRINCIPAL, *INTEREST_KINDS) and loan.status == Loan.Status.CLOSED:
            Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.ACTIVE, updated_at=timezone.now())
            LoanStatusChange.objects.create(
                loan=loan, from_status=Loan.Status.CLOSED, to_status=Loan.Status.ACTIVE, actor=actor, on=on,
                note=_("Reopened: a repayment was reversed (%(reason)s).") % {"reason": reason},
            )
    refresh_balances(loan_ids=[loan.pk] if loan else [], household_ids=[household.pk], since=min(on, posting.on))
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
        standing = line.postings.filter(reversed_by__isnull=True).exclude(kind=PostingKind.REVERSAL).values("pk")
        postings = list(Posting.objects.select_for_update().filter(pk__in=standing).order_by("pk"))
        # Withdrawals first, so that undoing a deposit never looks like it empties the account.
        postings.sort(key=lambda p: p.kind != PostingKind.SAVINGS_OUT)
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
        .annotate(total=Sum(net_amount(PostingKind.PRINCIPAL)))
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
        refresh_loan_balances(stale_ids, since=on)
        snapshots_close_months(max(on, timezone.localdate()))
    return marked, stale_ids


"""Writes that span models: changes to a loan (08/TD, extension, freeze, write-off) and loan-use checks (06/TD)."""


ChangeKind = LoanChange.Kind

#: A term adjustment is asked at least this many working days (Mon–Fri) before the instalment is due.
TERM_ADJUSTMENT_NOTICE_DAYS = 5
#: A freeze lasts at most five years.
MAX_FREEZE_MONTHS = 60


def working_days_before(day, count):
    """The date `count` working days (Mon–Fri) before `day`."""
    while count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def extension_limit_months(loan):
    """Up to 12 months for loans of 12 months or less, otherwise up to half the term."""
    return 12 if loan.term_months <= 12 else loan.term_months // 2


def extension_months_used(loan):
    used = loan.changes.filter(kind=ChangeKind.EXTENSION, status=LoanChange.Status.APPROVED).aggregate(m=Sum("months"))
    return used["m"] or 0


def unpaid_instalments(loan):
    """Instalments not yet covered by the principal repaid, earliest first (repayments settle the earliest due)."""
    paid = loan.amount - loan.principal_outstanding
    unpaid = []
    for instalment in loan.instalments.order_by("due_on", "seq"):
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
        and on <= working_days_before(i.due_on, TERM_ADJUSTMENT_NOTICE_DAYS)
    ]


def _check_term_adjustment(loan, instalment, new_due_on, on):
    if instalment is None or instalment.loan_id != loan.pk:
        raise DomainError(_("Choose an instalment of this loan."), field="instalment")
    if instalment.overdue_since is not None:
        raise DomainError(_("This instalment is already overdue; it can no longer be adjusted."), field="instalment")
    if instalment.pk not in {i.pk for i in unpaid_instalments(loan)}:
        raise DomainError(_("This instalment has already been repaid."), field="instalment")
    deadline = working_days_before(instalment.due_on, TERM_ADJUSTMENT_NOTICE_DAYS)
    if on > deadline:
        raise DomainError(
            _(
                "A term adjustment must be asked at least %(days)s working days before the instalment is due: "
                "for the instalment of %(due)s, by %(deadline)s at the latest."
            )
            % {"days": TERM_ADJUSTMENT_NOTICE_DAYS, "due": f"{instalment.due_on:%d/%m/%Y}",
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


def _check_freeze(months):
    if not months or months < 1 or months > MAX_FREEZE_MONTHS:
        raise DomainError(
            _("A freeze lasts from 1 month to %(max)s months (5 years).") % {"max": MAX_FREEZE_MONTHS},
            field="months",
        )


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
            _check_freeze(months)
            change.months = months
        change.save()
        return change


def loan_change_decide(*, change, approve, actor, note="", on=None) -> LoanChange:
    """District staff approve (and the change is applied) or reject with a reason. The requester cannot decide."""
    on = on or timezone.localdate()
    note = (note or "").strip()
    with transaction.atomic():
        change = LoanChange.objects.select_for_update().get(pk=change.pk)
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
    """Lift a freeze (early, or when its period is over): the loan is active again."""
    on = on or timezone.localdate()
    with transaction.atomic():
        change = LoanChange.objects.select_for_update().get(pk=change.pk)
        loan = Loan.objects.select_for_update().get(pk=change.loan_id)
        if change.kind != ChangeKind.FREEZE or change.status != LoanChange.Status.APPROVED:
            raise DomainError(_("Only an approved freeze can be lifted."))
        if loan.status != Loan.Status.FROZEN:
            raise DomainError(_("This loan is not frozen."))
        loan.transition_to(Loan.Status.ACTIVE, actor=actor, note=_("Freeze ended"), on=on)
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


def freezes_end_due(*, on=None, actor=None):
    """End every freeze whose period is over as of `on`. Returns the changes ended."""
    on = on or timezone.localdate()
    due = LoanChange.objects.filter(
        kind=ChangeKind.FREEZE, status=LoanChange.Status.APPROVED, frozen_until__lte=on, loan__status=Loan.Status.FROZEN
    )
    return [loan_freeze_end(change=change, actor=actor, on=on) for change in due]


def loan_use_check_record(*, loan, result, notes, checked_on, actor) -> LoanUseCheck:
    """Phiếu 06/TD: how the household used the money."""
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
    if inspected_on > timezone.localdate():
        raise DomainError(_("The inspection date cannot be in the future."), field="inspected_on")
    with transaction.atomic():
        return GroupInspection.objects.create(
            group=group, inspected_on=inspected_on, findings=(findings or "").strip(), inspected_by=actor
        )


"""Importing the bank's spreadsheets: upload, check (preview), apply all or nothing, and reconcile with the ledger.

One path serves the upload page and `manage.py import_bank`. Rows are cleaned in `loans/resources.py`; here they are
checked against the database with a few set-based look-ups, then written in bulk (COPY on PostgreSQL).
"""


log = logging.getLogger(__name__)
Kind = Posting.Kind
Figure = ReconciliationItem.Figure
RECONCILE_NOTE = "Đối chiếu với ngân hàng"
OPENING_NOTE = "Số dư đầu kỳ theo tệp ngân hàng"
MAX_STORED_ERRORS = 2000
MAX_STORED_CHANGES = 500
LOOKUP_CHUNK = 20000
ANALYZE_AFTER_ROWS = 10000
ANALYZED_TABLES = [
    Household._meta.db_table,
    Loan._meta.db_table,
    Posting._meta.db_table,
    RepaymentInstalment._meta.db_table,
    GroupMembership._meta.db_table,
]


# ---- upload ---------------------------------------------------------------------------------------------------


def _when(moment):
    return timezone.localtime(moment).strftime("%H:%M %d/%m/%Y")


def import_upload(*, kind, file_name, content, actor, run=True):
    """Store the file in the database and start checking it. Refuses oversize files and files already imported."""
    if kind not in ImportBatch.Kind.values:
        raise DomainError(_("Choose what the file holds: loan balances, transactions or groups."))
    if not content:
        raise DomainError(_("The file is empty."))
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if len(content) > limit:
        raise DomainError(
            _("The file is %(size)s MB; files up to %(limit)s MB are accepted.")
            % {"size": round(len(content) / 1024 / 1024, 1), "limit": limit // (1024 * 1024)}
        )
    if not file_name.lower().endswith((".xlsx", ".xlsm", ".xls", ".csv")):
        raise DomainError(_("Upload an .xlsx, .xls or .csv file."))
    digest = hashlib.sha256(content).hexdigest()
    earlier = (
        ImportBatch.objects.filter(sha256=digest, status=ImportBatch.Status.DONE).select_related("created_by").first()
    )
    if earlier:
        who = earlier.confirmed_by or earlier.created_by
        raise DomainError(
            _("This file was already imported at %(when)s by %(who)s (import no. %(id)s); nothing was changed.")
            % {
                "when": _when(earlier.finished_at or earlier.created_at),
                "who": who.get_full_name() or who.username,
                "id": earlier.pk,
            }
        )
    batch = ImportBatch.objects.create(
        kind=kind,
        file_name=file_name[:255],
        sha256=digest,
        content=content,
        created_by=actor,
        phase=_("Waiting to be checked"),
    )
    if run:
        start_job(batch.pk, "check")
    return batch


def import_confirm(*, batch, actor, run=True):
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != ImportBatch.Status.PREVIEWED:
            raise DomainError(_("Only a checked file without errors can be imported."))
        if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).exists():
            raise DomainError(_("This file was already imported; nothing was changed."))
        batch.status = ImportBatch.Status.RUNNING
        batch.confirmed_by = actor
        batch.confirmed_at = batch.heartbeat_at = timezone.now()
        batch.progress_done = 0
        batch.phase = _("Waiting to be imported")
        batch.save(update_fields=["status", "confirmed_by", "confirmed_at", "heartbeat_at", "progress_done", "phase"])
    if run:
        start_job(batch.pk, "apply")
    return batch


# ---- running the job without holding the request -------------------------------------------------------------


def start_job(batch_id, step):
    """Run `step` of the batch: in a thread once the surrounding transaction commits, or inline."""
    # An in-memory SQLite database (the test database) cannot be shared by two threads while one of them writes.
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    if settings.IMPORT_RUN_MODE == "inline" or in_memory:
        run_job(batch_id, step)
        return

    def launch():
        threading.Thread(target=_thread_job, args=(batch_id, step), daemon=True, name=f"import-{batch_id}").start()

    transaction.on_commit(launch)


def _thread_job(batch_id, step):
    try:
        run_job(batch_id, step)
    finally:
        close_old_connections()
        connection.close()


def run_job(batch_id, step, progress=None):
    batch = ImportBatch.objects.get(pk=batch_id)
    try:
        if step == "check":
            import_check(batch=batch, progress=progress)
        else:
            import_apply(batch=batch, progress=progress)
    except (DomainError, SpreadsheetError) as error:
        _fail(batch, [{"row": "", "column": "", "value": "", "message": str(error)}])
    except Exception:  # the page must show a refusal, never hang on a crashed job
        log.exception("Import %s failed", batch_id)
        _fail(
            batch,
            [
                {
                    "row": "",
                    "column": "",
                    "value": "",
                    "message": _("The import stopped on an unexpected error; nothing was saved."),
                }
            ],
        )
    return ImportBatch.objects.get(pk=batch_id)


def _fail(batch, errors):
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.FAILED,
        errors=errors[:MAX_STORED_ERRORS],
        error_count=len(errors),
        phase=_("Refused"),
        finished_at=timezone.now(),
    )


JOB_STATUSES = (ImportBatch.Status.UPLOADED, ImportBatch.Status.RUNNING)


def _stale(batch, now):
    last = batch.heartbeat_at or batch.confirmed_at or batch.created_at
    return now - last >= timedelta(seconds=settings.IMPORT_STALE_SECONDS)


def import_recover_stale(*, batch, now=None):
    """Mark refused a batch whose job died with its process (a restarted web server or worker), so the page stops
    waiting and the file can be imported again. Nothing of such a job was saved: its writes were one transaction.

    A job is alive while it shows progress within IMPORT_STALE_SECONDS, or while it holds its batch's row lock (the
    apply step holds it until its commit; on SQLite, the database's write lock), however long it takes."""
    now = now or timezone.now()
    if batch.status not in JOB_STATUSES or not _stale(batch, now):
        return batch
    skip_locked = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    try:
        with transaction.atomic():
            locked = (
                ImportBatch.objects.select_for_update(**skip_locked)
                .filter(pk=batch.pk, status__in=JOB_STATUSES)
                .first()
            )
            # None: a job holds the lock, or the batch has moved on.
            if locked is not None and _stale(locked, now):
                message = _(
                    "The import stopped without finishing: the process running it ended (for example when the server "
                    "restarted). Nothing was saved; upload the file again to retry."
                )
                _fail(locked, [{"row": "", "column": "", "value": "", "message": message}])
                log.warning("Import %s showed no sign of life since %s; marked refused", batch.pk, locked.heartbeat_at)
    except OperationalError:  # SQLite: a job holds the database's write lock, so it is alive
        pass
    return ImportBatch.objects.get(pk=batch.pk)


class Progress:
    """Writes progress to the batch row every few thousand rows, and to an optional callback (the command's bar)."""

    def __init__(self, batch, callback=None):
        self.batch, self.callback, self.total = batch, callback, 0

    def phase(self, text, done=None, total=None):
        values = {"phase": text, "heartbeat_at": timezone.now()}
        if done is not None:
            values["progress_done"] = done
        if total is not None:
            values["progress_total"] = self.total = total
        # Outside the import's transaction when run in a thread, so the page sees it live.
        ImportBatch.objects.filter(pk=self.batch.pk).update(**values)
        if self.callback:
            self.callback(text, done or 0, total or self.total)

    def rows(self, done):
        self.phase(self.batch.phase or "", done=done)


# ---- checking and applying --------------------------------------------------------------------------------------


def import_check(*, batch, progress=None):
    """Read and check the whole file; record counts, changes side by side and every error. Writes no business data."""
    tracker = Progress(batch, progress)
    tracker.phase(_("Reading the file"), done=0)
    plan = _plan(batch, tracker)
    if plan.errors:
        _fail(batch, plan.errors)
        return plan
    _remember(batch, plan.sheet)
    ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.UPLOADED).update(
        status=ImportBatch.Status.PREVIEWED,
        summary=plan.summary(),
        errors=[],
        error_count=0,
        phase=_("Checked: ready to import"),
        progress_done=plan.data_rows,
        progress_total=plan.data_rows,
    )
    return plan


def import_apply(*, batch, progress=None):
    """Check again (the database may have moved since the preview), then write everything or nothing."""
    tracker = Progress(batch, progress)
    plan = _plan(batch, tracker)
    if plan.errors:
        _fail(batch, plan.errors)
        return plan
    tracker.phase(_("Writing to the ledger"), done=0, total=plan.data_rows)
    with transaction.atomic():
        # Held until the commit: while it is held, the job is known to be alive (see `import_recover_stale`).
        if ImportBatch.objects.select_for_update().get(pk=batch.pk).status != ImportBatch.Status.RUNNING:
            raise DomainError(_("This import was stopped; nothing was changed."))
        if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).exists():
            raise DomainError(_("This file was already imported; nothing was changed."))
        if connection.vendor == "postgresql":
            # Check foreign keys as rows arrive rather than queueing a million deferred checks for the commit;
            # every row points only at rows written before it in this transaction.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with audit_context(actor=batch.confirmed_by or batch.created_by, import_batch=batch, source=f"import {batch.pk}"):
            written = plan.apply(tracker)
        if connection.vendor == "postgresql" and plan.data_rows >= ANALYZE_AFTER_ROWS:
            # The summaries below plan their joins on table statistics; after a large import those are far off.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(t) for t in ANALYZED_TABLES)}")
        # The dashboard and reports read per-group and month-end summaries; an import changes both, for the groups
        # of the loans and households it posted to, from the earliest day it posted on.
        posted = Posting.objects.filter(import_batch=batch)
        touched = set(Loan.objects.filter(pk__in=posted.values("loan")).values_list("group", flat=True))
        touched |= set(
            GroupMembership.objects.filter(household__in=posted.values("household")).values_list("group", flat=True)
        )
        refresh_portfolio_summary(group_ids=list(touched), since=posted.aggregate(first=Min("on"))["first"])
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.DONE,
            summary={**plan.summary(), "written": written},
            phase=_("Imported"),
            progress_done=plan.data_rows,
            progress_total=plan.data_rows,
            finished_at=timezone.now(),
        )
    return plan


# The last file read and cleaned by this process. The file never changes (its SHA-256 is its identity), so the
# confirm step reuses it instead of reading the sheet again; the database checks always run again.
_parsed = {}
_parsed_lock = threading.Lock()


def _parse(batch, tracker):
    key = (batch.pk, batch.sha256)
    with _parsed_lock:
        sheet = _parsed.pop(key, None)
    if sheet is not None:
        return sheet
    rows = read_rows(bytes(batch.content), batch.file_name)
    return parse_sheet(rows, batch.kind, progress=tracker.rows)


def _remember(batch, sheet):
    with _parsed_lock:
        _parsed.clear()
        _parsed[(batch.pk, batch.sha256)] = sheet


def _plan(batch, tracker):
    sheet = _parse(batch, tracker)
    tracker.phase(_("Checking against the ledger"), done=sheet.data_rows, total=sheet.data_rows)
    planner = {"loans": LoanPlan, "transactions": TransactionPlan, "groups": GroupPlan}[batch.kind]
    plan = planner(batch=batch, sheet=sheet)
    if not sheet.errors and not sheet.data_rows:
        sheet.errors.append(
            {"row": "", "column": "", "value": "", "message": _("The file has a header row but no data rows.")}
        )
    if not sheet.errors:
        plan.check()
    plan.errors = sorted(sheet.errors, key=lambda e: e["row"] if isinstance(e["row"], int) else 0)
    return plan


def _chunks(values, size=LOOKUP_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _matching(queryset, field, values):
    """The rows of `queryset` whose `field` is one of `values`: one array parameter on PostgreSQL (a 20,000-item
    IN list costs more to build than to run), chunks of IN lists elsewhere."""
    values = list(values)
    if not values:
        return
    if connection.vendor == "postgresql":
        yield from queryset.filter(**{f"{field}__in": RawSQL("SELECT unnest(%s)", (values,))})
        return
    for part in _chunks(values):
        yield from queryset.filter(**{f"{field}__in": part})


def _money(value):
    return f"{int(value):,}".replace(",", ".")


# ---- bulk writing ---------------------------------------------------------------------------------------------


def _reserve_ids(model, count):
    """Primary keys for rows written by COPY/INSERT, so children can point at them."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 (table names are ours)
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_line(row):
    # str() of a date, datetime, Decimal or int is already what COPY reads.
    return "\t".join([v.translate(COPY_ESCAPES) if v.__class__ is str else "\\N" if v is None else str(v) for v in row])


class _CopyStream:
    """The rows as COPY text, formatted as the server asks for it, so Python formats while PostgreSQL writes."""

    def __init__(self, rows):
        self.rows = iter(rows)

    def read(self, size=-1):
        lines, length = [], 0
        for row in self.rows:
            line = _copy_line(row)
            lines.append(line)
            length += len(line) + 1
            if 0 < size <= length:
                break
        return "\n".join(lines) + "\n" if lines else ""


def bulk_insert(model, columns, rows):
    """Insert plain tuples: PostgreSQL COPY, or executemany elsewhere. Values are already clean and whole đồng."""
    table = model._meta.db_table
    quoted = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.cursor.copy_expert(f'COPY "{table}" ({quoted}) FROM STDIN', _CopyStream(rows), size=1 << 16)
            return
        marks = ", ".join(["%s"] * len(columns))
        for part in _chunks(rows, 5000):
            cursor.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', part)  # noqa: S608


# ---- loan balances ----------------------------------------------------------------------------------------------


ALREADY_ON_ROW = {
    "loan_number": gettext_lazy("this loan number is already on row %(row)s"),
    "voucher": gettext_lazy("this voucher number is already on row %(row)s"),
    "group_code": gettext_lazy("this group code is already on row %(row)s"),
}


class BasePlan:
    def __init__(self, *, batch, sheet):
        self.batch, self.sheet = batch, sheet
        self.errors = []
        self.new = self.changed = self.unchanged = 0
        self.changes = []  # side by side: row, key, figure, ledger, bank
        self.today = timezone.localdate()

    @property
    def data_rows(self):
        return self.sheet.data_rows

    def error(self, row, key, value, message):
        self.sheet.add_error(row, key, value, message)

    def once(self, seen, number, key, value, message):
        """Refuse a value that an earlier row already holds; `message` (lazy: this runs for every row) names that
        row as %(row)s."""
        previous = seen.setdefault(value, number)
        if previous != number:
            self.error(number, key, value, str(message) % {"row": previous})

    def in_its_branch(self, number, row, group, ward):
        """Whether an existing group belongs to the ward and organization that the row names."""
        if group and ward and (group.branch.ward_id != ward.pk or group.branch.kind != row["org_code"]):
            self.error(
                number,
                "group_code",
                row["group_code"],
                _("this group belongs to %(branch)s, not to the ward and organization on this row")
                % {"branch": group.branch},
            )
            return False
        return True

    def summary(self):
        return {
            "rows": self.sheet.data_rows,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "invalid": len(self.sheet.invalid_rows),
            "header_row": self.sheet.header_row,
            "total_row": self.sheet.total_row,
            "changes": self.changes[:MAX_STORED_CHANGES],
            "change_count": len(self.changes),
        }


def _branch_lookup():
    branches = {(b.ward_id, b.kind): b for b in Organization.objects.filter(level=Organization.Level.WARD)}
    return branches


def _ensure_branch(branches, ward, kind):
    """The organization's ward branch, created (with its district body) when the bank's file is the first to name it."""
    key = (ward.pk, kind)
    if key not in branches:
        label = Organization.Kind(kind).label
        district, _created = Organization.objects.get_or_create(
            area=ward.area, kind=kind, level=Organization.Level.DISTRICT, defaults={"name": str(label)}
        )
        branches[key] = Organization.objects.create(
            area=ward.area,
            kind=kind,
            level=Organization.Level.WARD,
            ward=ward,
            parent=district,
            name=f"{label} – {ward.name}",
        )
    return branches[key]


def _create_groups(groups, branches, wanted):
    """Create the groups of `wanted` ((code, ward, organization kind, name or None), first one wins) that `groups`
    (code -> group, updated here) does not hold, with their branches; returns how many were created."""
    missing = {}
    for code, ward, kind, name in wanted:
        if code not in groups and code not in missing:
            branch = _ensure_branch(branches, ward, kind)
            missing[code] = SavingsGroup(code=code, name=(name or _("Group %(code)s") % {"code": code})[:200], branch=branch)
    for group in SavingsGroup.objects.bulk_create(missing.values(), batch_size=2000):
        groups[group.code] = group
    if missing:
        audit_bulk(SavingsGroup, objects=missing.values())
    return len(missing)


#: The columns an import writes for each posting, in the order its rows carry them.
POSTING_COLUMNS = [
    "kind",
    "household_id",
    "loan_id",
    "amount",
    "on",
    "voucher",
    "reverses_id",
    "note",
    "created_by_id",
    "import_batch_id",
    "created_at",
]


def _months_between(start, end):
    months = (end.year - start.year) * 12 + end.month - start.month
    return max(1, months)


class LoanPlan(BasePlan):
    def check(self):
        rows = self.sheet.rows
        wards = {w.code: w for w in Ward.objects.select_related("area")}
        programs = {p.code: p for p in LoanProgram.objects.all()}
        branches = _branch_lookup()
        groups = {g.code: g for g in SavingsGroup.objects.select_related("branch")}
        seen_loans, customer_ids, id_customers = {}, {}, {}
        for number, row in rows:
            ward = wards.get(row["ward_code"])
            if ward is None:
                self.error(number, "ward_code", row["ward_code"], _("no ward has this code"))
            elif not ward.is_active:
                self.error(number, "ward_code", row["ward_code"], _("this ward was merged into another one"))
            if row["program_code"] not in programs:
                self.error(number, "program_code", row["program_code"], _("no loan program has this code"))
            self.in_its_branch(number, row, groups.get(row["group_code"]), ward)
            if row["maturity_on"] <= row["disbursed_on"]:
                self.error(
                    number,
                    "maturity_on",
                    row["maturity_on"].strftime("%d/%m/%Y"),
                    _("the due date must come after the disbursement date"),
                )
            if row["amount"] <= 0:
                self.error(number, "amount", row["amount"], _("the amount disbursed must be more than zero"))
            if row["outstanding"] > row["amount"]:
                self.error(
                    number,
                    "outstanding",
                    row["outstanding"],
                    _("the outstanding balance is more than the amount disbursed"),
                )
            for key in ("overdue", "frozen"):
                if row[key] > row["outstanding"]:
                    self.error(number, key, row[key], _("is more than the outstanding balance"))
            self.once(
                seen_loans, number, "loan_number", row["loan_number"], ALREADY_ON_ROW["loan_number"]
            )
            known_id = customer_ids.setdefault(row["customer_code"], row["citizen_id"])
            if known_id != row["citizen_id"]:
                self.error(
                    number,
                    "citizen_id",
                    row["citizen_id"],
                    _("the same customer has another citizen ID on an earlier row"),
                )
            known_customer = id_customers.setdefault(row["citizen_id"], row["customer_code"])
            if known_customer != row["customer_code"]:
                self.error(
                    number,
                    "citizen_id",
                    row["citizen_id"],
                    _("this citizen ID belongs to customer %(code)s on an earlier row") % {"code": known_customer},
                )
        if self.sheet.errors:
            return
        self.wards, self.programs, self.branches, self.groups = wards, programs, branches, groups

        # What the database already knows, looked up in a few set-based queries.
        households = {
            h.customer_code: h
            for h in _matching(
                Household.objects.only("pk", "customer_code", "citizen_id", "savings_balance"),
                "customer_code",
                customer_ids,
            )
        }
        new_ids = [cid for code, cid in customer_ids.items() if code not in households]
        id_owners = {
            h.citizen_id: h
            for h in _matching(Household.objects.only("pk", "customer_code", "citizen_id"), "citizen_id", new_ids)
        }
        loans = {
            loan.number: loan
            for loan in _matching(
                Loan.objects.select_related("household").only(
                    "pk",
                    "number",
                    "status",
                    "principal_outstanding",
                    "overdue_principal",
                    "interest_arrears",
                    "household__id",
                    "household__customer_code",
                ),
                "number",
                seen_loans,
            )
        }
        self.households, self.loans = households, loans

        savings_by_customer = defaultdict(int)
        for number, row in rows:
            savings_by_customer[row["customer_code"]] += row["savings"]
            loan = loans.get(row["loan_number"])
            if loan and loan.household.customer_code != row["customer_code"]:
                self.error(
                    number,
                    "loan_number",
                    row["loan_number"],
                    _("this loan belongs to customer %(code)s, not to %(row_code)s")
                    % {"code": loan.household.customer_code or "—", "row_code": row["customer_code"]},
                )
            owner = id_owners.get(row["citizen_id"])
            if owner and owner.customer_code != row["customer_code"]:
                self.error(
                    number,
                    "citizen_id",
                    row["citizen_id"],
                    _("this citizen ID is already registered for another household (customer %(code)s)")
                    % {"code": owner.customer_code or "—"},
                )
        if self.sheet.errors:
            return
        self.savings_by_customer = savings_by_customer

        # New, changed, unchanged; differences side by side.
        self.differences = []
        savings_checked = set()
        for number, row in rows:
            loan = loans.get(row["loan_number"])
            if loan is None:
                self.new += 1
                continue
            ledger_frozen = loan.principal_outstanding if loan.status == Loan.Status.FROZEN else 0
            figures = [
                (Figure.OUTSTANDING, loan.principal_outstanding, row["outstanding"]),
                (Figure.OVERDUE, loan.overdue_principal, row["overdue"]),
                (Figure.FROZEN, ledger_frozen, row["frozen"]),
                (Figure.INTEREST_ARREARS, loan.interest_arrears, row["interest_arrears"]),
            ]
            household = households[row["customer_code"]]
            if row["customer_code"] not in savings_checked:
                savings_checked.add(row["customer_code"])
                figures.append((Figure.SAVINGS, household.savings_balance, savings_by_customer[row["customer_code"]]))
            row_changes = [(f, int(ledger), int(bank)) for f, ledger, bank in figures if int(ledger) != int(bank)]
            if row_changes:
                self.changed += 1
                for figure, ledger, bank in row_changes:
                    self.differences.append((number, loan, household, figure, ledger, bank))
                    self.changes.append(
                        {
                            "row": number,
                            "key": row["loan_number"],
                            "name": row["customer_name"],
                            "figure": str(Figure(figure).label),
                            "ledger": ledger,
                            "bank": bank,
                        }
                    )
            else:
                self.unchanged += 1

    def apply(self, tracker):
        batch, actor, now = self.batch, self.batch.confirmed_by or self.batch.created_by, timezone.now()
        rows = self.sheet.rows
        groups_created = _create_groups(
            self.groups,
            self.branches,
            ((row["group_code"], self.wards[row["ward_code"]], row["org_code"], None) for _number, row in rows),
        )
        # New households, then their loans: the only rows whose values come from the file. Everything that follows
        # from them (memberships, schedules, opening postings) is derived inside the database below.
        new_rows = {}
        for _number, row in rows:
            if row["customer_code"] not in self.households and row["customer_code"] not in new_rows:
                new_rows[row["customer_code"]] = row
        household_ids = dict(zip(new_rows, _reserve_ids(Household, len(new_rows)), strict=True))
        wards, groups, savings = self.wards, self.groups, self.savings_by_customer
        folded = {}  # names repeat across a district: fold each spelling once

        def search_name(name):
            if name not in folded:
                folded[name] = fold_name(name)[:200]
            return folded[name]

        bulk_insert(
            Household,
            HOUSEHOLD_COLUMNS,
            (
                (
                    household_ids[code],
                    code,
                    row["customer_name"][:200],
                    search_name(row["customer_name"]),
                    row["citizen_id"],
                    "",
                    wards[row["ward_code"]].name,
                    wards[row["ward_code"]].pk,
                    groups[row["group_code"]].branch_id,
                    1,
                    Household.PolicyStatus.POOR,
                    row["disbursed_on"].year,
                    savings[code],
                    batch.pk,
                    now,
                    now,
                )
                for code, row in new_rows.items()
            ),
        )
        # A new household joins the group of its first loan in the file, on that loan's disbursement date.
        bulk_insert(
            GroupMembership,
            ["group_id", "household_id", "joined_on", "note"],
            (
                (groups[row["group_code"]].pk, household_ids[code], row["disbursed_on"], "")
                for code, row in new_rows.items()
            ),
        )
        tracker.phase(_("Writing to the ledger"), done=len(rows) // 4)
        new_loan_rows = [row for _number, row in rows if row["loan_number"] not in self.loans]
        loan_ids = _reserve_ids(Loan, len(new_loan_rows))
        programs, households = self.programs, self.households
        bulk_insert(
            Loan,
            LOAN_COLUMNS,
            (
                (
                    pk,
                    row["loan_number"],
                    household_ids.get(row["customer_code"]) or households[row["customer_code"]].pk,
                    programs[row["program_code"]].pk,
                    groups[row["group_code"]].pk,
                    row["amount"],
                    row["disbursed_on"],
                    row["maturity_on"],
                    _months_between(row["disbursed_on"], row["maturity_on"]),
                    Loan.Frequency.AT_MATURITY,
                    programs[row["program_code"]].annual_rate,
                    programs[row["program_code"]].overdue_multiplier,
                    Loan.Status.FROZEN if row["frozen"] else Loan.Status.ACTIVE,
                    row["outstanding"],
                    row["overdue"],
                    row["interest_arrears"],
                    actor.pk,
                    batch.pk,
                    now,
                    now,
                )
                for pk, row in zip(loan_ids, new_loan_rows, strict=True)
            ),
        )
        # The bank's interest arrears are known from the day of the file on.
        bulk_insert(
            InterestArrearsEntry,
            ["loan_id", "on", "amount", "source", "created_at"],
            (
                (pk, self.today, row["interest_arrears"], InterestArrearsEntry.Source.IMPORT, now)
                for pk, row in zip(loan_ids, new_loan_rows, strict=True)
                if row["interest_arrears"]
            ),
        )
        tracker.phase(_("Writing to the ledger"), done=len(rows) // 2)
        postings = _write_opening_entries(batch=batch, actor=actor, now=now, today=self.today)
        # New loans and households carry the same figures as their postings (outstanding = amount - repaid, overdue
        # = missed instalment - repaid, savings = the opening deposit), so `check_ledger` agrees without re-deriving
        # 100,000 balances here; existing ones change only through reconciliation.
        # Where the bank and the ledger disagree, list it for an admin to accept or leave.
        ReconciliationItem.objects.bulk_create(
            [
                ReconciliationItem(
                    batch=batch,
                    loan=loan,
                    household=household,
                    figure=figure,
                    ledger_value=ledger,
                    bank_value=bank,
                    row_number=number,
                )
                for number, loan, household, figure, ledger, bank in self.differences
            ],
            batch_size=2000,
        )
        audit_bulk(Household, ids=list(household_ids.values()), note=batch.file_name)
        audit_bulk(Loan, ids=loan_ids, note=batch.file_name)
        audit_bulk(Posting, count=postings, note=batch.file_name)
        return {
            "households": len(household_ids),
            "loans": len(loan_ids),
            "postings": postings,
            "groups_created": groups_created,
            "differences": len(self.differences),
        }


HOUSEHOLD_COLUMNS = [
    "id",
    "customer_code",
    "head_name",
    "search_name",
    "citizen_id",
    "phone",
    "address",
    "ward_id",
    "branch_id",
    "members",
    "policy_status",
    "policy_list_year",
    "savings_balance",
    "import_batch_id",
    "created_at",
    "updated_at",
]
LOAN_COLUMNS = [
    "id",
    "number",
    "household_id",
    "program_id",
    "group_id",
    "amount",
    "disbursed_on",
    "maturity_on",
    "term_months",
    "frequency",
    "annual_rate",
    "overdue_multiplier",
    "status",
    "principal_outstanding",
    "overdue_principal",
    "interest_arrears",
    "created_by_id",
    "import_batch_id",
    "created_at",
    "updated_at",
]

# What follows from the batch's new loans and households, written set-based from the rows just inserted. The file has
# no repayment frequency, so a loan's schedule is one instalment at maturity; the bank's overdue principal becomes an
# instalment already missed (the ledger's derived overdue then equals the bank's figure), the repaid principal
# counting against it first. Plain SQL that PostgreSQL and SQLite both run.
OPENING_SQL = [
    """INSERT INTO {instalment} (loan_id, seq, due_on, principal, overdue_since)
       SELECT id, 1, maturity_on, amount, NULL FROM {loan}
       WHERE import_batch_id = %(batch)s AND overdue_principal = 0""",
    """INSERT INTO {instalment} (loan_id, seq, due_on, principal, overdue_since)
       SELECT id, 1, CASE WHEN maturity_on < %(today)s THEN maturity_on ELSE %(today)s END,
              amount - principal_outstanding + overdue_principal,
              CASE WHEN maturity_on < %(today)s THEN maturity_on ELSE %(today)s END
       FROM {loan} WHERE import_batch_id = %(batch)s AND overdue_principal > 0""",
    """INSERT INTO {instalment} (loan_id, seq, due_on, principal, overdue_since)
       SELECT id, 2, maturity_on, principal_outstanding - overdue_principal, NULL FROM {loan}
       WHERE import_batch_id = %(batch)s AND overdue_principal > 0 AND principal_outstanding > overdue_principal""",
    # The opening savings of each new household, the disbursement of each new loan, and what it has repaid.
    """INSERT INTO {posting} ({posting_columns})
       SELECT %(savings_in)s, id, NULL, savings_balance, %(today)s, NULL, NULL, %(note)s, %(actor)s, %(batch)s, %(now)s
       FROM {household} WHERE import_batch_id = %(batch)s AND savings_balance > 0 ORDER BY id""",
    """INSERT INTO {posting} ({posting_columns})
       SELECT %(disbursement)s, household_id, id, amount, disbursed_on, NULL, NULL, %(note)s, %(actor)s, %(batch)s,
              %(now)s
       FROM {loan} WHERE import_batch_id = %(batch)s ORDER BY id""",
    """INSERT INTO {posting} ({posting_columns})
       SELECT %(principal)s, household_id, id, amount - principal_outstanding, %(today)s, NULL, NULL, %(repaid_note)s,
              %(actor)s, %(batch)s, %(now)s
       FROM {loan} WHERE import_batch_id = %(batch)s AND principal_outstanding < amount ORDER BY id""",
]


def _write_opening_entries(*, batch, actor, now, today):
    """Schedules and opening postings of the batch's new households and loans; returns how many postings."""
    quote, ops = connection.ops.quote_name, connection.ops
    tables = {
        "loan": quote(Loan._meta.db_table),
        "household": quote(Household._meta.db_table),
        "instalment": quote(RepaymentInstalment._meta.db_table),
        "posting": quote(Posting._meta.db_table),
        "posting_columns": ", ".join(quote(c) for c in POSTING_COLUMNS),
    }
    params = {
        "batch": batch.pk,
        "actor": actor.pk,
        "today": ops.adapt_datefield_value(today),
        "now": ops.adapt_datetimefield_value(now),
        "note": OPENING_NOTE,
        "repaid_note": OPENING_NOTE + ": gốc đã trả",
        "savings_in": Kind.SAVINGS_IN,
        "disbursement": Kind.DISBURSEMENT,
        "principal": Kind.PRINCIPAL,
    }
    postings = 0
    with connection.cursor() as cursor:
        for statement in OPENING_SQL:
            cursor.execute(statement.format(**tables), params)
            if statement.lstrip().startswith("INSERT INTO {posting}"):
                postings += cursor.rowcount
    return postings


# ---- transactions -------------------------------------------------------------------------------------------------


class TransactionPlan(BasePlan):
    def check(self):
        rows = self.sheet.rows
        vouchers, loan_numbers, customer_codes = {}, set(), set()
        for number, row in rows:
            self.once(vouchers, number, "voucher", row["voucher"], ALREADY_ON_ROW["voucher"])
            if row["loan_number"]:
                loan_numbers.add(row["loan_number"])
            elif row["kind"] in Posting.LOAN_KINDS:
                self.error(number, "loan_number", "", _("a loan transaction needs its loan number"))
            customer_codes.add(row["customer_code"])
            if row["amount"] <= 0:
                self.error(number, "amount", row["amount"], _("the amount must be more than zero"))
            if row["on"] > self.today:
                self.error(number, "on", row["on"].strftime("%d/%m/%Y"), _("the date is in the future"))
        if self.sheet.errors:
            return
        loans = {
            loan.number: loan for loan in _matching(Loan.objects.select_related("household"), "number", loan_numbers)
        }
        households = {h.customer_code: h for h in _matching(Household.objects.all(), "customer_code", customer_codes)}
        existing = {p.voucher: p for p in _matching(Posting.objects.select_related("loan"), "voucher", vouchers)}
        self.to_write = []
        loan_delta, savings_delta = defaultdict(int), defaultdict(int)
        for number, row in rows:
            loan = loans.get(row["loan_number"]) if row["loan_number"] else None
            household = households.get(row["customer_code"])
            if row["loan_number"] and loan is None:
                self.error(number, "loan_number", row["loan_number"], _("no loan has this number in the application"))
                continue
            if household is None:
                self.error(number, "customer_code", row["customer_code"], _("no household has this customer code"))
                continue
            if loan and loan.household_id != household.pk:
                self.error(
                    number,
                    "loan_number",
                    row["loan_number"],
                    _("this loan belongs to customer %(code)s, not to %(row_code)s")
                    % {"code": loan.household.customer_code or "—", "row_code": row["customer_code"]},
                )
                continue
            posting = existing.get(row["voucher"])
            if posting is not None:
                same = (
                    posting.kind == row["kind"]
                    and int(posting.amount) == row["amount"]
                    and posting.on == row["on"]
                    and (posting.loan.number if posting.loan else "") == (row["loan_number"] if posting.loan else "")
                )
                if same:
                    self.unchanged += 1
                else:
                    self.error(
                        number,
                        "voucher",
                        row["voucher"],
                        _(
                            "this voucher is already in the ledger with other details; "
                            "a posting is never changed, reverse it instead"
                        ),
                    )
                continue
            self.new += 1
            kind = row["kind"]
            if kind == Kind.DISBURSEMENT:
                loan_delta[loan.pk] += row["amount"]
            elif kind == Kind.PRINCIPAL:
                loan_delta[loan.pk] -= row["amount"]
            elif kind == Kind.SAVINGS_IN:
                savings_delta[household.pk] += row["amount"]
            elif kind == Kind.SAVINGS_OUT:
                savings_delta[household.pk] -= row["amount"]
            self.to_write.append((number, row, loan, household))
        if self.sheet.errors:
            return
        household_by_pk = {h.pk: h for h in households.values()}
        for number, row, loan, household in self.to_write:
            if loan and row["kind"] in (Kind.PRINCIPAL, Kind.DISBURSEMENT) and loan.pk in loan_delta:
                after = loan.principal_outstanding + loan_delta[loan.pk]
                if after < 0 or after > loan.amount:
                    self.error(
                        number,
                        "amount",
                        row["amount"],
                        _("after this file the loan's outstanding balance would be %(after)s, outside 0–%(amount)s")
                        % {"after": _money(after), "amount": _money(loan.amount)},
                    )
                    loan_delta.pop(loan.pk)
            if row["kind"] == Kind.SAVINGS_OUT and household.pk in savings_delta:
                after = household_by_pk[household.pk].savings_balance + savings_delta[household.pk]
                if after < 0:
                    self.error(
                        number,
                        "amount",
                        row["amount"],
                        _("the savings withdrawals exceed the savings balance (%(balance)s)")
                        % {"balance": _money(household.savings_balance)},
                    )
                    savings_delta.pop(household.pk)
        for number, row, _loan, _household in self.to_write[:MAX_STORED_CHANGES]:
            self.changes.append(
                {
                    "row": number,
                    "key": row["voucher"],
                    "name": row["loan_number"],
                    "figure": str(Kind(row["kind"]).label),
                    "ledger": None,
                    "bank": row["amount"],
                }
            )

    def apply(self, tracker):
        batch, actor, now = self.batch, self.batch.confirmed_by or self.batch.created_by, timezone.now()
        posting_rows, loan_ids, household_ids = [], set(), set()
        for _number, row, loan, household in self.to_write:
            savings = row["kind"] in Posting.SAVINGS_KINDS
            posting_rows.append(
                (
                    row["kind"],
                    household.pk,
                    None if savings else loan.pk,
                    row["amount"],
                    row["on"],
                    row["voucher"][:50],
                    None,
                    (row["note"] or "")[:300],
                    actor.pk,
                    batch.pk,
                    now,
                )
            )
            if savings:
                household_ids.add(household.pk)
            else:
                loan_ids.add(loan.pk)
        bulk_insert(Posting, POSTING_COLUMNS, posting_rows)
        refresh_balances(loan_ids=loan_ids, household_ids=household_ids)
        return {"postings": len(posting_rows)}


# ---- groups -------------------------------------------------------------------------------------------------------


class GroupPlan(BasePlan):
    def check(self):
        wards = {w.code: w for w in Ward.objects.select_related("area")}
        groups = {g.code: g for g in SavingsGroup.objects.select_related("branch")}
        seen = {}
        self.updates = []
        for number, row in self.sheet.rows:
            self.once(seen, number, "group_code", row["group_code"], ALREADY_ON_ROW["group_code"])
            ward = wards.get(row["ward_code"])
            if ward is None:
                self.error(number, "ward_code", row["ward_code"], _("no ward has this code"))
                continue
            if row.get("score") is not None and not 0 <= row["score"] <= 100:
                self.error(number, "score", row["score"], _("a score is between 0 and 100"))
            if row.get("grade") and fold(row["grade"]) not in GRADES:
                self.error(number, "grade", row["grade"], _("a grade is Tốt, Khá, Trung bình or Yếu"))
            if row.get("members") is not None and row["members"] > SavingsGroup.MAX_MEMBERS:
                self.error(
                    number,
                    "members",
                    row["members"],
                    _("a group has at most %(max)s members") % {"max": SavingsGroup.MAX_MEMBERS},
                )
            group = groups.get(row["group_code"])
            if not self.in_its_branch(number, row, group, ward):
                continue
            if group is None:
                self.new += 1
            elif group.name != row["group_name"]:
                self.changed += 1
                self.changes.append(
                    {
                        "row": number,
                        "key": group.code,
                        "name": row["group_name"],
                        "figure": str(_("Name")),
                        "ledger": group.name,
                        "bank": row["group_name"],
                    }
                )
            else:
                self.unchanged += 1
            self.updates.append((number, row, ward, group))

    def apply(self, tracker):
        groups = {row["group_code"]: group for _number, row, _ward, group in self.updates if group is not None}
        created = _create_groups(
            groups,
            _branch_lookup(),
            ((row["group_code"], ward, row["org_code"], row["group_name"]) for _number, row, ward, _group in self.updates),
        )
        grades = []
        for _number, row, _ward, group in self.updates:
            if group is None:
                group = groups[row["group_code"]]
            elif group.name != row["group_name"]:
                SavingsGroup.objects.filter(pk=group.pk).update(name=row["group_name"][:200])
            leader_name = row.get("leader_name") or ""
            if leader_name:
                leader = (
                    Household.objects.filter(
                        memberships__group=group, memberships__left_on__isnull=True, search_name=fold_name(leader_name)
                    )
                    .values_list("pk", flat=True)
                    .first()
                )
                if leader and leader != group.deputy_id:
                    SavingsGroup.objects.filter(pk=group.pk).update(leader=leader)
            grades.append(
                BankGroupGrade(
                    group=group,
                    batch=self.batch,
                    on=self.today,
                    score=row.get("score"),
                    grade=GRADES.get(fold(row.get("grade") or ""), ""),
                    members=row.get("members"),
                    leader_name=leader_name[:200],
                )
            )
        BankGroupGrade.objects.bulk_create(grades)
        return {"groups_created": created, "grades": len(grades)}


# ---- accepting the bank's figures -------------------------------------------------------------------------------


def reconciliation_accept(*, batch, item_ids, actor):
    """Write what it takes for the ledger to show the bank's figure for each chosen difference."""
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
                    loan.transition_to(Loan.Status.FROZEN, actor=actor, note=RECONCILE_NOTE)
                elif not want_frozen and loan.status == Loan.Status.FROZEN:
                    loan.transition_to(Loan.Status.ACTIVE, actor=actor, note=RECONCILE_NOTE)
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
        [
            RepaymentInstalment(loan=loan, seq=seq, due_on=due_on, principal=principal, overdue_since=since)
            for seq, (due_on, principal, since) in enumerate(rows, start=1)
        ]
    )
