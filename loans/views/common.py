"""View helpers shared by several capability modules of loans/views/."""

from django.db.models import Prefetch
from django.utils import timezone

from loans.models import ApplicationStatusChange


def _year(request):
    try:
        return int(request.GET.get("year", ""))
    except ValueError:
        return timezone.localdate().year


def _history_prefetch():
    return Prefetch(
        "status_changes", queryset=ApplicationStatusChange.objects.select_related("actor").order_by("at", "pk")
    )
