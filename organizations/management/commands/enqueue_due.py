"""Queue the periodic jobs that are due. The system's scheduler calls this every few minutes (see README,
"Background jobs"); it returns at once, and a worker runs what it queued."""

from django.core.management.base import BaseCommand

from organizations.jobs import jobs_reap
from organizations.schedule import schedule_enqueue_due


class Command(BaseCommand):
    help = "Queue every scheduled job that is due (day close, snapshots, group grades, backup); run it from cron."

    def handle(self, *args, **options):
        for run in jobs_reap():
            self.stderr.write(f"Job {run.name} {run.key} (run {run.pk}) lost its worker; marked failed.")
        queued = schedule_enqueue_due()
        for run in queued:
            self.stdout.write(f"Queued {run.name} {run.key} (run {run.pk}).")
        if not queued:
            self.stdout.write("Nothing is due.")
