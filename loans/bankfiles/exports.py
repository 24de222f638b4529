"""Exports in the bank's layout. A small one is built in the request; a larger one is prepared by the worker, with
its progress on the page and then a download link, so that no request spends seconds building a file. Each user has
at most EXPORT_MAX_RUNNING_PER_USER exports being prepared at once.

Prepared files hold citizen IDs (an admin's loans file has the full 12 digits): they are written under EXPORT_ROOT,
never MEDIA_ROOT, with mode 0600 in folders of mode 0700, served by the app to the user who asked only, and deleted by
the `exports_cleanup` job once EXPORT_FILE_HOURS are over.
"""

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loans.bankfiles.export import bank_export_count, bank_export_rows
from loans.bankfiles.layouts import export_layout
from loans.models import PreparedExport
from loans.xlsx import csv_response, xlsx_response
from organizations.errors import DomainError
from organizations.jobs import job_enqueue, job_heartbeat
from organizations.models import JobRun

EXPORT_KINDS = ("loans", "transactions", "groups", "households")
EXPORT_KIND_LABELS = {
    "loans": gettext_lazy("Loan balances"),
    "transactions": gettext_lazy("Transactions"),
    "groups": gettext_lazy("Groups"),
    "households": gettext_lazy("Households"),
}
EXPORT_FORMATS = ("xlsx", "csv")
PROGRESS_EVERY_ROWS = 2000
PREPARED_NAME = re.compile(r"[0-9a-f]{32}\.(xlsx|csv)")


def export_file(kind, fmt, user, today=None, progress=None):
    """(file name, bytes) of one export for what `user` may see; `progress(rows)` is told as rows are read."""
    today = today or timezone.localdate()
    rows = bank_export_rows(kind, user)
    if progress is not None:
        rows = _counted(rows, progress)
    layout = export_layout(kind, rows, title_date=today)
    name = f"{kind}-{today:%Y%m%d}.{fmt}"
    if fmt == "csv":
        rows = layout["rows"] + ([layout["total_row"]] if layout["total_row"] else [])
        return name, csv_response(name, headers=layout["headers"], rows=rows).content
    return name, xlsx_response(name, **layout).content


def _counted(rows, progress):
    done = 0
    for done, row in enumerate(rows, start=1):
        yield row
        if done % PROGRESS_EVERY_ROWS == 0:
            progress(done)
    progress(done)


def export_is_small(kind, user):
    """Whether the export is small enough to build in the request; also returns its number of rows."""
    rows = bank_export_count(kind, user)
    return rows <= settings.EXPORT_INLINE_MAX_ROWS, rows


def export_request(*, kind, fmt, actor):
    """Queue an export for `actor`; asking again while the same one is being prepared returns that one. Refuses a
    user who already has EXPORT_MAX_RUNNING_PER_USER exports being prepared."""
    if kind not in EXPORT_KINDS or fmt not in EXPORT_FORMATS:
        raise DomainError("Unknown export.")
    key = f"{actor.pk}:{kind}:{fmt}"
    limit = settings.EXPORT_MAX_RUNNING_PER_USER
    with transaction.atomic():
        # The user's row is the lock: two requests of one user are counted one after the other.
        get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
        running = JobRun.objects.filter(name="bank_export", requested_by=actor, status__in=JobRun.ACTIVE)
        same = running.filter(key=key).first()
        if same is not None:
            return same
        if running.count() >= limit:
            raise DomainError(
                _(
                    "You already have %(count)s files being prepared, the most one person may have at once. Wait "
                    "until one is ready, then ask again."
                )
                % {"count": limit}
            )
        return job_enqueue(name="bank_export", key=key, arguments={"kind": kind, "fmt": fmt}, actor=actor)


def export_job_subjects(keys):
    """The jobs page's "about" column for exports: each key is "<user id>:<kind>:<format>"; the file and its owner."""
    parsed = {}
    for key in keys:
        user_id, _sep, rest = key.partition(":")
        kind, _sep, fmt = rest.partition(":")
        if user_id.isdigit() and kind in EXPORT_KIND_LABELS:
            parsed[key] = (int(user_id), kind, fmt)
    users = get_user_model().objects.in_bulk({user_id for user_id, _kind, _fmt in parsed.values()})
    subjects = {}
    for key, (user_id, kind, fmt) in parsed.items():
        user = users.get(user_id)
        owner = (user.get_full_name() or user.username) if user else ""
        text = _("%(kind)s (.%(format)s) for %(user)s") if owner else _("%(kind)s (.%(format)s)")
        subjects[key] = (text % {"kind": EXPORT_KIND_LABELS[kind], "format": fmt, "user": owner}, "")
    return subjects


def export_write(run):
    """The job: build the file as the user who asked would see it, and keep it for them for EXPORT_FILE_HOURS."""
    owner = run.requested_by
    if owner is None:
        raise DomainError(_("The user who asked for this export no longer exists."))
    kind, fmt = run.arguments["kind"], run.arguments["fmt"]
    PreparedExport.objects.update_or_create(
        run=run,
        defaults={"owner": owner, "kind": kind, "fmt": fmt, "rows_total": bank_export_count(kind, owner),
                  "rows_done": 0},
    )

    def progress(rows):
        PreparedExport.objects.filter(pk=run.pk).update(rows_done=rows)
        job_heartbeat(run.pk)

    name, content = export_file(kind, fmt, owner, progress=progress)
    path = _write_private(content, fmt)
    PreparedExport.objects.filter(pk=run.pk).update(
        path=path, file_name=name, size=len(content),
        expires_at=timezone.now() + timedelta(hours=settings.EXPORT_FILE_HOURS),
    )
    return {"file_name": name, "bytes": len(content)}


def _private_folder():
    """This month's folder under EXPORT_ROOT; both readable and listable by the app's user only."""
    root = Path(settings.EXPORT_ROOT)
    folder = root / timezone.localdate().strftime("%Y-%m")
    for path in (root, folder):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # also when it existed with a looser mode
    return folder


def _write_private(content, fmt):
    """Write the file with mode 0600 from its creation (never readable by others, not even for a moment); its name is
    random, so it says nothing about who asked. Returns its path relative to EXPORT_ROOT."""
    folder = _private_folder()
    path = folder / f"{secrets.token_hex(16)}.{fmt}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # a umask never adds bits, but a strange one could remove the owner's
        handle.write(content)
    return str(path.relative_to(settings.EXPORT_ROOT))


def export_open(export):
    """The prepared file, opened for reading; FileNotFoundError when it is gone."""
    root = Path(settings.EXPORT_ROOT).resolve()
    path = (root / export.path).resolve()
    if not export.path or not path.is_relative_to(root):
        raise FileNotFoundError(export.path)
    return path.open("rb")


def exports_delete_expired(run=None, now=None):
    """The `exports_cleanup` job: delete prepared files whose time is over, every file of the exports made before
    they were kept apart (under MEDIA_ROOT), and any file left under EXPORT_ROOT past its time (a job killed after
    writing it)."""
    now = now or timezone.now()
    lifetime = timedelta(hours=settings.EXPORT_FILE_HOURS)
    root = Path(settings.EXPORT_ROOT)
    deleted = 0
    for export in PreparedExport.objects.filter(expires_at__lte=now).exclude(path=""):
        (root / export.path).unlink(missing_ok=True)
        PreparedExport.objects.filter(pk=export.pk).update(path="", deleted_at=now)
        deleted += 1
    # Nothing serves those any more; they were readable by all, so they go at once.
    for old in JobRun.objects.filter(name="bank_export").exclude(file=""):
        old.file.delete(save=False)
        JobRun.objects.filter(pk=old.pk).update(file="")
        deleted += 1
    oldest = (now - lifetime).timestamp()
    # A file a prepared export still offers is kept whatever its age on disk says: its row holds its time.
    offered = {root / name for name in PreparedExport.objects.exclude(path="").values_list("path", flat=True)}
    # Only files named as _write_private names them: EXPORT_ROOT pointed at the wrong folder loses nothing else.
    for path in root.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]/*"):
        if path in offered:
            continue
        if PREPARED_NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            if path.stat().st_mtime < oldest:
                path.unlink(missing_ok=True)
                deleted += 1
    return {"deleted": deleted}


def exports_for(user):
    """The user's own exports (their job runs, with the prepared file when there is one), newest first."""
    return (
        JobRun.objects.filter(name="bank_export", requested_by=user)
        .select_related("prepared_export")
        .order_by("-enqueued_at", "-pk")
    )


def prepared_exports_for(user):
    """The prepared files `user` may download: their own, once ready and until their time is over."""
    return PreparedExport.objects.filter(
        owner=user, run__status=JobRun.Status.DONE, expires_at__gt=timezone.now()
    ).exclude(path="")
