"""The organizations app's background jobs: the monthly group grades and the nightly backup."""

from datetime import date

from django.conf import settings

from config.tasks import task
from organizations.jobs import job_execute


def grades_for_month(run):
    from organizations.grading import grade_groups

    month = date.fromisoformat(f"{run.key}-01")
    return {"month": run.key, "groups": len(grade_groups(month=month))}


@task()
def grade_groups_task(run_id):
    job_execute(run_id, grades_for_month)


def backup_write(run):
    from organizations.backups import backups_prune, database_backup

    path = database_backup(folder=settings.BACKUP_DIR)
    deleted = backups_prune(folder=settings.BACKUP_DIR, keep_days=settings.BACKUP_KEEP_DAYS)
    return {"file": str(path), "bytes": path.stat().st_size, "deleted": [item.name for item in deleted]}


@task()
def backup_task(run_id):
    job_execute(run_id, backup_write)
