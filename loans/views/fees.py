"""The monthly commission and entrustment-fee statements and their spreadsheets."""

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from loans.forms.fees import MonthForm
from loans.selectors.fees import commission_statement, fee_statement, month_bounds, schedule_for
from loans.xlsx import xlsx_response
from organizations.access import ALL_ROLES, Role, has_role, role_required
from organizations.area import area_label
from organizations.selectors.scope import branches_for, groups_for


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
        amounts, ratios = (3, 4, 6, 7, 9, 10), (5, 8)
    else:
        headers = [_("Unit"), _("Level"), _("Organization"), _("Outstanding"), _("Overdue"), _("Overdue ratio (%)"),
                   _("Interest collected"), _("Fee on outstanding"), _("Fee on interest"), _("Reduction (%)"),
                   _("Reduction"), _("Payable")]
        level = {"ward": _("Ward branch"), "district": area_label()}
        rows = [[ln.name, level[ln.level], ln.extra, ln.outstanding, ln.overdue, ln.ratio, ln.interest,
                 ln.fee_on_outstanding, ln.fee_on_interest, ln.reduction_percent, ln.reduction, ln.net]
                for ln in unit_lines]
        total_row = None
        amounts, ratios = (3, 4, 6, 7, 8, 10, 11), (5, 9)
    name = "hoa-hong-to-truong" if table == "groups" else "phi-uy-thac"
    return xlsx_response(
        f"{name}-{month:%m-%Y}.xlsx", title_lines=title, headers=headers, rows=rows, total_row=total_row,
        sheet_title=f"{month:%m-%Y}", amount_columns=amounts, ratio_columns=ratios,
    )
