"""The home page: the dashboard of the user's scope."""


from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from loans.reports.forms import ReportScopeForm
from loans.reports.selectors import (
    label_rows,
    overdue_ratio,
    portfolio_breakdowns,
    portfolio_report,
    portfolio_trend,
    ward_trend,
)
from loans.reports.tables import WardTable, query_with
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


#: The 12-month trend under today's wards, or each month under the wards of that month (before a merger: the old).
TREND_WARDS = ("today", "month")


@require_GET
@login_required
def home(request):
    """Dashboard: figures, breakdowns by organization, ward and program, and the 12-month trend, for one date."""
    form = ReportScopeForm(request.GET or None, user=request.user)
    on, organization, ward = form.scope()
    scope = {"user": request.user, "on": on, "organization": organization, "ward": ward,
             "today_wards": form.mapped_to_today, "moved": form.offers_today_wards}
    trend_wards = request.GET.get("trend_wards") if request.GET.get("trend_wards") in TREND_WARDS else "today"
    per_month = trend_wards == "month"
    # The figures are read once for the totals and the three breakdowns.
    reports = portfolio_breakdowns(bys=[(), ("kind",), ("ward",), ("program",)], **scope)
    totals = reports[()][0]
    by_kind = label_rows(reports[("kind",)], ("kind",))
    by_ward = label_rows(reports[("ward",)], ("ward",))
    by_program = label_rows(reports[("program",)], ("program",))
    # The trend's last point is the date asked for, under the wards the trend uses: today's, or that date's own.
    # The rows above already are, unless the scope form put them under the other.
    trend_scope = {**scope, "today_wards": not per_month}
    same_wards = not form.offers_today_wards or form.mapped_to_today == (not per_month)
    trend = portfolio_trend(
        user=request.user, today=on, organization=organization, ward=ward, today_wards=not per_month,
        per_month=per_month, current=by_kind if same_wards or not ward else None,
    )
    trend_rows = _trend_rows(trend)
    current_by_ward = by_ward if same_wards else portfolio_report(by=("ward",), **trend_scope)
    wards_trend = ward_trend(user=request.user, today=on, current=current_by_ward, organization=organization,
                             ward=ward, per_month=per_month)
    ward_table = WardTable(by_ward, request.GET, prefix="ward", anchor="#by-ward")
    trend_table = WardTable(wards_trend["rows"], request.GET, prefix="trend", columns=(("name", _("Ward"), False),),
                            anchor="#trend-by-ward")
    chart_data = {
        "kinds": _chart(by_kind, lambda row: str(row["kind_name"])),
        # The chart shows the table's page: 168 bars would not read.
        "wards": _chart(ward_table.rows, lambda row: row["ward_obj"].name if row["ward_obj"] else "?"),
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
            "ward_table": ward_table,
            "by_program": by_program,
            "chart_data": chart_data,
            "trend_rows": trend_rows,
            "trend_wards": trend_wards,
            "trend_links": [
                (choice, label, f"?{query_with(request.GET, trend_wards=None if choice == 'today' else choice)}#trend")
                for choice, label in ((
                    "today", _("Under today's wards")), ("month", _("Under each month's wards")))
            ],
            "wards_trend": wards_trend,
            "trend_table": trend_table,
            "trend_labels": [f"{day:%m/%Y}" for day in wards_trend["days"][:-1]] + [f"{on:%d/%m/%Y}"],
            "query": query_with(request.GET, ward_q=None, ward_sort=None, ward_page=None, trend_q=None,
                                trend_page=None, trend_sort=None),
            # Admins and district staff answer for the day close: they are told when it is late.
            "close_warning": day_close_warning() if has_role(request.user, *DISTRICT_WORK) else None,
        },
    )
