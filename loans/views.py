"""Ward pages for loan requests: 01/TD, the group review meeting (10A/TD), list 03/TD, its certification and
submission to district."""

from datetime import date, datetime, time, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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
    BankFileUploadForm,
    CapitalPlanForm,
    CertifyForm,
    CollectionEntryForm,
    CollectionSheetCreateForm,
    DisbursementDayForm,
    GroupInspectionForm,
    ListDecisionForm,
    LoanChangeDecisionForm,
    LoanChangeRequestForm,
    LoanUseCheckForm,
    MeetingForm,
    MonthForm,
    RejectForm,
    ReportScopeForm,
    ReversalForm,
    ReviewDecisionForm,
    WithdrawForm,
)
from loans.models import (
    ApplicationStatusChange,
    CapitalAllocation,
    CollectionItem,
    CollectionLine,
    ImportBatch,
    LoanApplication,
    LoanChange,
    LoanList,
    LoanProgram,
    ReconciliationItem,
)
from loans.money import format_vnd
from loans.resources import export_layout
from loans.selectors import (
    applications_for,
    bank_export_rows,
    changes_for,
    collection_sheets_for,
    commission_statement,
    fee_statement,
    group_households,
    group_totals,
    import_batches_for,
    label_rows,
    loan_lists_for,
    loan_use_todo,
    loans_for,
    month_bounds,
    portfolio_report,
    portfolio_totals,
    postings_for,
    review_meetings_for,
    schedule_for,
    user_can_import,
)
from loans.services import (
    MAX_FREEZE_MONTHS,
    adjustable_instalments,
    collection_line_reverse,
    collection_sheet_create,
    collection_sheet_post,
    collection_sheet_save,
    extension_limit_months,
    extension_months_used,
    group_inspection_record,
    import_confirm,
    import_recover_stale,
    import_upload,
    loan_change_decide,
    loan_change_request,
    loan_freeze_end,
    loan_use_check_record,
    posting_reverse,
    reconciliation_accept,
    unpaid_instalments,
)
from loans.xlsx import csv_response, xlsx_response
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
from organizations.selectors import branches_for, groups_for, wards_for

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


"""Pages for a loan and its changes, loan-use checks (06/TD) and the monthly commission and fee statements."""


def _form_error(form, error):
    form.add_error(error.field if error.field in form.fields else None, error.message)


@require_GET
@role_required(*ALL_ROLES)
def loan_detail(request, pk):
    loan = get_object_or_404(
        loans_for(request.user).select_related("household__branch", "group__branch__ward", "application", "created_by"),
        pk=pk,
    )
    unpaid = {i.pk for i in unpaid_instalments(loan)}
    instalments = list(loan.instalments.order_by("due_on", "seq"))
    for instalment in instalments:
        instalment.is_paid = instalment.pk not in unpaid
    changes = loan.changes.select_related("instalment", "requested_by", "decided_by").order_by("-requested_on", "-pk")
    pending = next((c for c in changes if c.is_pending), None)
    limit = extension_limit_months(loan)
    context = {
        "loan": loan,
        "instalments": instalments,
        "changes": changes,
        "pending": pending,
        "status_changes": loan.status_changes.select_related("actor"),
        "use_checks": loan.use_checks.select_related("checked_by"),
        "can_request": has_role(request.user, *WARD_WORK) and pending is None,
        "can_check": has_role(request.user, *WARD_WORK),
        "can_decide": has_role(request.user, *DISTRICT_WORK),
        "extension_limit": limit,
        "extension_left": max(0, limit - extension_months_used(loan)),
        "kinds": LoanChange.Kind,
        "today": timezone.localdate(),
        "decision_form": LoanChangeDecisionForm(),
        "schedule_total": sum(i.principal for i in instalments),
        "application": (
            LoanApplication.objects.prefetch_related(_history_prefetch()).get(pk=loan.application_id)
            if loan.application_id
            else None
        ),
        "statuses": LoanApplication.Status.choices,
    }
    return render(request, "loans/loan_detail.html", context)


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def loan_change_request_view(request, pk, kind):
    loan = get_object_or_404(loans_for(request.user), pk=pk)
    if kind not in LoanChange.Kind.values:
        raise Http404
    today = timezone.localdate()
    instalments = adjustable_instalments(loan, today) if kind == LoanChange.Kind.TERM_ADJUSTMENT else ()
    months_max = None
    if kind == LoanChange.Kind.EXTENSION:
        months_max = max(1, extension_limit_months(loan) - extension_months_used(loan))
    elif kind == LoanChange.Kind.FREEZE:
        months_max = MAX_FREEZE_MONTHS
    form = LoanChangeRequestForm(request.POST or None, kind=kind, instalments=instalments, months_max=months_max)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        instalment = None
        if "instalment" in data:
            instalment = loan.instalments.filter(pk=data["instalment"]).first()
        try:
            loan_change_request(
                loan=loan, kind=kind, reason=data["reason"], actor=request.user, on=today,
                instalment=instalment, new_due_on=data.get("new_due_on"), months=data.get("months"),
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("The request was sent to district staff for approval."))
            return redirect("loans:loan_detail", pk=loan.pk)
    context = {
        "loan": loan,
        "form": form,
        "kind": LoanChange.Kind(kind),
        "no_instalments": kind == LoanChange.Kind.TERM_ADJUSTMENT and not instalments,
        "extension_limit": extension_limit_months(loan),
        "extension_used": extension_months_used(loan),
    }
    return render(request, "loans/loan_change_form.html", context)


@require_GET
@role_required(*ALL_ROLES)
def loan_changes(request):
    number = (request.GET.get("number") or "").strip()
    if number:
        loan = loans_for(request.user).filter(number=number).first()
        if loan:
            return redirect("loans:loan_detail", pk=loan.pk)
        messages.warning(request, _("No loan with number %(number)s in your scope.") % {"number": number})
    changes = changes_for(request.user)
    pending = list(changes.filter(status=LoanChange.Status.REQUESTED).order_by("requested_on", "pk"))
    decided = list(changes.exclude(status=LoanChange.Status.REQUESTED).order_by("-decided_on", "-pk")[:50])
    context = {
        "pending": pending,
        "decided": decided,
        "number": number,
        "can_decide": has_role(request.user, *DISTRICT_WORK),
        "decision_form": LoanChangeDecisionForm(),
    }
    return render(request, "loans/loan_changes.html", context)


@require_POST
@role_required(*DISTRICT_WORK)
def loan_change_decide_view(request, pk):
    change = get_object_or_404(changes_for(request.user), pk=pk)
    form = LoanChangeDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or reject."))
    else:
        approve = form.cleaned_data["decision"] == "approve"
        try:
            loan_change_decide(change=change, approve=approve, actor=request.user, note=form.cleaned_data["note"])
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if approve:
                messages.success(request, _("Approved: %(change)s for loan %(loan)s.")
                                 % {"change": change.get_kind_display(), "loan": change.loan.number})
            else:
                messages.success(request, _("Rejected: %(change)s for loan %(loan)s.")
                                 % {"change": change.get_kind_display(), "loan": change.loan.number})
    return redirect(_next_url(request, reverse("loans:loan_detail", args=[change.loan_id])))


@require_POST
@role_required(*DISTRICT_WORK)
def loan_freeze_end_view(request, pk):
    change = get_object_or_404(changes_for(request.user), pk=pk)
    try:
        loan_freeze_end(change=change, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The freeze was lifted; the loan is active again."))
    return redirect("loans:loan_detail", pk=change.loan_id)


def _next_url(request, default):
    target = request.POST.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


# Loan-use checks (06/TD) --------------------------------------------------------------------------------------


@require_GET
@role_required(*ALL_ROLES)
def loan_use_checks(request):
    branches = list(branches_for(request.user).order_by("ward__code", "kind"))
    if not branches:
        raise Http404
    chosen = branches[0]
    if request.GET.get("branch"):
        chosen = next((b for b in branches if str(b.pk) == request.GET["branch"]), None)
        if chosen is None:
            raise Http404
    today = timezone.localdate()
    todo = loan_use_todo(branch_ids=[chosen.pk], today=today)
    overdue = sum(1 for items in todo.values() for item in items if item.is_overdue)
    context = {
        "branches": branches,
        "branch": chosen,
        "todo": todo,
        "today": today,
        "overdue_count": overdue,
        "can_record": has_role(request.user, *WARD_WORK),
    }
    return render(request, "loans/loan_use_checks.html", context)


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def loan_use_check_record_view(request, pk):
    loan = get_object_or_404(loans_for(request.user), pk=pk)
    form = LoanUseCheckForm(request.POST or None, initial={"checked_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            loan_use_check_record(loan=loan, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Loan-use check recorded for loan %(loan)s.") % {"loan": loan.number})
            return redirect(f"{reverse('loans:loan_use_checks')}?branch={loan.household.branch_id}")
    return render(request, "loans/loan_use_check_form.html", {"loan": loan, "form": form})


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def group_inspection_record_view(request, pk):
    group = get_object_or_404(groups_for(request.user), pk=pk)
    form = GroupInspectionForm(request.POST or None, initial={"inspected_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            group_inspection_record(group=group, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Inspection of group %(group)s recorded.") % {"group": group})
            return redirect(f"{reverse('loans:loan_use_checks')}?branch={group.branch_id}")
    return render(request, "loans/group_inspection_form.html", {"group": group, "form": form})


# Commission and entrustment-fee statements --------------------------------------------------------------------


@require_GET
@role_required(*ALL_ROLES)
def fee_statements(request):
    form = MonthForm(request.GET or None)
    month = None
    if form.is_bound and form.is_valid():
        month = form.cleaned_data["month"]
    if month is None:
        month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
        if not form.is_bound or form.is_valid():
            form = MonthForm(initial={"month": month})
    first, last = month_bounds(month)
    schedule = schedule_for(month)
    groups_lines, unit_lines, district_lines = [], [], []
    if schedule is not None:
        groups_lines = commission_statement(
            month=month, groups=groups_for(request.user).exclude(leader__isnull=True), schedule=schedule
        )
        unit_lines, district_lines = fee_statement(
            month=month, branches=branches_for(request.user), schedule=schedule,
            with_districts=not has_role(request.user, Role.WARD_OFFICER),
        )
    table = request.GET.get("download")
    if table in ("groups", "units") and schedule is not None:
        return _statement_xlsx(table, month, schedule, groups_lines, unit_lines + district_lines)
    context = {
        "form": form,
        "month": month,
        "first": first,
        "last": last,
        "schedule": schedule,
        "group_lines": groups_lines,
        "unit_lines": unit_lines,
        "district_lines": district_lines,
        "group_total": _total(groups_lines),
        "unit_total": _total(unit_lines),
    }
    return render(request, "loans/fee_statements.html", context)


def _total(lines):
    return {
        key: sum(getattr(line, key) for line in lines)
        for key in ("outstanding", "overdue", "interest", "fee_on_outstanding", "fee_on_interest", "gross",
                    "reduction", "net")
    }


def _statement_xlsx(table, month, schedule, group_lines, unit_lines):
    title = [
        "NGÂN HÀNG CHÍNH SÁCH XÃ HỘI",
        _("Commission statement of group leaders") if table == "groups" else _("Entrustment fee statement"),
        _("Month %(month)s") % {"month": f"{month:%m/%Y}"},
        _("Rates: %(name)s") % {"name": schedule.name},
    ]
    if table == "groups":
        headers = [_("Group code"), _("Group"), _("Leader"), _("Outstanding"), _("Overdue"), _("Overdue ratio (%)"),
                   _("Interest collected"), _("Commission"), _("Reduction (%)"), _("Reduction"), _("Payable")]
        rows = [[ln.code, ln.name, ln.extra, ln.outstanding, ln.overdue, ln.ratio, ln.interest, ln.gross,
                 ln.reduction_percent, ln.reduction, ln.net] for ln in group_lines]
        totals = _total(group_lines)
        total_row = [_("Total"), "", "", totals["outstanding"], totals["overdue"], "", totals["interest"],
                     totals["gross"], "", totals["reduction"], totals["net"]]
        amounts = (3, 4, 6, 7, 9, 10)
    else:
        headers = [_("Unit"), _("Level"), _("Organization"), _("Outstanding"), _("Overdue"), _("Overdue ratio (%)"),
                   _("Interest collected"), _("Fee on outstanding"), _("Fee on interest"), _("Reduction (%)"),
                   _("Reduction"), _("Payable")]
        level = {"ward": _("Ward branch"), "district": _("District level")}
        rows = [[ln.name, level[ln.level], ln.extra, ln.outstanding, ln.overdue, ln.ratio, ln.interest,
                 ln.fee_on_outstanding, ln.fee_on_interest, ln.reduction_percent, ln.reduction, ln.net]
                for ln in unit_lines]
        total_row = None
        amounts = (3, 4, 6, 7, 8, 10, 11)
    name = "hoa-hong-to-truong" if table == "groups" else "phi-uy-thac"
    return xlsx_response(
        f"{name}-{month:%m-%Y}.xlsx", title_lines=title, headers=headers, rows=rows, total_row=total_row,
        sheet_title=f"{month:%m-%Y}", amount_columns=amounts,
    )


"""Pages of the loans app: importing and exporting the bank's spreadsheets."""


def import_permission_required(view):
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not user_can_import(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@import_permission_required
@require_http_methods(["GET", "POST"])
def bank_import_list(request):
    form = BankFileUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = import_upload(
                kind=form.cleaned_data["kind"], file_name=upload.name, content=upload.read(), actor=request.user
            )
        except DomainError as error:
            form.add_error("file", str(error))
        else:
            messages.info(request, _("The file is stored; it is being checked."))
            return redirect("loans:bank_import_detail", pk=batch.pk)
    batches = [
        import_recover_stale(batch=batch) for batch in import_batches_for(request.user).select_related("created_by")[:30]
    ]
    return render(request, "loans/bank_import_list.html", {"form": form, "batches": batches})


@import_permission_required
@require_GET
def bank_import_detail(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    batch = import_recover_stale(batch=batch)
    differences = households = None
    if batch.status == ImportBatch.Status.DONE:
        differences = ReconciliationItem.objects.filter(batch=batch).select_related("loan", "household", "accepted_by")[
            :500
        ]
        households = Household.objects.filter(import_batch=batch).select_related("ward", "branch").order_by("pk")[:100]
    written = [(WRITTEN_LABELS.get(key, key), value) for key, value in batch.summary.get("written", {}).items()]
    return render(
        request,
        "loans/bank_import_detail.html",
        {
            "batch": batch,
            "differences": differences,
            "households": households,
            "errors": batch.errors[:300],
            "written": written,
        },
    )


WRITTEN_LABELS = {
    "households": gettext_lazy("households created"),
    "loans": gettext_lazy("loans created"),
    "postings": gettext_lazy("postings written"),
    "groups_created": gettext_lazy("groups created"),
    "differences": gettext_lazy("differences with the bank"),
    "grades": gettext_lazy("group grades recorded"),
}


@import_permission_required
@require_GET
def bank_import_progress(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    batch = import_recover_stale(batch=batch)
    response = render(request, "loans/_bank_import_progress.html", {"batch": batch})
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.RUNNING):
        response["HX-Refresh"] = "true"  # the job is over: show the whole result page
    return response


@import_permission_required
@require_POST
def bank_import_confirm(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    try:
        import_confirm(batch=batch, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.info(request, _("The import has started."))
    return redirect("loans:bank_import_detail", pk=batch.pk)


@import_permission_required
@require_POST
def bank_import_accept(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    ids = [value for value in request.POST.getlist("item") if value.isdigit()]
    try:
        items = reconciliation_accept(batch=batch, item_ids=ids, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("The bank's figures were accepted for %(count)s difference(s).") % {"count": len(items)}
        )
    return redirect("loans:bank_import_detail", pk=batch.pk)


@import_permission_required
@require_GET
def bank_import_errors(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    rows = [[e["row"], e["column"], e["value"], e["message"]] for e in batch.errors]
    return xlsx_response(
        f"loi-nhap-{batch.pk}.xlsx",
        title_lines=[_("Errors in %(file)s") % {"file": batch.file_name}, _("Nothing from this file was imported.")],
        headers=[_("Row"), _("Column"), _("Value"), _("Reason")],
        rows=rows,
        sheet_title="Errors",
    )


EXPORT_KINDS = ("loans", "transactions", "groups", "households")


@role_required(*ALL_ROLES)
@require_GET
def bank_export_page(request):
    return render(request, "loans/bank_export.html", {"kinds": EXPORT_KINDS})


@role_required(*ALL_ROLES)
@require_GET
def bank_export(request, kind, fmt):
    if kind not in EXPORT_KINDS or fmt not in ("xlsx", "csv"):
        raise Http404
    layout = export_layout(kind, bank_export_rows(kind, request.user), title_date=timezone.localdate())
    name = f"{kind}-{timezone.localdate():%Y%m%d}.{fmt}"
    if fmt == "csv":
        rows = layout["rows"] + ([layout["total_row"]] if layout["total_row"] else [])
        return csv_response(name, headers=layout["headers"], rows=rows)
    return xlsx_response(name, **layout)


"""The bank's report layouts (01.1/BCTD, 01.2/BCTD, BC0438, LEN_31) and the ward and group drill-down pages."""


# Column kinds: text (from a row's label), money, count, ratio.
WARD = ("ward_code", gettext_lazy("Ward code"), "text")
WARD_NAME = ("ward_name", gettext_lazy("Ward"), "text")
GROUPS = ("groups", gettext_lazy("Number of groups"), "count")
HOUSEHOLDS = ("households", gettext_lazy("Households with outstanding loans"), "count")
OUTSTANDING = ("outstanding", gettext_lazy("Outstanding"), "money")
OVERDUE = ("overdue", gettext_lazy("Overdue"), "money")
RATIO = ("overdue_ratio", gettext_lazy("Overdue ratio (%)"), "ratio")
FROZEN = ("frozen", gettext_lazy("Frozen balance"), "money")
ARREARS = ("interest_arrears", gettext_lazy("Interest arrears"), "money")
SAVINGS = ("savings", gettext_lazy("Savings"), "money")
FLOWS = (
    ("lent_month", gettext_lazy("Lent this month"), "money"),
    ("lent_year", gettext_lazy("Lent this year"), "money"),
    ("collected_month", gettext_lazy("Collected this month"), "money"),
    ("collected_year", gettext_lazy("Collected this year"), "money"),
)

REPORTS = {
    "bctd_01_1": {
        "code": "01.1/BCTD",
        "title": gettext_lazy("Entrusted lending by ward"),
        "by": ("ward",),
        "columns": (WARD, WARD_NAME, GROUPS, HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO, FROZEN, ARREARS, SAVINGS, *FLOWS),
    },
    "bctd_01_2": {
        "code": "01.2/BCTD",
        "title": gettext_lazy("Entrusted lending by program"),
        "by": ("program",),
        "columns": (
            ("program_code", gettext_lazy("Program code"), "text"),
            ("program_name", gettext_lazy("Lending program"), "text"),
            ("loans", gettext_lazy("Number of loans"), "count"),
            HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO, FROZEN, ARREARS, *FLOWS,
        ),
    },
    "bc0438": {
        "code": "BC0438",
        "title": gettext_lazy("Entrusted lending by ward and organization, with group grades"),
        "by": ("ward", "kind"),
        "columns": (
            WARD, WARD_NAME,
            ("kind", gettext_lazy("Organization code"), "text"),
            ("kind_name", gettext_lazy("Organization"), "text"),
            GROUPS, HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO,
            ("good", gettext_lazy("Good groups"), "count"),
            ("fair", gettext_lazy("Fair groups"), "count"),
            ("average", gettext_lazy("Average groups"), "count"),
            ("weak", gettext_lazy("Weak groups"), "count"),
        ),
    },
    "len_31": {
        "code": "LEN_31",
        "title": gettext_lazy("Outstanding by group leader"),
        "by": ("group",),
        # One row per group: drawn per ward, like the bank's own LEN_31.
        "per_ward": True,
        "columns": (
            WARD_NAME,
            ("group_code", gettext_lazy("Group code"), "text"),
            ("group_name", gettext_lazy("Group name"), "text"),
            ("leader_name", gettext_lazy("Group leader"), "text"),
            ("loans", gettext_lazy("Number of loans"), "count"),
            HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO, FROZEN, ARREARS, SAVINGS,
            ("collected_month", gettext_lazy("Collected this month"), "money"),
        ),
    },
}


def _texts(row):
    """The text cells of a row, from its labelled dimensions."""
    ward, program, group = row.get("ward_obj"), row.get("program_obj"), row.get("group_obj")
    if group is not None:
        ward = group.branch.ward
    return {
        "ward_code": ward.code if ward else "",
        "ward_name": ward.name if ward else "",
        "program_code": program.code if program else "",
        "program_name": program.name if program else "",
        "kind": row.get("kind") or "",
        "kind_name": str(row.get("kind_name") or ""),
        "group_code": group.code if group else "",
        "group_name": group.name if group else "",
        "leader_name": group.leader.head_name if group and group.leader else "",
    }


def _cells(row, columns):
    texts = _texts(row)
    return [texts[name] if kind == "text" else row.get(name) for name, _label, kind in columns]


def _scope_context(request):
    form = ReportScopeForm(request.GET or None, user=request.user)
    on, organization, ward = form.scope()
    return form, on, organization, ward


def _issuer(user):
    profile = profile_of(user)
    organization = profile.organization if profile else None
    return (organization.area.name if organization else ""), (organization.name if organization else "")


@require_GET
@role_required(*ALL_ROLES)
def report(request, layout):
    spec = REPORTS.get(layout)
    if spec is None:
        raise Http404
    form, on, organization, ward = _scope_context(request)
    if spec.get("per_ward") and ward is None:
        first = wards_for(request.user).first()
        ward = first.pk if first else None
    rows = label_rows(
        portfolio_report(user=request.user, on=on, by=spec["by"], organization=organization, ward=ward), spec["by"]
    )
    total = portfolio_totals(user=request.user, on=on, organization=organization, ward=ward)
    columns = spec["columns"]
    text_columns = sum(1 for _name, _label, kind in columns if kind == "text")
    if request.GET.get("format") == "xlsx":
        return _report_xlsx(request, spec, rows, total, on)
    issuer, issuer_unit = _issuer(request.user)
    lines = _html_rows(rows, columns, on)
    return render(
        request,
        "loans/report.html",
        {
            "ward": wards_for(request.user).filter(pk=ward).first() if ward else None,
            "spec": spec,
            "layout": layout,
            "reports": REPORTS,
            "form": form,
            "on": on,
            "columns": columns,
            "text_columns": text_columns,
            "rows": lines,
            "tbody": _tbody(lines),
            "total_cells": _html_rows([total], columns, on)[0]["cells"][text_columns:],
            "issuer": issuer,
            "issuer_unit": issuer_unit,
        },
    )


def _display(value, kind):
    """A cell as the page shows it; formatted here because a template include per cell is slow on big reports."""
    if kind == "text":
        return value
    if value is None:
        return ""
    if kind == "ratio":
        return f"{value:.2f}".replace(".", ",") + " %"
    return format_vnd(value, symbol=False)


def _html_rows(rows, columns, on):
    """Each row's cells (text, alignment, drill-down link) and its figures."""
    day = on.strftime("%d/%m/%Y")
    lines = []
    for row in rows:
        cells = []
        for (name, _label, kind), value in zip(columns, _cells(row, columns), strict=True):
            href = None
            if name == "ward_name" and row.get("ward"):
                href = reverse("loans:report_ward", args=[row["ward"]]) + f"?on={day}"
            elif name == "group_code" and row.get("group"):
                href = reverse("loans:report_group", args=[row["group"]]) + f"?on={day}"
            cells.append({"text": _display(value, kind), "end": kind != "text", "href": href, "name": name})
        lines.append({"cells": cells, "row": row})
    return lines


def _tbody(lines):
    """The table body as HTML, built here: a national report has thousands of rows and template loops over tens of
    thousands of cells take seconds."""
    html = []
    for number, line in enumerate(lines, start=1):
        html.append(f'<tr><td class="text-center">{number}</td>')
        for cell in line["cells"]:
            text = escape(cell["text"])
            if cell["href"]:
                text = f'<a href="{escape(cell["href"])}">{text}</a>'
            html.append(f'<td class="text-end">{text}</td>' if cell["end"] else f"<td>{text}</td>")
        html.append("</tr>")
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped


def _report_xlsx(request, spec, rows, total, on):
    """The bank's layout in Vietnamese whatever the interface language: title block, headings, rows, Tổng cộng."""
    columns = spec["columns"]
    with translation.override("vi"):
        issuer, issuer_unit = _issuer(request.user)
        headers = [str(_("No.")), *(str(label) for _name, label, _kind in columns)]
        data = [[index, *_xlsx_cells(_cells(row, columns), columns)] for index, row in enumerate(rows, start=1)]
        total_cells = _xlsx_cells(_cells(total, columns), columns)
        text_columns = sum(1 for _name, _label, kind in columns if kind == "text")
        total_row = [str(_("Total")), *([""] * text_columns), *total_cells[text_columns:]]
        title_lines = [
            issuer,
            issuer_unit,
            f"{spec['code']} – {spec['title']}",
            str(_("As of %(date)s") % {"date": date_format(on, "d/m/Y")}),
            str(_("Amounts in đồng")),
        ]
    amount_columns = [index + 1 for index, (_n, _l, kind) in enumerate(columns) if kind == "money"]
    filename = f"{spec['code'].replace('/', '_').replace('.', '_')}_{on:%Y%m%d}.xlsx"
    return xlsx_response(
        filename,
        title_lines=[line for line in title_lines if line],
        headers=headers,
        rows=data,
        total_row=total_row,
        sheet_title=spec["code"].replace("/", "-"),
        amount_columns=amount_columns,
    )


def _xlsx_cells(cells, columns):
    # Ratios go out as text "1,25" like the bank's own files, so no float is ever made.
    return [
        (str(value).replace(".", ",") if value is not None else "") if kind == "ratio" else value
        for value, (_name, _label, kind) in zip(cells, columns, strict=True)
    ]


@require_GET
@role_required(*ALL_ROLES)
def report_ward(request, pk):
    """Drill-down: one ward's groups in the user's scope, with their balances."""
    ward = get_object_or_404(wards_for(request.user), pk=pk)
    form, on, organization, _ward = _scope_context(request)
    by_kind = label_rows(
        portfolio_report(user=request.user, on=on, by=("kind",), organization=organization, ward=ward.pk), ("kind",)
    )
    groups = label_rows(
        portfolio_report(user=request.user, on=on, by=("group",), organization=organization, ward=ward.pk), ("group",)
    )
    total = portfolio_totals(user=request.user, on=on, organization=organization, ward=ward.pk)
    return render(
        request,
        "loans/report_ward.html",
        {"ward": ward, "form": form, "on": on, "by_kind": by_kind, "groups": groups, "total": total},
    )


@require_GET
@role_required(*ALL_ROLES)
def report_group(request, pk):
    """Drill-down: one group's households with their loans' balances and savings."""
    group = get_object_or_404(groups_for(request.user).select_related("leader", "deputy", "neighbourhood"), pk=pk)
    form, on, _organization, _ward = _scope_context(request)
    households = group_households(group=group, on=on)
    total = {
        name: sum(row[name] for row in households)
        for name in ("loans", "outstanding", "overdue", "frozen", "interest_arrears", "savings")
    }
    total["households"] = sum(1 for row in households if row["outstanding"] > 0)
    return render(
        request,
        "loans/report_group.html",
        {"group": group, "form": form, "on": on, "households": households, "total": total},
    )
