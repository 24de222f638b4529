"""Ward pages for the 13/TD collection sheet: sheets, their lines, posting and reversals."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, Sum
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from loans.forms.collection import (
    CollectionEntryForm,
    CollectionSheetCreateForm,
    CorrectionForm,
    ReversalDecisionForm,
    ReversalForm,
    RowEntryForm,
)
from loans.models import CollectionItem, CollectionLine
from loans.selectors.collection import collection_sheets_for, group_totals, reversal_requests_for
from loans.selectors.collection_rows import sheet_row_totals, sheet_rows
from loans.services.collection import (
    RowProblems,
    UnenteredRows,
    collection_line_save,
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


SHEETS_PER_PAGE = 20

#: What the sheet's script says (static/js/collections.js), in the user's language.
SHEET_WORDS = {
    "empty": pgettext_lazy("collection row", "Not entered"),
    "saved": pgettext_lazy("collection row", "Saved"),
    "nothing": pgettext_lazy("collection row", "Paid nothing"),
    "waiting": pgettext_lazy("collection row", "Waiting to be sent"),
    "sending": pgettext_lazy("collection row", "Sending…"),
    "refused": pgettext_lazy("collection row", "Not saved"),
    "conflict": pgettext_lazy("collection row", "Changed by someone else"),
    "offline_one": gettext_lazy("Connection lost – 1 row waiting to be sent"),
    "offline_many": gettext_lazy("Connection lost – {count} rows waiting to be sent"),
    "offline_none": gettext_lazy("Connection lost. What you type is kept on this device and sent when the connection is back."),
    "login": gettext_lazy("Your session has ended. What you typed is kept on this device: sign in again and it is sent."),
    "all_saved": gettext_lazy("Every row is saved."),
    "saved_at": gettext_lazy("Saved at {time}"),
    "conflict_text": gettext_lazy("{who} saved this row at {time} while you were typing: paid {paid}, deposit {savings_in}, "
                           "withdrawal {savings_out}. Your amounts are still in the boxes."),
    "keep_mine": gettext_lazy("Keep my amounts"),
    "use_theirs": gettext_lazy("Use the saved amounts"),
    "closed": gettext_lazy("This sheet was posted meanwhile: your amounts for this row were not saved. Reload the sheet."),
    "offline_post": gettext_lazy("Posting needs a connection. Your rows are kept on this device; post when the connection is back."),
    "no_match": gettext_lazy("No household of this sheet has that name."),
}


def _sheet_page(request, sheets):
    """Newest collection day first, a page at a time: this month's sheets are at the top of the first page."""
    sheets = sheets.annotate(**SHEET_TOTALS).order_by("-collection_on", "group__code", "-pk")
    return Paginator(sheets, SHEETS_PER_PAGE).get_page(request.GET.get("page"))


@login_required
@require_GET
def collection_sheet_list(request):
    groups = groups_for(request.user).order_by("code")
    sheets = collection_sheets_for(request.user)
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
            "page": _sheet_page(request, sheets),
            "query": urlencode({"group": group.pk}) if group else "",
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
            "page": _sheet_page(request, collection_sheets_for(request.user)),
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


def _render_sheet(request, sheet, lines, form, can_post, status=200, refusal=None):
    shown = sheet_rows(lines)
    rows = form.rows() if form else None
    unentered = refusal.lines if isinstance(refusal, UnenteredRows) else None
    conflicts = refusal.conflicts if isinstance(refusal, RowProblems) else {}
    for line in lines:
        line.conflict = conflicts.get(line.pk)
    return render(
        request,
        "loans/collection_sheet_detail.html",
        {
            "sheet": sheet,
            "lines": lines,
            "sheet_rows": shown,
            "rows": rows,
            "form": form,
            "row_errors": _row_errors(rows) if form is not None and form.errors else [],
            "sheet_words": SHEET_WORDS if form is not None else None,
            "unentered": unentered,
            "unentered_arrears": refusal.arrears if unentered else None,
            "unentered_count": sum(1 for line in lines if not line.is_entered and not line.corrects_id),
            "totals": sheet_row_totals(shown),
            "group_totals": group_totals(sheet.group),
            "can_post": can_post,
            "can_ask": may(request.user, "reversal.request"),
        },
        status=status,
    )


def _row_errors(rows):
    """[(household name, field, message)] for the summary at the top: one link per refused amount."""
    return [
        (line.household.head_name, field, error)
        for line, *fields, _version in rows
        for field in fields
        for error in field.errors
    ]


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
    posting = request.POST.get("action") == "post"
    try:
        if posting:
            # The amounts go in with the posting, under its lock: a colleague's save cannot slip in between.
            nothing_paid = request.POST.get("nothing_paid")
            collection_sheet_post(sheet=sheet, entries=form.entries(), actor=request.user,
                                  nothing_paid=int(nothing_paid) if (nothing_paid or "").isdigit() else None)
            messages.success(request, _("The sheet is posted. Balances are updated."))
        else:
            collection_sheet_save(sheet=sheet, entries=form.entries(), actor=request.user)
            messages.success(request, _("Amounts saved. The sheet is not posted yet."))
    except (RowProblems, UnenteredRows) as refusal:
        # What was typed stays in its boxes; the rows that were stored are stored.
        if isinstance(refusal, RowProblems):
            form.add_row_problems(refusal)
            messages.error(request, refusal.summary)
        lines = _sheet_lines(sheet)
        form.lines = lines
        return _render_sheet(request, sheet, lines, form, True, status=400, refusal=refusal)
    except DomainError as error:
        messages.error(request, error.message)
    # Back to the row the officer was on (the page's script sends it), not to the top of a long sheet.
    anchor = request.POST.get("at", "")
    return redirect(reverse("loans:collection_sheet_detail", args=[sheet.pk])
                    + (f"#{anchor}" if anchor.startswith("line-") and anchor[5:].isdigit() else ""))


def _entry_payload(line):
    values = (line.amount_paid, line.savings_in, line.savings_out) if line.is_entered else (None, None, None)
    return {
        "version": line.version,
        "entered": line.is_entered,
        "values": dict(zip(CollectionEntryForm.COLUMNS, (None if v is None else int(v) for v in values),
                           strict=True)),
        "by": (line.entered_by.get_full_name() or line.entered_by.username) if line.entered_by_id else "",
        "at": localtime(line.entered_at).strftime("%H:%M %d/%m/%Y") if line.entered_at else "",
    }


@require_POST
@allowed("collection.save")
def collection_line_entry(request, pk, line_pk):
    """One row's draft, saved when the officer leaves it (JSON for the page's script), or marked "paid nothing"
    from the posting's list (a plain form, back to the sheet)."""
    sheet = get_object_or_404(collection_sheets_for(request.user), pk=pk)
    line = get_object_or_404(sheet.lines.select_related("sheet"), pk=line_pk)
    as_json = "application/json" in request.headers.get("Accept", "")
    form = RowEntryForm(request.POST)
    state, status, payload = "saved", 200, {}
    if not form.is_valid():
        state, status = "refused", 400
        payload["errors"] = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
    else:
        try:
            line = collection_line_save(line=line, entry=form.entry(), actor=request.user)
        except RowProblems as refusal:
            if refusal.conflicts:
                state, status = "conflict", 409
                line = CollectionLine.objects.select_related("entered_by").get(pk=line.pk)
                payload["theirs"] = _entry_payload(line)
            else:
                state, status = "refused", 400
                payload["errors"] = {
                    field: [message for column, message in refusal.row_errors[line.pk] if column == field]
                    for field in {column for column, _message in refusal.row_errors[line.pk]}
                }
        except DomainError as error:
            state, status = "closed", 409
            payload["message"] = error.message
        else:
            payload.update(_entry_payload(line))
    if as_json:
        return JsonResponse({"state": state, **payload}, status=status)
    if state == "saved":
        messages.success(request, _("%(name)s: saved.") % {"name": line.household.head_name})
    else:
        messages.error(request, payload.get("message") or _("%(name)s: not saved.") % {"name": line.household.head_name})
    return redirect(reverse("loans:collection_sheet_detail", args=[sheet.pk]) + f"#line-{line.pk}")


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
