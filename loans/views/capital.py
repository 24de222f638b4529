"""District and ward pages for entrusted capital: the capital plan, ward allocations, proposals, decisions and
adjustments."""

from django.contrib import messages
from django.db.models import Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loans.forms.capital import AdjustmentForm, AllocationDecisionForm, AllocationProposalForm, CapitalPlanForm
from loans.models import CapitalAllocation
from loans.money import format_vnd
from loans.selectors import capital as capital_selectors
from loans.services import capital as capital_services
from loans.views.common import _year
from organizations.access import ALL_ROLES, DISTRICT_WORK, WARD_WORK, Role, has_role, profile_of, role_required
from organizations.errors import DomainError
from organizations.models import Organization
from organizations.selectors.scope import branches_for

PROPOSING_ROLES = tuple(dict.fromkeys(WARD_WORK + DISTRICT_WORK))


def _district_organizations(user):
    organizations = Organization.objects.filter(level=Organization.Level.DISTRICT).exclude(
        kind=Organization.Kind.FRONT
    )
    profile = profile_of(user)
    if not user.is_superuser and profile is not None and profile.role != Role.ADMIN:
        organizations = organizations.filter(pk=profile.organization_id)
    return organizations


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
        "can_propose": has_role(request.user, *PROPOSING_ROLES),
    })


@require_http_methods(["GET", "POST"])
@role_required(*DISTRICT_WORK)
def plan_set(request):
    form = CapitalPlanForm(request.POST or None, organizations=_district_organizations(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            plan = capital_services.capital_plan_set(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The district total for %(plan)s is recorded.") % {"plan": plan})
            return redirect(f"{reverse('loans:allocation_list')}?year={plan.year}")
    return render(request, "loans/plan_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@role_required(*PROPOSING_ROLES)
def allocation_propose(request):
    plans = capital_selectors.capital_plans_for(request.user).filter(year__gte=timezone.localdate().year - 1)
    form = AllocationProposalForm(request.POST or None, plans=plans, branches=branches_for(request.user))
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
                messages.success(request, _("The proposal is recorded; district staff will decide it."))
                return redirect("loans:allocation_detail", pk=allocation.pk)
    return render(request, "loans/allocation_propose.html", {"form": form, "suggestion": suggestion})


@require_GET
@role_required(*ALL_ROLES)
def allocation_detail(request, pk):
    allocation = get_object_or_404(capital_selectors.allocations_for(request.user), pk=pk)
    events = allocation.events.select_related("actor", "adjustment__source__branch", "adjustment__target__branch",
                                              "adjustment__source__plan__program",
                                              "adjustment__target__plan__program")
    usage = capital_selectors.allocation_usage(allocation)
    can_decide = allocation.status == CapitalAllocation.Status.PROPOSED
    district = has_role(request.user, *DISTRICT_WORK)
    return render(request, "loans/allocation_detail.html", {
        "allocation": allocation, "events": events, "usage": usage,
        "decision_form": AllocationDecisionForm(initial={"decision": "approve", "amount": allocation.amount_proposed})
        if can_decide and district else None,
        "can_adjust": district and allocation.status == CapitalAllocation.Status.APPROVED,
    })


@require_POST
@role_required(*DISTRICT_WORK)
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
@role_required(*DISTRICT_WORK)
def allocation_adjust(request):
    allocations = capital_selectors.allocations_for(request.user).filter(plan__year__gte=timezone.localdate().year - 1)
    initial = {}
    for name in ("source", "target"):
        if request.GET.get(name, "").isdigit():
            initial[name] = int(request.GET[name])
    form = AdjustmentForm(request.POST or None, allocations=allocations, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            adjustment = capital_services.allocation_adjust(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The adjustment is recorded."))
            changed = adjustment.target or adjustment.source
            return redirect("loans:allocation_detail", pk=changed.pk)
    return render(request, "loans/allocation_adjust.html", {"form": form})
