"""Capital plans, the ward allocations proposed and decided against them, and capital adjustments."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.models import (
    AllocationEvent,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    Loan,
    LoanApplication,
    RepaymentInstalment,
)
from loans.money import format_vnd
from loans.services.common import _require_reason, _whole_positive
from organizations.errors import DomainError
from organizations.models import Organization

AppStatus = LoanApplication.Status


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
