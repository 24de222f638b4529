"""Login history and current lockouts (django-axes records)."""

from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db.models import Case, CharField, Value, When
from django.utils import timezone


def login_events(*, username=""):
    """Successful and failed logins, newest first: attempt_time, username, ip_address, user_agent and outcome."""
    fields = ("attempt_time", "username", "ip_address", "user_agent", "outcome")
    logins = AccessLog.objects.annotate(outcome=Value("success", output_field=CharField()))
    failures = AccessFailureLog.objects.annotate(
        outcome=Case(When(locked_out=True, then=Value("locked")), default=Value("failed"), output_field=CharField())
    )
    if username:
        logins = logins.filter(username__iexact=username)
        failures = failures.filter(username__iexact=username)
    return logins.values(*fields).union(failures.values(*fields), all=True).order_by("-attempt_time")


def locked_logins():
    """Username and address pairs locked out right now."""
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    cool_off = get_cool_off()
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return attempts.order_by("-attempt_time")
