"""District approval of requests and 03/TD lists, the approval queue and the 04/TD approval notice."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loans.calendar import add_working_days
from loans.forms.approvals import ApproveForm, ListDecisionForm, RejectForm
from loans.models import LoanApplication
from loans.selectors import approvals as approvals_selectors
from loans.selectors import requests as requests_selectors
from loans.services import approvals as approvals_services
from loans.views.common import _history_prefetch
from loans.xlsx import xlsx_response
from organizations.access import ALL_ROLES, DISTRICT_WORK, personal, role_required
from organizations.errors import DomainError
from organizations.policy import allowed

#: The bank approves a submitted 03/TD list within this many working days (DOMAIN.md).
APPROVAL_WORKING_DAYS = 3


@require_GET
@role_required(*DISTRICT_WORK)
def approval_queue(request):
    lists = list(approvals_selectors.approval_queue(request.user))
    today = timezone.localdate()
    groups = {}
    for loan_list in lists:
        # The bank decides within APPROVAL_WORKING_DAYS working days of the list reaching the district.
        loan_list.decide_by = add_working_days(timezone.localdate(loan_list.submitted_at), APPROVAL_WORKING_DAYS)
        loan_list.is_late = today > loan_list.decide_by
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
@allowed("application.decide")
def loan_list_review(request, pk):
    loan_list = get_object_or_404(requests_selectors.loan_lists_for(request.user), pk=pk)
    applications = list(_list_applications(loan_list))
    pending = [a for a in applications if a.status == LoanApplication.Status.SUBMITTED]
    form = ListDecisionForm(request.POST or None, applications=pending)
    if request.method == "POST" and form.is_valid():
        try:
            approvals_services.loan_list_approve(
                loan_list=loan_list, amounts=form.amounts, rejections=form.rejections, actor=request.user
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The decisions on the 03/TD list are recorded."))
            return redirect("loans:loan_list_review", pk=pk)
    return render(request, "loans/loan_list_review.html", {
        "loan_list": loan_list, "applications": applications, "form": form, "pending": pending,
        "capital": approvals_selectors.list_capital(loan_list, applications, year=timezone.localdate().year),
        "self_submitted": loan_list.submitted_by_id == request.user.pk,
    })


@require_POST
@allowed("application.decide")
def application_approve(request, pk):
    application = get_object_or_404(requests_selectors.applications_for(request.user), pk=pk)
    form = ApproveForm(request.POST)
    if form.is_valid():
        try:
            approvals_services.application_approve(application=application, amount=form.cleaned_data["amount"],
                                         actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The request of %(name)s is approved.") % {"name": application.household})
    else:
        messages.error(request, " ".join(form.errors["amount"]))
    return _back_to_list(application)


@require_POST
@allowed("application.decide")
def application_reject(request, pk):
    application = get_object_or_404(requests_selectors.applications_for(request.user), pk=pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            approvals_services.application_reject(application=application, reason=form.cleaned_data["reason"],
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
    loan_list = get_object_or_404(requests_selectors.loan_lists_for(request.user), pk=pk)
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
            [i, a.household.head_name, personal(a.household.citizen_id, request.user), a.program.code, a.amount_requested,
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
