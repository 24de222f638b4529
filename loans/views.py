"""District work on entrusted capital: allocations, the approval queue, 04/TD notices, disbursement, the overview."""

from datetime import date, datetime, time

from django.contrib import messages
from django.db.models import Prefetch, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loans import selectors, services
from loans.forms import (
    AdjustmentForm,
    AllocationDecisionForm,
    AllocationProposalForm,
    ApproveForm,
    CapitalPlanForm,
    DisbursementDayForm,
    ListDecisionForm,
    RejectForm,
)
from loans.models import ApplicationStatusChange, CapitalAllocation, LoanApplication, LoanList
from loans.xlsx import xlsx_response
from organizations.access import (
    ALL_ROLES,
    DISTRICT_WORK,
    SUPERVISION_WORK,
    WARD_WORK,
    Role,
    has_role,
    profile_of,
    role_required,
)
from organizations.errors import DomainError
from organizations.models import Organization
from organizations.selectors import branches_for

PROPOSING_ROLES = tuple(dict.fromkeys(WARD_WORK + DISTRICT_WORK))


def _year(request):
    try:
        return int(request.GET.get("year", ""))
    except ValueError:
        return timezone.localdate().year


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
        selectors.capital_plans_for(request.user).filter(year=year).annotate(allocated=Sum("allocations__amount"))
    )
    for plan in plans:
        plan.unallocated = plan.amount - (plan.allocated or 0)
    allocations = list(selectors.allocations_for(request.user).filter(plan__year=year))
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
            plan = services.capital_plan_set(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The district total for %(plan)s is recorded.") % {"plan": plan})
            return redirect(f"{reverse('loans:allocation_list')}?year={plan.year}")
    return render(request, "loans/plan_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@role_required(*PROPOSING_ROLES)
def allocation_propose(request):
    plans = selectors.capital_plans_for(request.user).filter(year__gte=timezone.localdate().year - 1)
    form = AllocationProposalForm(request.POST or None, plans=plans, branches=branches_for(request.user))
    suggestion = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "prefill" in request.POST:
            suggestion = services.proposal_suggestion(
                branch=data["branch"], program=data["plan"].program, year=data["plan"].year
            )
            form = AllocationProposalForm(
                {**request.POST.dict(), "amount": str(int(suggestion["total"])) if suggestion["total"] else ""},
                plans=plans, branches=branches_for(request.user),
            )
        else:
            try:
                allocation = services.allocation_propose(
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
    allocation = get_object_or_404(selectors.allocations_for(request.user), pk=pk)
    events = allocation.events.select_related("actor", "adjustment__source__branch", "adjustment__target__branch",
                                              "adjustment__source__plan__program",
                                              "adjustment__target__plan__program")
    uses = allocation.uses.select_related("application__household", "approved_by").order_by("approved_at")
    can_decide = allocation.status == CapitalAllocation.Status.PROPOSED
    district = has_role(request.user, *DISTRICT_WORK)
    return render(request, "loans/allocation_detail.html", {
        "allocation": allocation, "events": events, "uses": uses,
        "decision_form": AllocationDecisionForm(initial={"decision": "approve", "amount": allocation.amount_proposed})
        if can_decide and district else None,
        "can_adjust": district and allocation.status == CapitalAllocation.Status.APPROVED,
    })


@require_POST
@role_required(*DISTRICT_WORK)
def allocation_decide(request, pk):
    allocation = get_object_or_404(selectors.allocations_for(request.user), pk=pk)
    form = AllocationDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("loans:allocation_detail", pk=pk)
    data = form.cleaned_data
    try:
        services.allocation_decide(
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
    allocations = selectors.allocations_for(request.user).filter(plan__year__gte=timezone.localdate().year - 1)
    initial = {}
    for name in ("source", "target"):
        if request.GET.get(name, "").isdigit():
            initial[name] = int(request.GET[name])
    form = AdjustmentForm(request.POST or None, allocations=allocations, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            adjustment = services.allocation_adjust(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The adjustment is recorded."))
            changed = adjustment.target or adjustment.source
            return redirect("loans:allocation_detail", pk=changed.pk)
    return render(request, "loans/allocation_adjust.html", {"form": form})


# --- Approval queue -------------------------------------------------------------------------------------------------


def _history_prefetch():
    return Prefetch(
        "status_changes", queryset=ApplicationStatusChange.objects.select_related("actor").order_by("at", "pk")
    )


@require_GET
@role_required(*DISTRICT_WORK)
def approval_queue(request):
    lists = list(selectors.approval_queue(request.user))
    groups = {}
    for loan_list in lists:
        branch = loan_list.group.branch
        groups.setdefault((branch.ward, branch), []).append(loan_list)
    return render(request, "loans/approval_queue.html", {
        "groups": [(ward, branch, items) for (ward, branch), items in groups.items()],
        "count": len(lists),
    })


def _list_applications(loan_list):
    return (
        loan_list.applications.select_related("household", "program", "group", "capital_use__allocation")
        .prefetch_related(_history_prefetch())
        .order_by("household__search_name", "pk")
    )


@require_http_methods(["GET", "POST"])
@role_required(*DISTRICT_WORK)
def loan_list_review(request, pk):
    loan_list = get_object_or_404(selectors.loan_lists_for(request.user), pk=pk)
    applications = list(_list_applications(loan_list))
    pending = [a for a in applications if a.status == LoanApplication.Status.SUBMITTED]
    form = ListDecisionForm(request.POST or None, applications=pending)
    if request.method == "POST" and form.is_valid():
        try:
            services.loan_list_approve(
                loan_list=loan_list, amounts=form.amounts, rejections=form.rejections, actor=request.user
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The decisions on the 03/TD list are recorded."))
            return redirect("loans:loan_list_review", pk=pk)
    year = timezone.localdate().year
    branch = loan_list.group.branch
    allocations = {
        a.plan.program_id: a
        for a in CapitalAllocation.objects.filter(
            branch=branch, plan__year=year, status=CapitalAllocation.Status.APPROVED
        ).select_related("plan__program")
    }
    return render(request, "loans/loan_list_review.html", {
        "loan_list": loan_list, "applications": applications, "form": form, "pending": pending,
        "allocations": sorted(allocations.values(), key=lambda a: a.plan.program.code),
        "self_submitted": loan_list.submitted_by_id == request.user.pk,
        "statuses": LoanApplication.Status.choices,
    })


@require_POST
@role_required(*DISTRICT_WORK)
def application_approve(request, pk):
    application = get_object_or_404(selectors.applications_for(request.user), pk=pk)
    form = ApproveForm(request.POST)
    if form.is_valid():
        try:
            services.application_approve(application=application, amount=form.cleaned_data["amount"],
                                         actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The request of %(name)s is approved.") % {"name": application.household})
    else:
        messages.error(request, " ".join(form.errors["amount"]))
    return _back_to_list(application)


@require_POST
@role_required(*DISTRICT_WORK)
def application_reject(request, pk):
    application = get_object_or_404(selectors.applications_for(request.user), pk=pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            services.application_reject(application=application, reason=form.cleaned_data["reason"],
                                        actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The request of %(name)s is rejected.") % {"name": application.household})
    else:
        messages.error(request, _("Give the reason for rejecting this request."))
    return _back_to_list(application)


def _back_to_list(application):
    if application.loan_list_id:
        return redirect("loans:loan_list_review", pk=application.loan_list_id)
    return redirect("loans:approval_queue")


NOTICE_HEADERS = [
    _("No."), _("Head of household"), _("Citizen ID"), _("Program"), _("Amount requested"), _("Amount approved"),
    _("Term (months)"), _("Decision"), _("Reason"),
]


@require_GET
@role_required(*ALL_ROLES)
def approval_notice(request, pk):
    """Thông báo 04/TD: the district's decision on each request of a 03/TD list."""
    loan_list = get_object_or_404(selectors.loan_lists_for(request.user), pk=pk)
    decided = [
        a for a in _list_applications(loan_list)
        if a.status in (LoanApplication.Status.APPROVED, LoanApplication.Status.REJECTED,
                        LoanApplication.Status.DISBURSED)
    ]
    approved_total = sum(a.amount_approved or 0 for a in decided)
    branch = loan_list.group.branch
    decided_on = max(
        (c.on for a in decided for c in a.status_changes.all()
         if c.to_status in (LoanApplication.Status.APPROVED, LoanApplication.Status.REJECTED)),
        default=None,
    )
    if request.GET.get("format") == "xlsx":
        rows = [
            [i, a.household.head_name, a.household.citizen_id, a.program.code, a.amount_requested,
             a.amount_approved or 0, a.term_months,
             str(_("Approved") if a.amount_approved else _("Rejected")), a.rejection_reason]
            for i, a in enumerate(decided, start=1)
        ]
        return xlsx_response(
            f"04TD-{loan_list.group.code}-{loan_list.pk}.xlsx",
            title_lines=[
                branch.parent.name, _("NOTICE OF LOAN APPROVAL (Form 04/TD)"),
                f"{loan_list.group} – {branch.ward}",
                _("as of %(date)s") % {"date": f"{decided_on or timezone.localdate():%d/%m/%Y}"},
            ],
            headers=NOTICE_HEADERS,
            rows=rows,
            total_row=["", _("Total"), "", "", sum(a.amount_requested for a in decided), approved_total, "", "", ""],
            sheet_title="04-TD",
            amount_columns=(4, 5),
        )
    return render(request, "loans/approval_notice.html", {
        "loan_list": loan_list, "applications": decided, "approved_total": approved_total, "branch": branch,
        "decided_on": decided_on, "requested_total": sum(a.amount_requested for a in decided),
        "approved_count": sum(1 for a in decided if a.amount_approved),
    })


# --- Disbursement ---------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(*DISTRICT_WORK)
def disbursement_day(request):
    applications = selectors.awaiting_disbursement(request.user)
    ward = request.GET.get("ward", "")
    if ward.isdigit():
        applications = applications.filter(group__branch__ward=int(ward))
    form = DisbursementDayForm(request.POST or None, applications=applications)
    if request.method == "POST" and form.is_valid():
        try:
            loans = services.loans_disburse(items=form.items, on=form.cleaned_data["on"], actor=request.user)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("%(count)s loan(s) disbursed.") % {"count": len(loans)})
            if len(loans) == 1:
                return redirect("loans:loan_detail", pk=loans[0].pk)
            return redirect(request.get_full_path())
    start_of_day = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    recent = (
        selectors.loans_for(request.user)
        .filter(application__isnull=False, created_at__gte=start_of_day)
        .order_by("-created_at", "-pk")[:50]
    )
    return render(request, "loans/disbursement_day.html", {
        "form": form, "wards": selectors.wards_for_queue(request.user), "ward": ward, "recent": recent,
    })


@require_GET
@role_required(*ALL_ROLES)
def loan_detail(request, pk):
    loan = get_object_or_404(
        selectors.loans_for(request.user).select_related("group__branch__ward", "application", "created_by"), pk=pk
    )
    instalments = list(loan.instalments.all())
    application = None
    if loan.application_id:
        application = LoanApplication.objects.prefetch_related(_history_prefetch()).get(pk=loan.application_id)
    return render(request, "loans/loan_detail.html", {
        "loan": loan, "instalments": instalments, "schedule_total": sum(i.principal for i in instalments),
        "application": application, "statuses": LoanApplication.Status.choices,
    })


# --- District overview ----------------------------------------------------------------------------------------------


@require_GET
@role_required(*SUPERVISION_WORK)
def district_overview(request):
    today = timezone.localdate()
    year = _year(request)
    allocations = list(selectors.allocation_use(request.user, year))
    keys = ("amount", "amount_committed", "amount_disbursed", "remaining")
    totals = {key: sum(getattr(a, key) for a in allocations) for key in keys}
    by_branch = {}
    for allocation in allocations:
        by_branch.setdefault(allocation.branch, []).append(allocation)
    branches = [
        {"branch": branch, "allocations": rows, **{key: sum(getattr(a, key) for a in rows) for key in keys}}
        for branch, rows in by_branch.items()
    ]
    return render(request, "loans/district_overview.html", {
        "year": year,
        "allocations": allocations,
        "branches": branches,
        "several_organizations": len({a.plan.organization_id for a in allocations}) > 1,
        "totals": totals,
        "requests": selectors.requests_by_status(request.user),
        "waiting_lists": selectors.approval_queue(request.user).count(),
        "this_month": selectors.disbursed_between(request.user, today.replace(day=1), today),
        "this_year": selectors.disbursed_between(request.user, date(today.year, 1, 1), today),
        "today": today,
        "LoanList": LoanList,
    })
