"""Ward pages for loan requests: 01/TD, the group review meeting (10A/TD), list 03/TD, its certification and
submission to district."""

from datetime import date, datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from borrowers.models import Household
from borrowers.selectors import households_for
from loans import selectors, services
from loans.forms import (
    AdjustmentForm,
    AllocationDecisionForm,
    AllocationProposalForm,
    ApplicationForm,
    ApproveForm,
    CapitalPlanForm,
    CertifyForm,
    CollectionEntryForm,
    CollectionSheetCreateForm,
    DisbursementDayForm,
    ListDecisionForm,
    MeetingForm,
    RejectForm,
    ReversalForm,
    ReviewDecisionForm,
    WithdrawForm,
)
from loans.models import (
    ApplicationStatusChange,
    CapitalAllocation,
    CollectionItem,
    CollectionLine,
    LoanApplication,
    LoanList,
    LoanProgram,
)
from loans.selectors import (
    applications_for,
    collection_sheets_for,
    group_totals,
    loan_lists_for,
    postings_for,
    review_meetings_for,
)
from loans.services import (
    collection_line_reverse,
    collection_sheet_create,
    collection_sheet_post,
    collection_sheet_save,
    posting_reverse,
)
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
from organizations.forms import apply_domain_error, refuse_out_of_scope
from organizations.models import Organization
from organizations.selectors import branches_for, groups_for

PAGE_SIZE = 25
Status = LoanApplication.Status


@require_safe
@role_required(*ALL_ROLES)
def application_list(request):
    applications = applications_for(request.user).select_related("group__branch__ward")
    query = request.GET.get("q", "").strip()
    if query:
        from borrowers.models import fold_name

        applications = applications.filter(
            Q(household__search_name__contains=fold_name(query)) | Q(household__citizen_id__startswith=query)
            | Q(group__code__startswith=query)
        )
    status = request.GET.get("status", "")
    if status == "open":
        applications = applications.filter(status__in=LoanApplication.OPEN_STATUSES)
    elif status in Status.values:
        applications = applications.filter(status=status)
    program = request.GET.get("program", "")
    if program:
        applications = applications.filter(program__code=program)
    page = Paginator(applications.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    pending_lists = loan_lists_for(request.user).filter(
        status__in=[LoanList.Status.DRAFT, LoanList.Status.CERTIFIED]
    ).order_by("created_at")
    return render(request, "loans/application_list.html", {
        "page": page, "q": query, "status": status, "program": program,
        "statuses": Status.choices, "programs": LoanProgram.objects.all(), "query": params.urlencode(),
        "pending_lists": pending_lists, "can_change": has_role(request.user, *WARD_WORK),
    })


@require_safe
@role_required(*ALL_ROLES)
def application_detail(request, pk):
    application = get_object_or_404(
        applications_for(request.user).select_related("meeting", "loan_list", "created_by", "household__ward"), pk=pk
    )
    changes = application.status_changes.select_related("actor")
    return render(request, "loans/application_detail.html", {
        "application": application,
        "changes": changes,
        "withdraw_form": WithdrawForm(),
        "can_withdraw": has_role(request.user, *WARD_WORK) and application.can_transition_to(Status.WITHDRAWN),
    })


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def application_create(request, household_pk):
    household = get_object_or_404(households_for(request.user), pk=household_pk)
    form = ApplicationForm(request.POST or None)
    if request.method == "POST":
        refuse_out_of_scope(form)
        if form.is_valid():
            data = form.cleaned_data
            try:
                application = services.application_create(
                    household=household, program=data["program"], amount=data["amount"],
                    term_months=data["term_months"], purpose=data["purpose"], planned_use=data["planned_use"],
                    actor=request.user,
                )
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _("The request is recorded. It goes to the group's next review meeting."))
                return redirect("loans:application_detail", pk=application.pk)
    programs = LoanProgram.objects.filter(is_active=True)
    return render(request, "loans/application_form.html", {
        "form": form, "household": household, "current": household.current_membership, "programs": programs,
    })


@require_POST
@role_required(*WARD_WORK)
def application_withdraw(request, pk):
    application = get_object_or_404(applications_for(request.user), pk=pk)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for withdrawing the request."))
    else:
        try:
            services.application_withdraw(application=application, reason=form.cleaned_data["reason"],
                                          actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The request is withdrawn."))
    return redirect("loans:application_detail", pk=application.pk)


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def meeting_create(request, group_pk):
    group = get_object_or_404(groups_for(request.user), pk=group_pk)
    pending = list(
        applications_for(request.user).filter(group=group, status=Status.DRAFT).order_by("household__search_name")
    )
    data = request.POST if request.method == "POST" else None
    head = group.neighbourhood.head_name if group.neighbourhood else ""
    form = MeetingForm(data, initial={"neighbourhood_head": head})
    decisions = [ReviewDecisionForm(data, application=a) for a in pending]
    if request.method == "POST" and pending:
        valid = form.is_valid() & all([d.is_valid() for d in decisions])
        if valid:
            results = [
                services.ReviewResult(
                    application=d.application, decision=d.cleaned_data["decision"],
                    amount=d.cleaned_data.get("amount"), reason=d.cleaned_data.get("reason", ""),
                )
                for d in decisions
            ]
            try:
                meeting = services.application_review(group=group, results=results, actor=request.user,
                                                      **form.cleaned_data)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _("The review meeting is recorded."))
                return redirect("loans:meeting_detail", pk=meeting.pk)
    return render(request, "loans/meeting_form.html", {"group": group, "form": form, "decisions": decisions})


def _meeting_rows(meeting):
    return list(
        meeting.applications.select_related("household", "program").order_by("status", "household__search_name")
    )


@require_safe
@role_required(*ALL_ROLES)
def meeting_detail(request, pk):
    meeting = get_object_or_404(review_meetings_for(request.user).select_related("group__neighbourhood"), pk=pk)
    rows = _meeting_rows(meeting)
    approved = [r for r in rows if r.amount_group_approved is not None]
    loan_list = LoanList.objects.filter(meeting=meeting).first()
    return render(request, "loans/meeting_detail.html", {
        "meeting": meeting, "rows": rows, "loan_list": loan_list,
        "approved_count": len(approved), "rejected_count": len(rows) - len(approved),
        "approved_total": sum(r.amount_group_approved for r in approved),
        "requested_total": sum(r.amount_requested for r in rows),
    })


# The bank's documents keep their Vietnamese headings whatever the interface language.
MEETING_HEADERS = ["STT", "Họ tên người vay", "Số CCCD", "Chương trình", "Số tiền đề nghị vay", "Thời hạn (tháng)",
                   "Mục đích", "Kết quả bình xét", "Số tiền tổ đồng ý", "Lý do không đồng ý"]
LIST_HEADERS = ["STT", "Họ tên người vay", "Số CCCD", "Địa chỉ", "Đối tượng", "Chương trình", "Số tiền đề nghị vay",
                "Số tiền tổ bình xét", "Thời hạn (tháng)", "Mục đích sử dụng vốn"]


@require_safe
@role_required(*ALL_ROLES)
def meeting_xlsx(request, pk):
    meeting = get_object_or_404(review_meetings_for(request.user), pk=pk)
    rows = _meeting_rows(meeting)
    approved = [r for r in rows if r.amount_group_approved is not None]
    group = meeting.group
    return xlsx_response(
        f"10A-TD_{group.code}_{meeting.held_on:%Y%m%d}.xlsx",
        title_lines=[
            "NGÂN HÀNG CHÍNH SÁCH XÃ HỘI",
            f"{group.branch.name}",
            "BIÊN BẢN HỌP TỔ TIẾT KIỆM VÀ VAY VỐN (Mẫu 10A/TD)",
            f"Tổ: {group.code} – {group.name}, {group.branch.ward.name}",
            f"Ngày họp: {meeting.held_on:%d/%m/%Y}",
        ],
        headers=MEETING_HEADERS,
        rows=[
            [i, r.household.head_name, r.household.citizen_id, r.program.code, r.amount_requested, r.term_months,
             r.purpose, "Đồng ý" if r.amount_group_approved is not None else "Không đồng ý",
             r.amount_group_approved, r.rejection_reason]
            for i, r in enumerate(rows, start=1)
        ],
        total_row=["Tổng cộng", f"{len(rows)} hộ", "", "", sum(r.amount_requested for r in rows), "", "",
                   f"{len(approved)} đồng ý", sum(r.amount_group_approved for r in approved), ""],
        sheet_title="10A-TD",
        amount_columns=(4, 8),
    )


@require_safe
@role_required(*ALL_ROLES)
def list03_index(request):
    lists = loan_lists_for(request.user).annotate(
        total=Sum("applications__amount_group_approved", filter=~Q(applications__status=Status.WITHDRAWN))
    )
    status = request.GET.get("status", "")
    if status in LoanList.Status.values:
        lists = lists.filter(status=status)
    page = Paginator(lists.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "loans/list03_index.html", {
        "page": page, "status": status, "statuses": LoanList.Status.choices,
    })


def _list_rows(loan_list):
    return list(
        loan_list.applications.exclude(status=Status.WITHDRAWN)
        .select_related("household", "program")
        .order_by("household__search_name", "pk")
    )


@require_safe
@role_required(*ALL_ROLES)
def list03_detail(request, pk):
    loan_list = get_object_or_404(loan_lists_for(request.user).select_related("submitted_by"), pk=pk)
    rows = _list_rows(loan_list)
    can_change = has_role(request.user, *WARD_WORK)
    return render(request, "loans/list03_detail.html", {
        "loan_list": loan_list, "meeting": loan_list.meeting, "group": loan_list.group, "rows": rows,
        "total": sum(r.amount_group_approved for r in rows),
        "requested_total": sum(r.amount_requested for r in rows),
        "can_certify": can_change and loan_list.status == LoanList.Status.DRAFT,
        "can_submit": can_change and loan_list.status == LoanList.Status.CERTIFIED,
    })


@require_safe
@role_required(*ALL_ROLES)
def list03_xlsx(request, pk):
    loan_list = get_object_or_404(loan_lists_for(request.user), pk=pk)
    rows = _list_rows(loan_list)
    group = loan_list.group
    title = [
        "NGÂN HÀNG CHÍNH SÁCH XÃ HỘI",
        f"{group.branch.name}",
        "DANH SÁCH HỘ GIA ĐÌNH ĐỀ NGHỊ VAY VỐN NHCSXH (Mẫu 03/TD)",
        f"Tổ: {group.code} – {group.name}, {group.branch.ward.name}",
        f"Họp bình xét ngày {loan_list.meeting.held_on:%d/%m/%Y}",
    ]
    if loan_list.certified_on:
        title.append(
            f"UBND phường xác nhận ngày {loan_list.certified_on:%d/%m/%Y}, số {loan_list.certification_ref}"
        )
    return xlsx_response(
        f"03-TD_{group.code}_{loan_list.meeting.held_on:%Y%m%d}.xlsx",
        title_lines=title,
        headers=LIST_HEADERS,
        rows=[
            [i, r.household.head_name, r.household.citizen_id, r.household.address,
             str(Household.PolicyStatus(r.household.policy_status).label), r.program.code, r.amount_requested,
             r.amount_group_approved, r.term_months, r.purpose]
            for i, r in enumerate(rows, start=1)
        ],
        total_row=["Tổng cộng", f"{len(rows)} hộ", "", "", "", "", sum(r.amount_requested for r in rows),
                   sum(r.amount_group_approved for r in rows), "", ""],
        sheet_title="03-TD",
        amount_columns=(6, 7),
    )


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def list03_certify(request, pk):
    loan_list = get_object_or_404(loan_lists_for(request.user), pk=pk)
    if loan_list.status != LoanList.Status.DRAFT:
        messages.info(request, _("This list was already certified."))
        return redirect("loans:list03_detail", pk=loan_list.pk)
    form = CertifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.loan_list_certify(loan_list=loan_list, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request, _("The ward's certification is recorded. You can now submit the list to district.")
            )
            return redirect("loans:list03_detail", pk=loan_list.pk)
    rows = _list_rows(loan_list)
    return render(request, "loans/list03_certify.html", {
        "form": form, "loan_list": loan_list, "rows": rows, "total": sum(r.amount_group_approved for r in rows),
    })


@require_POST
@role_required(*WARD_WORK)
def list03_submit(request, pk):
    loan_list = get_object_or_404(loan_lists_for(request.user), pk=pk)
    try:
        services.loan_list_submit(loan_list=loan_list, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The list is submitted to district staff for approval."))
    return redirect("loans:list03_detail", pk=loan_list.pk)


"""District work on entrusted capital: allocations, the approval queue, 04/TD notices, disbursement, the overview."""


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
    totals = {
        key: sum(getattr(a, key) for a in allocations)
        for key in ("amount", "amount_committed", "amount_disbursed", "remaining")
    }
    return render(request, "loans/district_overview.html", {
        "year": year,
        "allocations": allocations,
        "totals": totals,
        "requests": selectors.requests_by_status(request.user),
        "waiting_lists": selectors.approval_queue(request.user).count(),
        "this_month": selectors.disbursed_between(request.user, today.replace(day=1), today),
        "this_year": selectors.disbursed_between(request.user, date(today.year, 1, 1), today),
        "today": today,
        "LoanList": LoanList,
    })


"""Loan pages. Thin: scope through selectors, validate with forms, act through one service call."""


# ---------------------------------------------------------------------------------------------------------------
# Collection day (13/TD)
# ---------------------------------------------------------------------------------------------------------------

SHEET_TOTALS = {
    "interest_due": Sum("lines__overdue_interest_due") + Sum("lines__current_interest_due"),
    "principal_due": Sum("lines__principal_due"),
    "collected": Sum("lines__amount_paid", filter=~Q(lines__status=CollectionLine.Status.OPEN)),
    "entered": Sum("lines__amount_paid"),
    "savings_in": Sum("lines__savings_in"),
    "line_count": Count("lines"),
}


def _items_prefetch():
    """A line's loans in the order the money is applied, each with its number and program."""
    return Prefetch(
        "items",
        queryset=CollectionItem.objects.select_related("loan", "loan__program").order_by(
            "loan__disbursed_on", "loan__number"
        ),
    )


def _sheet_lines(sheet):
    return list(sheet.lines.select_related("household").prefetch_related(_items_prefetch()))


def _line_totals(lines):
    fields = (
        "overdue_interest_due", "current_interest_due", "principal_due", "total_due", "amount_paid",
        "overdue_interest_paid", "current_interest_paid", "principal_paid", "savings_before", "savings_in",
        "savings_out", "savings_after",
    )
    totals = {field: sum(getattr(line, field) for line in lines) for field in fields}
    totals["outstanding"] = sum(item.outstanding for line in lines for item in line.items.all())
    totals["outstanding_after"] = totals["outstanding"] - totals["principal_paid"]
    return totals


@login_required
@require_GET
def collection_sheet_list(request):
    groups = groups_for(request.user).order_by("code")
    sheets = collection_sheets_for(request.user).annotate(**SHEET_TOTALS)
    group = None
    if request.GET.get("group"):
        if not request.GET["group"].isdigit():
            raise Http404
        group = get_object_or_404(groups, pk=request.GET["group"])
        sheets = sheets.filter(group=group)
    can_post = has_role(request.user, *WARD_WORK)
    form = CollectionSheetCreateForm(groups=groups, initial={"group": group}) if can_post else None
    return render(
        request,
        "loans/collection_sheet_list.html",
        {
            "sheets": sheets[:200],
            "groups": groups,
            "group": group,
            "group_totals": group_totals(group) if group else None,
            "form": form,
            "can_post": can_post,
        },
    )


@require_POST
@role_required(*WARD_WORK)
def collection_sheet_create_view(request):
    groups = groups_for(request.user)
    form = CollectionSheetCreateForm(request.POST, groups=groups)
    if form.is_valid():
        try:
            sheet = collection_sheet_create(
                group=form.cleaned_data["group"], on=form.cleaned_data["collection_on"], actor=request.user
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            count = sheet.lines.count()
            messages.success(request, _("Collection sheet prepared: %(count)s households.") % {"count": count})
            return redirect("loans:collection_sheet_detail", pk=sheet.pk)
    return render(
        request,
        "loans/collection_sheet_list.html",
        {
            "sheets": collection_sheets_for(request.user).annotate(**SHEET_TOTALS)[:200],
            "groups": groups.order_by("code"),
            "form": form,
            "can_post": True,
        },
        status=400,
    )


@login_required
@require_GET
def collection_sheet_detail(request, pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    lines = _sheet_lines(sheet)
    can_post = has_role(request.user, *WARD_WORK)
    form = CollectionEntryForm(lines=lines) if sheet.is_draft and can_post else None
    return _render_sheet(request, sheet, lines, form, can_post)


def _render_sheet(request, sheet, lines, form, can_post, status=200):
    return render(
        request,
        "loans/collection_sheet_detail.html",
        {
            "sheet": sheet,
            "lines": lines,
            "rows": form.rows() if form else None,
            "form": form,
            "totals": _line_totals(lines),
            "group_totals": group_totals(sheet.group),
            "can_post": can_post,
        },
        status=status,
    )


@require_POST
@role_required(*WARD_WORK)
def collection_sheet_fill(request, pk):
    """One POST for the whole page: save the entered amounts, and post them if asked to."""
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    if not sheet.is_draft:
        messages.info(request, _("This sheet was already posted; nothing was posted twice."))
        return redirect("loans:collection_sheet_detail", pk=sheet.pk)
    lines = _sheet_lines(sheet)
    form = CollectionEntryForm(request.POST, lines=lines)
    if not form.is_valid():
        messages.error(request, _("Some amounts are not valid; they are marked below. Nothing was saved."))
        return _render_sheet(request, sheet, lines, form, True, status=400)
    try:
        collection_sheet_save(sheet=sheet, entries=form.entries(), actor=request.user)
        if request.POST.get("action") == "post":
            collection_sheet_post(sheet=sheet, actor=request.user)
            messages.success(request, _("The sheet is posted. Balances are updated."))
        else:
            messages.success(request, _("Amounts saved. The sheet is not posted yet."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("loans:collection_sheet_detail", pk=sheet.pk)


def _sheet_heading(sheet):
    group = sheet.group
    return {
        "issuer": group.branch.parent.name if group.branch.parent_id else "",
        "issuer_unit": group.branch.name,
    }


@login_required
@require_GET
def collection_sheet_print(request, pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    lines = _sheet_lines(sheet)
    return render(
        request,
        "loans/collection_sheet_print.html",
        {"sheet": sheet, "lines": lines, "totals": _line_totals(lines), **_sheet_heading(sheet)},
    )


@login_required
@require_GET
def collection_sheet_xlsx(request, pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    lines = _sheet_lines(sheet)
    totals = _line_totals(lines)
    headers = [
        _("No."), _("Customer code"), _("Head of household"), _("Loan numbers"), _("Outstanding"),
        _("Overdue interest due"), _("Current interest due"), _("Principal due"), _("Overdue interest collected"),
        _("Current interest collected"), _("Principal collected"), _("Savings deposit"), _("Savings withdrawal"),
        _("Savings balance"),
    ]
    rows = [
        [
            index, line.household.customer_code or "", line.household.head_name,
            ", ".join(item.loan.number for item in line.items.all()),
            sum(item.outstanding for item in line.items.all()), line.overdue_interest_due, line.current_interest_due,
            line.principal_due, line.overdue_interest_paid, line.current_interest_paid, line.principal_paid,
            line.savings_in, line.savings_out, line.savings_after,
        ]
        for index, line in enumerate(lines, start=1)
    ]
    total_row = [
        _("Total"), "", "", "", totals["outstanding"], totals["overdue_interest_due"], totals["current_interest_due"],
        totals["principal_due"], totals["overdue_interest_paid"], totals["current_interest_paid"],
        totals["principal_paid"], totals["savings_in"], totals["savings_out"], totals["savings_after"],
    ]
    heading = _sheet_heading(sheet)
    status = "" if not sheet.is_draft else _(" (draft, not posted)")
    return xlsx_response(
        f"13TD_{sheet.group.code}_{sheet.collection_on:%Y%m%d}.xlsx",
        title_lines=[
            heading["issuer"], heading["issuer_unit"],
            _("LIST OF INTEREST AND SAVINGS COLLECTED (13/TD)") + status,
            _("%(group)s – collection day %(date)s")
            % {"group": sheet.group, "date": f"{sheet.collection_on:%d/%m/%Y}"},
        ],
        headers=headers,
        rows=rows,
        total_row=total_row,
        sheet_title="13TD",
        amount_columns=range(4, 14),
    )


@login_required
@require_GET
def collection_line_detail(request, pk, line_pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    line = get_object_or_404(sheet.lines.select_related("household", "reversed_by").prefetch_related(_items_prefetch()),
                             pk=line_pk)
    postings = line.postings.select_related("loan", "reverses", "created_by").annotate(
        reversal_count=Count("reversed_by")
    ).order_by("pk")
    return render(
        request,
        "loans/collection_line_detail.html",
        {"sheet": sheet, "line": line, "postings": postings, "form": ReversalForm(),
         "can_post": has_role(request.user, *WARD_WORK)},
    )


@require_POST
@role_required(*WARD_WORK)
def collection_line_reverse_view(request, pk, line_pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    line = get_object_or_404(sheet.lines, pk=line_pk)
    form = ReversalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for the reversal."))
    else:
        try:
            collection_line_reverse(line=line, reason=form.cleaned_data["reason"], actor=request.user)
            messages.success(request, _("The line is reversed; the household's balances are restored."))
        except DomainError as error:
            messages.error(request, error.message)
    return redirect("loans:collection_line_detail", pk=sheet.pk, line_pk=line.pk)


@require_POST
@role_required(*WARD_WORK)
def posting_reverse_view(request, pk):
    posting = get_object_or_404(postings_for(request.user), pk=pk)
    form = ReversalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for the reversal."))
    else:
        try:
            posting_reverse(posting=posting, reason=form.cleaned_data["reason"], actor=request.user)
            messages.success(request, _("The posting is reversed."))
        except DomainError as error:
            messages.error(request, error.message)
    line = posting.collection_lines.first()
    if line is not None:
        return redirect("loans:collection_line_detail", pk=line.sheet_id, line_pk=line.pk)
    return redirect(reverse("loans:collection_sheet_list"))
