"""Importing the bank's spreadsheets: upload, check (preview), apply all or nothing, and the job that runs them.

One path serves the upload page and `manage.py import_bank`. Rows are cleaned in `loans/bankfiles/layouts.py`; here they are
checked against the database with a few set-based look-ups, then written in bulk (COPY on PostgreSQL)."""

import hashlib
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.bankfiles.group_plan import GroupPlan
from loans.bankfiles.layouts import parse_sheet
from loans.bankfiles.loan_plan import LoanPlan
from loans.bankfiles.plans import PlanOutdated
from loans.bankfiles.reader import SpreadsheetError, read_rows
from loans.bankfiles.transaction_plan import TransactionPlan
from loans.ledger.snapshot_additions import snapshots_add_import
from loans.ledger.summaries import refresh_portfolio_summary
from loans.models import ImportBatch, Loan, Posting, RepaymentInstalment
from organizations.audit import audit_context
from organizations.errors import DomainError
from organizations.jobs import job_check_alive, job_enqueue, job_heartbeat, latest_runs
from organizations.models import GroupMembership, JobRun
from organizations.policy import authorize

log = logging.getLogger(__name__)
MAX_STORED_ERRORS = 2000
ANALYZE_AFTER_ROWS = 10000
ANALYZED_TABLES = [
    Household._meta.db_table,
    Loan._meta.db_table,
    Posting._meta.db_table,
    RepaymentInstalment._meta.db_table,
    GroupMembership._meta.db_table,
]


# ---- upload ---------------------------------------------------------------------------------------------------


def _when(moment):
    return timezone.localtime(moment).strftime("%H:%M %d/%m/%Y")


def import_upload(*, kind, file_name, content, actor, run=True):
    """Store the file in the database and start checking it. Refuses oversize files and files already imported."""
    authorize(actor, "bank_import.run")
    if kind not in ImportBatch.Kind.values:
        raise DomainError(_("Choose what the file holds: loan balances, transactions or groups."))
    if not content:
        raise DomainError(_("The file is empty."))
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if len(content) > limit:
        raise DomainError(
            _("The file is %(size)s MB; files up to %(limit)s MB are accepted.")
            % {"size": round(len(content) / 1024 / 1024, 1), "limit": limit // (1024 * 1024)}
        )
    if not file_name.lower().endswith((".xlsx", ".xlsm", ".xls", ".csv")):
        raise DomainError(_("Upload an .xlsx, .xls or .csv file."))
    digest = hashlib.sha256(content).hexdigest()
    earlier = (
        ImportBatch.objects.filter(sha256=digest, status=ImportBatch.Status.DONE).select_related("created_by").first()
    )
    if earlier:
        who = earlier.confirmed_by or earlier.created_by
        raise DomainError(
            _("This file was already imported at %(when)s by %(who)s (import no. %(id)s); nothing was changed.")
            % {
                "when": _when(earlier.finished_at or earlier.created_at),
                "who": who.get_full_name() or who.username,
                "id": earlier.pk,
            }
        )
    batch = ImportBatch.objects.create(
        kind=kind,
        file_name=file_name[:255],
        sha256=digest,
        content=content,
        created_by=actor,
        phase=_("Waiting to be checked"),
    )
    if run:
        job_enqueue(name="import_check", key=batch.pk, actor=actor)
    return batch


def import_confirm(*, batch, actor, run=True):
    from loans.bankfiles.selectors import import_batches_for

    authorize(actor, "bank_import.run", scoped=import_batches_for, pk=batch.pk)
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != ImportBatch.Status.PREVIEWED:
            raise DomainError(_("Only a checked file without errors can be imported."))
        if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).exists():
            raise DomainError(_("This file was already imported; nothing was changed."))
        batch.status = ImportBatch.Status.RUNNING
        batch.confirmed_by = actor
        batch.confirmed_at = batch.heartbeat_at = timezone.now()
        batch.progress_done = 0
        batch.phase = _("Waiting to be imported")
        batch.save(update_fields=["status", "confirmed_by", "confirmed_at", "heartbeat_at", "progress_done", "phase"])
    if run:
        job_enqueue(name="import_apply", key=batch.pk, actor=actor)
    return batch


# ---- the job: a task run by a worker process (see loans/tasks.py) ------------------------------------------------

STEP_JOBS = {"check": "import_check", "apply": "import_apply"}


def run_job(batch_id, step, progress=None):
    """Run one step of the batch here and now (the worker's task and `manage.py import_bank` call this)."""
    batch = ImportBatch.objects.get(pk=batch_id)
    expected = ImportBatch.Status.UPLOADED if step == "check" else ImportBatch.Status.RUNNING
    if batch.status != expected:  # the step already ran (a task delivered twice): nothing to do
        return batch
    try:
        if step == "check":
            import_check(batch=batch, progress=progress)
        else:
            import_apply(batch=batch, progress=progress)
    except (DomainError, SpreadsheetError) as error:
        _fail(batch, [{"row": "", "column": "", "value": "", "message": str(error)}])
    except Exception:  # the page must show a refusal, never hang on a crashed job
        log.exception("Import %s failed", batch_id)
        _fail(
            batch,
            [
                {
                    "row": "",
                    "column": "",
                    "value": "",
                    "message": _("The import stopped on an unexpected error; nothing was saved."),
                }
            ],
        )
    return ImportBatch.objects.get(pk=batch_id)


def _fail(batch, errors, count=None):
    # Only a batch whose job is under way can be refused: a step run twice must not undo a finished import.
    ImportBatch.objects.filter(pk=batch.pk, status__in=JOB_STATUSES).update(
        status=ImportBatch.Status.FAILED,
        errors=errors[:MAX_STORED_ERRORS],
        error_count=len(errors) if count is None else count,
        phase=_("Refused"),
        finished_at=timezone.now(),
    )


JOB_STATUSES = (ImportBatch.Status.UPLOADED, ImportBatch.Status.RUNNING)


def _stale(batch, now):
    last = batch.heartbeat_at or batch.confirmed_at or batch.created_at
    return now - last >= timedelta(seconds=settings.IMPORT_STALE_SECONDS)


def _job_of(batch):
    return latest_runs(_step_job(batch), batch.pk).first()


def import_job_subjects(keys):
    """The jobs page's "about" column for import jobs: each key is a batch id; the batch by kind and file name."""
    ids = [int(key) for key in keys if key.isdigit()]
    return {
        str(batch.pk): (str(batch), reverse("loans:bank_import_detail", args=[batch.pk]))
        for batch in ImportBatch.objects.filter(pk__in=ids).only("pk", "kind", "file_name")
    }


def imports_recover_stale(batches):
    """`import_recover_stale` for a page of batches, with their jobs' runs read in one query."""
    waiting = [batch for batch in batches if batch.status in JOB_STATUSES]
    runs = {}
    for run in JobRun.objects.filter(name__in=STEP_JOBS.values(), key__in=[str(b.pk) for b in waiting]).order_by(
        "enqueued_at", "pk"
    ):
        runs[(run.name, run.key)] = run  # the latest one wins
    return [
        import_recover_stale(batch=batch, run=runs.get((_step_job(batch), str(batch.pk)))) if batch in waiting else batch
        for batch in batches
    ]


def _step_job(batch):
    return STEP_JOBS["check" if batch.status == ImportBatch.Status.UPLOADED else "apply"]


_UNKNOWN = object()


def import_recover_stale(*, batch, now=None, run=_UNKNOWN):
    """Mark refused a batch whose job ended without finishing it, so the page stops waiting and the file can be
    imported again. Nothing of such a job was saved: its writes were one transaction.

    A job run by a worker is over when its run failed, or when its worker process is gone (seen within seconds on the
    worker's own machine; see `organizations.jobs.job_check_alive`). A batch without a run (`manage.py import_bank`
    runs the steps itself) is alive while it shows progress within IMPORT_STALE_SECONDS or holds its row lock."""
    now = now or timezone.now()
    if batch.status not in JOB_STATUSES:
        return batch
    run = _job_of(batch) if run is _UNKNOWN else run
    if run is not None:
        run = job_check_alive(run, now)
        if run.status == JobRun.Status.FAILED:
            ImportBatch.objects.filter(pk=batch.pk, status=batch.status).update(
                status=ImportBatch.Status.FAILED,
                errors=[{"row": "", "column": "", "value": "", "message": run.error}],
                error_count=1,
                phase=_("Refused"),
                finished_at=run.finished_at or now,
            )
            return ImportBatch.objects.get(pk=batch.pk)
        return batch
    if not _stale(batch, now):
        return batch
    skip_locked = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    try:
        with transaction.atomic():
            locked = (
                ImportBatch.objects.select_for_update(**skip_locked)
                .filter(pk=batch.pk, status__in=JOB_STATUSES)
                .first()
            )
            # None: a job holds the lock, or the batch has moved on.
            if locked is not None and _stale(locked, now):
                message = _(
                    "The import stopped without finishing: the process running it ended (for example when the server "
                    "restarted). Nothing was saved; upload the file again to retry."
                )
                _fail(locked, [{"row": "", "column": "", "value": "", "message": message}])
                log.warning("Import %s showed no sign of life since %s; marked refused", batch.pk, locked.heartbeat_at)
    except OperationalError:  # SQLite: a job holds the database's write lock, so it is alive
        pass
    return ImportBatch.objects.get(pk=batch.pk)


def import_prepare_retry(*, run, actor):
    """Before a failed check or import is run again: put its batch back where that step starts."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=int(run.key)).first()
        if batch is None or batch.status != ImportBatch.Status.FAILED:
            raise DomainError(_("This file is not refused any more; there is nothing to run again."))
        if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).exists():
            raise DomainError(_("This file was already imported; nothing was changed."))
        if run.name == STEP_JOBS["apply"] and not batch.summary:
            raise DomainError(_("This file was never checked; upload it again."))
        apply = run.name == STEP_JOBS["apply"]
        batch.status = ImportBatch.Status.RUNNING if apply else ImportBatch.Status.UPLOADED
        batch.errors, batch.error_count, batch.finished_at = [], 0, None
        batch.progress_done = 0
        batch.heartbeat_at = timezone.now()
        batch.phase = _("Waiting to be imported") if apply else _("Waiting to be checked")
        if apply:
            batch.confirmed_by = batch.confirmed_by or actor
        batch.save()


class Progress:
    """Writes progress to the batch row every few thousand rows, and to an optional callback (the command's bar)."""

    def __init__(self, batch, callback=None):
        self.batch, self.callback, self.total = batch, callback, 0

    def phase(self, text, done=None, total=None):
        values = {"phase": text, "heartbeat_at": timezone.now()}
        if done is not None:
            values["progress_done"] = done
        if total is not None:
            values["progress_total"] = self.total = total
        # Outside the import's transaction while checking, so the page sees it live; the worker's run shows it too.
        ImportBatch.objects.filter(pk=self.batch.pk).update(**values)
        for run_id in JobRun.objects.filter(
            name__in=STEP_JOBS.values(), key=str(self.batch.pk), status=JobRun.Status.RUNNING
        ).values_list("pk", flat=True):
            job_heartbeat(run_id)
        if self.callback:
            self.callback(text, done or 0, total or self.total)

    def rows(self, done):
        self.phase(self.batch.phase or "", done=done)


# ---- checking and applying --------------------------------------------------------------------------------------


def import_check(*, batch, progress=None):
    """Read and check the whole file; record counts, changes side by side and every error. Writes no business data."""
    tracker = Progress(batch, progress)
    tracker.phase(_("Reading the file"), done=0)
    plan = _plan(batch, tracker)
    if plan.errors:
        _fail(batch, plan.errors, plan.error_count)
        return plan
    _remember(batch, plan)
    ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.UPLOADED).update(
        status=ImportBatch.Status.PREVIEWED,
        summary=plan.summary(),
        errors=[],
        error_count=0,
        phase=_("Checked: ready to import"),
        progress_done=plan.data_rows,
        progress_total=plan.data_rows,
    )
    return plan


def import_apply(*, batch, progress=None):
    """Check again (the database may have moved since the preview), then write everything or nothing.

    When this process ran the check step, its plan is taken over, and its look-ups are verified under the write's
    locks instead of being made again (see `BasePlan.reusable`); if the ledger moved, the file is checked again."""
    tracker = Progress(batch, progress)
    plan = _checked_plan(batch)
    if plan is None:
        plan = _plan(batch, tracker)
    if plan.errors:
        _fail(batch, plan.errors, plan.error_count)
        return plan
    tracker.phase(_("Writing to the ledger"), done=0, total=plan.data_rows)
    try:
        with transaction.atomic():
            _write(batch, plan, tracker)
    except _ReferenceGone:
        # A row the file points at went away after the check: nothing was written; each row says which.
        plan.errors = sorted(plan.sheet.errors, key=lambda e: e["row"] if isinstance(e["row"], int) else 0)
        _fail(batch, plan.errors, plan.sheet.error_count)
    except (PlanOutdated, IntegrityError, connection.Database.IntegrityError):
        if not plan.reused:
            raise
        # Nothing was written: check the file again against the ledger as it is now, as another process would.
        log.info("Import %s: the ledger moved since the check; checking again", batch.pk)
        _remember(batch, plan, sheet_only=True)
        return import_apply(batch=batch, progress=progress)
    return plan


class _ReferenceGone(Exception):
    """Rolls the import back when `hold_references` finds that a row the file points at is gone."""


def _unchecked_writes_allowed():
    """Whether this connection may switch off PostgreSQL's per-row foreign-key triggers for its transaction (only a
    superuser may set session_replication_role)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        return cursor.fetchone()[0]


def _write(batch, plan, tracker):
    # Held until the commit: while it is held, the job is known to be alive (see `import_recover_stale`).
    if ImportBatch.objects.select_for_update().get(pk=batch.pk).status != ImportBatch.Status.RUNNING:
        raise DomainError(_("This import was stopped; nothing was changed."))
    if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).exists():
        raise DomainError(_("This file was already imported; nothing was changed."))
    # Every reference the file's rows carry was checked set-based (one query per kind of row they point at); this
    # locks those rows against deletion until the commit (FOR KEY SHARE, as a foreign-key check would) and refuses,
    # row by row, a reference that went away since. Every other reference points at a row written below, in this
    # transaction, from those. So on PostgreSQL the per-row foreign-key triggers are switched off for the writes;
    # the constraints stay in the schema for every other writer.
    if not plan.hold_references():
        raise _ReferenceGone
    unchecked = plan.holds_references and _unchecked_writes_allowed()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if unchecked:
                cursor.execute("SET LOCAL session_replication_role = replica")
            else:
                # Check foreign keys as rows arrive rather than queueing a million deferred checks for the commit;
                # every row points only at rows written before it in this transaction.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with audit_context(actor=batch.confirmed_by or batch.created_by, import_batch=batch, source=f"import {batch.pk}"):
        written = plan.apply(tracker)
    # The dashboard and reports read per-group and month-end summaries; an import changes both, for the groups
    # of the loans and households it posted to, from the earliest day it posted on. A loans file that only adds
    # loans of households it creates adds its own rows to the snapshots (set-based, from its own rows); anything
    # else has the touched groups' snapshots derived from the ledger again.
    added = batch.kind == ImportBatch.Kind.LOANS and snapshots_add_import(batch_id=batch.pk, today=plan.today)
    if not added and connection.vendor == "postgresql" and plan.data_rows >= ANALYZE_AFTER_ROWS:
        # Deriving snapshots from the ledger plans its joins on table statistics; after a large import those are
        # far off. (The other summaries, and the added snapshot rows, read well without them.)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(t) for t in ANALYZED_TABLES)}")
    posted = Posting.objects.filter(import_batch=batch)
    touched = plan.touched_groups
    if touched is None:
        touched = set(Loan.objects.filter(pk__in=posted.values("loan")).values_list("group", flat=True))
        touched |= set(
            GroupMembership.objects.filter(household__in=posted.values("household")).values_list("group", flat=True)
        )
    refresh_portfolio_summary(
        group_ids=list(touched), since=posted.aggregate(first=Min("on"))["first"], snapshots=not added
    )
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.DONE,
        summary={**plan.summary(), "written": written},
        phase=_("Imported"),
        progress_done=plan.data_rows,
        progress_total=plan.data_rows,
        finished_at=timezone.now(),
    )
    if unchecked:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = origin")


# The last file read, cleaned and checked by this process. The file never changes (its SHA-256 is its identity), so
# the confirm step reuses it instead of reading the sheet again, and takes over its plan when the plan allows it
# (its look-ups are then verified under the write's locks); otherwise the database checks run again.
_parsed = {}
_parsed_lock = threading.Lock()


def _parse(batch, tracker):
    key = (batch.pk, batch.sha256)
    with _parsed_lock:
        plan, _sheet_only = _parsed.pop(key, (None, True))
    if plan is not None:
        return plan.sheet
    rows = read_rows(bytes(batch.content), batch.file_name)
    return parse_sheet(rows, batch.kind, progress=tracker.rows)


def _remember(batch, plan, sheet_only=False):
    with _parsed_lock:
        _parsed.clear()
        _parsed[(batch.pk, batch.sha256)] = (plan, sheet_only)


def _checked_plan(batch):
    """The check step's plan of this batch, when this process made it, on the same day, and its kind allows it."""
    key = (batch.pk, batch.sha256)
    with _parsed_lock:
        plan, sheet_only = _parsed.get(key, (None, True))
        if plan is None or sheet_only or not plan.reusable or plan.today != timezone.localdate():
            return None
        del _parsed[key]
    plan.batch, plan.reused = batch, True
    return plan


def _plan(batch, tracker):
    sheet = _parse(batch, tracker)
    tracker.phase(_("Checking against the ledger"), done=sheet.data_rows, total=sheet.data_rows)
    planner = {"loans": LoanPlan, "transactions": TransactionPlan, "groups": GroupPlan}[batch.kind]
    plan = planner(batch=batch, sheet=sheet)
    if not sheet.errors and not sheet.data_rows:
        sheet.errors.append(
            {"row": "", "column": "", "value": "", "message": _("The file has a header row but no data rows.")}
        )
    if not sheet.errors:
        plan.check()
    plan.errors = sorted(sheet.errors, key=lambda e: e["row"] if isinstance(e["row"], int) else 0)
    plan.error_count = sheet.error_count
    return plan
