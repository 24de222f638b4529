"""The district overview page."""

from datetime import date

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from loans.models import LoanList
from loans.selectors import approvals, capital
from loans.selectors import loans as loans_selectors
from loans.selectors import requests as requests_selectors
from loans.views.common import _year
from organizations.access import SUPERVISION_WORK, role_required


@require_GET
@role_required(*SUPERVISION_WORK)
def district_overview(request):
    today = timezone.localdate()
    year = _year(request)
    allocations = list(capital.allocation_use(request.user, year))
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
        "requests": requests_selectors.requests_by_status(request.user),
        "waiting_lists": approvals.approval_queue(request.user).count(),
        "this_month": loans_selectors.disbursed_between(request.user, today.replace(day=1), today),
        "this_year": loans_selectors.disbursed_between(request.user, date(today.year, 1, 1), today),
        "today": today,
        "LoanList": LoanList,
    })
