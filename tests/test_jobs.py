"""Background jobs: each runs once, the day close is idempotent, the schedule queues what is due, the dashboard warns
when the day close is late, admins see and retry jobs, and large exports are prepared with a download link."""

from datetime import date, datetime
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from loans.models import RepaymentInstalment
from organizations.jobs import job_claim, job_enqueue, job_execute, job_retry, jobs_reap
from organizations.models import JobRun, ScheduledJob
from organizations.schedule import day_close_warning, is_working_day, schedule_enqueue_due, working_days_between
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db


def at(*args):
    return timezone.make_aware(datetime(*args))


def test_the_same_job_enqueued_twice_runs_once(settings):
    settings.TASKS = {"default": settings.TASK_BACKENDS["database"]}  # queued, not run: no worker in this test
    first = job_enqueue(name="close_day", key="2026-11-09")
    second = job_enqueue(name="close_day", key="2026-11-09")
    assert second.pk == first.pk and JobRun.objects.count() == 1
    # Two workers handed the same run: the first claims it, the second finds it taken and does nothing.
    work = mock.Mock(return_value={})
    assert job_execute(first.pk, work).status == JobRun.Status.DONE
    assert job_execute(first.pk, work) is None
    assert work.call_count == 1


def test_the_day_close_enqueued_for_a_date_already_closed_changes_nothing(household_a):
    LoanFactory(household=household_a, disbursed_on=date(2026, 1, 5))
    with time_machine.travel(date(2026, 11, 10), tick=False):
        run = job_enqueue(name="close_day", key="2026-11-09")
        assert run.status == JobRun.Status.DONE, run.error
        assert run.result["overdue"] > 0
        marked = dict(RepaymentInstalment.objects.filter(overdue_since__isnull=False).values_list("pk", "overdue_since"))
        again = job_enqueue(name="close_day", key="2026-11-09")
    assert again.pk != run.pk and again.status == JobRun.Status.DONE
    assert again.result == {"skipped": "already closed"}
    assert dict(RepaymentInstalment.objects.filter(overdue_since__isnull=False).values_list("pk", "overdue_since")) == (
        marked
    )


def test_a_failed_job_records_its_error_and_the_retry_runs_it_again(admin_user):
    with mock.patch("organizations.grading.grade_groups", side_effect=RuntimeError("disk full")):
        run = job_enqueue(name="grade_groups", key="2026-10")
    assert run.status == JobRun.Status.FAILED and "disk full" in run.error
    again = job_retry(run=run, actor=admin_user)
    assert again.status == JobRun.Status.DONE and again.retry_of == run


def test_a_run_whose_worker_process_is_gone_is_marked_failed(settings, english):
    settings.TASKS = {"default": settings.TASK_BACKENDS["database"]}
    run = job_enqueue(name="backup", key="2026-11-10")
    job_claim(run.pk)
    JobRun.objects.filter(pk=run.pk).update(worker=f"{run.worker or ''}{__import__('socket').gethostname()}:999999999")
    assert [lost.pk for lost in jobs_reap()] == [run.pk]
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED and "stopped before it finished" in run.error


def test_the_schedule_queues_what_is_due_once(settings):
    settings.TASKS = {"default": settings.TASK_BACKENDS["database"]}
    queued = schedule_enqueue_due(now=at(2026, 11, 10, 20, 0))
    assert sorted((run.name, run.key) for run in queued) == [
        ("backup", "2026-11-10"),
        ("close_day", "2026-11-10"),
        ("exports_cleanup", "2026-11-10"),
        ("grade_groups", "2026-10"),
        ("snapshots", "2026-11-10"),
    ]
    assert schedule_enqueue_due(now=at(2026, 11, 10, 20, 5)) == []
    assert ScheduledJob.objects.get(name="close_day").last_enqueued_at == at(2026, 11, 10, 20, 0)


def test_a_missed_day_close_is_caught_up_day_after_day(settings):
    JobRun.objects.create(name="close_day", key="2026-11-05", status=JobRun.Status.DONE)
    with time_machine.travel(at(2026, 11, 9, 19, 0), tick=False):
        schedule_enqueue_due(only=("close_day",))  # immediate backend: each close queues the next missing day
    closed = JobRun.objects.filter(name="close_day", status=JobRun.Status.DONE).values_list("key", flat=True)
    assert sorted(closed) == ["2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08", "2026-11-09"]


def test_working_days_skip_weekends():
    assert not is_working_day(date(2026, 11, 7)) and is_working_day(date(2026, 11, 9))
    assert working_days_between(date(2026, 11, 6), date(2026, 11, 9)) == 0  # Friday closed, Monday: on time


def test_the_dashboard_warns_admins_and_district_staff_when_the_day_close_is_late(
    client_for, admin_user, district_staff, ward_officer_a
):
    JobRun.objects.create(name="close_day", key="2026-11-05", status=JobRun.Status.DONE)  # a Thursday
    with time_machine.travel(date(2026, 11, 10), tick=False):  # Tuesday: Friday and Monday were not closed
        assert day_close_warning()["days"] == 2
        for user in (admin_user, district_staff):
            assert 'data-testid="day-close-warning"' in client_for(user).get(reverse("organizations:home")).text
        assert 'data-testid="day-close-warning"' not in client_for(ward_officer_a).get(reverse("organizations:home")).text
    with time_machine.travel(date(2026, 11, 9), tick=False):  # Monday: only Friday is missing, one working day
        assert day_close_warning() is None


def test_the_jobs_page_lists_runs_with_their_errors_and_retries_a_failed_one(client_for, admin_user):
    failed = JobRun.objects.create(name="snapshots", key="2026-11-09", status=JobRun.Status.FAILED, error="disk full")
    client = client_for(admin_user)
    page = client.get(reverse("organizations:job_list"))
    assert "disk full" in page.text and 'data-testid="schedule"' in page.text
    response = client.post(reverse("organizations:job_retry", args=[failed.pk]))
    assert response.status_code == 302
    again = JobRun.objects.get(retry_of=failed)
    assert again.status == JobRun.Status.DONE, again.error
    # A run that did not fail is not run again.
    client.post(reverse("organizations:job_retry", args=[again.pk]))
    assert JobRun.objects.filter(retry_of=again).count() == 0


def test_a_large_export_is_prepared_and_only_its_owner_downloads_it(
    settings, tmp_path, client_for, district_staff, ward_officer_a, household_a
):
    settings.MEDIA_ROOT = tmp_path
    LoanFactory(household=household_a)
    client = client_for(district_staff)
    assert client.post(reverse("loans:bank_export_prepare", args=["loans", "xlsx"])).status_code == 302
    run = JobRun.objects.get(name="bank_export")
    assert run.status == JobRun.Status.DONE, run.error
    page = client.get(reverse("loans:bank_export_page")).text
    download = reverse("loans:bank_export_download", args=[run.pk])
    assert download in page
    response = client.get(download)
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"
    assert client_for(ward_officer_a).get(download).status_code == 404
