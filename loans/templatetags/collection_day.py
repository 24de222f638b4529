"""{% collection_day %}: the officer's collection day on the home page, this month's 13/TD sheets of the officer's
groups, today's first, with the groups that have no sheet yet this month. Shown to those who prepare and post sheets."""

from django import template
from django.db.models import Count, Q
from django.utils import timezone

from loans.models import CollectionLine
from loans.selectors.collection import collection_sheets_for
from organizations.models import SavingsGroup
from organizations.policy import may
from organizations.selectors.scope import groups_for

register = template.Library()

#: Sheets listed on the home page; the rest are a click away on the sheet list.
SHOWN = 8


@register.inclusion_tag("loans/_collection_day.html", takes_context=True)
def collection_day(context):
    user = context["request"].user
    if not may(user, "collection.post"):
        return {"show": False}
    today = timezone.localdate()
    month = collection_sheets_for(user).filter(collection_on__year=today.year, collection_on__month=today.month)
    sheets = list(
        month.annotate(
            households=Count("lines", filter=Q(lines__corrects__isnull=True)),
            entered=Count("lines", filter=Q(lines__corrects__isnull=True, lines__entered_at__isnull=False)
                          | Q(lines__corrects__isnull=True, lines__status=CollectionLine.Status.POSTED)),
        ).order_by("-collection_on", "group__code")[:SHOWN]
    )
    without = (
        groups_for(user).filter(status=SavingsGroup.Status.ACTIVE)
        .exclude(collection_sheets__collection_on__year=today.year, collection_sheets__collection_on__month=today.month)
        .count()
    )
    return {"show": True, "today": today, "sheets": sheets, "without": without, "more": len(sheets) == SHOWN}
