"""Pages for a loan and its changes, loan-use checks (06/TD) and the monthly commission and fee statements."""

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loans.forms import GroupInspectionForm, LoanChangeDecisionForm, LoanChangeRequestForm, LoanUseCheckForm, MonthForm
from loans.models import LoanChange
from loans.selectors import (
    changes_for,
    commission_statement,
    fee_statement,
    loan_use_todo,
    loans_for,
    month_bounds,
    schedule_for,
)
from loans.services import (
    MAX_FREEZE_MONTHS,
    adjustable_instalments,
    extension_limit_months,
    extension_months_used,
    group_inspection_record,
    loan_change_decide,
    loan_change_request,
    loan_freeze_end,
    loan_use_check_record,
    unpaid_instalments,
)
from loans.xlsx import xlsx_response
from organizations.access import ALL_ROLES, DISTRICT_WORK, WARD_WORK, Role, has_role, role_required
from organizations.errors import DomainError
from organizations.selectors import branches_for, groups_for


def _form_error(form, error):
    form.add_error(error.field if error.field in form.fields else None, error.message)


@require_GET
@role_required(*ALL_ROLES)
def loan_detail(request, pk):
    loan = get_object_or_404(loans_for(request.user).select_related("household__branch", "group"), pk=pk)
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

