"""The home page: the dashboard of the user's scope."""


from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from loans.reports.forms import ReportScopeForm
from loans.reports.selectors import label_rows, overdue_ratio, portfolio_report, portfolio_totals, portfolio_trend
from organizations.access import DISTRICT_WORK, has_role
from organizations.schedule import day_close_warning


def _chart(rows, label):
    # The overdue ratio (Decimal percent, null without outstanding) goes on its own axis: 0,1 % must stay visible.
    return {
        "labels": [label(row) for row in rows],
        "outstanding": [row["outstanding"] for row in rows],
        "overdue": [row["overdue"] for row in rows],
        "overdue_ratio": [overdue_ratio(row["overdue"], row["outstanding"]) for row in rows],
    }


def _trend_rows(trend):
    """The 12-month trend summed over organizations: one outstanding total and one overdue ratio per month end."""
    days = trend["days"]
    rows = []
    for index, day in enumerate(days):
        outstanding = sum(series["outstanding"][index] for series in trend["series"])
        overdue = sum(series["overdue"][index] for series in trend["series"])
        rows.append({
            "label": f"{day:%d/%m/%Y}" if index == len(days) - 1 else f"{day:%m/%Y}",
            "outstanding": outstanding,
            "overdue": overdue,
            "overdue_ratio": overdue_ratio(overdue, outstanding),
        })
    return rows


@require_GET
@login_required
def home(request):
    """Dashboard: figures, breakdowns by organization, ward and program, and the 12-month trend, for one date."""
    form = ReportScopeForm(request.GET or None, user=request.user)
    on, organization, ward = form.scope()
    scope = {"user": request.user, "on": on, "organization": organization, "ward": ward,
             "today_wards": form.mapped_to_today, "moved": form.offers_today_wards}
    by_kind = label_rows(portfolio_report(by=("kind",), **scope), ("kind",))
    totals = portfolio_totals(**scope, by_kind=by_kind)
    by_ward = label_rows(portfolio_report(by=("ward",), **scope), ("ward",))
    by_program = label_rows(portfolio_report(by=("program",), **scope), ("program",))
    trend = portfolio_trend(user=request.user, today=on, organization=organization, ward=ward, current=by_kind)
    trend_rows = _trend_rows(trend)
    chart_data = {
        "kinds": _chart(by_kind, lambda row: str(row["kind_name"])),
        "wards": _chart(by_ward, lambda row: row["ward_obj"].name if row["ward_obj"] else "?"),
        "programs": _chart(by_program, lambda row: row["program_obj"].code if row["program_obj"] else "?"),
        "trend": _chart(trend_rows, lambda row: row["label"]),
    }
    return render(
        request,
        "organizations/home.html",
        {
            "form": form,
            "on": on,
            "totals": totals,
            "by_kind": by_kind,
            "by_ward": by_ward,
            "by_program": by_program,
            "chart_data": chart_data,
            "trend_rows": trend_rows,
            "query": request.GET.urlencode(),
            # Admins and district staff answer for the day close: they are told when it is late.
            "close_warning": day_close_warning() if has_role(request.user, *DISTRICT_WORK) else None,
        },
    )
