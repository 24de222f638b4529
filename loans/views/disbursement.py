"""The district's disbursement day page."""

from datetime import datetime, time

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from loans.forms.disbursement import DisbursementDayForm
from loans.selectors import approvals
from loans.selectors import loans as loans_selectors
from loans.services import disbursement
from organizations.errors import DomainError
from organizations.forms import todays_units
from organizations.policy import allowed


@require_http_methods(["GET", "POST"])
@allowed("loan.disburse")
def disbursement_day(request):
    applications = approvals.awaiting_disbursement(request.user)
    ward = request.GET.get("ward", "")
    if ward.isdigit():
        applications = applications.filter(group__branch__ward=int(ward))
    form = DisbursementDayForm(request.POST or None, applications=applications)
    if request.method == "POST" and form.is_valid():
        try:
            loans = disbursement.loans_disburse(items=form.items, on=form.cleaned_data["on"], actor=request.user)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("%(count)s loan(s) disbursed.") % {"count": len(loans)})
            if len(loans) == 1:
                return redirect("loans:loan_detail", pk=loans[0].pk)
            return redirect(request.get_full_path())
    start_of_day = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    recent = (
        loans_selectors.loans_for(request.user)
        .filter(application__isnull=False, created_at__gte=start_of_day)
        .order_by("-created_at", "-pk")[:50]
    )
    return render(request, "loans/disbursement_day.html", {
        "form": form, "wards": todays_units(approvals.wards_for_queue(request.user)), "ward": ward, "recent": recent,
    })
