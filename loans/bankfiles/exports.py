"""Exports in the bank's layout prepared by a worker: the district's loans file takes seconds to build, so the page
asks for it and offers a download link when it is ready. The file is kept under MEDIA_ROOT and served only to the
user who asked for it."""

from django.core.files.base import ContentFile
from django.utils import timezone

from loans.bankfiles.export import bank_export_rows
from loans.bankfiles.layouts import export_layout
from loans.xlsx import csv_response, xlsx_response
from organizations.errors import DomainError
from organizations.jobs import job_enqueue
from organizations.models import JobRun

EXPORT_KINDS = ("loans", "transactions", "groups", "households")
EXPORT_FORMATS = ("xlsx", "csv")


def export_file(kind, fmt, user, today=None):
    """(file name, bytes) of one export for what `user` may see."""
    today = today or timezone.localdate()
    layout = export_layout(kind, bank_export_rows(kind, user), title_date=today)
    name = f"{kind}-{today:%Y%m%d}.{fmt}"
    if fmt == "csv":
        rows = layout["rows"] + ([layout["total_row"]] if layout["total_row"] else [])
        return name, csv_response(name, headers=layout["headers"], rows=rows).content
    return name, xlsx_response(name, **layout).content


def export_request(*, kind, fmt, actor):
    """Queue an export for `actor`; asking again while one is being prepared returns that one."""
    if kind not in EXPORT_KINDS or fmt not in EXPORT_FORMATS:
        raise DomainError("Unknown export.")
    return job_enqueue(
        name="bank_export", key=f"{actor.pk}:{kind}:{fmt}", arguments={"kind": kind, "fmt": fmt}, actor=actor
    )


def export_write(run):
    """The job: build the file as the user who asked would see it, and keep it on the run."""
    if run.requested_by is None:
        raise DomainError("The user who asked for this export no longer exists.")
    name, content = export_file(run.arguments["kind"], run.arguments["fmt"], run.requested_by)
    run.file.save(name, ContentFile(content), save=False)
    JobRun.objects.filter(pk=run.pk).update(file=run.file.name)
    return {"file_name": name, "bytes": len(content)}


def exports_for(user):
    """The user's own exports, newest first."""
    return JobRun.objects.filter(name="bank_export", requested_by=user).order_by("-enqueued_at", "-pk")
