"""Pages for the bank's spreadsheets: importing them and exporting the ledger in the bank's layouts."""

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from borrowers.models import Household
from loans.bankfiles.exports import (
    EXPORT_FORMATS,
    EXPORT_KINDS,
    export_file,
    export_is_small,
    export_open,
    export_request,
    exports_for,
    prepared_exports_for,
)
from loans.bankfiles.forms import BankFileUploadForm
from loans.bankfiles.importing import import_confirm, import_recover_stale, import_upload, imports_recover_stale
from loans.bankfiles.reconciliation import reconciliation_accept
from loans.bankfiles.selectors import import_batches_for
from loans.models import ImportBatch, ReconciliationItem
from loans.xlsx import XLSX_TYPE, attachment, xlsx_response
from organizations.access import ALL_ROLES, role_required
from organizations.errors import DomainError
from organizations.models import JobRun
from organizations.policy import allowed


@allowed("bank_import.run")
@require_http_methods(["GET", "POST"])
def bank_import_list(request):
    form = BankFileUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = import_upload(
                kind=form.cleaned_data["kind"], file_name=upload.name, content=upload.read(), actor=request.user
            )
        except DomainError as error:
            form.add_error("file", str(error))
        else:
            # Not "being checked": the check may be over by the time the page shows, and the page tells the progress.
            messages.success(request, _("The file %(name)s is stored.") % {"name": batch.file_name})
            return redirect("loans:bank_import_detail", pk=batch.pk)
    batches = imports_recover_stale(list(import_batches_for(request.user).select_related("created_by")[:30]))
    return render(request, "loans/bank_import_list.html", {"form": form, "batches": batches})


@allowed("bank_import.run")
@require_GET
def bank_import_detail(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    batch = import_recover_stale(batch=batch)
    differences = households = None
    if batch.status == ImportBatch.Status.DONE:
        differences = ReconciliationItem.objects.filter(batch=batch).select_related("loan", "household", "accepted_by")[
            :500
        ]
        households = Household.objects.filter(import_batch=batch).select_related("ward", "branch").order_by("pk")[:100]
    written = [(WRITTEN_LABELS.get(key, key), value) for key, value in batch.summary.get("written", {}).items()]
    samples = batch.summary.get("samples") or {}
    sample_rows = [(number, list(zip(cells, samples.get("amounts", []), strict=False)))
                   for number, *cells in samples.get("rows", [])]
    return render(
        request,
        "loans/bank_import_detail.html",
        {
            "batch": batch,
            "differences": differences,
            "households": households,
            "errors": batch.errors[:300],
            "written": written,
            "sample_rows": sample_rows,
        },
    )


WRITTEN_LABELS = {
    "households": gettext_lazy("households created"),
    "loans": gettext_lazy("loans created"),
    "postings": gettext_lazy("postings written"),
    "groups_created": gettext_lazy("groups created"),
    "differences": gettext_lazy("differences with the bank"),
    "grades": gettext_lazy("group grades recorded"),
    "leaders": gettext_lazy("group leaders appointed"),
}


@allowed("bank_import.run")
@require_GET
def bank_import_progress(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    batch = import_recover_stale(batch=batch)
    response = render(request, "loans/_bank_import_progress.html", {"batch": batch})
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.RUNNING):
        response["HX-Refresh"] = "true"  # the job is over: show the whole result page
    return response


@allowed("bank_import.run")
@require_POST
def bank_import_confirm(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    try:
        import_confirm(batch=batch, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The import is confirmed."))
    return redirect("loans:bank_import_detail", pk=batch.pk)


@allowed("bank_import.run")
@require_POST
def bank_import_accept(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    ids = [value for value in request.POST.getlist("item") if value.isdigit()]
    try:
        items = reconciliation_accept(batch=batch, item_ids=ids, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("The bank's figures were accepted for %(count)s difference(s).") % {"count": len(items)}
        )
    return redirect("loans:bank_import_detail", pk=batch.pk)


@allowed("bank_import.run")
@require_GET
def bank_import_errors(request, pk):
    batch = get_object_or_404(import_batches_for(request.user), pk=pk)
    rows = [[e["row"], e["column"], e["value"], e["message"]] for e in batch.errors]
    return xlsx_response(
        f"loi-nhap-{batch.pk}.xlsx",
        title_lines=[_("Errors in %(file)s") % {"file": batch.file_name}, _("Nothing from this file was imported.")],
        headers=[_("Row"), _("Column"), _("Value"), _("Reason")],
        rows=rows,
        sheet_title="Errors",
    )


@role_required(*ALL_ROLES)
@require_GET
def bank_export_page(request):
    return render(request, "loans/bank_export.html", {"kinds": EXPORT_KINDS, **_exports(request.user)})


def _exports(user):
    exports = list(exports_for(user)[:10])
    return {
        "exports": exports,
        "pending": any(run.status in JobRun.ACTIVE for run in exports),
        "running_limit": settings.EXPORT_MAX_RUNNING_PER_USER,
        "file_hours": settings.EXPORT_FILE_HOURS,
    }


@role_required(*ALL_ROLES)
@require_POST
def bank_export_prepare(request, kind, fmt):
    """Ask a worker to build the file; the page shows its progress and offers the link when it is ready."""
    if kind not in EXPORT_KINDS or fmt not in EXPORT_FORMATS:
        raise Http404
    try:
        export_request(kind=kind, fmt=fmt, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.info(request, _("The file is being prepared; its link appears below when it is ready."))
    return redirect("loans:bank_export_page")


@role_required(*ALL_ROLES)
@require_GET
def bank_export_jobs(request):
    """The list of one's exports, polled by the page while one is being prepared."""
    return render(request, "loans/_bank_export_jobs.html", _exports(request.user))


@role_required(*ALL_ROLES)
@require_GET
def bank_export_download(request, pk):
    """A prepared file, to the user who asked for it only (anyone else gets a 404), until its time is over."""
    export = get_object_or_404(prepared_exports_for(request.user), pk=pk)
    try:
        handle = export_open(export)
    except FileNotFoundError:
        raise Http404 from None  # deleted with its time over; ask for it again
    response = FileResponse(handle, as_attachment=True, filename=export.file_name)
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(*ALL_ROLES)
@require_GET
def bank_export(request, kind, fmt):
    """A small export, built while the user waits; a larger one is sent to be prepared in the background."""
    if kind not in EXPORT_KINDS or fmt not in EXPORT_FORMATS:
        raise Http404
    small, rows = export_is_small(kind, request.user)
    if not small:
        messages.warning(
            request,
            _(
                "This file has %(rows)s rows, too many to build while you wait: press “Prepare” beside it, and "
                "download it below when it is ready."
            )
            % {"rows": rows},
        )
        return redirect("loans:bank_export_page")
    name, content = export_file(kind, fmt, request.user)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_TYPE
    return attachment(HttpResponse(content, content_type=content_type), name)


"""The bank's report layouts (01.1/BCTD, 01.2/BCTD, BC0438, LEN_31) and the ward and group drill-down pages."""
