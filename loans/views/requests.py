"""Ward pages for loan requests: 01/TD, the group review meeting (10A/TD), list 03/TD, its certification and
submission to district."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from borrowers.models import Household
from borrowers.selectors import households_for
from loans.forms.requests import ApplicationForm, CertifyForm, MeetingForm, ReviewDecisionForm, WithdrawForm
from loans.models import LoanApplication, LoanList, LoanProgram
from loans.selectors.requests import application_search, applications_for, loan_lists_for, review_meetings_for
from loans.services import requests as requests_services
from loans.xlsx import xlsx_response
from organizations.access import ALL_ROLES, WARD_WORK, has_role, personal, role_required
from organizations.area import area_label, level_choices
from organizations.errors import DomainError
from organizations.forms import apply_domain_error, refuse_out_of_scope
from organizations.policy import allowed, may
from organizations.selectors.scope import groups_for

PAGE_SIZE = 25
Status = LoanApplication.Status


@require_safe
@role_required(*ALL_ROLES)
def application_list(request):
    applications = applications_for(request.user).select_related("group__branch__ward")
    query = request.GET.get("q", "").strip()
    if query:
        applications = application_search(applications, query=query, user=request.user)
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
        "statuses": level_choices(LoanApplication), "programs": LoanProgram.objects.all(), "query": params.urlencode(),
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
        "can_withdraw": may(request.user, "application.withdraw") and application.can_transition_to(Status.WITHDRAWN),
    })


@require_safe
@role_required(*ALL_ROLES)
def application_print(request, pk):
    """Form 01/TD on one A4 page, for the household to sign and the ward to certify."""
    application = get_object_or_404(
        applications_for(request.user).select_related(
            "household__ward", "household__neighbourhood", "group__branch__ward", "program"
        ),
        pk=pk,
    )
    return render(request, "loans/application_print.html", {"application": application,
                                                            "household": application.household})


@require_http_methods(["GET", "POST"])
@allowed("application.create")
def application_create(request, household_pk):
    household = get_object_or_404(households_for(request.user), pk=household_pk)
    form = ApplicationForm(request.POST or None, household=household)
    if request.method == "POST":
        refuse_out_of_scope(form)
        if form.is_valid():
            data = form.cleaned_data
            try:
                application = requests_services.application_create(
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
@allowed("application.withdraw")
def application_withdraw(request, pk):
    application = get_object_or_404(applications_for(request.user), pk=pk)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for withdrawing the request."))
    else:
        try:
            requests_services.application_withdraw(application=application, reason=form.cleaned_data["reason"],
                                          actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The request is withdrawn."))
    return redirect("loans:application_detail", pk=application.pk)


@require_http_methods(["GET", "POST"])
@allowed("review.record")
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
                requests_services.ReviewResult(
                    application=d.application, decision=d.cleaned_data["decision"],
                    amount=d.cleaned_data.get("amount"), reason=d.cleaned_data.get("reason", ""),
                )
                for d in decisions
            ]
            data = dict(form.cleaned_data)
            confirmed = data.pop("confirm_low_attendance")
            try:
                meeting = requests_services.application_review(group=group, results=results, actor=request.user,
                                                               attendance_confirmed=confirmed, **data)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _meeting_saved_message(meeting))
                return redirect("loans:meeting_detail", pk=meeting.pk)
    held_on = getattr(form, "cleaned_data", {}).get("held_on")
    quorum = requests_services.review_quorum(group=group, on=held_on or timezone.localdate())
    return render(request, "loans/meeting_form.html", {
        "group": group, "form": form, "decisions": decisions, "quorum": quorum,
        "ask_confirmation": bool(form.errors.get("confirm_low_attendance")) or form["confirm_low_attendance"].value(),
    })


def _meeting_saved_message(meeting):
    approved = meeting.applications.filter(amount_group_approved__isnull=False).count()
    rejected = meeting.applications.count() - approved
    text = _("The minutes of the review meeting are saved: %(approved)s request(s) approved, %(rejected)s rejected.") % {
        "approved": approved, "rejected": rejected,
    }
    if approved:
        text += " " + _("List 03/TD is ready: record the ward's certification, then send it to %(area)s.") % {
            "area": area_label()
        }
    return text


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
            [i, r.household.head_name, personal(r.household.citizen_id, request.user), r.program.code, r.amount_requested, r.term_months,
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
        "page": page, "status": status, "statuses": level_choices(LoanList),
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
    return render(request, "loans/list03_detail.html", {
        "loan_list": loan_list, "meeting": loan_list.meeting, "group": loan_list.group, "rows": rows,
        "total": sum(r.amount_group_approved for r in rows),
        "requested_total": sum(r.amount_requested for r in rows),
        "can_certify": may(request.user, "loan_list.certify") and loan_list.status == LoanList.Status.DRAFT,
        "can_submit": may(request.user, "loan_list.submit") and loan_list.status == LoanList.Status.CERTIFIED,
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
            [i, r.household.head_name, personal(r.household.citizen_id, request.user), r.household.address,
             str(Household.PolicyStatus(r.household.policy_status).label), r.program.code, r.amount_requested,
             r.amount_group_approved, r.term_months, r.purpose]
            for i, r in enumerate(rows, start=1)
        ],
        total_row=["Tổng cộng", f"{len(rows)} hộ", "", "", "", "", sum(r.amount_requested for r in rows),
                   sum(r.amount_group_approved for r in rows), "", ""],
        sheet_title="03-TD",
        amount_columns=(6, 7),
        # The form's own signature blocks, in Vietnamese like the rest of the bank's layout.
        signatures=[
            ("Tổ trưởng Tổ TK&VV", "(ký, ghi rõ họ tên)", group.leader.head_name if group.leader else ""),
            ("Hội đoàn thể phường", "(ký, ghi rõ họ tên)", ""),
            ("UBND phường", "(ký tên, đóng dấu)", loan_list.certified_signer),
        ],
    )


@require_http_methods(["GET", "POST"])
@allowed("loan_list.certify")
def list03_certify(request, pk):
    loan_list = get_object_or_404(loan_lists_for(request.user), pk=pk)
    if loan_list.status != LoanList.Status.DRAFT:
        messages.info(request, _("This list was already certified."))
        return redirect("loans:list03_detail", pk=loan_list.pk)
    form = CertifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            requests_services.loan_list_certify(loan_list=loan_list, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request, _("The ward's certification is recorded. You can now submit the list to %(area)s.")
                % {"area": area_label()}
            )
            return redirect("loans:list03_detail", pk=loan_list.pk)
    rows = _list_rows(loan_list)
    return render(request, "loans/list03_certify.html", {
        "form": form, "loan_list": loan_list, "rows": rows, "total": sum(r.amount_group_approved for r in rows),
    })


@require_POST
@allowed("loan_list.submit")
def list03_submit(request, pk):
    loan_list = get_object_or_404(loan_lists_for(request.user), pk=pk)
    if request.POST.get("confirm") != "1":
        # The send cannot be undone at the ward: the officer confirms it with the box beside the button.
        messages.error(request, _("Tick the box to confirm that you checked the list before sending it to %(area)s.")
                       % {"area": area_label()})
        return redirect("loans:list03_detail", pk=loan_list.pk)
    try:
        requests_services.loan_list_submit(loan_list=loan_list, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The list is submitted to %(area)s for approval.") % {"area": area_label()})
    return redirect("loans:list03_detail", pk=loan_list.pk)


"""District work on entrusted capital: allocations, the approval queue, 04/TD notices, disbursement, the overview."""
