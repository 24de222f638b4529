"""Part of bench/load_bench.py: the bank's sample files are imported by a background worker while the officers work,
and the worker is killed (SIGKILL) while it runs the first import. Afterwards each file must be imported exactly
once (the killed run left nothing; its retry, on a new worker, imported it) and the ledger must check."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("groups", "loans", "transactions")


def samples_folder():
    if os.environ.get("UYTHAC_SAMPLES"):
        return Path(os.environ["UYTHAC_SAMPLES"])
    for folder in ROOT.parents:
        if (folder / "shared" / "samples").is_dir():
            return folder / "shared" / "samples"
    return None


def start_worker(env, log):
    return subprocess.Popen([sys.executable, "manage.py", "run_worker"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def _wait(predicate, timeout, stop):
    # The imports go on to their end when the officers stop: `stop` only ends the wait for the kill.
    from django.db import OperationalError, connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OperationalError:  # the bench's own database connection was cut with the others: reconnect
            connection.close()
            value = None
        if value:
            return value
        time.sleep(0.05)
    return None


def import_with_a_killed_worker(*, env, log_path, recorder, stop, outcome):
    """Run in a thread of the bench: upload, check and apply the three samples through the worker; kill the worker
    as soon as it runs the first apply; retry it on a new worker. Fills `outcome` for `verify_imports`."""
    from django.contrib.auth import get_user_model

    from loans.bankfiles.importing import import_confirm, import_recover_stale, import_upload
    from loans.models import ImportBatch
    from organizations.jobs import job_retry
    from organizations.models import JobRun

    folder = samples_folder()
    if folder is None:
        outcome["skipped"] = "the bank's sample files are not beside the project"
        return
    admin = get_user_model().objects.get(username="admin")
    log = open(log_path, "a")  # noqa: SIM115 - closed below
    worker = start_worker(env, log)
    outcome.update(batches=[], killed=None)
    try:
        for kind in KINDS:
            content = (folder / f"bank-{kind}-sample.xlsx").read_bytes()
            batch = import_upload(kind=kind, file_name=f"bench-{kind}.xlsx", content=content, actor=admin)
            outcome["batches"].append(batch.pk)
            checked = _wait(lambda b=batch: ImportBatch.objects.exclude(status="uploaded").filter(pk=b.pk).first(),
                            120, stop)
            if checked is None or checked.status != ImportBatch.Status.PREVIEWED:
                outcome.setdefault("problems", []).append(f"{kind}: check ended {getattr(checked, 'status', None)}")
                continue
            import_confirm(batch=checked, actor=admin)
            if outcome["killed"] is None:
                run = _wait(lambda b=batch: JobRun.objects.filter(name="import_apply", key=str(b.pk),
                                                                  status="running").first(), 60, stop)
                if run is not None:
                    os.kill(int(run.worker.rpartition(":")[2]), signal.SIGKILL)
                    killed_at = time.monotonic()
                    recorder.faults.append((killed_at, "job worker killed", f"SIGKILL during the import of {kind}"))
                    worker.wait(10)
                    # The import page (its progress poll) notices the dead worker.
                    seen = _wait(lambda b=batch: import_recover_stale(batch=ImportBatch.objects.get(pk=b.pk)).status
                                 in ("failed", "done") and ImportBatch.objects.get(pk=b.pk), 30, stop)
                    outcome["killed"] = {"kind": kind, "status": seen.status if seen else None,
                                         "seen_after": time.monotonic() - killed_at}
                    worker = start_worker(env, log)
                    if seen is not None and seen.status == ImportBatch.Status.FAILED:
                        job_retry(run=JobRun.objects.get(pk=run.pk), actor=admin)
            _wait(lambda b=batch: ImportBatch.objects.filter(pk=b.pk, status__in=("done", "failed")).first(), 300, stop)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


def verify_imports(outcome):
    """Problems: a sample not imported, imported twice, or its postings missing or doubled."""
    from loans.models import ImportBatch, Posting

    if outcome.get("skipped"):
        return []
    problems = list(outcome.get("problems", []))
    for pk in outcome.get("batches", []):
        batch = ImportBatch.objects.get(pk=pk)
        if batch.status != ImportBatch.Status.DONE:
            problems.append(f"import {pk} ({batch.kind}) ended {batch.status}: {batch.errors[:1]}")
            continue
        if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).count() != 1:
            problems.append(f"import {pk} ({batch.kind}) is imported more than once")
        written = batch.summary.get("written", {}).get("postings")
        if written is not None and Posting.objects.filter(import_batch=batch).count() != written:
            problems.append(f"import {pk}: {Posting.objects.filter(import_batch=batch).count()} postings, "
                            f"{written} written")
    return problems
