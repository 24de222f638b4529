"""The loan's statement (sao kê): a printable page and its .xlsx, for anyone who can see the loan."""

import io

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from openpyxl.styles import Font

from loans.models import ReversalRequest
from loans.selectors.collection import reversal_requests_for
from loans.selectors.loans import loans_for
from loans.selectors.statements import loan_statement
from loans.xlsx import AMOUNT_FORMAT, XLSX_TYPE, build_workbook, format_dates, safe_cell
from organizations.access import ALL_ROLES, role_required


def _statement_for(request, pk):
    loan = get_object_or_404(
        loans_for(request.user).select_related("household", "program", "group__branch__ward"), pk=pk
    )
    return loan_statement(loan)


@require_GET
@role_required(*ALL_ROLES)
def loan_statement_page(request, pk):
    statement = _statement_for(request, pk)
    pending = reversal_requests_for(request.user).filter(
        Q(posting__loan=statement.loan) | Q(line__items__loan=statement.loan), status=ReversalRequest.Status.PROPOSED
    ).distinct()
    return render(request, "loans/loan_statement.html", {
        "statement": statement, "loan": statement.loan, "today": timezone.localdate(), "pending_reversals": pending,
    })


def _d(value):
    return f"{value:%d/%m/%Y}" if value else ""


def _posting_rows(statement):
    rows = []
    for entry in statement.entries:
        note = entry.posting.note
        if entry.reversed_on:
            note = f"{note} · {_('reversed on %(date)s') % {'date': _d(entry.reversed_on)}}".strip(" ·")
        rows.append([entry.on, entry.label, entry.posting.voucher or "", entry.disbursed or None,
                     entry.principal_repaid or None, entry.interest or None, entry.balance, note])
    return rows


def _add_sheet(workbook, title, headers, rows, amount_columns=()):
    """A further sheet of the statement: a bold header row, then the rows, amounts as numbers."""
    sheet = workbook.create_sheet(title[:31])
    sheet.append([str(h) for h in headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    for index in amount_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
            cell.number_format = AMOUNT_FORMAT
    format_dates(sheet, 2)
    for column in sheet.columns:
        sheet.column_dimensions[column[0].column_letter].width = 18


@require_GET
@role_required(*ALL_ROLES)
def loan_statement_xlsx(request, pk):
    statement = _statement_for(request, pk)
    loan = statement.loan
    workbook = build_workbook(
        title_lines=[
            _("LOAN STATEMENT"),
            f"{loan.number} – {loan.household.head_name} – {loan.program}",
            f"{loan.group} – {loan.group.branch.ward}",
            _("as of %(date)s") % {"date": _d(timezone.localdate())},
        ],
        headers=[_("Date"), _("Entry"), _("Voucher number"), _("Disbursed"), _("Principal repaid"),
                 _("Interest collected"), _("Principal balance"), _("Note")],
        rows=_posting_rows(statement),
        total_row=["", _("Total"), "", statement.totals["disbursed"], statement.totals["principal_repaid"],
                   statement.totals["interest"], statement.balance, ""],
        sheet_title=_("Postings"),
        amount_columns=(3, 4, 5, 6),
    )
    _add_sheet(workbook, _("Interest periods"), [
        _("Collection day"), _("Interest from"), _("Interest to"), _("Days"), _("Outstanding"),
        _("Overdue principal"), _("Current interest due"), _("Overdue interest due"), _("Interest collected"),
        _("State"),
    ], [
        [i.line.sheet.collection_on, i.period_start, i.period_end, i.days, i.outstanding,
         i.overdue_principal, i.current_interest_due, i.overdue_interest_due,
         i.current_interest_paid + i.overdue_interest_paid, i.line.get_status_display()]
        for i in statement.interest_periods
    ], amount_columns=(4, 5, 6, 7, 8))
    _add_sheet(workbook, _("Overdue periods"), [
        _("Instalment"), _("Due date"), _("Principal"), _("Overdue since"), _("Settled on"),
    ], [
        [p.seq, p.due_on, p.principal, p.since, p.settled_on or _("still overdue")]
        for p in statement.overdue_periods
    ], amount_columns=(2,))
    _add_sheet(workbook, _("Changes"), [
        _("Requested on"), _("Change"), _("Status"), _("Reason"), _("Decided on"), _("Decision note"),
    ], [
        [c.requested_on, c.get_kind_display(), c.get_status_display(), c.reason, c.decided_on,
         c.decision_note]
        for c in statement.changes
    ])
    _add_sheet(workbook, _("Loan-use checks"), [_("Checked on"), _("Result"), _("Notes"), _("Checked by")], [
        [c.checked_on, c.get_result_display(), c.notes, c.checked_by.get_full_name() or c.checked_by.username]
        for c in statement.use_checks
    ])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="sao-ke-{loan.number}.xlsx"'
    return response
