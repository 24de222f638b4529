"""Ward pages for the 13/TD collection sheet: sheets, their lines, posting and reversals."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loans.forms.collection import (
    CollectionEntryForm,
    CollectionSheetCreateForm,
    CorrectionForm,
    ReversalDecisionForm,
    ReversalForm,
)
from loans.models import CollectionItem, CollectionLine
from loans.selectors.collection import collection_sheets_for, group_totals, reversal_requests_for
from loans.selectors.collection_rows import sheet_row_totals, sheet_rows
from loans.services.collection import (
    collection_sheet_create,
    collection_sheet_discard,
    collection_sheet_post,
    collection_sheet_save,
)
from loans.services.collection_reversals import collection_line_correct
from loans.xlsx import xlsx_response
from organizations.errors import DomainError
from organizations.policy import allowed, may
from organizations.selectors.scope import groups_for

SHEET_TOTALS = {
    "interest_due": Sum("lines__overdue_interest_due") + Sum("lines__current_interest_due"),
    "principal_due": Sum("lines__principal_due"),
    "collected": Sum("lines__amount_paid", filter=~Q(lines__status=CollectionLine.Status.OPEN)),
    "entered": Sum("lines__amount_paid"),
    "savings_in": Sum("lines__savings_in"),
    "line_count": Count("lines"),
}


def _items_prefetch():
    """A line's loans in the order the money is applied, each with its number and program."""
    return Prefetch(
        "items",
        queryset=CollectionItem.objects.select_related("loan", "loan__program").order_by(
            "loan__disbursed_on", "loan__number"
        ),
    )


def _sheet_lines(sheet):
    return list(sheet.lines.select_related("household").prefetch_related(_items_prefetch()))


def _line_totals(lines):
    return sheet_row_totals(sheet_rows(lines))


@login_required
@require_GET
def collection_sheet_list(request):
    groups = groups_for(request.user).order_by("code")
    sheets = collection_sheets_for(request.user).annotate(**SHEET_TOTALS)
    group = None
    if request.GET.get("group"):
        if not request.GET["group"].isdigit():
            raise Http404
        group = get_object_or_404(groups, pk=request.GET["group"])
        sheets = sheets.filter(group=group)
    can_post = may(request.user, "collection.post")
    form = CollectionSheetCreateForm(groups=groups, initial={"group": group}) if can_post else None
    return render(
        request,
        "loans/collection_sheet_list.html",
        {
            "sheets": sheets[:200],
            "groups": groups,
            "group": group,
            "group_totals": group_totals(group) if group else None,
            "form": form,
            "can_post": can_post,
        },
    )


@require_POST
@allowed("collection.create")
def collection_sheet_create_view(request):
    groups = groups_for(request.user)
    form = CollectionSheetCreateForm(request.POST, groups=groups)
    if form.is_valid():
        try:
            sheet = collection_sheet_create(
                group=form.cleaned_data["group"], on=form.cleaned_data["collection_on"], actor=request.user
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            count = sheet.lines.count()
            messages.success(request, _("Collection sheet prepared: %(count)s households.") % {"count": count})
            return redirect("loans:collection_sheet_detail", pk=sheet.pk)
    return render(
        request,
        "loans/collection_sheet_list.html",
        {
            "sheets": collection_sheets_for(request.user).annotate(**SHEET_TOTALS)[:200],
            "groups": groups.order_by("code"),
            "form": form,
            "can_post": True,
        },
        status=400,
    )


@login_required
@require_GET
def collection_sheet_detail(request, pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    lines = _sheet_lines(sheet)
    can_post = may(request.user, "collection.post")
    form = CollectionEntryForm(lines=lines) if sheet.is_draft and can_post else None
    return _render_sheet(request, sheet, lines, form, can_post)


def _render_sheet(request, sheet, lines, form, can_post, status=200):
    shown = sheet_rows(lines)
    return render(
        request,
        "loans/collection_sheet_detail.html",
        {
            "sheet": sheet,
            "lines": lines,
            "sheet_rows": shown,
            "rows": form.rows() if form else None,
            "form": form,
            "totals": sheet_row_totals(shown),
            "group_totals": group_totals(sheet.group),
            "can_post": can_post,
        },
        status=status,
    )


@require_POST
@allowed("collection.save")
def collection_sheet_fill(request, pk):
    """One POST for the whole page: save the entered amounts, and post them if asked to."""
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    if not sheet.is_draft:
        messages.info(request, _("This sheet was already posted; nothing was posted twice."))
        return redirect("loans:collection_sheet_detail", pk=sheet.pk)
    lines = _sheet_lines(sheet)
    form = CollectionEntryForm(request.POST, lines=lines)
    if not form.is_valid():
        messages.error(request, _("Some amounts are not valid; they are marked below. Nothing was saved."))
        return _render_sheet(request, sheet, lines, form, True, status=400)
    try:
        if request.POST.get("action") == "post":
            # The amounts go in with the posting, under its lock: a colleague's save cannot slip in between.
            collection_sheet_post(sheet=sheet, entries=form.entries(), actor=request.user)
            messages.success(request, _("The sheet is posted. Balances are updated."))
        else:
            collection_sheet_save(sheet=sheet, entries=form.entries(), actor=request.user)
            messages.success(request, _("Amounts saved. The sheet is not posted yet."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("loans:collection_sheet_detail", pk=sheet.pk)


@require_POST
@allowed("collection.discard")
def collection_sheet_discard_view(request, pk):
    """Delete a half-entered draft, once the officer ticked the box to confirm it."""
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    if not request.POST.get("confirm"):
        messages.error(request, _("Tick the box to confirm that the draft is deleted."))
        return redirect("loans:collection_sheet_detail", pk=sheet.pk)
    try:
        collection_sheet_discard(sheet=sheet, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("loans:collection_sheet_detail", pk=sheet.pk)
    messages.success(request, _("The draft collection sheet of %(group)s for %(date)s is deleted.") % {
        "group": sheet.group, "date": f"{sheet.collection_on:%d/%m/%Y}"})
    return redirect(f"{reverse('loans:collection_sheet_list')}?group={sheet.group_id}")


def _sheet_heading(sheet):
    group = sheet.group
    return {
        "issuer": group.branch.parent.name if group.branch.parent_id else "",
        "issuer_unit": group.branch.name,
    }


@login_required
@require_GET
def collection_sheet_print(request, pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    lines = _sheet_lines(sheet)
    shown = sheet_rows(lines)
    return render(
        request,
        "loans/collection_sheet_print.html",
        {"sheet": sheet, "lines": lines, "sheet_rows": shown, "totals": sheet_row_totals(shown),
         **_sheet_heading(sheet)},
    )


def _row_note(row):
    """What the spreadsheet says about a row that is not a plain posted one."""
    line = row.line
    if row.is_reversal:
        return _("Reversal: %(reason)s") % {"reason": line.reversal_reason}
    if row.is_correction:
        note = _("Correction of row %(number)s") % {"number": row.number}
    else:
        note = ""
    if line.is_reversed:
        note = ((note + "; ") if note else "") + str(line.get_status_display())
    return note


@login_required
@require_GET
def collection_sheet_xlsx(request, pk):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    lines = _sheet_lines(sheet)
    shown = sheet_rows(lines)
    totals = sheet_row_totals(shown)
    headers = [
        _("No."), _("Customer code"), _("Head of household"), _("Loan numbers"), _("Outstanding"),
        _("Overdue interest due"), _("Current interest due"), _("Principal due"), _("Overdue interest collected"),
        _("Current interest collected"), _("Principal collected"), _("Savings deposit"), _("Savings withdrawal"),
        _("Savings balance"), _("Note"),
    ]
    rows = [
        [
            row.number, row.line.household.customer_code or "", row.line.household.head_name,
            ", ".join(item.loan.number for item in row.line.items.all()),
            row.outstanding, row.overdue_interest_due, row.current_interest_due,
            row.principal_due, row.overdue_interest_paid, row.current_interest_paid, row.principal_paid,
            row.savings_in, row.savings_out, row.savings_after, _row_note(row),
        ]
        for row in shown
    ]
    total_row = [
        _("Total"), "", "", "", totals["outstanding"], totals["overdue_interest_due"], totals["current_interest_due"],
        totals["principal_due"], totals["overdue_interest_paid"], totals["current_interest_paid"],
        totals["principal_paid"], totals["savings_in"], totals["savings_out"], totals["savings_after"], "",
    ]
    heading = _sheet_heading(sheet)
    status = "" if not sheet.is_draft else _(" (draft, not posted)")
    return xlsx_response(
        f"13TD_{sheet.group.code}_{sheet.collection_on:%Y%m%d}.xlsx",
        title_lines=[
            heading["issuer"], heading["issuer_unit"],
            _("LIST OF INTEREST AND SAVINGS COLLECTED (13/TD)") + status,
            _("%(group)s – collection day %(date)s")
            % {"group": sheet.group, "date": f"{sheet.collection_on:%d/%m/%Y}"},
        ],
        headers=headers,
        rows=rows,
        total_row=total_row,
        sheet_title="13TD",
        amount_columns=range(4, 14),
    )


@login_required
@require_GET
def collection_line_detail(request, pk, line_pk):
    return _render_line(request, pk, line_pk)


def _render_line(request, pk, line_pk, correction_form=None, status=200):
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    line = get_object_or_404(
        sheet.lines.select_related("household", "reversed_by", "corrects", "correction").prefetch_related(
            _items_prefetch()),
        pk=line_pk,
    )
    postings = list(
        line.postings.select_related("loan", "reverses", "created_by", "request__requested_by").annotate(
            reversal_count=Count("reversed_by"), restore_count=Count("restored_by")
        ).order_by("pk")
    )
    requests = list(
        reversal_requests_for(request.user).filter(Q(line=line) | Q(posting__in=postings)).order_by("-requested_at")
    )
    pending_for = {row.posting_id for row in requests if row.is_pending and row.posting_id}
    for posting in postings:
        posting.pending_request = posting.pk in pending_for
    return render(
        request,
        "loans/collection_line_detail.html",
        {"sheet": sheet, "line": line, "postings": postings, "form": ReversalForm(),
         "correction_form": correction_form or CorrectionForm(),
         "requests": requests, "line_pending": any(row.is_pending and row.line_id for row in requests),
         "decision_form": ReversalDecisionForm(),
         "can_post": may(request.user, "collection.post"),
         "can_ask": may(request.user, "reversal.request"),
         "can_decide": may(request.user, "reversal.decide")},
        status=status,
    )


@require_POST
@allowed("collection.post")
def collection_line_correct_view(request, pk, line_pk):
    """The right amounts for a reversed row: posted at once as a correction row on the same sheet."""
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    line = get_object_or_404(sheet.lines, pk=line_pk)
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            correction = collection_line_correct(line=line, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The correction is posted; the sheet shows the original, its reversal and "
                                        "the correction."))
            return redirect("loans:collection_line_detail", pk=sheet.pk, line_pk=correction.pk)
    return _render_line(request, pk, line_pk, correction_form=form, status=400)
