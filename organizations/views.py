"""Pages about the organization tree. The home page shows the user's portfolio by organization."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from loans.selectors import loans_for, portfolio_by_organization
from organizations.models import Organization


@login_required
def home(request):
    figures = portfolio_by_organization(loans=loans_for(request.user))
    labels = dict(Organization.Kind.choices)
    rows = [{"code": code, "name": labels.get(code, code), **values} for code, values in figures.items()]
    totals = {key: sum(row[key] for row in rows) for key in ("outstanding", "overdue", "households")}
    return render(request, "organizations/home.html", {"rows": rows, "totals": totals})
