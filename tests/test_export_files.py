"""Exports and backups hold citizen IDs: a large export is prepared by the worker (never in the request), each user
has at most a few being prepared, the file is created 0600 in a 0700 folder outside MEDIA_ROOT, only its owner
downloads it, and the cleanup job deletes it once its time is over. Backups are 0600 and kept for a stated time."""

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from loans.bankfiles.exports import exports_delete_expired
from loans.models import PreparedExport
from organizations.backups import backups_prune, database_backup
from organizations.jobs import job_enqueue
from organizations.models import JobRun, ScheduledJob
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def in_english(client):
    client.cookies["django_language"] = "en"  # pages follow the officer's language, not the test's
    return client


@pytest.fixture
def queued_only(settings):
    """Runs stay queued: the database queue, and no worker in the test."""
    settings.TASKS = {"default": settings.TASK_BACKENDS["database"]}


@pytest.fixture
def prepared(settings, tmp_path, client_for, admin_user, household_a):
    """An admin's loans file (full citizen IDs), prepared by the job in this test's own folder."""
    settings.EXPORT_ROOT = tmp_path / "exports"
    LoanFactory(household=household_a)
    client = client_for(admin_user)
    assert client.post(reverse("loans:bank_export_prepare", args=["loans", "xlsx"])).status_code == 302
    run = JobRun.objects.get(name="bank_export", requested_by=admin_user)
    assert run.status == JobRun.Status.DONE, run.error
    return PreparedExport.objects.get(pk=run.pk)


# ---- only small exports are built in the request ----------------------------------------------------------------


def test_a_large_export_is_not_built_in_the_request(settings, client_for, front_supervisor, household_a, queued_only):
    settings.EXPORT_INLINE_MAX_ROWS = 0
    LoanFactory(household=household_a)
    client = in_english(client_for(front_supervisor))
    response = client.get(reverse("loans:bank_export", args=["transactions", "xlsx"]))

    assert response.status_code == 302 and response.url == reverse("loans:bank_export_page")
    assert "too many to build while you wait" in client.get(response.url).content.decode()
    assert not JobRun.objects.filter(name="bank_export").exists()  # a GET starts nothing


def test_a_small_export_is_still_built_in_the_request(client_for, ward_officer_a, household_a):
    response = client_for(ward_officer_a).get(reverse("loans:bank_export", args=["households", "csv"]))
    assert response.status_code == 200
    assert household_a.head_name in response.content.decode("utf-8-sig")
    assert not JobRun.objects.filter(name="bank_export").exists()


# ---- each user has a limit on exports being prepared -------------------------------------------------------------


def test_a_third_export_at_once_is_refused_with_a_clear_message(settings, client_for, district_staff, admin_user,
                                                                 queued_only):
    settings.EXPORT_MAX_RUNNING_PER_USER = 2
    client = in_english(client_for(district_staff))

    def prepare(kind):
        return client.post(reverse("loans:bank_export_prepare", args=[kind, "xlsx"]), follow=True)

    prepare("loans")
    prepare("transactions")
    again = prepare("loans")  # the same export again: the one being prepared stands for it
    assert JobRun.objects.filter(requested_by=district_staff).count() == 2
    assert "being prepared" in again.content.decode()

    third = prepare("households")
    assert JobRun.objects.filter(requested_by=district_staff).count() == 2
    assert "You already have 2 files being prepared" in third.content.decode()

    # Another user is not held back by this one's exports.
    client_for(admin_user).post(reverse("loans:bank_export_prepare", args=["households", "xlsx"]))
    assert JobRun.objects.filter(requested_by=admin_user, status=JobRun.Status.QUEUED).count() == 1


def test_an_export_that_is_over_frees_its_place(settings, client_for, district_staff, queued_only):
    settings.EXPORT_MAX_RUNNING_PER_USER = 1
    client = client_for(district_staff)
    client.post(reverse("loans:bank_export_prepare", args=["loans", "xlsx"]))
    JobRun.objects.filter(requested_by=district_staff).update(status=JobRun.Status.FAILED)
    client.post(reverse("loans:bank_export_prepare", args=["groups", "csv"]))
    assert JobRun.objects.filter(requested_by=district_staff, status=JobRun.Status.QUEUED).count() == 1


def test_the_page_shows_the_progress_and_polls_until_ready(client_for, district_staff, queued_only):
    client = in_english(client_for(district_staff))
    client.post(reverse("loans:bank_export_prepare", args=["transactions", "xlsx"]))
    run = JobRun.objects.get(requested_by=district_staff)
    JobRun.objects.filter(pk=run.pk).update(status=JobRun.Status.RUNNING)
    PreparedExport.objects.create(run=run, owner=district_staff, kind="transactions", fmt="xlsx", rows_total=9000,
                                  rows_done=4000)

    part = client.get(reverse("loans:bank_export_jobs")).content.decode()
    assert "4,000 / 9,000 rows" in part and "import-progress-4" in part
    assert f'hx-get="{reverse("loans:bank_export_jobs")}"' in part  # polled while it runs


# ---- the prepared file ------------------------------------------------------------------------------------------


def test_the_prepared_file_is_0600_in_a_0700_folder_outside_media(settings, prepared):
    path = Path(settings.EXPORT_ROOT) / prepared.path
    assert path.is_file() and path.read_bytes()[:2] == b"PK"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(settings.EXPORT_ROOT) == 0o700
    assert not path.resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert prepared.rows_done == prepared.rows_total == 1
    assert prepared.expires_at - timezone.now() > timedelta(hours=settings.EXPORT_FILE_HOURS - 1)


def test_only_the_owner_downloads_the_prepared_file(client_for, admin_user, district_staff, ward_officer_a,
                                                     prepared):
    download = reverse("loans:bank_export_download", args=[prepared.pk])
    response = client_for(admin_user).get(download)
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"
    assert response["Cache-Control"] == "private, no-store"
    for other in (district_staff, ward_officer_a):
        assert client_for(other).get(download).status_code == 404
    assert client_for(admin_user).post(download).status_code == 405


def test_the_cleanup_job_deletes_files_whose_time_is_over(settings, client_for, admin_user, prepared, tmp_path):
    path = Path(settings.EXPORT_ROOT) / prepared.path
    # An export file from before files were kept apart, under MEDIA_ROOT, and a file a killed job left behind.
    legacy = JobRun.objects.create(name="bank_export", key="old", status=JobRun.Status.DONE, requested_by=admin_user)
    legacy.file.save("loans-20261101.xlsx", ContentFile(b"PK old"), save=True)
    legacy_path = Path(legacy.file.path)
    orphan = path.parent / f"{'0' * 32}.xlsx"
    orphan.write_bytes(b"PK")
    stranger = path.parent / "notes.txt"  # not a prepared file: left alone whatever its age
    stranger.write_bytes(b"kept")
    # Files written now by the app's clock (which a test run may move away from the file system's).
    for fresh in (path, orphan, stranger):
        os.utime(fresh, (timezone.now().timestamp(),) * 2)
    assert ScheduledJob.objects.filter(name="exports_cleanup", enabled=True).exists()

    # Within its time the prepared file stays; the old file under MEDIA_ROOT (served by nothing now) goes at once.
    assert exports_delete_expired()["deleted"] == 1
    assert path.exists() and orphan.exists() and not legacy_path.exists()
    legacy.refresh_from_db()
    assert not legacy.file

    later = timezone.now() + timedelta(hours=settings.EXPORT_FILE_HOURS, minutes=1)
    for old_file in (orphan, stranger):
        os.utime(old_file, (later.timestamp() - 2 * 3600 * settings.EXPORT_FILE_HOURS,) * 2)
    with time_machine.travel(later, tick=False):
        run = job_enqueue(name="exports_cleanup", key=timezone.localdate().isoformat())
        assert run.status == JobRun.Status.DONE, run.error
        assert client_for(admin_user).get(reverse("loans:bank_export_download", args=[prepared.pk])).status_code == 404

    assert not path.exists() and not orphan.exists()
    assert stranger.exists()
    prepared.refresh_from_db()
    assert prepared.path == "" and prepared.deleted_at is not None
    assert run.result["deleted"] == 2


# ---- backups ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # SQLite copies only what is committed
def test_a_backup_is_0600_in_a_0700_folder_from_its_creation(tmp_path):
    folder = tmp_path / "new-backups"
    path = database_backup(folder=folder)
    assert mode(path) == 0o600 and mode(folder) == 0o700
    assert path.stat().st_size > 0


def test_backups_older_than_their_time_are_deleted_and_the_newest_is_kept(tmp_path):
    now = timezone.now()
    ages = {"uythac-old.sqlite3": 20, "uythac-older.dump": 30, "uythac-recent.dump": 2, "notes.txt": 90}
    for name, days in ages.items():
        (tmp_path / name).write_bytes(b"x")
        moment = (now - timedelta(days=days)).timestamp()
        os.utime(tmp_path / name, (moment, moment))

    deleted = backups_prune(folder=tmp_path, keep_days=14, now=now)

    assert sorted(path.name for path in deleted) == ["uythac-old.sqlite3", "uythac-older.dump"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt", "uythac-recent.dump"]
    # However old, the last backup there is stays.
    (tmp_path / "uythac-recent.dump").unlink()
    (tmp_path / "uythac-last.dump").write_bytes(b"x")
    os.utime(tmp_path / "uythac-last.dump", ((now - timedelta(days=100)).timestamp(),) * 2)
    assert backups_prune(folder=tmp_path, keep_days=14, now=now) == []
