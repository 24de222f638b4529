"""District and ward pages for entrusted capital: the capital plan, ward allocations, proposals, decisions and
adjustments. Every movement of capital waits on the pending page for a second person."""

from django.contrib import messages
from django.db.models import Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loans.forms.capital import (
    AdjustmentForm,
    AllocationDecisionForm,
    AllocationProposalForm,
    CapitalDecisionForm,
    CapitalPlanForm,
)
from loans.models import CapitalAdjustment, CapitalAllocation, CapitalPlanChange
from loans.money import format_vnd
from loans.selectors import capital as capital_selectors
from loans.services import capital as capital_services
from loans.views.common import _year
from organizations.access import ALL_ROLES, DISTRICT_WORK, has_role, role_required
from organizations.area import area_label
from organizations.errors import DomainError
from organizations.policy import allowed, may
from organizations.selectors.scope import branches_for

# --- Capital allocations --------------------------------------------------------------------------------------------


@require_GET
@role_required(*ALL_ROLES)
def allocation_list(request):
    year = _year(request)
    plans = list(
        capital_selectors.capital_plans_for(request.user).filter(year=year).annotate(allocated=Sum("allocations__amount"))
    )
    for plan in plans:
        plan.unallocated = plan.amount - (plan.allocated or 0)
    allocations = list(capital_selectors.allocations_for(request.user).filter(plan__year=year))
    totals = {
        key: sum(getattr(a, key) for a in allocations if a.status == CapitalAllocation.Status.APPROVED)
        for key in ("amount", "amount_committed", "amount_disbursed", "remaining")
    }
    return render(request, "loans/allocation_list.html", {
        "year": year, "years": [year - 1, year, year + 1], "plans": plans, "allocations": allocations,
        "totals": totals, "can_district": has_role(request.user, *DISTRICT_WORK),
        "can_propose": may(request.user, "allocation.propose"),
        **_pending(request.user, year=year),
    })


def _pending(user, *, year=None):
    """Proposed totals and adjustments in the user's scope that still wait for a second person."""
    changes = capital_selectors.plan_changes_for(user).filter(status=CapitalPlanChange.Status.PROPOSED)
    adjustments = capital_selectors.adjustments_for(user).filter(status=CapitalAdjustment.Status.PROPOSED)
    if year is not None:
        changes = changes.filter(year=year)
        adjustments = adjustments.filter(Q(source__plan__year=year) | Q(target__plan__year=year))
    return {"pending_changes": list(changes), "pending_adjustments": list(adjustments.order_by("at", "pk"))}


@require_http_methods(["GET", "POST"])
@allowed("capital.propose")
def plan_set(request):
    form = CapitalPlanForm(request.POST or None, organizations=capital_selectors.planning_organizations_for(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            capital_services.capital_plan_propose(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The new total of %(area)s is proposed; it applies once another officer at "
                                        "%(area)s approves it.") % {"area": area_label()})
            return redirect("loans:capital_pending")
    return render(request, "loans/plan_form.html", {"form": form, **_pending(request.user)})


@require_http_methods(["GET", "POST"])
@allowed("allocation.propose")
def allocation_propose(request):
    plans = capital_selectors.capital_plans_for(request.user).filter(year__gte=timezone.localdate().year - 1)
    form = AllocationProposalForm(request.POST or None, plans=plans, branches=branches_for(request.user, in_being=True))
    suggestion = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "prefill" in request.POST:
            suggestion = capital_services.proposal_suggestion(
                branch=data["branch"], program=data["plan"].program, year=data["plan"].year
            )
            form = AllocationProposalForm(
                {**request.POST.dict(), "amount": format_vnd(suggestion["total"], symbol=False) if suggestion["total"] else ""},
                plans=plans, branches=branches_for(request.user),
            )
        else:
            try:
                allocation = capital_services.allocation_propose(
                    plan=data["plan"], branch=data["branch"], amount=data["amount"], note=data["note"],
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request, _("The proposal is recorded; staff at %(area)s will decide it.") % {"area": area_label()}
                )
                return redirect("loans:allocation_detail", pk=allocation.pk)
    return render(request, "loans/allocation_propose.html", {"form": form, "suggestion": suggestion})


@require_GET
@role_required(*ALL_ROLES)
def allocation_detail(request, pk):
    allocation = get_object_or_404(capital_selectors.allocations_for(request.user), pk=pk)
    events = allocation.events.select_related("actor", "adjustment__decided_by",
                                              "adjustment__source__branch", "adjustment__target__branch",
                                              "adjustment__source__plan__program",
                                              "adjustment__target__plan__program")
    usage = capital_selectors.allocation_usage(allocation)
    can_decide = allocation.status == CapitalAllocation.Status.PROPOSED
    district = has_role(request.user, *DISTRICT_WORK)
    pending_adjustments = capital_selectors.adjustments_for(request.user).filter(
        Q(source=allocation) | Q(target=allocation), status=CapitalAdjustment.Status.PROPOSED
    )
    return render(request, "loans/allocation_detail.html", {
        "allocation": allocation, "events": events, "usage": usage, "can_district": district,
        "pending_changes": [], "pending_adjustments": list(pending_adjustments),
        "decision_form": AllocationDecisionForm(initial={"decision": "approve", "amount": allocation.amount_proposed})
        if can_decide and may(request.user, "capital.decide") else None,
        "can_adjust": may(request.user, "capital.propose") and allocation.status == CapitalAllocation.Status.APPROVED,
    })


@require_POST
@allowed("capital.decide")
def allocation_decide(request, pk):
    allocation = get_object_or_404(capital_selectors.allocations_for(request.user), pk=pk)
    form = AllocationDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("loans:allocation_detail", pk=pk)
    data = form.cleaned_data
    try:
        capital_services.allocation_decide(
            allocation=allocation, approve=data["decision"] == "approve", amount=data["amount"],
            reason=data["reason"], actor=request.user,
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The decision is recorded."))
    return redirect("loans:allocation_detail", pk=pk)


@require_http_methods(["GET", "POST"])
@allowed("capital.propose")
def allocation_adjust(request):
    allocations = capital_selectors.allocations_for(request.user).filter(plan__year__gte=timezone.localdate().year - 1)
    initial = {}
    for name in ("source", "target"):
        if request.GET.get(name, "").isdigit():
            initial[name] = int(request.GET[name])
    form = AdjustmentForm(request.POST or None, allocations=allocations, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            capital_services.adjustment_propose(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The adjustment is proposed; the capital moves once another officer at "
                                        "%(area)s approves it.") % {"area": area_label()})
            return redirect("loans:capital_pending")
    return render(request, "loans/allocation_adjust.html", {"form": form, **_pending(request.user)})


# --- The checker's queue: proposed district totals and adjustments ---------------------------------------------------


@require_GET
@role_required(*DISTRICT_WORK)
def capital_pending(request):
    recent_changes = capital_selectors.plan_changes_for(request.user).exclude(
        status=CapitalPlanChange.Status.PROPOSED
    ).order_by("-decided_at", "-pk")[:10]
    recent_adjustments = capital_selectors.adjustments_for(request.user).exclude(
        status=CapitalAdjustment.Status.PROPOSED
    ).order_by("-decided_at", "-pk")[:10]
    return render(request, "loans/capital_pending.html", {
        **_pending(request.user), "recent_changes": recent_changes, "recent_adjustments": recent_adjustments,
    })


def _decide(request, service, **target):
    form = CapitalDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or to reject."))
        return redirect("loans:capital_pending")
    try:
        service(approve=form.cleaned_data["decision"] == "approve", reason=form.cleaned_data["reason"],
                actor=request.user, **target)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The decision is recorded."))
    return redirect("loans:capital_pending")


@require_POST
@allowed("capital.decide")
def plan_change_decide(request, pk):
    change = get_object_or_404(capital_selectors.plan_changes_for(request.user), pk=pk)
    return _decide(request, capital_services.capital_plan_decide, change=change)


@require_POST
@allowed("capital.decide")
def adjustment_decide(request, pk):
    adjustment = get_object_or_404(capital_selectors.adjustments_for(request.user), pk=pk)
    return _decide(request, capital_services.adjustment_decide, adjustment=adjustment)
