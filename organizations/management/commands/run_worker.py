"""Run one background worker on the configured task backend: the database (`db_worker`) or Redis (`rqworker`).

Production runs one or more of these as their own processes (see README, "Background jobs"); `make run` starts one
beside the development server."""

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from organizations.jobs import jobs_reap


class Command(BaseCommand):
    help = "Run a background worker for the configured TASKS_BACKEND (database or rq)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit (database only).")
        parser.add_argument(
            "--nice", type=int, default=10,
            help="Lower this worker's CPU priority by this much (default 10; 0 keeps it), so that on a busy machine "
            "the web server's requests come before background work.",
        )

    def handle(self, *args, batch=False, nice=10, **options):
        if nice > 0:
            # An export or an import takes a core for seconds to minutes; a login must not wait behind it.
            os.nice(nice)
        # Runs whose worker died while this machine was down are marked failed before new work starts.
        for run in jobs_reap():
            self.stderr.write(f"Job {run.name} {run.key} (run {run.pk}) lost its worker; marked failed.")
        if settings.TASKS_BACKEND == "rq":
            call_command(
                "rqworker", "default", burst=batch, with_scheduler=False, job_class="django_tasks_rq.backend.Job"
            )
        elif settings.TASKS_BACKEND == "database":
            call_command(
                "db_worker",
                interval=1,
                batch=batch,
                reload=False,
                startup_delay=False,
                verbosity=options["verbosity"],
            )
        else:
            self.stdout.write("TASKS_BACKEND=immediate runs every job where it is asked for; no worker is needed.")
