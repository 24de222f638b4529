"""Capital plans, the ward allocations proposed and decided against them, and capital adjustments.

Every movement of capital is proposed by one person and decided by another; nothing moves before the decision.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.models import (
    AllocationEvent,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    CapitalPlanChange,
    Loan,
    LoanApplication,
    RepaymentInstalment,
)
from loans.money import format_vnd
from loans.selectors.capital import (
    adjustments_for,
    allocations_for,
    capital_plans_for,
    plan_changes_for,
    planning_organizations_for,
)
from loans.services.common import _require_reason, _whole_positive
from organizations.area import area_label
from organizations.errors import DomainError
from organizations.models import Organization
from organizations.policy import authorize
from organizations.selectors.scope import branches_for

AppStatus = LoanApplication.Status


# --- Capital plans and allocations -------------------------------------------------------------------------------


def _decide(row, *, approve, reason, actor, proposer_id):
    """The checks every decision on capital shares: still pending, someone other than the proposer, a reason for a
    rejection. `row` is locked by the caller."""
    if row.status != row.Status.PROPOSED:
        raise DomainError(_("This proposal is already decided."))
    if proposer_id == actor.pk:
        raise DomainError(_("You proposed this change, so someone else must decide it."))
    reason = (reason or "").strip() if approve else _require_reason(reason)
    row.status = row.Status.APPROVED if approve else row.Status.REJECTED
    row.decided_by, row.decided_at, row.decision_reason = actor, timezone.now(), reason
    return reason


def _allocated(plan):
    return plan.allocations.aggregate(total=Sum("amount"))["total"] or 0


def _check_plan_total(plan, amount):
    allocated = _allocated(plan)
    if amount < allocated:
        raise DomainError(
            _("The ward branches already hold %(allocated)s of this plan; the total cannot be lower.")
            % {"allocated": format_vnd(allocated)},
            field="amount",
        )


def capital_plan_propose(*, organization, program, year, amount, actor, note=""):
    """Propose the district total the bank entrusts for a program and year. The plan changes only when someone
    else approves it (`capital_plan_decide`); one proposal per plan waits at a time."""
    authorize(actor, "capital.propose")
    amount = _whole_positive(amount)
    if organization.level != Organization.Level.DISTRICT or organization.kind == Organization.Kind.FRONT:
        raise DomainError(
            _("Capital is entrusted to a member organization at the level of %(area)s.") % {"area": area_label()}
        )
    authorize(actor, "capital.propose", scoped=planning_organizations_for, pk=organization.pk)
    with transaction.atomic():
        plan = (
            CapitalPlan.objects.select_for_update(of=("self",))
            .filter(organization=organization, program=program, year=year)
            .first()
        )
        if plan is not None:
            if amount == plan.amount:
                raise DomainError(_("The total of %(area)s is already %(amount)s.")
                                  % {"area": area_label(), "amount": format_vnd(amount)}, field="amount")
            _check_plan_total(plan, amount)
        pending = CapitalPlanChange.objects.filter(
            organization=organization, program=program, year=year, status=CapitalPlanChange.Status.PROPOSED
        )
        if pending.exists():
            raise DomainError(_("A new total for this plan is already waiting for a decision."))
        try:
            # The partial unique index settles two proposals racing past the check above.
            with transaction.atomic():
                return CapitalPlanChange.objects.create(
                    organization=organization, program=program, year=year, plan=plan,
                    amount_before=plan.amount if plan else None, amount=amount, note=note, proposed_by=actor,
                )
        except IntegrityError:
            raise DomainError(_("A new total for this plan is already waiting for a decision.")) from None


def capital_plan_decide(*, change, approve, reason="", actor):
    """Approve or reject a proposed district total. Approval creates or updates the plan, which may still not fall
    below what the wards already hold."""
    with transaction.atomic():
        change = CapitalPlanChange.objects.select_for_update(of=("self",)).get(pk=change.pk)
        authorize(actor, "capital.decide", scoped=plan_changes_for, pk=change.pk)
        _decide(change, approve=approve, reason=reason, actor=actor, proposer_id=change.proposed_by_id)
        if approve:
            plan = (
                CapitalPlan.objects.select_for_update(of=("self",))
                .filter(organization_id=change.organization_id, program_id=change.program_id, year=change.year)
                .first()
            )
            if plan is None:
                plan = CapitalPlan.objects.create(
                    organization_id=change.organization_id, program_id=change.program_id, year=change.year,
                    amount=change.amount, note=change.note, created_by=change.proposed_by,
                )
            else:
                _check_plan_total(plan, change.amount)
                change.amount_before = plan.amount
                plan.amount = change.amount
                plan.note = change.note or plan.note
                plan.save(update_fields=["amount", "note"])
            change.plan = plan
        change.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "plan", "amount_before"])
        return change


def proposal_suggestion(*, branch, program, year):
    """What a branch needs: requests on its certified or submitted 03/TD lists plus principal maturing in `year`."""
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
    authorize(actor, "allocation.propose", scoped=capital_plans_for, pk=plan.pk)
    authorize(actor, "allocation.propose", scoped=branches_for, pk=branch.pk)
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
    return plan.amount - _allocated(plan)


def allocation_decide(*, allocation, approve, amount=None, reason="", actor):
    """Approve (in full or cut) or reject a proposal. The proposer cannot decide; the plan total is never exceeded."""
    with transaction.atomic():
        allocation = CapitalAllocation.objects.select_for_update(of=("self",)).get(pk=allocation.pk)
        authorize(actor, "capital.decide", scoped=allocations_for, pk=allocation.pk)
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
                    _("Only %(free)s of the total of %(area)s is still unallocated.")
                    % {"free": format_vnd(free), "area": area_label()},
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


# --- Adjustments -------------------------------------------------------------------------------------------------


def _lock_adjustment_sides(source_id, target_id):
    """Lock both allocations (in pk order, so two adjustments never deadlock) and their plans."""
    ids = sorted(pk for pk in (source_id, target_id) if pk is not None)
    locked = {a.pk: a for a in CapitalAllocation.objects.select_for_update(of=("self",)).filter(pk__in=ids)
              .order_by("pk")}
    plans = {a.plan_id for a in locked.values()}
    plan_rows = CapitalPlan.objects.select_for_update(of=("self",)).filter(pk__in=plans).order_by("pk")
    return locked.get(source_id), locked.get(target_id), {p.pk: p for p in plan_rows.select_related("program")}


def _check_adjustment(source, target, amount, plan_rows):
    """Whether `amount` can move now; checked when proposed and again, on fresh rows, when approved."""
    for allocation in (source, target):
        if allocation is not None and allocation.status != CapitalAllocation.Status.APPROVED:
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


def adjustment_propose(*, source=None, target=None, amount, reason, actor):
    """Propose moving capital out of `source` and/or into `target` (approved allocations of one organization and
    year). The allocations change only when someone else approves it (`adjustment_decide`)."""
    authorize(actor, "capital.propose")
    for allocation in (source, target):
        if allocation is not None:
            authorize(actor, "capital.propose", scoped=allocations_for, pk=allocation.pk)
    amount = _whole_positive(amount)
    reason = _require_reason(reason)
    if source is None and target is None:
        raise DomainError(_("Choose the allocation to take capital from or to give it to."))
    if source is not None and target is not None and source.pk == target.pk:
        raise DomainError(_("Capital must move between two different allocations."), field="target")
    with transaction.atomic():
        source, target, plan_rows = _lock_adjustment_sides(source and source.pk, target and target.pk)
        _check_adjustment(source, target, amount, plan_rows)
        return CapitalAdjustment.objects.create(source=source, target=target, amount=amount, reason=reason,
                                                actor=actor)


def adjustment_decide(*, adjustment, approve, reason="", actor):
    """Approve or reject a proposed adjustment. Approval moves the capital, if it still can, and writes a history
    entry on each side; nothing is overwritten."""
    with transaction.atomic():
        adjustment = CapitalAdjustment.objects.select_for_update(of=("self",)).get(pk=adjustment.pk)
        authorize(actor, "capital.decide", scoped=adjustments_for, pk=adjustment.pk)
        reason = _decide(adjustment, approve=approve, reason=reason, actor=actor, proposer_id=adjustment.actor_id)
        if approve:
            source, target, plan_rows = _lock_adjustment_sides(adjustment.source_id, adjustment.target_id)
            _check_adjustment(source, target, adjustment.amount, plan_rows)
            amount, at = adjustment.amount, adjustment.decided_at
            # The entry names who moved the capital and why (the proposer); the checker is on the adjustment.
            for allocation, change, kind in (
                (source, -amount, AllocationEvent.Kind.ADJUSTED_OUT),
                (target, amount, AllocationEvent.Kind.ADJUSTED_IN),
            ):
                if allocation is None:
                    continue
                CapitalAllocation.objects.filter(pk=allocation.pk).update(amount=F("amount") + change)
                AllocationEvent.objects.create(
                    allocation=allocation, kind=kind, amount=amount, adjustment=adjustment,
                    actor=adjustment.actor, note=adjustment.reason, at=at,
                )
        adjustment.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        return adjustment


# --- Ward mergers ------------------------------------------------------------------------------------------------


def allocations_carry_into(*, branches, into, note, actor=None):
    """A ward merger: the allocations of `branches` (one organization's branches in the merged wards) become one
    allocation of `into` per plan, holding the sum of what they were given, committed and disbursed; the capital
    uses move with them. The old allocations stay as history at zero, each with an event saying where it went.

    A proposal not yet decided cannot move: the caller refuses the merger while one is pending."""
    from loans.models import CapitalUse

    approved = CapitalAllocation.objects.select_for_update().filter(
        branch__in=branches, status=CapitalAllocation.Status.APPROVED
    ).order_by("plan_id", "pk")
    by_plan = {}
    for allocation in approved:
        by_plan.setdefault(allocation.plan_id, []).append(allocation)
    figures = ("amount_proposed", "amount", "amount_committed", "amount_disbursed")
    for plan_id, olds in by_plan.items():
        totals = {name: sum(getattr(old, name) for old in olds) for name in figures}
        new = CapitalAllocation.objects.create(
            plan_id=plan_id, branch=into, status=CapitalAllocation.Status.APPROVED, proposed_by=actor,
            proposal_note=note, decided_by=actor, decided_at=timezone.now(), decision_reason=note, **totals,
        )
        CapitalUse.objects.filter(allocation__in=olds).update(allocation=new)
        # Zero disbursed first, then committed, then the amount: each step keeps the allocation's checks true.
        for name in ("amount_disbursed", "amount_committed", "amount"):
            CapitalAllocation.objects.filter(pk__in=[old.pk for old in olds]).update(**{name: 0})
        AllocationEvent.objects.bulk_create(
            [AllocationEvent(allocation=new, kind=AllocationEvent.Kind.MERGED_IN, amount=totals["amount"], actor=actor,
                             note=note)]
            + [AllocationEvent(allocation=old, kind=AllocationEvent.Kind.MERGED_OUT, amount=old.amount, actor=actor,
                               note=note) for old in olds]
        )
    return len(by_plan)
