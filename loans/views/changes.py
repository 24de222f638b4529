"""Loan changes: 08/TD term adjustments, extensions and freezes, their decision and the end of a freeze."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loans.forms.changes import LoanChangeDecisionForm, LoanChangeRequestForm
from loans.models import LoanChange
from loans.selectors.changes import changes_for
from loans.selectors.loans import loans_for
from loans.services.changes import (
    adjustable_instalments,
    extension_limit_months,
    extension_months_used,
    freeze_bounds,
    loan_change_decide,
    loan_change_request,
    loan_freeze_end,
)
from organizations.access import ALL_ROLES, role_required
from organizations.area import area_label
from organizations.errors import DomainError
from organizations.forms import apply_domain_error
from organizations.policy import allowed, may


@require_http_methods(["GET", "POST"])
@allowed("loan_change.request")
def loan_change_request_view(request, pk, kind):
    loan = get_object_or_404(loans_for(request.user), pk=pk)
    if kind not in LoanChange.Kind.values:
        raise Http404
    today = timezone.localdate()
    instalments = adjustable_instalments(loan, today) if kind == LoanChange.Kind.TERM_ADJUSTMENT else ()
    months_min, months_max = 1, None
    if kind == LoanChange.Kind.EXTENSION:
        months_max = max(1, extension_limit_months(loan) - extension_months_used(loan))
    elif kind == LoanChange.Kind.FREEZE:
        months_min, months_max = freeze_bounds(loan)
    form = LoanChangeRequestForm(request.POST or None, kind=kind, instalments=instalments, months_max=months_max,
                                 months_min=months_min)
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
            apply_domain_error(form, error)
        else:
            messages.success(
                request, _("The request was sent to staff at %(area)s for approval.") % {"area": area_label()}
            )
            return redirect("loans:loan_detail", pk=loan.pk)
    context = {
        "loan": loan,
        "form": form,
        "kind": LoanChange.Kind(kind),
        "no_instalments": kind == LoanChange.Kind.TERM_ADJUSTMENT and not instalments,
        "extension_limit": extension_limit_months(loan),
        "extension_used": extension_months_used(loan),
        "notice_days": loan.program.term_adjustment_notice_days,
        "freeze_min": loan.program.min_freeze_months,
        "freeze_max": loan.program.max_freeze_months,
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
        "can_decide": may(request.user, "loan_change.decide"),
        "decision_form": LoanChangeDecisionForm(),
    }
    return render(request, "loans/loan_changes.html", context)


@require_POST
@allowed("loan_change.decide")
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
@allowed("freeze.end")
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
