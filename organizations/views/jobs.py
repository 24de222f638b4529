"""The admins' page of background jobs: what is queued, running, done or failed, the schedule, and a retry."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from organizations.access import Role, role_required
from organizations.errors import DomainError
from organizations.jobs import JOB_LABELS, duration_words, job_retry, job_subjects, jobs_reap
from organizations.models import JobRun
from organizations.schedule import day_close_warning, schedule_overview

STATUS_FILTERS = [value for value, _label in JobRun.Status.choices]


@role_required(Role.ADMIN)
@require_GET
def job_list(request):
    jobs_reap()  # a worker killed mid-job shows as failed here at once
    status = request.GET.get("status", "")
    runs = JobRun.objects.select_related("requested_by").order_by("-enqueued_at", "-pk")
    if status in STATUS_FILTERS:
        runs = runs.filter(status=status)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    for run in page:
        run.label = JOB_LABELS.get(run.name, run.name)
        run.took = duration_words(run.duration)
    job_subjects(page.object_list)
    schedule = schedule_overview()
    for row in schedule:
        row["label"] = JOB_LABELS.get(row["job"].name, row["job"].name)
        if row["last"] is not None:
            row["last"].took = duration_words(row["last"].duration)
    job_subjects([row["last"] for row in schedule if row["last"] is not None])
    return render(
        request,
        "organizations/job_list.html",
        {
            "page": page,
            "status": status,
            "statuses": JobRun.Status.choices,
            "schedule": schedule,
            "close_warning": day_close_warning(),
        },
    )


@role_required(Role.ADMIN)
@require_POST
def job_retry_view(request, pk):
    run = get_object_or_404(JobRun, pk=pk)
    try:
        again = job_retry(run=run, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The job is queued again (run no. %(id)s).") % {"id": again.pk})
    return redirect("organizations:job_list")
