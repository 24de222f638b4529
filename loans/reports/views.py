"""The bank's report layouts (01.1/BCTD, 01.2/BCTD, BC0438, LEN_31) and the ward and group drill-down pages."""

from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from loans.money import format_vnd
from loans.reports.forms import ReportScopeForm
from loans.reports.selectors import (
    corrections_booked_after,
    group_households,
    label_rows,
    portfolio_breakdowns,
    portfolio_report,
    portfolio_totals,
)
from loans.xlsx import xlsx_response
from organizations.access import ALL_ROLES, profile_of, role_required
from organizations.selectors.history import wards_on
from organizations.selectors.scope import groups_for, wards_for
from organizations.selectors.supervision import inspections_for, inspections_of_ward

# Column kinds: text (from a row's label), money, count, ratio.
WARD = ("ward_code", gettext_lazy("Ward code"), "text")
WARD_NAME = ("ward_name", gettext_lazy("Ward"), "text")
GROUPS = ("groups", gettext_lazy("Number of groups"), "count")
HOUSEHOLDS = ("households", gettext_lazy("Households with outstanding loans"), "count")
OUTSTANDING = ("outstanding", gettext_lazy("Outstanding"), "money")
OVERDUE = ("overdue", gettext_lazy("Overdue"), "money")
RATIO = ("overdue_ratio", gettext_lazy("Overdue ratio (%)"), "ratio")
FROZEN = ("frozen", gettext_lazy("Frozen balance"), "money")
ARREARS = ("interest_arrears", gettext_lazy("Interest arrears"), "money")
SAVINGS = ("savings", gettext_lazy("Savings"), "money")
FLOWS = (
    ("lent_month", gettext_lazy("Lent this month"), "money"),
    ("lent_year", gettext_lazy("Lent this year"), "money"),
    ("collected_month", gettext_lazy("Collected this month"), "money"),
    ("collected_year", gettext_lazy("Collected this year"), "money"),
)

REPORTS = {
    "bctd_01_1": {
        "code": "01.1/BCTD",
        "title": gettext_lazy("Entrusted lending by ward"),
        "by": ("ward",),
        "columns": (WARD, WARD_NAME, GROUPS, HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO, FROZEN, ARREARS, SAVINGS, *FLOWS),
    },
    "bctd_01_2": {
        "code": "01.2/BCTD",
        "title": gettext_lazy("Entrusted lending by program"),
        "by": ("program",),
        "columns": (
            ("program_code", gettext_lazy("Program code"), "text"),
            ("program_name", gettext_lazy("Lending program"), "text"),
            ("loans", gettext_lazy("Number of loans"), "count"),
            HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO, FROZEN, ARREARS, *FLOWS,
        ),
    },
    "bc0438": {
        "code": "BC0438",
        "title": gettext_lazy("Entrusted lending by ward and organization, with group grades"),
        "by": ("ward", "kind"),
        "columns": (
            WARD, WARD_NAME,
            ("kind", gettext_lazy("Organization code"), "text"),
            ("kind_name", gettext_lazy("Organization"), "text"),
            GROUPS, HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO,
            ("good", gettext_lazy("Good groups"), "count"),
            ("fair", gettext_lazy("Fair groups"), "count"),
            ("average", gettext_lazy("Average groups"), "count"),
            ("weak", gettext_lazy("Weak groups"), "count"),
        ),
    },
    "len_31": {
        "code": "LEN_31",
        "title": gettext_lazy("Outstanding by group leader"),
        "by": ("group",),
        # One row per group: drawn per ward, like the bank's own LEN_31.
        "per_ward": True,
        "columns": (
            WARD_NAME,
            ("group_code", gettext_lazy("Group code"), "text"),
            ("group_name", gettext_lazy("Group name"), "text"),
            ("leader_name", gettext_lazy("Group leader"), "text"),
            ("loans", gettext_lazy("Number of loans"), "count"),
            HOUSEHOLDS, OUTSTANDING, OVERDUE, RATIO, FROZEN, ARREARS, SAVINGS,
            ("collected_month", gettext_lazy("Collected this month"), "money"),
        ),
    },
}


def _texts(row):
    """The text cells of a row, from its labelled dimensions."""
    ward, program, group = row.get("ward_obj"), row.get("program_obj"), row.get("group_obj")
    if group is not None:
        ward = group.branch.ward
    return {
        "ward_code": ward.code if ward else "",
        "ward_name": ward.name if ward else "",
        "program_code": program.code if program else "",
        "program_name": program.name if program else "",
        "kind": row.get("kind") or "",
        "kind_name": str(row.get("kind_name") or ""),
        "group_code": group.code if group else "",
        "group_name": group.name if group else "",
        "leader_name": group.leader.head_name if group and group.leader else "",
    }


def _cells(row, columns):
    texts = _texts(row)
    return [texts[name] if kind == "text" else row.get(name) for name, _label, kind in columns]


def _scope_context(request):
    form = ReportScopeForm(request.GET or None, user=request.user)
    on, organization, ward = form.scope()
    return form, on, organization, ward


def _issuer(user):
    profile = profile_of(user)
    organization = profile.organization if profile else None
    return (organization.area.name if organization else ""), (organization.name if organization else "")


@require_GET
@role_required(*ALL_ROLES)
def report(request, layout):
    spec = REPORTS.get(layout)
    if spec is None:
        raise Http404
    form, on, organization, ward = _scope_context(request)
    if spec.get("per_ward") and ward is None:
        first = wards_for(request.user).filter(pk__in=wards_on(on)).first()
        ward = first.pk if first else None
    scope = {"user": request.user, "on": on, "organization": organization, "ward": ward,
             "today_wards": form.mapped_to_today, "moved": form.offers_today_wards}
    # The rows and the totals from one read of the figures (households are counted per program in a program's row,
    # per group in the totals).
    reports = portfolio_breakdowns(bys=[spec["by"], ()], **scope)
    rows = label_rows(reports[spec["by"]], spec["by"])
    total = reports[()][0]
    columns = spec["columns"]
    text_columns = sum(1 for _name, _label, kind in columns if kind == "text")
    if request.GET.get("format") == "xlsx":
        return _report_xlsx(request, spec, rows, total, on)
    issuer, issuer_unit = _issuer(request.user)
    lines = _html_rows(rows, columns, on)
    corrections, corrected = corrections_booked_after(request.user, on)
    return render(
        request,
        "loans/report.html",
        {
            "corrections": corrections,
            "corrected": corrected,
            "ward": wards_for(request.user).filter(pk=ward).first() if ward else None,
            "spec": spec,
            "layout": layout,
            "reports": REPORTS,
            "form": form,
            "on": on,
            "columns": columns,
            "text_columns": text_columns,
            "rows": lines,
            "tbody": _tbody(lines),
            "total_cells": _html_rows([total], columns, on)[0]["cells"][text_columns:],
            "issuer": issuer,
            "issuer_unit": issuer_unit,
        },
    )


def _display(value, kind):
    """A cell as the page shows it; formatted here because a template include per cell is slow on big reports."""
    if kind == "text":
        return value
    if value is None:
        return ""
    if kind == "ratio":
        return f"{value:.2f}".replace(".", ",") + " %"
    return format_vnd(value, symbol=False)


def _html_rows(rows, columns, on):
    """Each row's cells (text, alignment, drill-down link) and its figures."""
    day = on.strftime("%d/%m/%Y")
    lines = []
    for row in rows:
        cells = []
        for (name, _label, kind), value in zip(columns, _cells(row, columns), strict=True):
            href = None
            if name == "ward_name" and row.get("ward"):
                href = reverse("loans:report_ward", args=[row["ward"]]) + f"?on={day}"
            elif name == "group_code" and row.get("group"):
                href = reverse("loans:report_group", args=[row["group"]]) + f"?on={day}"
            cells.append({"text": _display(value, kind), "end": kind != "text", "href": href, "name": name})
        lines.append({"cells": cells, "row": row})
    return lines


def _tbody(lines):
    """The table body as HTML, built here: a national report has thousands of rows and template loops over tens of
    thousands of cells take seconds."""
    html = []
    for number, line in enumerate(lines, start=1):
        html.append(f'<tr><td class="text-center">{number}</td>')
        for cell in line["cells"]:
            text = escape(cell["text"])
            if cell["href"]:
                text = f'<a href="{escape(cell["href"])}">{text}</a>'
            if cell["end"]:
                html.append(f'<td class="text-end">{text}</td>')
            else:
                # Name columns get room to stay on one line in print (a ward's name wrapped to three lines).
                kind = f' class="cell-name cell-{cell["name"]}"' if cell["name"].endswith("_name") else ""
                html.append(f"<td{kind}>{text}</td>")
        html.append("</tr>")
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped


def _report_xlsx(request, spec, rows, total, on):
    """The bank's layout in Vietnamese whatever the interface language: title block, headings, rows, Tổng cộng."""
    columns = spec["columns"]
    with translation.override("vi"):
        issuer, issuer_unit = _issuer(request.user)
        headers = [str(_("No.")), *(str(label) for _name, label, _kind in columns)]
        data = [[index, *_xlsx_cells(_cells(row, columns), columns)] for index, row in enumerate(rows, start=1)]
        total_cells = _xlsx_cells(_cells(total, columns), columns)
        text_columns = sum(1 for _name, _label, kind in columns if kind == "text")
        total_row = [str(_("Total")), *([""] * text_columns), *total_cells[text_columns:]]
        title_lines = [
            issuer,
            issuer_unit,
            f"{spec['code']} – {spec['title']}",
            str(_("As of %(date)s") % {"date": date_format(on, "d/m/Y")}),
            str(_("Amounts in đồng")),
        ]
    amount_columns = [index + 1 for index, (_n, _l, kind) in enumerate(columns) if kind == "money"]
    ratio_columns = [index + 1 for index, (_n, _l, kind) in enumerate(columns) if kind == "ratio"]
    filename = f"{spec['code'].replace('/', '_').replace('.', '_')}_{on:%Y%m%d}.xlsx"
    return xlsx_response(
        filename,
        title_lines=[line for line in title_lines if line],
        headers=headers,
        rows=data,
        total_row=total_row,
        sheet_title=spec["code"].replace("/", "-"),
        amount_columns=amount_columns,
        ratio_columns=ratio_columns,
    )


def _xlsx_cells(cells, columns):
    # Ratios go out as Decimal numbers (never a float) with a percentage format, so a spreadsheet can add them up.
    return [
        ("" if value is None else value) if kind == "ratio" else value
        for value, (_name, _label, kind) in zip(cells, columns, strict=True)
    ]


@require_GET
@role_required(*ALL_ROLES)
def report_ward(request, pk):
    """Drill-down: one ward's groups in the user's scope, with their balances."""
    ward = get_object_or_404(wards_for(request.user), pk=pk)
    form, on, organization, _ward = _scope_context(request)
    scope = {"user": request.user, "on": on, "organization": organization, "ward": ward.pk,
             "today_wards": form.mapped_to_today, "moved": form.offers_today_wards}
    by_kind = label_rows(portfolio_report(by=("kind",), **scope), ("kind",))
    groups = label_rows(portfolio_report(by=("group",), **scope), ("group",))
    total = portfolio_totals(**scope, by_kind=by_kind)
    # Supervision of the ward: its latest inspections, those of the branches merged into it included.
    inspections = inspections_of_ward(inspections_for(request.user), ward).select_related("inspected_group__branch")
    return render(
        request,
        "loans/report_ward.html",
        {"ward": ward, "form": form, "on": on, "by_kind": by_kind, "groups": groups, "total": total,
         "inspections": inspections.order_by("-inspected_on", "-pk")[:5]},
    )


@require_GET
@role_required(*ALL_ROLES)
def report_group(request, pk):
    """Drill-down: one group's households with their loans' balances and savings."""
    group = get_object_or_404(groups_for(request.user).select_related("leader", "deputy", "neighbourhood"), pk=pk)
    form, on, _organization, _ward = _scope_context(request)
    households = group_households(group=group, on=on)
    total = {
        name: sum(row[name] for row in households)
        for name in ("loans", "outstanding", "overdue", "frozen", "interest_arrears", "savings")
    }
    total["households"] = sum(1 for row in households if row["outstanding"] > 0)
    return render(
        request,
        "loans/report_group.html",
        {"group": group, "form": form, "on": on, "households": households, "total": total},
    )
