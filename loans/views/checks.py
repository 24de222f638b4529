"""Loan-use checks (06/TD) and group inspections (16/TD)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from loans.forms.checks import GroupInspectionForm, LoanUseCheckForm
from loans.selectors.checks import loan_use_todo
from loans.selectors.loans import loans_for
from loans.services.checks import group_inspection_record, loan_use_check_record
from organizations.access import ALL_ROLES, role_required
from organizations.errors import DomainError
from organizations.forms import apply_domain_error, todays_units
from organizations.policy import allowed, may
from organizations.selectors.scope import branches_for, groups_for


@require_GET
@role_required(*ALL_ROLES)
def loan_use_checks(request):
    # Loans follow their groups into today's branches: the branches merged away have nothing left to check.
    branches = todays_units(branches_for(request.user).order_by("ward__code", "kind"))
    if not branches:
        raise Http404
    chosen = branches[0][0]
    if request.GET.get("branch"):
        chosen = next((b for b, _label in branches if str(b.pk) == request.GET["branch"]), None)
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
        "can_record": may(request.user, "loan_use_check.record"),
    }
    return render(request, "loans/loan_use_checks.html", context)


@require_http_methods(["GET", "POST"])
@allowed("loan_use_check.record")
def loan_use_check_record_view(request, pk):
    loan = get_object_or_404(loans_for(request.user), pk=pk)
    form = LoanUseCheckForm(request.POST or None, initial={"checked_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            loan_use_check_record(loan=loan, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Loan-use check recorded for loan %(loan)s.") % {"loan": loan.number})
            return redirect(f"{reverse('loans:loan_use_checks')}?branch={loan.household.branch_id}")
    return render(request, "loans/loan_use_check_form.html", {"loan": loan, "form": form})


@require_http_methods(["GET", "POST"])
@allowed("group_inspection.record")
def group_inspection_record_view(request, pk):
    group = get_object_or_404(groups_for(request.user), pk=pk)
    form = GroupInspectionForm(request.POST or None, initial={"inspected_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            group_inspection_record(group=group, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Inspection of group %(group)s recorded.") % {"group": group})
            return redirect(f"{reverse('loans:loan_use_checks')}?branch={group.branch_id}")
    return render(request, "loans/group_inspection_form.html", {"group": group, "form": form})
